public import DeepseekGraph
public import DeepseekNN
import DeepseekTensor

/// The shape of a vision transformer: image and patch size, width, depth, heads, MLP width, classes.
///
/// Presets follow Dosovitskiy et al. (2021, table 1) for ViT-B/16 and Touvron et al. (2021, DeiT)
/// for ViT-Ti/16, both at 224×224 with 1000 classes.
public struct ViTConfiguration: Sendable, Hashable {
    public var imageSize: Int
    public var patchSize: Int
    public var channels: Int
    public var dim: Int
    public var layers: Int
    public var heads: Int
    public var hidden: Int
    public var classes: Int

    public init(imageSize: Int = 224, patchSize: Int = 16, channels: Int = 3, dim: Int, layers: Int, heads: Int, hidden: Int? = nil, classes: Int = 1000) {
        (self.imageSize, self.patchSize, self.channels, self.dim, self.layers, self.heads) = (imageSize, patchSize, channels, dim, layers, heads)
        self.hidden = hidden ?? 4 * dim
        self.classes = classes
    }

    public static let tiny = ViTConfiguration(dim: 192, layers: 12, heads: 3)
    public static let small = ViTConfiguration(dim: 384, layers: 12, heads: 6)
    public static let base = ViTConfiguration(dim: 768, layers: 12, heads: 12)
    public static let large = ViTConfiguration(dim: 1024, layers: 24, heads: 16)

    /// Patches per image side.
    public var grid: Int { imageSize / patchSize }
    /// Tokens the encoder sees: one per patch plus the class token.
    public var tokens: Int { grid * grid + 1 }
}

/// A vision transformer (ViT) classifier over `[N, C, imageSize, imageSize]` images.
///
/// Patches are embedded by a `patchSize`-strided convolution (`patch_embed`), a learned class
/// token (`cls_token` `[1, 1, dim]`) is put in front, a learned position embedding (`pos_embed`
/// `[1, tokens, dim]`) added, then `layers` pre-norm blocks (`blocks.<i>`, exact GELU, LayerNorm
/// ε = 10⁻⁶), a final `norm`, and `head` applied to the class token.
public final class VisionTransformer: Module {
    public let configuration: ViTConfiguration
    let patchEmbed: ZooConv2d
    let clsToken: Parameter
    let posEmbed: Parameter
    let blocks: [ZooTransformerBlock]
    let norm: ZooLayerNorm
    let head: ZooLinear

    public init(_ configuration: ViTConfiguration, factory: inout ParameterFactory) throws {
        let c = configuration
        try zooRequirePositive("ViT", ["imageSize": c.imageSize, "patchSize": c.patchSize, "dim": c.dim, "layers": c.layers, "classes": c.classes])
        guard c.imageSize % c.patchSize == 0 else {
            throw NNError(.invalidArgument, "ViT: imageSize \(c.imageSize) is not a multiple of patchSize \(c.patchSize)")
        }
        self.configuration = c
        patchEmbed = try ZooConv2d(
            c.channels, c.dim, kernelSize: c.patchSize, stride: c.patchSize, bias: true, weightInitializer: .torchDefault, factory: &factory
        ).named("patch_embed")
        clsToken = try factory.make("cls_token", [1, 1, c.dim], .zeros)
        posEmbed = try factory.make("pos_embed", [1, c.tokens, c.dim], .normal(std: 0.02))
        blocks = try (0..<c.layers).map {
            try ZooTransformerBlock(
                dim: c.dim, heads: c.heads, hidden: c.hidden, pattern: .full, epsilon: 1e-6, approximateGELU: false, factory: &factory
            ).named("blocks.\($0)")
        }
        norm = try ZooLayerNorm(c.dim, epsilon: 1e-6, factory: &factory).named("norm")
        head = try ZooLinear(c.dim, c.classes, factory: &factory).named("head")
    }

    public func callAsFunction(_ x: SymbolicTensor) throws -> SymbolicTensor {
        let c = configuration
        guard x.rank == 4, Array(x.shape.dims.dropFirst()) == [c.channels, c.imageSize, c.imageSize] else {
            throw NNError(.shapeMismatch, "ViT: input must be [N, \(c.channels), \(c.imageSize), \(c.imageSize)], got \(x.shape)")
        }
        let n = x.shape[0]
        let t = x.tracer
        let patches = try patchEmbed(x, scope: "patch_embed").zooRecord(.reshape([n, c.dim, c.grid * c.grid]), name: "flatten")
            .zooRecord(.permute([0, 2, 1]), name: "tokens")
        let cls = try clsToken.traced(in: t).zooRecord(.expand([n, 1, c.dim]), name: "cls_expand")
        var h = try cls.zooRecord(.concat(axis: 1), [patches], name: "cls_concat")
            .zooRecord(.binary(.add), [posEmbed.traced(in: t)], name: "pos_add")
        for (i, block) in blocks.enumerated() { h = try block(h, scope: "blocks.\(i)") }
        h = try norm(h, scope: "norm").zooRecord(.slice(axis: 1, start: 0, end: 1, step: 1), name: "cls_select")
            .zooRecord(.reshape([n, c.dim]), name: "cls_flatten")
        return try head(h, scope: "head")
    }

    public var parameters: [Parameter] {
        patchEmbed.parameters + [clsToken, posEmbed] + blocks.flatMap(\.parameters) + norm.parameters + head.parameters
    }
}
