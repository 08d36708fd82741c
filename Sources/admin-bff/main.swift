import BFFClients

await ClientLauncher.main(client: "admin", swiftEndpoints: ClientCatalogue.endpoints(for: "admin"))
