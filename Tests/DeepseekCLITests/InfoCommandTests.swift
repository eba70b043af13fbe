import Foundation
import Testing

@Suite(.enabled(if: deepseekBinary != nil, "the deepseek binary is not built next to the test bundle"))
struct InfoCommandTests {
    static let sectionTitles = ["Host", "CPU", "Memory", "io_uring", "RDMA", "BLAS", "OpenCL"]

    func run(_ arguments: String...) throws -> ProcessResult {
        let binary = try #require(deepseekBinary)
        let result = runProcess(binary, arguments)
        #expect(!result.timedOut, "deepseek \(arguments.joined(separator: " ")) did not finish in time")
        return result
    }

    @Test func infoPrintsEverySectionAsAlignedKeyValueRows() throws {
        let result = try run("info")
        #expect(result.exitCode == 0, "stderr: \(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        for title in Self.sectionTitles {
            #expect(lines.contains(title), "missing section \(title) in:\n\(result.stdout)")
        }
        #expect(result.stdout.contains("physical cores:"))
        #expect(result.stdout.contains("logical cores:"))
        // Every row is indented and has a key, so sections stay readable.
        for line in lines where line.hasPrefix("  ") && !line.hasPrefix("   ") {
            #expect(line.contains(":"), "row without a key: \(line)")
        }
    }

    @Test func infoJSONIsOneObjectWithTheExpectedKeys() throws {
        let result = try run("info", "--json")
        #expect(result.exitCode == 0, "stderr: \(result.stderr)")
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(Set(object.keys) == ["host", "cpu", "memory", "ioUring", "rdma", "blas", "openCL"])
        let cpu = try #require(object["cpu"] as? [String: Any])
        let logical = try #require(cpu["logicalCores"] as? Int)
        let physical = try #require(cpu["physicalCores"] as? Int)
        #expect(logical >= 1 && physical >= 1 && physical <= logical)
        let memory = try #require(object["memory"] as? [String: Any])
        #expect((memory["totalBytes"] as? Int ?? 0) > 0)
        for section in ["ioUring", "rdma", "blas", "openCL"] {
            let body = try #require(object[section] as? [String: Any], "section \(section)")
            #expect(body["available"] is Bool, "\(section).available should be a Bool")
        }
    }

    @Test func unavailableFeaturesSayWhy() throws {
        let result = try run("info", "--json")
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        for section in ["ioUring", "rdma", "openCL"] {
            let body = try #require(object[section] as? [String: Any])
            if body["available"] as? Bool == false {
                let reason = body["reason"] as? String ?? ""
                #expect(!reason.isEmpty, "\(section) is unavailable without a reason")
            }
        }
        let rdma = try #require(object["rdma"] as? [String: Any])
        if (rdma["devices"] as? [Any])?.isEmpty ?? true {
            #expect((rdma["reason"] as? String ?? "").contains("no RDMA device") || rdma["libraryLoaded"] as? Bool == false)
        }
    }

    @Test func unknownSubcommandFailsWithUsage() throws {
        let result = try run("frobnicate")
        #expect(result.exitCode != 0)
        #expect(result.stderr.contains("frobnicate"))
        #expect(result.stderr.contains("Usage: deepseek"))
    }

    @Test func unknownOptionFailsWithUsage() throws {
        let result = try run("info", "--colour")
        #expect(result.exitCode != 0)
        #expect(result.stderr.contains("--colour"))
        #expect(result.stderr.contains("Usage: deepseek info"))
    }

    @Test func helpListsTheSubcommands() throws {
        let result = try run("--help")
        #expect(result.exitCode == 0)
        #expect(result.stdout.contains("info"))
        #expect(result.stdout.contains("tensor-demo"))
    }
}
