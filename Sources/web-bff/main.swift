import BFFClients

await ClientLauncher.main(client: "web", swiftEndpoints: ClientCatalogue.endpoints(for: "web"))
