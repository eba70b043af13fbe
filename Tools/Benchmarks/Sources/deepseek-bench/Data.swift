import DeepseekCore
import DeepseekTensor

/// A float32 tensor of uniform values in `[low, high)`, filled directly (the generic initialiser
/// converts every element through Double, which is slow for 16M elements).
func randomTensor(_ shape: Shape, seed: UInt64, low: Float = -1, high: Float = 1) throws -> Tensor {
    var rng = SeededRandom(seed: seed)
    var t = try Tensor.empty(shape, dtype: .float32)
    try t.withUnsafeMutableBufferPointer(as: Float.self) { buffer in
        for i in buffer.indices { buffer[i] = low + (high - low) * rng.nextFloat() }
    }
    return t
}

/// A 64-byte aligned float buffer outside any tensor, for the C baselines.
final class FloatBuffer {
    let count: Int
    let pointer: UnsafeMutablePointer<Float>

    init(count: Int) {
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: count)  // touches every page before timing
    }

    init(copying tensor: Tensor) throws {
        count = tensor.elementCount
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        try tensor.withUnsafeBufferPointer(as: Float.self) { src in
            pointer.initialize(from: src.baseAddress!, count: count)
        }
    }

    deinit { pointer.deallocate() }
}

/// The largest absolute difference between a tensor and a buffer, relative to the buffer's largest magnitude.
func relativeDifference(_ t: Tensor, _ b: FloatBuffer) throws -> Double {
    try t.withUnsafeBufferPointer(as: Float.self) { x in
        precondition(x.count == b.count, "relativeDifference: \(x.count) vs \(b.count) elements")
        var diff: Float = 0
        var scale: Float = 0
        for i in 0..<x.count {
            diff = max(diff, abs(x[i] - b.pointer[i]))
            scale = max(scale, abs(b.pointer[i]))
        }
        return Double(diff / max(scale, .leastNormalMagnitude))
    }
}
