import BFFClients

await ClientLauncher.main(client: "mobile", swiftEndpoints: ClientCatalogue.endpoints(for: "mobile"))
