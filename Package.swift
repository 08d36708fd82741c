// swift-tools-version: 6.2
import PackageDescription

let upcoming: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "swift-bff",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "BFFSpec", targets: ["BFFSpec"]),
        .library(name: "BFFRuntime", targets: ["BFFRuntime"]),
        .executable(name: "mobile-bff", targets: ["mobile-bff"]),
        .executable(name: "web-bff", targets: ["web-bff"]),
        .executable(name: "partner-bff", targets: ["partner-bff"]),
        .executable(name: "admin-bff", targets: ["admin-bff"]),
        .executable(name: "bff", targets: ["bff"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // Without its default ExternalLoading trait: the documents are built, never loaded from URLs.
        .package(url: "https://github.com/mattpolzin/OpenAPIKit.git", from: "6.4.0", traits: []),
        // OTLP/HTTP only: the gRPC exporter's dependencies stay out of the build.
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPHTTP"]),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        .package(url: "https://github.com/apple/swift-service-context.git", from: "1.5.1"),
    ],
    targets: [
        // Spec model, YAML loading, validation and plan compilation. No networking.
        .target(
            name: "BFFSpec",
            dependencies: [.product(name: "Yams", package: "Yams")],
            swiftSettings: upcoming
        ),
        // Protobuf descriptor sets, the proto3 JSON mapping and gRPC message framing and status,
        // for gRPC upstream calls. No networking.
        .target(
            name: "BFFProto",
            dependencies: ["BFFSpec"],
            swiftSettings: upcoming
        ),
        // The OpenAPI 3.1 document of a BFF's routes, built from its spec. No networking.
        .target(
            name: "BFFOpenAPI",
            dependencies: ["BFFSpec", .product(name: "OpenAPIKit", package: "OpenAPIKit")],
            swiftSettings: upcoming
        ),
        // Server, middleware, fan-out engine, upstream transport, proxy.
        .target(
            name: "BFFRuntime",
            dependencies: [
                "BFFSpec", "BFFProto", "BFFOpenAPI",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP2", package: "swift-nio-extras"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "OTel", package: "swift-otel"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Instrumentation", package: "swift-distributed-tracing"),
                .product(name: "ServiceContextModule", package: "swift-service-context"),
            ],
            swiftSettings: upcoming
        ),
        // The four clients' Swift-declared endpoints and the shared executable entry point.
        .target(
            name: "BFFClients",
            dependencies: [
                "BFFRuntime", "BFFSpec",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: upcoming
        ),
        // Seeded demo backend services (seven JSON services and a gRPC one) used by `bff demo`, the tests and the benchmark.
        .target(
            name: "BFFDemo",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: upcoming
        ),
        .executableTarget(name: "mobile-bff", dependencies: ["BFFClients"], swiftSettings: upcoming),
        .executableTarget(name: "web-bff", dependencies: ["BFFClients"], swiftSettings: upcoming),
        .executableTarget(name: "partner-bff", dependencies: ["BFFClients"], swiftSettings: upcoming),
        .executableTarget(name: "admin-bff", dependencies: ["BFFClients"], swiftSettings: upcoming),
        .executableTarget(
            name: "bff",
            dependencies: [
                "BFFClients", "BFFDemo", "BFFRuntime", "BFFSpec", "BFFOpenAPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "BFFSpecTests",
            dependencies: ["BFFSpec"],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "BFFOpenAPITests",
            dependencies: ["BFFOpenAPI", "BFFSpec"],
            exclude: ["Fixtures"],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "BFFProtoTests",
            dependencies: ["BFFProto", "BFFSpec"],
            exclude: ["Resources/make_golden.py", "Resources/test.proto"],
            resources: [.copy("Resources/test.pb"), .copy("Resources/golden.json")],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "BFFRuntimeTests",
            dependencies: [
                "BFFRuntime", "BFFSpec", "BFFClients", "BFFDemo",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: upcoming
        ),
    ]
)
