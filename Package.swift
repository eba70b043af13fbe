// swift-tools-version: 6.2
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("ExistentialAny"),
    .treatAllWarnings(as: .error),
]

let package = Package(
    name: "Deepseek",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "DeepseekCore", targets: ["DeepseekCore"]),
        .library(name: "DeepseekTracing", targets: ["DeepseekTracing"]),
        .library(name: "DeepseekTensor", targets: ["DeepseekTensor"]),
        .library(name: "DeepseekKernelsBLAS", targets: ["DeepseekKernelsBLAS"]),
        .library(name: "DeepseekKernelsOpenCL", targets: ["DeepseekKernelsOpenCL"]),
        .library(name: "DeepseekONNX", targets: ["DeepseekONNX"]),
        .library(name: "DeepseekActors", targets: ["DeepseekActors"]),
        .library(name: "DeepseekTransportURing", targets: ["DeepseekTransportURing"]),
        .library(name: "DeepseekEmbedded", targets: ["DeepseekEmbedded"]),
        .library(name: "DeepseekGraph", targets: ["DeepseekGraph"]),
        .library(name: "DeepseekNN", targets: ["DeepseekNN"]),
        .library(name: "DeepseekRuntime", targets: ["DeepseekRuntime"]),
        .library(name: "DeepseekTraining", targets: ["DeepseekTraining"]),
        .library(name: "DeepseekStorage", targets: ["DeepseekStorage"]),
        .library(name: "DeepseekModels", targets: ["DeepseekModels"]),
        .library(name: "DeepseekTraceExport", targets: ["DeepseekTraceExport"]),
        .library(name: "DeepseekSimulation", targets: ["DeepseekSimulation"]),
        .executable(name: "deepseek", targets: ["deepseek"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // Layer 0: C shims.
        .target(
            name: "CDeepseekLinux",
            linkerSettings: [.linkedLibrary("dl"), .linkedLibrary("uring")]
        ),
        .target(
            name: "CDeepseekBLAS",
            linkerSettings: [.linkedLibrary("dl")]
        ),
        .target(
            name: "CDeepseekOpenCL",
            linkerSettings: [.linkedLibrary("dl")]
        ),
        .target(
            name: "CDeepseekVerbs",
            linkerSettings: [.linkedLibrary("dl")]
        ),
        .target(name: "CDeepseekURing", linkerSettings: [.linkedLibrary("uring")]),
        .target(name: "CDeepseekZlib", linkerSettings: [.linkedLibrary("z")]),

        // Layer 1.
        .target(name: "DeepseekCore", swiftSettings: swiftSettings),
        .target(name: "DeepseekTracing", dependencies: ["DeepseekCore"], swiftSettings: swiftSettings),

        // Layer 2.
        .target(name: "DeepseekTensor", dependencies: ["DeepseekCore"], swiftSettings: swiftSettings),
        .target(
            name: "DeepseekKernelsBLAS",
            dependencies: ["DeepseekTensor", "CDeepseekBLAS"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "DeepseekKernelsOpenCL",
            dependencies: ["DeepseekTensor", "CDeepseekOpenCL"],
            swiftSettings: swiftSettings
        ),
        .target(name: "DeepseekONNX", dependencies: ["DeepseekTensor"], swiftSettings: swiftSettings),

        // Layer 3.
        .target(
            name: "DeepseekGraph", dependencies: ["DeepseekCore", "DeepseekTensor", "DeepseekTracing"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "DeepseekNN", dependencies: ["DeepseekCore", "DeepseekTensor", "DeepseekGraph"],
            swiftSettings: swiftSettings
        ),

        // Layer 4.
        .target(
            name: "DeepseekActors",
            dependencies: ["DeepseekCore", "DeepseekTracing", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),

        .target(
            name: "DeepseekTransportURing", dependencies: ["DeepseekCore", "DeepseekActors", "CDeepseekURing"],
            swiftSettings: swiftSettings
        ),

        .target(
            name: "DeepseekTransportVerbs", dependencies: ["DeepseekCore", "DeepseekActors", "CDeepseekVerbs"],
            swiftSettings: swiftSettings
        ),

        .target(
            name: "DeepseekEmbedded", dependencies: ["DeepseekCore", "DeepseekActors", "DeepseekTracing"],
            swiftSettings: swiftSettings
        ),

        // Layer 5.
        .target(
            name: "DeepseekRuntime",
            dependencies: ["DeepseekCore", "DeepseekTensor", "DeepseekTracing", "DeepseekGraph", "DeepseekActors"],
            swiftSettings: swiftSettings
        ),

        .target(
            name: "DeepseekStorage",
            dependencies: ["DeepseekCore", "DeepseekTensor", "DeepseekTracing", "CDeepseekURing"],
            swiftSettings: swiftSettings
        ),

        // Layer 6.
        .target(
            name: "DeepseekTraining",
            dependencies: [
                "DeepseekCore", "DeepseekTensor", "DeepseekGraph", "DeepseekNN", "DeepseekRuntime", "DeepseekActors",
                "DeepseekStorage", "DeepseekTracing", "CDeepseekZlib",
            ],
            swiftSettings: swiftSettings
        ),

        // Layer 7.
        .target(
            name: "DeepseekModels",
            dependencies: ["DeepseekCore", "DeepseekTensor", "DeepseekGraph", "DeepseekNN"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "DeepseekTraceExport",
            dependencies: ["DeepseekCore", "DeepseekTracing"],
            swiftSettings: swiftSettings
        ),

        // Layer 8: runs the runtime's own actors, collectives and zoo models on virtual time.
        .target(
            name: "DeepseekSimulation",
            dependencies: [
                "DeepseekCore", "DeepseekTensor", "DeepseekTracing", "DeepseekGraph", "DeepseekNN", "DeepseekActors",
                "DeepseekRuntime", "DeepseekTraining", "DeepseekModels", "DeepseekTraceExport",
            ],
            swiftSettings: swiftSettings
        ),

        // Composition root: the CLI.
        .executableTarget(
            name: "deepseek",
            dependencies: [
                "DeepseekCore", "DeepseekTensor", "DeepseekKernelsBLAS", "DeepseekKernelsOpenCL",
                "DeepseekONNX", "DeepseekActors", "DeepseekTransportURing", "CDeepseekLinux", "CDeepseekVerbs",
                "DeepseekGraph", "DeepseekNN", "DeepseekRuntime", "DeepseekTraining", "DeepseekStorage",
                "DeepseekModels", "DeepseekTraceExport", "DeepseekTracing", "DeepseekSimulation",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Tools/deepseek",
            swiftSettings: swiftSettings
        ),

        // Tests.
        .target(
            name: "DeepseekTestSupport",
            dependencies: ["DeepseekTensor", "DeepseekActors", "DeepseekGraph"],
            path: "Tests/DeepseekTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "DeepseekCoreTests", dependencies: ["DeepseekCore"], swiftSettings: swiftSettings),
        .testTarget(name: "DeepseekTracingTests", dependencies: ["DeepseekTracing"], swiftSettings: swiftSettings),
        .testTarget(
            name: "DeepseekTensorTests",
            dependencies: ["DeepseekTensor", "DeepseekTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DeepseekKernelsBLASTests",
            dependencies: ["DeepseekKernelsBLAS", "DeepseekTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DeepseekKernelsOpenCLTests",
            dependencies: ["DeepseekKernelsOpenCL", "DeepseekTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DeepseekONNXTests",
            dependencies: ["DeepseekONNX", "DeepseekTensor", "DeepseekKernelsBLAS", "DeepseekKernelsOpenCL"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DeepseekActorsTests", dependencies: ["DeepseekActors", "DeepseekTracing", "DeepseekTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DeepseekEmbeddedTests", dependencies: ["DeepseekEmbedded", "DeepseekActors", "DeepseekTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DeepseekTransportURingTests",
            dependencies: ["DeepseekTransportURing", "DeepseekActors", "DeepseekTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DeepseekTransportVerbsTests",
            dependencies: ["DeepseekTransportVerbs", "DeepseekActors", "DeepseekTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DeepseekGraphTests",
            dependencies: ["DeepseekGraph", "DeepseekTensor", "DeepseekKernelsBLAS", "DeepseekTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DeepseekNNTests",
            dependencies: ["DeepseekNN", "DeepseekGraph", "DeepseekTensor", "DeepseekONNX", "DeepseekTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DeepseekRuntimeTests",
            dependencies: [
                "DeepseekRuntime", "DeepseekGraph", "DeepseekNN", "DeepseekTensor", "DeepseekActors", "DeepseekEmbedded",
                "DeepseekKernelsBLAS", "DeepseekKernelsOpenCL", "DeepseekTestSupport",
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DeepseekTrainingTests",
            dependencies: [
                "DeepseekTraining", "DeepseekNN", "DeepseekGraph", "DeepseekTensor", "DeepseekRuntime", "DeepseekActors",
                "DeepseekKernelsBLAS", "DeepseekTestSupport",
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DeepseekStorageTests",
            dependencies: ["DeepseekStorage", "DeepseekTensor", "DeepseekTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DeepseekModelsTests",
            dependencies: [
                "DeepseekModels", "DeepseekNN", "DeepseekGraph", "DeepseekTensor", "DeepseekKernelsBLAS",
                "DeepseekTestSupport",
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DeepseekTraceExportTests",
            dependencies: ["DeepseekTraceExport", "DeepseekTracing", "DeepseekCore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DeepseekSimulationTests",
            dependencies: ["DeepseekSimulation", "DeepseekKernelsBLAS", "DeepseekTraining", "DeepseekModels", "DeepseekTraceExport", "DeepseekTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DeepseekCLITests",
            dependencies: ["deepseek", "DeepseekCore", "DeepseekActors", "DeepseekTracing", "DeepseekTraceExport"],
            swiftSettings: swiftSettings
        ),
    ]
)
