// swift-tools-version: 6.1
import PackageDescription

// The benchmarks live in their own package so the main build stays lean: it pulls in the root
// package by path and adds the raw C baselines each hot path is measured against.
let package = Package(
    name: "DeepseekBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Deepseek", path: "../.."),
    ],
    targets: [
        // Raw baselines in C: peak FMA throughput, memcpy bandwidth, and cblas_sgemm called
        // directly on the OpenBLAS library the CPU backend uses.
        .target(
            name: "CBenchBaselines",
            linkerSettings: [.linkedLibrary("dl"), .linkedLibrary("pthread"), .linkedLibrary("uring")]
        ),
        .executableTarget(
            name: "deepseek-bench",
            dependencies: [
                "CBenchBaselines",
                .product(name: "DeepseekTensor", package: "Deepseek"),
                .product(name: "DeepseekKernelsBLAS", package: "Deepseek"),
                .product(name: "DeepseekKernelsOpenCL", package: "Deepseek"),
                .product(name: "DeepseekActors", package: "Deepseek"),
                .product(name: "DeepseekTransportURing", package: "Deepseek"),
                .product(name: "DeepseekGraph", package: "Deepseek"),
                .product(name: "DeepseekRuntime", package: "Deepseek"),
                .product(name: "DeepseekNN", package: "Deepseek"),
                .product(name: "DeepseekTraining", package: "Deepseek"),
                .product(name: "DeepseekStorage", package: "Deepseek"),
                .product(name: "DeepseekModels", package: "Deepseek"),
                .product(name: "DeepseekTracing", package: "Deepseek"),
                .product(name: "DeepseekTraceExport", package: "Deepseek"),
                .product(name: "DeepseekSimulation", package: "Deepseek"),
            ],
            swiftSettings: [
                .enableUpcomingFeature("MemberImportVisibility"),
                .enableUpcomingFeature("ExistentialAny"),
            ]
        ),
    ]
)
