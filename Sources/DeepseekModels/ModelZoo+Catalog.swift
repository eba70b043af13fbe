import DeepseekCore
import DeepseekGraph
import DeepseekNN
import DeepseekTensor

extension ModelZoo {
    /// Image-classification input `[batch, channels, size, size]` with `classes` labels.
    static func images(_ channels: Int, _ size: Int, classes: Int) -> @Sendable (Int, Int?) throws -> ModelInputSpec {
        { batch, _ in
            ModelInputSpec(name: "x", type: TensorType([batch, channels, size, size]), targets: TensorType([batch], .int64), classes: classes)
        }
    }

    /// Token-id input `[batch, tokens]` (default `context`), next-token targets of the same shape.
    static func tokenIDs(context: Int, vocabulary: Int) -> @Sendable (Int, Int?) throws -> ModelInputSpec {
        { batch, tokens in
            let t = tokens ?? context
            guard t >= 1, t <= context else {
                throw ModelZooError(.invalidArgument, "sequence length \(t) is outside 1…\(context), the positions this model has learned")
            }
            return ModelInputSpec(name: "ids", type: TensorType([batch, t], .int64), targets: TensorType([batch, t], .int64), classes: vocabulary)
        }
    }

    /// The small models of `DeepseekNN`, as the zoo lists them.
    static let classicEntries: [ModelZooEntry] = [
        ModelZooEntry(
            name: "mlp", summary: "MLP 784-256-10 (ReLU), DeepseekNN.MLP", published: 203_530, source: "784·256+256 + 256·10+10",
            make: { factory in try MLP(sizes: [784, 256, 10], seed: factory.seed) },
            input: { batch, _ in ModelInputSpec(name: "x", type: TensorType([batch, 784]), targets: TensorType([batch], .int64), classes: 10) }),
        ModelZooEntry(
            name: "lenet5", summary: "LeNet-5 for 28×28 grayscale images, DeepseekNN.LeNet", published: 61_706,
            source: "LeCun et al. 1998, with the usual PyTorch layer sizes",
            make: { factory in try LeNet(seed: factory.seed) }, input: images(1, 28, classes: 10)),
    ]

    static let visionEntries: [ModelZooEntry] = {
        func resnet(_ depth: Int, _ c: ResNetConfiguration, _ published: Int) -> ModelZooEntry {
            ModelZooEntry(
                name: "resnet\(depth)", summary: "ResNet-\(depth), 224×224, 1000 classes", published: published,
                source: "torchvision.models.resnet\(depth) (He et al. 2015)",
                make: { factory in try ResNet(c, factory: &factory) }, input: images(3, 224, classes: 1000))
        }
        func vit(_ size: String, _ label: String, _ c: ViTConfiguration, _ published: Int, _ source: String) -> ModelZooEntry {
            ModelZooEntry(
                name: "vit-\(size)", summary: "\(label), 224×224 in 16×16 patches, 1000 classes", published: published, source: source,
                make: { factory in try VisionTransformer(c, factory: &factory) }, input: images(3, 224, classes: 1000))
        }
        return [
            resnet(18, .resnet18, 11_689_512), resnet(34, .resnet34, 21_797_672), resnet(50, .resnet50, 25_557_032),
            resnet(101, .resnet101, 44_549_160), resnet(152, .resnet152, 60_192_808),
            ModelZooEntry(
                name: "mobilenetv3-small", summary: "MobileNetV3-Small, 224×224, 1000 classes", published: 2_542_856,
                source: "torchvision.models.mobilenet_v3_small (Howard et al. 2019: 2.5M)",
                make: { factory in try MobileNetV3(.small, factory: &factory) }, input: images(3, 224, classes: 1000)),
            vit("tiny", "ViT-Ti/16", .tiny, 5_717_416, "DeiT-Ti (Touvron et al. 2021: 5M); timm vit_tiny_patch16_224"),
            vit("small", "ViT-S/16", .small, 22_050_664, "DeiT-S (Touvron et al. 2021: 22M); timm vit_small_patch16_224"),
            vit("base", "ViT-B/16", .base, 86_567_656, "torchvision.models.vit_b_16 (Dosovitskiy et al. 2021: 86M)"),
            vit("large", "ViT-L/16", .large, 304_326_632, "torchvision.models.vit_l_16 (Dosovitskiy et al. 2021: 307M)"),
        ]
    }()

    static let decoderEntries: [ModelZooEntry] = {
        func gpt(_ name: String, _ summary: String, _ c: GPTConfiguration, _ published: Int?, _ source: String) -> ModelZooEntry {
            ModelZooEntry(
                name: name, summary: summary, published: published, source: source,
                make: { factory in try GPT(c, factory: &factory) }, input: tokenIDs(context: c.contextLength, vocabulary: c.vocabulary))
        }
        let hf = "Hugging Face transformers GPT2LMHeadModel.num_parameters() (tied output layer)"
        return [
            gpt("gpt2-124m", "GPT-2 small: 12 layers, d 768, 12 heads, 1024 positions", .gpt2Small, 124_439_808, hf),
            gpt("gpt2-355m", "GPT-2 medium: 24 layers, d 1024, 16 heads", .gpt2Medium, 354_823_168, hf),
            gpt("gpt2-774m", "GPT-2 large: 36 layers, d 1280, 20 heads", .gpt2Large, 774_030_080, hf),
            gpt("gpt2-1.5b", "GPT-2 XL: 48 layers, d 1600, 25 heads", .gpt2XL, 1_557_611_200, hf),
            gpt("gpt3-125m", "GPT-3 Small: 12 layers, d 768, 2048 positions", .gpt3Small, 125_000_000, "Brown et al. 2020, table 2.1"),
            gpt("gpt3-1.3b", "GPT-3 XL: 24 layers, d 2048, 16 heads of 128", .gpt3XL, 1_300_000_000, "Brown et al. 2020, table 2.1"),
            gpt("gpt3-6.7b", "GPT-3 6.7B: 32 layers, d 4096, 32 heads", .gpt3_6_7B, 6_700_000_000, "Brown et al. 2020, table 2.1"),
            gpt("gpt3-13b", "GPT-3 13B: 40 layers, d 5120, 40 heads", .gpt3_13B, 13_000_000_000, "Brown et al. 2020, table 2.1"),
            gpt("gpt3-175b", "GPT-3 175B: 96 layers, d 12288, 96 heads, 2048 positions", .gpt3_175B, 175_000_000_000, "Brown et al. 2020, table 2.1"),
            gpt("gpt-1t", "1T decoder: 128 layers, d 25600, 160 heads", .gpt1T, 1_008_000_000_000, "Narayanan et al. 2021, table 1 (1008 B)"),
            gpt(
                "gpt2-124m-long", "GPT-2 small with a 256-token sliding window and 16,384 positions (memory linear in length)",
                GPTConfiguration.gpt2Small.longContext(window: 256, contextLength: 16384), nil, "no published count: this repository's variant"),
        ]
    }()

    /// BERT encoders; the output is the last hidden state, so the training loss of `ZooModel`
    /// treats its units as classes (a stand-in: the zoo adds no task head).
    static let encoderEntries: [ModelZooEntry] = {
        func bert(_ name: String, _ summary: String, _ c: BERTConfiguration, _ published: Int, _ source: String) -> ModelZooEntry {
            ModelZooEntry(
                name: name, summary: summary, published: published, source: source,
                make: { factory in try BERTModel(c, factory: &factory) },
                input: { batch, tokens in
                    let t = tokens ?? c.maxPositions
                    guard t >= 1, t <= c.maxPositions else {
                        throw ModelZooError(.invalidArgument, "sequence length \(t) is outside 1…\(c.maxPositions), the positions this model has learned")
                    }
                    return ModelInputSpec(name: "ids", type: TensorType([batch, t], .int64), targets: TensorType([batch, t], .int64), classes: c.hiddenSize)
                })
        }
        return [
            bert("bert-base", "BERT-base encoder with pooler: 12 layers, d 768, 512 positions", .base, 109_482_240,
                 "Hugging Face bert-base-uncased BertModel (Devlin et al. 2018: 110M)"),
            bert("bert-large", "BERT-large encoder with pooler: 24 layers, d 1024, 512 positions", .large, 335_141_888,
                 "Hugging Face bert-large-uncased BertModel (Devlin et al. 2018: 340M)"),
        ]
    }()
}
