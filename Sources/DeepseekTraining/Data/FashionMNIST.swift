public import DeepseekTensor

/// Images with one class label each, as a pair of tensors whose first axis runs over examples.
public struct LabeledImages: Sendable {
    /// The pixels, `[count, height * width]` float32 scaled to 0...1, one flattened image per row.
    public var images: Tensor
    /// The class index of each image, `[count]` int64.
    public var labels: Tensor
    /// The height of each image in pixels.
    public var height: Int
    /// The width of each image in pixels.
    public var width: Int

    /// Creates the pair; the caller guarantees that both tensors have `count` rows.
    public init(images: Tensor, labels: Tensor, height: Int, width: Int) {
        self.images = images
        self.labels = labels
        self.height = height
        self.width = width
    }

    /// The number of examples.
    public var count: Int { labels.shape.first ?? 0 }
}

/// The Fashion-MNIST data set: 28×28 greyscale pictures of clothing in ten classes, 60 000 for
/// training and 10 000 for testing, read from its IDX files (gzip-compressed or not).
///
/// Nothing is downloaded: the files come from the Debian package `dataset-fashion-mnist`, which
/// installs them in `defaultDirectory`, or from any directory holding the four files.
///
/// ```swift
/// if FashionMNIST.isAvailable() {
///     let train = try FashionMNIST.load(split: .train)
///     print(train.images.shape, train.labels.shape)   // [60000, 784] [60000]
/// }
/// ```
public enum FashionMNIST {
    /// Which half of the data set to read.
    public enum Split: String, Sendable, CaseIterable {
        /// The 60 000 training examples (`train-*` files).
        case train
        /// The 10 000 test examples (`t10k-*` files).
        case test

        var filePrefix: String { self == .train ? "train" : "t10k" }
    }

    /// Where the Debian package `dataset-fashion-mnist` installs the files.
    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"
    /// Image height in pixels.
    public static let imageHeight = 28
    /// Image width in pixels.
    public static let imageWidth = 28
    /// Pixels per image, the width of a row of `LabeledImages.images`.
    public static let pixelCount = imageHeight * imageWidth
    /// The names of the ten classes, indexed by label.
    public static let classNames = [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ]
    /// The number of classes.
    public static var classCount: Int { classNames.count }

    /// Whether all four IDX files (compressed or not) are readable in `directory`.
    public static func isAvailable(directory: String = defaultDirectory) -> Bool {
        Split.allCases.allSatisfy { split in
            ["images-idx3-ubyte", "labels-idx1-ubyte"].allSatisfy { locate(split, $0, in: directory) != nil }
        }
    }

    /// Reads one split: images as `[N, 784]` float32 in 0...1 (pixel / 255) and labels as `[N]` int64.
    ///
    /// Reading the 60 000 training images takes a fraction of a second: the file is inflated in
    /// one pass and converted to floats in one loop over the bytes.
    ///
    /// - Parameters:
    ///   - split: `.train` or `.test`.
    ///   - directory: the directory holding the IDX files.
    /// - Throws: `DatasetError.io` when a file is missing or unreadable, `.corrupt` or `.malformed`
    ///   when a file is damaged, `.inconsistent` when the files disagree with each other or with
    ///   the data set's shape, `.resource` when the tensors do not fit in memory.
    public static func load(split: Split, directory: String = defaultDirectory) throws(DatasetError) -> LabeledImages {
        let imagePath = try require(split, "images-idx3-ubyte", in: directory)
        let labelPath = try require(split, "labels-idx1-ubyte", in: directory)
        let images = try IDXFile.read(path: imagePath)
        let labels = try IDXFile.read(path: labelPath)

        guard images.elementType == .uint8, images.dimensions.count == 3,
            images.dimensions[1] == imageHeight, images.dimensions[2] == imageWidth
        else {
            throw DatasetError(
                .inconsistent,
                "holds \(images.dimensions) \(images.elementType) elements, but Fashion-MNIST images are [N, \(imageHeight), \(imageWidth)] uint8; check that this is the Fashion-MNIST image file",
                file: imagePath)
        }
        guard labels.elementType == .uint8, labels.dimensions.count == 1 else {
            throw DatasetError(
                .inconsistent,
                "holds \(labels.dimensions) \(labels.elementType) elements, but Fashion-MNIST labels are [N] uint8; check that this is the Fashion-MNIST label file",
                file: labelPath)
        }
        let count = images.dimensions[0]
        guard labels.dimensions[0] == count else {
            throw DatasetError(
                .inconsistent,
                "has \(labels.dimensions[0]) labels but \(imagePath) has \(count) images; the files belong to different splits or one is damaged",
                file: labelPath)
        }
        if let bad = labels.payload.firstIndex(where: { Int($0) >= classCount }) {
            throw DatasetError(
                .inconsistent,
                "label \(labels.payload[bad]) of example \(bad) is not a class index 0..<\(classCount); the file is damaged — download or reinstall it",
                file: labelPath)
        }

        do {
            return LabeledImages(
                images: try pixelTensor(images.payload, count: count),
                labels: try labelTensor(labels.payload),
                height: imageHeight, width: imageWidth)
        } catch {
            throw DatasetError(.resource, "the \(split) split does not fit in memory: \(error.message)", cause: error)
        }
    }

    /// The path of a split's file, preferring the compressed form, or nil when neither exists.
    static func locate(_ split: Split, _ kind: String, in directory: String) -> String? {
        let base = joinPath(directory, "\(split.filePrefix)-\(kind)")
        return [base + ".gz", base].first(where: isReadableFile)
    }

    private static func require(_ split: Split, _ kind: String, in directory: String) throws(DatasetError) -> String {
        if let path = locate(split, kind, in: directory) { return path }
        let base = joinPath(directory, "\(split.filePrefix)-\(kind)")
        throw DatasetError(
            .io,
            "Fashion-MNIST \(split) file not found or not readable: tried \(base).gz and \(base); install the Debian package dataset-fashion-mnist or pass the directory that holds the IDX files"
        )
    }

    /// Bytes 0...255 to floats 0...1, through a table so that 255 maps to exactly 1.
    private static func pixelTensor(_ pixels: [UInt8], count: Int) throws(TensorError) -> Tensor {
        let t = try Tensor.empty([count, pixelCount], dtype: .float32, op: "FashionMNIST.load")
        guard let base = t.storage.baseAddress, !pixels.isEmpty else { return t }
        let table = (0..<256).map { Float($0) / 255 }
        let out = base.bindMemory(to: Float.self, capacity: pixels.count)
        pixels.withUnsafeBufferPointer { src in
            table.withUnsafeBufferPointer { lookup in
                for i in 0..<src.count { out[i] = lookup[Int(src[i])] }
            }
        }
        return t
    }

    private static func labelTensor(_ labels: [UInt8]) throws(TensorError) -> Tensor {
        let t = try Tensor.empty([labels.count], dtype: .int64, op: "FashionMNIST.load")
        guard let base = t.storage.baseAddress, !labels.isEmpty else { return t }
        let out = base.bindMemory(to: Int64.self, capacity: labels.count)
        for i in 0..<labels.count { out[i] = Int64(labels[i]) }
        return t
    }
}
