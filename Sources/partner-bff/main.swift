import BFFClients

await ClientLauncher.main(client: "partner", swiftEndpoints: ClientCatalogue.endpoints(for: "partner"))
