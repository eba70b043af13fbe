import DeepseekTensor
import DeepseekTraining
import Testing

@Suite struct FashionMNISTTests {
    @Test(arguments: [true, false])
    func miniatureDirectoryLoadsWithScaledPixelsAndInt64Labels(compressed: Bool) throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try writeMiniFashionMNIST(in: dir, count: 3, compressed: compressed)
        #expect(FashionMNIST.isAvailable(directory: dir.path))

        let data = try FashionMNIST.load(split: .test, directory: dir.path)
        #expect(data.count == 3)
        #expect(data.images.shape == [3, 784])
        #expect(data.images.dtype == .float32)
        #expect(data.labels.shape == [3])
        #expect(data.labels.dtype == .int64)
        #expect(data.height == 28 && data.width == 28)
        #expect(try data.labels.scalars(as: Int64.self) == [0, 1, 2])
        let pixels = try data.images.scalars(as: Float.self)
        for (i, value) in pixels.enumerated() {
            let example = i / 784
            let pixel = i % 784
            let byte = (example * 7 + pixel) % 256
            #expect(value == Float(byte) / 255)
        }
        #expect(pixels.contains(1.0))  // byte 255 maps to exactly 1
    }

    @Test func missingDirectoryIsUnavailableAndSaysWhatToInstall() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        #expect(!FashionMNIST.isAvailable(directory: dir.path))
        let error = try #require(throws: DatasetError.self) { try FashionMNIST.load(split: .train, directory: dir.path) }
        #expect(error.code == .io)
        #expect(error.message.contains("train-images-idx3-ubyte"))
        #expect(error.message.contains("dataset-fashion-mnist"))
    }

    @Test func labelOutsideTheTenClassesIsInconsistent() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try writeMiniFashionMNIST(in: dir, count: 3, labels: [1, 10, 2])
        let error = try #require(throws: DatasetError.self) { try FashionMNIST.load(split: .train, directory: dir.path) }
        #expect(error.code == .inconsistent)
        #expect(error.message.contains("label 10 of example 1"))
    }

    @Test func labelCountDifferentFromImageCountIsInconsistent() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try writeMiniFashionMNIST(in: dir, count: 3, labels: [1, 2])
        let error = try #require(throws: DatasetError.self) { try FashionMNIST.load(split: .test, directory: dir.path) }
        #expect(error.code == .inconsistent)
        #expect(error.message.contains("2 labels"))
    }

    @Test func imagesOfTheWrongShapeAreInconsistent() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try writeMiniFashionMNIST(in: dir, count: 2)
        dir.write("train-images-idx3-ubyte.gz", try Gzip.compress(idxBytes(dimensions: [2, 4], payload: Array(repeating: 0, count: 8))))
        let error = try #require(throws: DatasetError.self) { try FashionMNIST.load(split: .train, directory: dir.path) }
        #expect(error.code == .inconsistent)
        #expect(error.message.contains("[N, 28, 28]"))
    }

    @Test func tenClassNames() {
        #expect(FashionMNIST.classCount == 10)
        #expect(FashionMNIST.classNames[9] == "Ankle boot")
    }
}

/// The installed data set (Debian package `dataset-fashion-mnist`).
@Suite(.enabled(if: FashionMNIST.isAvailable(), "Fashion-MNIST is not installed (Debian package dataset-fashion-mnist)"))
struct FashionMNISTDataTests {
    static func check(_ data: LabeledImages, count: Int) throws {
        #expect(data.count == count)
        #expect(data.images.shape == [count, 784])
        #expect(data.labels.shape == [count])

        let labels = try data.labels.scalars(as: Int64.self)
        var perClass = [Int](repeating: 0, count: 10)
        for label in labels { perClass[Int(label)] += 1 }
        #expect(perClass == [Int](repeating: count / 10, count: 10))

        let (low, high, sum) = try data.images.withUnsafeBufferPointer(as: Float.self) { pixels in
            var low = Float.infinity
            var high = -Float.infinity
            var sum = 0.0
            for p in pixels {
                low = min(low, p)
                high = max(high, p)
                sum += Double(p)
            }
            return (low, high, sum)
        }
        #expect(low == 0)
        #expect(high == 1)
        // The published mean pixel intensity of both splits is about 0.286.
        let mean = sum / Double(count * 784)
        #expect(abs(mean - 0.286) < 0.002)
    }

    @Test func trainingSplitHasSixtyThousandBalancedImages() throws {
        let train = try FashionMNIST.load(split: .train)
        try Self.check(train, count: 60_000)
        #expect(try train.labels.scalars(as: Int64.self).prefix(3) == [9, 0, 0])
    }

    @Test func testSplitHasTenThousandBalancedImages() throws {
        try Self.check(try FashionMNIST.load(split: .test), count: 10_000)
    }
}
