#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// Thin wrappers so Core can use libm without exposing the C module to its users.
@inline(__always) package func _log(_ x: Double) -> Double { log(x) }
@inline(__always) package func _sin(_ x: Double) -> Double { sin(x) }
@inline(__always) package func _cos(_ x: Double) -> Double { cos(x) }
