/// A minimal protocol-buffer encoder for building ONNX fixtures inside tests, so the parser is
/// exercised without the Debian test-data package.
struct ProtoWriter {
    var bytes: [UInt8] = []

    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func key(_ field: Int, _ wireType: UInt8) { varint(UInt64(field) << 3 | UInt64(wireType)) }

    mutating func int(_ field: Int, _ value: Int64) {
        key(field, 0)
        varint(UInt64(bitPattern: value))
    }

    mutating func float(_ field: Int, _ value: Float) {
        key(field, 5)
        fixed32(value.bitPattern)
    }

    mutating func fixed32(_ v: UInt32) { for i in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) } }
    mutating func fixed64(_ v: UInt64) { for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) } }

    mutating func bytes(_ field: Int, _ payload: [UInt8]) {
        key(field, 2)
        varint(UInt64(payload.count))
        bytes += payload
    }

    mutating func string(_ field: Int, _ s: String) { bytes(field, Array(s.utf8)) }

    mutating func message(_ field: Int, _ build: (inout ProtoWriter) -> Void) {
        var inner = ProtoWriter()
        build(&inner)
        bytes(field, inner.bytes)
    }

    /// Repeated int64 written packed (one length-delimited run).
    mutating func packedInts(_ field: Int, _ values: [Int64]) {
        var inner = ProtoWriter()
        for v in values { inner.varint(UInt64(bitPattern: v)) }
        bytes(field, inner.bytes)
    }

    /// Repeated floats written packed.
    mutating func packedFloats(_ field: Int, _ values: [Float]) {
        var inner = ProtoWriter()
        for v in values { inner.fixed32(v.bitPattern) }
        bytes(field, inner.bytes)
    }

    /// Repeated doubles written packed.
    mutating func packedDoubles(_ field: Int, _ values: [Double]) {
        var inner = ProtoWriter()
        for v in values { inner.fixed64(v.bitPattern) }
        bytes(field, inner.bytes)
    }
}

/// Builders for the ONNX messages the fixtures need (field numbers from onnx.proto).
enum Fixture {
    /// A `TensorProto` with float values in `float_data`.
    static func floatTensor(_ w: inout ProtoWriter, name: String, dims: [Int64], values: [Float]) {
        w.packedInts(1, dims)
        w.int(2, 1)
        w.packedFloats(4, values)
        w.string(8, name)
    }

    static func valueInfo(_ w: inout ProtoWriter, name: String, elementType: Int64, dims: [Int64]) {
        w.string(1, name)
        w.message(2) { t in
            t.message(1) { tensor in
                tensor.int(1, elementType)
                tensor.message(2) { shape in
                    for d in dims { shape.message(1) { dim in dim.int(1, d) } }
                }
            }
        }
    }

    /// A model with one node `opType(inputs + constants) -> outputs`: float inputs and outputs,
    /// and int64 initializers (axes, shapes, split sizes) appended to the node's inputs.
    static func model(
        opType: String, inputs: [(String, [Int64])], outputs: [(String, [Int64])], opset: Int64 = 13,
        constants: [(String, [Int64])] = [], attributes: (inout ProtoWriter) -> Void = { _ in }, elementType: Int64 = 1
    ) -> [UInt8] {
        var m = ProtoWriter()
        m.int(1, 8)
        m.string(2, "fixture")
        m.message(7) { g in
            g.message(1) { n in
                for (name, _) in inputs { n.string(1, name) }
                for (name, _) in constants { n.string(1, name) }
                for (name, _) in outputs { n.string(2, name) }
                n.string(3, "node0")
                n.string(4, opType)
                attributes(&n)
            }
            g.string(2, "graph")
            for (name, values) in constants {
                g.message(5) { t in
                    t.packedInts(1, [Int64(values.count)])
                    t.int(2, 7)
                    t.packedInts(7, values)
                    t.string(8, name)
                }
            }
            for (name, dims) in inputs { g.message(11) { valueInfo(&$0, name: name, elementType: elementType, dims: dims) } }
            for (name, dims) in outputs { g.message(12) { valueInfo(&$0, name: name, elementType: elementType, dims: dims) } }
        }
        m.message(8) { o in
            o.string(1, "")
            o.int(2, opset)
        }
        return m.bytes
    }
}
