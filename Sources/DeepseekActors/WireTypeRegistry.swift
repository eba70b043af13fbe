import Synchronization

/// The types allowed to cross the wire by name: generic substitutions of distributed functions
/// and error types thrown back to callers.
///
/// A name that is not registered is refused — the receiving side never looks types up by
/// arbitrary names from the network.
public final class WireTypeRegistry: Sendable {
    private let types = Mutex<[String: any Any.Type]>([:])

    public init() {
        register(Float.self)
        register(Double.self)
        register(Int.self)
        register(Int64.self)
        register(Int32.self)
        register(UInt64.self)
        register(String.self)
        register(Bool.self)
    }

    /// The name a type travels under (its mangled name, which is stable across processes of one build).
    public static func name(of type: any Any.Type) -> String {
        _mangledTypeName(type) ?? String(reflecting: type)
    }

    /// Allows `type` on the wire.
    public func register(_ type: any Any.Type) {
        let name = Self.name(of: type)
        types.withLock { $0[name] = type }
    }

    /// The registered type with this name.
    ///
    /// - Throws: `ActorSystemError.unknownType` for a name that was never registered.
    public func type(named name: String) throws -> any Any.Type {
        guard let t = types.withLock({ $0[name] }) else {
            throw ActorSystemError(
                .unknownType, "type '\(name.prefix(80))' is not registered for the wire; register it with WireTypeRegistry.register(_:)")
        }
        return t
    }
}
