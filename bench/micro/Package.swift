// swift-tools-version: 6.2
import PackageDescription

// Micro-benchmarks of the gateway's hot paths (bench/micro/README.md). A package of its own so
// that the root package's build and `swift test`, which CI runs, never build ordo-one/benchmark.
let package = Package(
    name: "swift-bff-micro",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "swift-bff", path: "../.."),
        // MallocInterposer alone: allocation counts, without the Linux ARC runtime interposer (not in the package mirror).
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
        // Already in the root package's graph: signs the tokens the JWT benchmarks verify.
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
    ],
    targets: [
        .executableTarget(
            name: "HotPaths",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "BFFRuntime", package: "swift-bff"),
                .product(name: "BFFSpec", package: "swift-bff"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/HotPaths",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
