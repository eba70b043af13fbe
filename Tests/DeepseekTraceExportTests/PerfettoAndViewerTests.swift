import DeepseekCore
import DeepseekTraceExport
import DeepseekTracing
import Foundation
import Testing

@Suite struct PerfettoTraceWriterTests {
    @Test func protobufTraceDecodesBackWithTracksNamesAndFlows() throws {
        let events = Fixture.pipeline(messages: 300, actors: 4, nodes: 2)
        let bytes = try PerfettoTraceWriter.render(events)
        let trace = try PerfettoTrace(bytes: bytes)
        #expect(trace.problems.isEmpty, "\(trace.problems.prefix(3))")
        let threads = trace.tracks.values.filter { $0.tid != nil }
        #expect(Set(threads.map(\.name)) == ["OperatorActor op#1", "OperatorActor op#2", "OperatorActor op#3", "OperatorActor op#4"])
        #expect(trace.tracks.values.filter { $0.pid != nil && $0.tid == nil }.count == 2)
        #expect(trace.events.filter { $0.type == 1 && $0.name == "matmul" }.count == 300)
        #expect(trace.events.filter { !$0.terminatingFlows.isEmpty }.count == 300)
        let kernel = try #require(trace.events.first { $0.name == "matmul" })
        #expect(kernel.annotations["flops"] == String(1 << 20))
        #expect(kernel.category == "kernel")
        // Smaller than the JSON of the same events.
        #expect(bytes.count * 2 < (try ChromeTraceWriter.render(events)).count)
        #expect(try PerfettoTraceWriter.render(events) == bytes)
    }

    @Test func truncatedProtobufIsAnErrorWithAnOffset() throws {
        let bytes = try PerfettoTraceWriter.render(Fixture.pipeline(messages: 5))
        let error = try #require(throws: TraceExportError.self) { try PerfettoTrace(bytes: Array(bytes.dropLast(3))) }
        #expect(error.byteOffset != nil)
    }
}

/// Headless Chromium renders the viewer page; Debian's `chromium` package provides it.
let chromium: String? = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }

@Suite struct TraceViewerTests {
    @Test func pageIsSelfContainedAndEmbedsEveryTrack() {
        let html = TraceViewer.html(Fixture.pipeline(messages: 50, actors: 3), title: "a <b>")
        #expect(!html.contains("http://") && !html.contains("https://"))
        #expect(html.contains("a &lt;b&gt;"))
        #expect(html.contains("\"OperatorActor op#3\""))
        #expect(html.contains("Critical path"))
    }

    // Skipped when chromium is not installed (Tools/install-system-packages.sh installs it).
    @Test(.enabled(if: chromium != nil, "needs Debian's chromium for a headless render"), .timeLimit(.minutes(1)))
    func headlessChromiumRendersLanesAndANonBlankTimeline() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("viewer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let page = directory.appendingPathComponent("timeline.html").path
        try TraceViewer.write(Fixture.pipeline(messages: 200, actors: 5, nodes: 2), to: page)
        let common = ["--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(directory.path)/profile", "--window-size=1200,700"]
        let dom = try run(chromium!, common + ["--dump-dom", "file://\(page)"])
        #expect(dom.components(separatedBy: "class=\"lane\"").count - 1 == 5)
        #expect(dom.components(separatedBy: "class=\"node\"").count - 1 == 2)
        let png = directory.appendingPathComponent("shot.png").path
        _ = try run(chromium!, common + ["--screenshot=\(png)", "file://\(page)"])
        // Count distinct colours in the decoded screenshot (python's zlib; no image library needed).
        let script = """
            import struct, sys, zlib
            data = open(sys.argv[1], 'rb').read()
            pos, idat, width, height = 8, b'', 0, 0
            while pos < len(data):
                length, kind = struct.unpack('>I4s', data[pos:pos + 8])
                body = data[pos + 8:pos + 8 + length]
                if kind == b'IHDR': width, height, depth, ctype = struct.unpack('>IIBB', body[:10])
                if kind == b'IDAT': idat += body
                pos += 12 + length
            raw = zlib.decompress(idat)
            bpp = 4 if ctype == 6 else 3
            stride = width * bpp
            colours, prev, row_start = set(), bytearray(stride), 0
            for y in range(height):
                f = raw[row_start]; line = bytearray(raw[row_start + 1:row_start + 1 + stride]); row_start += 1 + stride
                for i in range(stride):
                    a = line[i - bpp] if i >= bpp else 0; b = prev[i]; c = prev[i - bpp] if i >= bpp else 0
                    if f == 1: line[i] = (line[i] + a) & 255
                    elif f == 2: line[i] = (line[i] + b) & 255
                    elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
                    elif f == 4:
                        p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                        line[i] = (line[i] + (a if pa <= pb and pa <= pc else (b if pb <= pc else c))) & 255
                if y % 7 == 0:
                    for x in range(0, width, 5): colours.add(bytes(line[x * bpp:x * bpp + 3]))
                prev = line
            print(len(colours))
            """
        let colours = Int(try run("/usr/bin/python3", ["-c", script, png]).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        #expect(colours > 10, "screenshot has \(colours) distinct colours: blank?")
    }

    func run(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}
