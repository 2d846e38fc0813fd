// swift-tools-version:6.2
// Ferry's Swift side: the coordinator (ferryd), the operator CLI (ferryctl) and their libraries.
// The agent (C) is built by agents/Makefile; see README.md.
import PackageDescription

let package = Package(
    name: "ferry",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ferryd", targets: ["ferryd"]),
        .executable(name: "ferryctl", targets: ["ferryctl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // Domain model: hosts, devices, VMs. Value types only, no I/O.
        .target(name: "FerryModel"),
        // Wire: generated protobuf messages and the frame codec shared with the C agent.
        .target(
            name: "FerryWire",
            dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        // Store: what ferryd knows, in SQLite (GRDB).
        .target(
            name: "FerryStore",
            dependencies: ["FerryModel", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        // Coordinator: agent link server, host registry, HTTP API.
        .target(
            name: "FerryCoordinator",
            dependencies: [
                "FerryModel", "FerryStore", "FerryWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                // Plans arrive as YAML (or JSON, a subset); Yams' nodes carry the line of every field.
                .product(name: "Yams", package: "Yams"),
                // /metrics: the Prometheus text exposition format.
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // CLI: ferryctl's commands and its API client.
        .target(
            name: "FerryCLI",
            dependencies: ["FerryModel", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "ferryd",
            dependencies: [
                "FerryCoordinator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(name: "ferryctl", dependencies: ["FerryCLI"]),
        // Coordinator benchmarks (scripts/bench/coordinator builds it in release): plan intake and
        // `status` latency against a real SQLite store. Not a product: operators never get it.
        .executableTarget(
            name: "ferry-bench",
            dependencies: [
                "FerryCLI", "FerryCoordinator", "FerryModel", "FerryStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        .testTarget(name: "FerryModelTests", dependencies: ["FerryModel"]),
        .testTarget(name: "FerryWireTests", dependencies: ["FerryWire"]),
        .testTarget(name: "FerryStoreTests", dependencies: ["FerryStore"]),
        .testTarget(
            name: "FerryCoordinatorTests",
            dependencies: [
                "FerryCoordinator", "FerryModel", "FerryStore", "FerryWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                // EmbeddedChannel: ControlFrameHandler tested without sockets.
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "FerryCLITests", dependencies: ["FerryCLI"]),
        // Real processes (ferryd, ferry-agent, ferryctl) on loopback; needs agents/ built first.
        .testTarget(name: "FerryIntegrationTests", dependencies: ["FerryModel", "FerryWire"]),
    ]
)
