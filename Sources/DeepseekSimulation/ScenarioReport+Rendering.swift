extension ScenarioReport {
    /// The report as Markdown.
    public func markdown() -> String {
        let r = result, s = scenario
        var o = "# Simulation: \(s.name)\n\n"
        if !s.models.isEmpty { o += "Models: \(s.models)\n\n" }
        o += "Cluster: \(s.topology.nodes) nodes × \(s.topology.devicesPerNode) \(s.device.name) (\(s.topology.intraNode.name) inside a node, \(s.topology.interNode.description) between nodes, \(s.topology.fabric)). "
        o += "Model: \(r.modelName), microbatch \(s.microbatchSize), \(s.layout.microbatches) microbatches; data \(s.layout.dataParallel) × tensor \(s.layout.tensorParallel) × pipeline \(s.layout.pipelineParallel), ZeRO \(s.layout.zeroStage); \(s.precision.rawValue), \(s.optimizer), \(s.algorithm.rawValue) all-reduce, compression \(s.compression); seed \(s.seed).\n\n"
        o += "## Outcome\n\n"
        if r.completed {
            o += "The iteration completed.\n\n"
        } else {
            o += "**The iteration failed.**\n\n" + r.failures.map { "- \($0)\n" }.joined() + "\n"
        }
        o += "| figure | value |\n|---|---|\n"
        o += "| iteration time | \(duration(r.iterationSeconds)) |\n"
        o += "| throughput | \(fixed(r.samplesPerSecond, 1)) samples/s, \(fixed(r.tokensPerSecond, 0)) tokens/s |\n"
        o += "| achieved per device | \(si(r.flopsPerDevice))FLOP/s (peak \(si(r.peakFlopsPerDevice))FLOP/s) |\n"
        o += "| MFU | \(fixed(r.mfu * 100, 1)) % |\n"
        o += "| compute (slowest device) | \(duration(r.computeSeconds)) |\n"
        o += "| exposed communication | \(duration(r.exposedCommunicationSeconds)) |\n"
        if let e = scalingEfficiency, let b = baseline { o += "| scaling efficiency vs data-parallel \(b.dataParallel) | \(fixed(e * 100, 1)) % |\n" }
        o += "| messages / bytes on the wire | \(r.transport.messages) / \(byteText(r.transport.bytes)) |\n"
        o += "| faults | \(r.transport.dropped) dropped, \(r.transport.delayed) delayed, \(r.transport.lost) lost, \(r.transport.heldByPartition) held by partitions |\n"
        o += "| simulated events | \(r.events) |\n\n"
        o += "## Critical path (slowest pipeline lane)\n\n| phase | time |\n|---|---|\n" + r.criticalPath.map { "| \($0.0) | \(duration($0.1)) |\n" }.joined() + "\n"
        o += "## Communication per operator\n\n"
        if r.tensorAllReduceSeconds > 0 { o += "Tensor-parallel all-reduce: \(duration(r.tensorAllReduceSeconds)) each, 2 per layer and pass, blocking (fully exposed).\n\n" }
        o += "| operation | members | bytes | start | end | exposed |\n|---|---|---|---|---|---|\n"
        for c in r.collectives.prefix(40) {
            o += "| \(c.name)\(c.finished ? "" : " (unfinished)") | \(c.members) | \(byteText(c.payloadBytes)) | \(duration(c.start)) | \(duration(c.end)) | \(duration(c.exposed)) |\n"
        }
        if r.collectives.count > 40 { o += "| … \(r.collectives.count - 40) more | | | | | |\n" }
        o += "\n## Devices\n\n| device | stage | replica | compute | blocking comm | pipeline wait | collectives active | exposed comm | utilisation |\n|---|---|---|---|---|---|---|---|---|\n"
        let shown = r.devices.count <= 16 ? r.devices : Array(r.devices.prefix(8)) + Array(r.devices.suffix(8))
        for d in shown {
            o += "| \(d.device) | \(d.stage) | \(d.replica) | \(duration(d.compute)) | \(duration(d.blockingCommunication)) | \(duration(d.pipelineWait)) | \(duration(d.collectiveActive)) | \(duration(d.exposedCommunication)) | \(fixed(r.iterationSeconds > 0 ? d.compute / r.iterationSeconds * 100 : 0, 1)) % |\n"
        }
        if shown.count < r.devices.count { o += "\n(\(r.devices.count) devices; first and last 8 shown, all in the JSON report.)\n" }
        o += "\n## Links (busiest 12)\n\n| link | bytes | utilisation |\n|---|---|---|\n"
        for l in r.links.sorted(by: { ($0.utilisation, $1.name) > ($1.utilisation, $0.name) }).prefix(12) {
            o += "| \(l.name) | \(l.isProcessor ? "\(duration(l.bytes)) of core time" : byteText(l.bytes)) | \(fixed(l.utilisation * 100, 1)) % |\n"
        }
        o += "\n## Memory per device\n\n| stage | parameters | gradients | optimizer state | activations | total | fits in \(byteText(deviceCapacity)) |\n|---|---|---|---|---|---|---|\n"
        for (i, m) in memory.enumerated() {
            o += "| \(i) | \(byteText(m.parameters)) | \(byteText(m.gradients)) | \(byteText(m.optimizerState)) | \(byteText(m.activations)) | \(byteText(m.total)) | \(m.total <= deviceCapacity ? "yes" : "no") |\n"
        }
        return o
    }

    /// The report as JSON (keys in a fixed order).
    ///
    /// - Parameter runtime: the same scenario run by the runtime itself (`--runtime`), added as
    ///   the object `runtime`.
    public func json(runtime: RuntimeExecutionReport? = nil) -> String {
        let r = result, s = scenario
        let str = jsonString
        func num(_ v: Double) -> String { v.isFinite ? fixed(v, 9) : "null" }
        var o = "{\n"
        o += "  \"scenario\": \(str(s.name)),\n  \"models\": \(str(s.models)),\n  \"seed\": \(s.seed),\n  \"model\": \(str(r.modelName)),\n"
        o += "  \"devices\": \(s.layout.devices),\n  \"completed\": \(r.completed),\n  \"failures\": [" + r.failures.map(str).joined(separator: ", ") + "],\n"
        o += "  \"iteration_seconds\": \(num(r.iterationSeconds)),\n  \"samples_per_second\": \(num(r.samplesPerSecond)),\n  \"tokens_per_second\": \(num(r.tokensPerSecond)),\n"
        o += "  \"flops_per_device\": \(num(r.flopsPerDevice)),\n  \"mfu\": \(num(r.mfu)),\n  \"compute_seconds\": \(num(r.computeSeconds)),\n"
        o += "  \"exposed_communication_seconds\": \(num(r.exposedCommunicationSeconds)),\n"
        o += "  \"scaling_efficiency\": \(scalingEfficiency.map(num) ?? "null"),\n"
        o += "  \"events\": \(r.events),\n  \"messages\": \(r.transport.messages),\n  \"bytes\": \(num(r.transport.bytes)),\n"
        o += "  \"faults\": {\"dropped\": \(r.transport.dropped), \"delayed\": \(r.transport.delayed), \"lost\": \(r.transport.lost), \"held\": \(r.transport.heldByPartition)},\n"
        o += "  \"critical_path\": [" + r.criticalPath.map { "{\"phase\": \(str($0.0)), \"seconds\": \(num($0.1))}" }.joined(separator: ", ") + "],\n"
        o += "  \"collectives\": [\n" + r.collectives.map {
            "    {\"name\": \(str($0.name)), \"operation\": \(str($0.operation)), \"members\": \($0.members), \"bytes\": \(num($0.payloadBytes)), \"start\": \(num($0.start)), \"end\": \(num($0.end)), \"exposed\": \(num($0.exposed)), \"finished\": \($0.finished)}"
        }.joined(separator: ",\n") + "\n  ],\n"
        o += "  \"per_device\": [\n" + r.devices.map {
            "    {\"device\": \($0.device), \"stage\": \($0.stage), \"replica\": \($0.replica), \"compute\": \(num($0.compute)), \"blocking_communication\": \(num($0.blockingCommunication)), \"pipeline_wait\": \(num($0.pipelineWait)), \"collective_active\": \(num($0.collectiveActive)), \"exposed_communication\": \(num($0.exposedCommunication)), \"finished\": \($0.finished)}"
        }.joined(separator: ",\n") + "\n  ],\n"
        o += "  \"links\": [\n" + r.links.map { "    {\"name\": \(str($0.name)), \"bytes\": \(num($0.bytes)), \"utilisation\": \(num($0.utilisation))}" }.joined(separator: ",\n") + "\n  ],\n"
        o += "  \"memory\": [" + memory.enumerated().map {
            "{\"stage\": \($0.offset), \"parameters\": \(num($0.element.parameters)), \"gradients\": \(num($0.element.gradients)), \"optimizer_state\": \(num($0.element.optimizerState)), \"activations\": \(num($0.element.activations)), \"total\": \(num($0.element.total))}"
        }.joined(separator: ", ") + "]"
        if let runtime { o += ",\n  \"runtime\": " + runtime.jsonObject }
        return o + "\n}\n"
    }
}

/// `x` as a JSON string literal.
func jsonString(_ x: String) -> String {
    var out = "\""
    for c in x.unicodeScalars {
        switch c {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        default: out += c.value < 0x20 ? "\\u00" + (c.value < 16 ? "0" : "") + String(c.value, radix: 16) : String(c)
        }
    }
    return out + "\""
}
