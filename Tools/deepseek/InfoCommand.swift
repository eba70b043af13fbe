import ArgumentParser

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// `deepseek info`: what this host offers — CPU, memory, io_uring, RDMA, BLAS and OpenCL.
///
/// Every section is probed, never assumed: hardware or libraries that are missing are reported
/// with the reason, and the command still succeeds.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show what this host offers: CPU, memory, io_uring, RDMA, BLAS and OpenCL.",
        discussion: """
            Plain text prints one aligned `key: value` section per subsystem. With --json the same
            facts are printed as one JSON object with sorted keys: host, cpu, memory, ioUring,
            rdma, blas, openCL.
            """
    )

    @Flag(name: .long, help: "Print one JSON object instead of text.")
    var json = false

    func run() throws {
        let report = InfoReport.probe()
        if json {
            print(try report.jsonText())
        } else {
            print(report.text())
        }
    }
}

/// Everything `deepseek info` reports, in the shape of its JSON output.
struct InfoReport: Codable {
    var host: HostInfo
    var cpu: CPUInfo
    var memory: MemoryInfo
    var ioUring: IOURingInfo
    var rdma: RDMAInfo
    var blas: BLASInfo
    var openCL: OpenCLInfo

    static func probe() -> InfoReport {
        InfoReport(
            host: .probe(), cpu: .probe(), memory: .probe(), ioUring: .probe(), rdma: .probe(),
            blas: InfoCommand.blasSection(), openCL: InfoCommand.openCLSection())
    }

    func text() -> String {
        [host.section, cpu.section, memory.section, ioUring.section, rdma.section, blas.section, openCL.section]
            .map { $0.render() }
            .joined(separator: "\n\n")
    }

    func jsonText() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        do {
            return String(decoding: try encoder.encode(self), as: UTF8.self)
        } catch {
            throw ValidationError("could not encode the host report as JSON: \(error)")
        }
    }
}
