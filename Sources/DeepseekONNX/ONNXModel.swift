/// A decoded ONNX `ModelProto`: the operator-set versions it imports and its main graph.
///
/// Only what running a graph needs is kept; documentation strings, metadata and training
/// information are skipped. Sub-graphs (the bodies of `If`, `Loop`, `Scan`) are recorded as
/// present but not decoded, since no operator that has them is implemented.
///
/// ```swift
/// let model = try ONNXModel(contentsOf: "/usr/share/libonnx-testdata/data/node/test_add/model.onnx")
/// model.opsetVersion          // 13
/// model.graph.nodes[0].opType // "Add"
/// ```
public struct ONNXModel: Sendable {
    /// The IR version the file declares.
    public var irVersion: Int64 = 0
    /// Imported operator sets: domain (`""` for the default `ai.onnx` domain) → version.
    public var opsetImports: [String: Int64] = [:]
    /// The main graph.
    public var graph: ONNXGraph

    /// The version of the default (`ai.onnx`) operator set, which decides operator semantics.
    public var opsetVersion: Int {
        Int(clamping: opsetImports[""] ?? opsetImports["ai.onnx"] ?? 1)
    }

    /// Decodes a `.onnx` file.
    ///
    /// - Throws: `ONNXError` (`io`, `malformed`) naming the file and the byte offset.
    public init(contentsOf path: String) throws(ONNXError) {
        try self.init(bytes: try readFile(path), file: path)
    }

    /// Decodes `ModelProto` wire format; `file` names the source in error messages.
    public init(bytes: [UInt8], file: String) throws(ONNXError) {
        var r = ProtoReader(bytes: bytes, file: file)
        let m = "ModelProto"
        var graph: ONNXGraph?
        while let (field, wire) = try r.readKey() {
            switch field {
            case 1: irVersion = try r.readInt64(wire, field: field, in: m)
            case 7:
                var g = try r.readMessage(wire, field: field, in: m)
                graph = try ONNXGraph.decode(&g)
            case 8:
                var o = try r.readMessage(wire, field: field, in: m)
                var domain = ""
                var version: Int64 = 0
                while let (f, w) = try o.readKey() {
                    switch f {
                    case 1: domain = try o.readString(w, field: f, in: "OperatorSetIdProto")
                    case 2: version = try o.readInt64(w, field: f, in: "OperatorSetIdProto")
                    default: try o.skip(w, field: f)
                    }
                }
                opsetImports[domain] = max(opsetImports[domain] ?? version, version)
            default: try r.skip(wire, field: field)
            }
        }
        guard let graph else {
            throw ONNXError(.invalidModel, "the model has no graph (ModelProto field 7)", file: file)
        }
        self.graph = graph
    }
}

/// A decoded `GraphProto`: nodes in topological order, constant initializers, inputs and outputs.
public struct ONNXGraph: Sendable {
    public var name = ""
    public var nodes: [ONNXNode] = []
    public var initializers: [ONNXTensorProto] = []
    public var inputs: [ONNXValueInfo] = []
    public var outputs: [ONNXValueInfo] = []
    /// Whether the graph has sparse initializers, which are not supported.
    public var hasSparseInitializers = false

    /// Graph inputs that are not initializers: the values a caller must feed, in order.
    public var feedInputs: [ONNXValueInfo] {
        let constant = Set(initializers.map(\.name))
        return inputs.filter { !constant.contains($0.name) }
    }

    static func decode(_ r: inout ProtoReader) throws(ONNXError) -> ONNXGraph {
        let m = "GraphProto"
        var g = ONNXGraph()
        while let (field, wire) = try r.readKey() {
            switch field {
            case 1:
                var n = try r.readMessage(wire, field: field, in: m)
                g.nodes.append(try ONNXNode.decode(&n))
            case 2: g.name = try r.readString(wire, field: field, in: m)
            case 5:
                var t = try r.readMessage(wire, field: field, in: m)
                g.initializers.append(try ONNXTensorProto.decode(&t))
            case 11:
                var v = try r.readMessage(wire, field: field, in: m)
                g.inputs.append(try ONNXValueInfo.decode(&v))
            case 12:
                var v = try r.readMessage(wire, field: field, in: m)
                g.outputs.append(try ONNXValueInfo.decode(&v))
            case 15:
                g.hasSparseInitializers = true
                try r.skip(wire, field: field)
            default: try r.skip(wire, field: field)
            }
        }
        return g
    }
}

/// A decoded `NodeProto`: one operator application.
public struct ONNXNode: Sendable {
    public var name = ""
    public var opType = ""
    /// The operator-set domain; `""` and `ai.onnx` both mean the default domain.
    public var domain = ""
    /// Input value names; an empty name marks an omitted optional input.
    public var inputs: [String] = []
    /// Output value names; an empty name marks an output the graph does not use.
    public var outputs: [String] = []
    /// Attributes in file order.
    public var attributes: [ONNXAttribute] = []

    /// The attribute called `name`, if present.
    public func attribute(_ name: String) -> ONNXAttribute? {
        attributes.first { $0.name == name }
    }

    static func decode(_ r: inout ProtoReader) throws(ONNXError) -> ONNXNode {
        let m = "NodeProto"
        var n = ONNXNode()
        while let (field, wire) = try r.readKey() {
            switch field {
            case 1: n.inputs.append(try r.readString(wire, field: field, in: m))
            case 2: n.outputs.append(try r.readString(wire, field: field, in: m))
            case 3: n.name = try r.readString(wire, field: field, in: m)
            case 4: n.opType = try r.readString(wire, field: field, in: m)
            case 5:
                var a = try r.readMessage(wire, field: field, in: m)
                n.attributes.append(try ONNXAttribute.decode(&a))
            case 7: n.domain = try r.readString(wire, field: field, in: m)
            default: try r.skip(wire, field: field)
            }
        }
        return n
    }
}

/// A decoded `AttributeProto`.
///
/// ONNX stores each attribute's value in the field its `type` names; the typed accessors here
/// read that field and fall back to whichever field is present when `type` is missing (IR
/// versions before 0.0.2 did not write it).
public struct ONNXAttribute: Sendable {
    /// `AttributeProto.AttributeType`.
    public enum Kind: Int64, Sendable {
        case undefined = 0, float = 1, int = 2, string = 3, tensor = 4, graph = 5
        case floats = 6, ints = 7, strings = 8, tensors = 9, graphs = 10
        case sparseTensor = 11, sparseTensors = 12, typeProto = 13, typeProtos = 14
    }

    public var name = ""
    public var kind: Kind = .undefined
    public var f: Float?
    public var i: Int64?
    public var s: [UInt8]?
    public var t: ONNXTensorProto?
    public var floats: [Float] = []
    public var ints: [Int64] = []
    public var strings: [[UInt8]] = []
    /// Whether a sub-graph value was present (it is not decoded).
    public var hasGraph = false
    /// The name of a function attribute this one refers to (only valid inside functions).
    public var refAttrName = ""

    /// The string value decoded as UTF-8.
    public var string: String? { s.map { String(decoding: $0, as: UTF8.self) } }

    static func decode(_ r: inout ProtoReader) throws(ONNXError) -> ONNXAttribute {
        let m = "AttributeProto"
        var a = ONNXAttribute()
        while let (field, wire) = try r.readKey() {
            switch field {
            case 1: a.name = try r.readString(wire, field: field, in: m)
            case 2: a.f = try r.readFloat(wire, field: field, in: m)
            case 3: a.i = try r.readInt64(wire, field: field, in: m)
            case 4:
                try r.expect(wire, .lengthDelimited, field: field, in: m, at: r.offset)
                a.s = try r.readBytes()
            case 5:
                var t = try r.readMessage(wire, field: field, in: m)
                a.t = try ONNXTensorProto.decode(&t)
            case 6, 11:
                a.hasGraph = true
                try r.skip(wire, field: field)
            case 7:
                var bits: [UInt32] = []
                try r.readRepeatedFixed32(wire, field: field, in: m, into: &bits)
                a.floats += bits.map { Float(bitPattern: $0) }
            case 8:
                var values: [UInt64] = []
                try r.readRepeatedVarint(wire, field: field, in: m, into: &values)
                a.ints += values.map { Int64(bitPattern: $0) }
            case 9:
                try r.expect(wire, .lengthDelimited, field: field, in: m, at: r.offset)
                a.strings.append(try r.readBytes())
            case 20:
                let raw = try r.readInt64(wire, field: field, in: m)
                a.kind = Kind(rawValue: raw) ?? .undefined
            case 21: a.refAttrName = try r.readString(wire, field: field, in: m)
            default: try r.skip(wire, field: field)
            }
        }
        return a
    }
}

/// A graph input or output: its name and type.
public struct ONNXValueInfo: Sendable {
    public var name = ""
    public var type: ONNXValueType = .unknown

    static func decode(_ r: inout ProtoReader) throws(ONNXError) -> ONNXValueInfo {
        var v = ONNXValueInfo()
        while let (field, wire) = try r.readKey() {
            switch field {
            case 1: v.name = try r.readString(wire, field: field, in: "ValueInfoProto")
            case 2:
                var t = try r.readMessage(wire, field: field, in: "ValueInfoProto")
                v.type = try ONNXValueType.decode(&t)
            default: try r.skip(wire, field: field)
            }
        }
        return v
    }
}

/// The kind of value a graph input or output holds (`TypeProto`).
public enum ONNXValueType: Sendable, CustomStringConvertible {
    /// A dense tensor; `shape` lists each axis as a size, a symbolic name, or `nil` when unknown.
    case tensor(elementType: ONNXDataType, shape: [ONNXDimension]?)
    case sequence, map, optional, sparseTensor
    /// No type was given.
    case unknown

    public var description: String {
        switch self {
        case .tensor(let e, let shape): "tensor(\(e))" + (shape.map { "[" + $0.map(\.description).joined(separator: ", ") + "]" } ?? "")
        case .sequence: "sequence"
        case .map: "map"
        case .optional: "optional"
        case .sparseTensor: "sparse tensor"
        case .unknown: "unknown"
        }
    }

    static func decode(_ r: inout ProtoReader) throws(ONNXError) -> ONNXValueType {
        var result = ONNXValueType.unknown
        while let (field, wire) = try r.readKey() {
            switch field {
            case 1:
                var t = try r.readMessage(wire, field: field, in: "TypeProto")
                var elementType = ONNXDataType.undefined
                var shape: [ONNXDimension]?
                while let (f, w) = try t.readKey() {
                    switch f {
                    case 1: elementType = ONNXDataType(rawValue: Int32(truncatingIfNeeded: try t.readInt64(w, field: f, in: "TypeProto.Tensor")))
                    case 2:
                        var s = try t.readMessage(w, field: f, in: "TypeProto.Tensor")
                        var dims: [ONNXDimension] = []
                        while let (sf, sw) = try s.readKey() {
                            guard sf == 1 else {
                                try s.skip(sw, field: sf)
                                continue
                            }
                            var d = try s.readMessage(sw, field: sf, in: "TensorShapeProto")
                            var dim = ONNXDimension.unknown
                            while let (df, dw) = try d.readKey() {
                                switch df {
                                case 1: dim = .value(try d.readInt64(dw, field: df, in: "Dimension"))
                                case 2: dim = .parameter(try d.readString(dw, field: df, in: "Dimension"))
                                default: try d.skip(dw, field: df)
                                }
                            }
                            dims.append(dim)
                        }
                        shape = dims
                    default: try t.skip(w, field: f)
                    }
                }
                result = .tensor(elementType: elementType, shape: shape)
            case 4:
                result = .sequence
                try r.skip(wire, field: field)
            case 5:
                result = .map
                try r.skip(wire, field: field)
            case 8:
                result = .sparseTensor
                try r.skip(wire, field: field)
            case 9:
                result = .optional
                try r.skip(wire, field: field)
            default: try r.skip(wire, field: field)
            }
        }
        return result
    }
}

/// One axis of a declared tensor shape.
public enum ONNXDimension: Sendable, CustomStringConvertible {
    case value(Int64)
    case parameter(String)
    case unknown

    public var description: String {
        switch self {
        case .value(let v): "\(v)"
        case .parameter(let p): p
        case .unknown: "?"
        }
    }
}
