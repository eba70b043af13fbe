import ArgumentParser

/// The `deepseek` command line: the composition root that wires backends, probes hardware and
/// runs demos, scenarios and nodes.
///
/// It is the only place (with the node bootstrap) that reads environment variables; libraries
/// take settings structs instead.
@main
struct DeepseekCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deepseek",
        abstract: "Deepseek: an actor-based dataflow runtime for machine learning.",
        discussion: """
            With no command it trains LeNet-5 on Fashion-MNIST through the graph engine (`deepseek
            train`). `deepseek info` shows what this host offers (CPU, io_uring, RDMA, BLAS, OpenCL);
            `deepseek demo` adds a few kernels on the default backend.
            """,
        version: "0.1.0",
        subcommands: [DemoCommand.self, InfoCommand.self, TensorDemoCommand.self, TrainCommand.self, PassesCommand.self, ConformanceCommand.self, NodeCommand.self, EmbedCommand.self, TraceCommand.self, SimulateCommand.self],
        defaultSubcommand: TrainCommand.self
    )
}
