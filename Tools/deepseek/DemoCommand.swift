import ArgumentParser

/// `deepseek demo`: the default job — what this host offers, then a few kernels on it.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Print the host report, then run the tensor demo."
    )

    func run() throws {
        try InfoCommand.parse([]).run()
        print("")
        try TensorDemoCommand.parse([]).run()
    }
}
