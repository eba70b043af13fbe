#!/usr/bin/env python3
"""PyTorch CPU figures for the Deepseek benchmark runner.

`deepseek-bench` runs this script with the virtualenv's Python so its table puts PyTorch beside
Deepseek from the same run. Timing follows the runner's method: one warm-up call, an inner loop
calibrated so that one sample takes at least --min-sample-ms, and the median of --repetitions
samples. Prints one JSON document on stdout.

    .venv-bench/bin/python Tools/Benchmarks/pytorch_baselines.py --groups sgemm,conv2d,elementwise \
        --threads 1,2 --repetitions 7
"""

import argparse
import json
import statistics
import sys
import time


def parse_ints(text):
    return [int(part) for part in text.split(",") if part.strip()]


def measure(body, repetitions, min_sample_seconds):
    """Median seconds per call of `body`, and the per-call seconds of every sample."""
    start = time.perf_counter()
    body()  # warm-up, also calibrates the inner loop
    first = time.perf_counter() - start
    inner = max(1, int(min_sample_seconds / max(first, 1e-9)) + 1) if first < min_sample_seconds else 1
    samples = []
    for _ in range(repetitions):
        start = time.perf_counter()
        for _ in range(inner):
            body()
        samples.append((time.perf_counter() - start) / inner)
    return statistics.median(samples), samples


def training_cases(torch):
    """The training steps of the `training` group: model, input, target and loss, as in Engine.swift."""
    nn = torch.nn
    ce = nn.functional.cross_entropy
    mlp = nn.Sequential(nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10))
    lenet = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    encoder = nn.TransformerEncoderLayer(256, 4, dim_feedforward=1024, dropout=0.0, activation="gelu", batch_first=True, norm_first=True)
    return [
        ("MLP 784-1024-1024-10, batch 128", mlp, torch.rand(128, 784), torch.randint(0, 10, (128,)), ce),
        ("LeNet-5, batch 64", lenet, torch.rand(64, 1, 28, 28), torch.randint(0, 10, (64,)), ce),
        ("Transformer encoder layer d256 h4, seq 128, batch 16", encoder, torch.rand(16, 128, 256), None, lambda y, _: y.square().mean()),
    ]


def minilm_encoder(torch, layers=6, hidden=384, heads=12, intermediate=1536, vocab=30522, positions=512):
    """The `models` group's model: a BERT encoder with mean pooling and L2 normalisation, written as
    Hugging Face's BertModel computes it (post-norm layers, exact GELU, scaled_dot_product_attention
    with an additive padding mask). Parameter names follow BertModel, so a model.safetensors loads
    into it with load_state_dict (see minilm_reference.py)."""
    nn = torch.nn
    F = nn.functional

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.query, self.key, self.value = (nn.Linear(hidden, hidden) for _ in range(3))
            self.attention_dense = nn.Linear(hidden, hidden)
            self.attention_norm = nn.LayerNorm(hidden, eps=1e-12)
            self.intermediate = nn.Linear(hidden, intermediate)
            self.output = nn.Linear(intermediate, hidden)
            self.output_norm = nn.LayerNorm(hidden, eps=1e-12)

        def forward(self, x, bias):
            b, t, _ = x.shape
            split = lambda y: y.view(b, t, heads, hidden // heads).transpose(1, 2)
            context = F.scaled_dot_product_attention(split(self.query(x)), split(self.key(x)), split(self.value(x)), attn_mask=bias)
            h = self.attention_norm(self.attention_dense(context.transpose(1, 2).reshape(b, t, hidden)) + x)
            return self.output_norm(self.output(F.gelu(self.intermediate(h))) + h)

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.words = nn.Embedding(vocab, hidden)
            self.positions = nn.Embedding(positions, hidden)
            self.types = nn.Embedding(2, hidden)
            self.norm = nn.LayerNorm(hidden, eps=1e-12)
            self.layers = nn.ModuleList(Layer() for _ in range(layers))

        def forward(self, ids, mask):
            t = ids.shape[1]
            x = self.norm(self.words(ids) + self.types.weight[0] + self.positions.weight[:t])
            bias = ((mask - 1.0) * 1e9)[:, None, None, :]
            for layer in self.layers:
                x = layer(x, bias)
            pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1e-9)
            return F.normalize(pooled, dim=-1)

    return Encoder().eval()


def minilm_state_dict(tensors, layers=6):
    """Renames BertModel tensors (from model.safetensors) to minilm_encoder's parameter names."""
    state = {
        "words.weight": tensors["embeddings.word_embeddings.weight"],
        "positions.weight": tensors["embeddings.position_embeddings.weight"],
        "types.weight": tensors["embeddings.token_type_embeddings.weight"],
        "norm.weight": tensors["embeddings.LayerNorm.weight"],
        "norm.bias": tensors["embeddings.LayerNorm.bias"],
    }
    names = {
        "query": "attention.self.query", "key": "attention.self.key", "value": "attention.self.value",
        "attention_dense": "attention.output.dense", "attention_norm": "attention.output.LayerNorm",
        "intermediate": "intermediate.dense", "output": "output.dense", "output_norm": "output.LayerNorm",
    }
    for i in range(layers):
        for ours, theirs in names.items():
            for kind in ("weight", "bias"):
                state[f"layers.{i}.{ours}.{kind}"] = tensors[f"encoder.layer.{i}.{theirs}.{kind}"]
    return state


def models_cases(torch, args, min_sample, record):
    """The `models` group: all-MiniLM-L6-v2-sized sentence embeddings, batch 32 × 128 tokens (random
    weights and ids: the time does not depend on the values)."""
    threads = max(parse_ints(args.threads))
    torch.set_num_threads(threads)
    model = minilm_encoder(torch)
    ids = torch.randint(1000, 30000, (32, 128))
    mask = torch.ones(32, 128)
    seconds, samples = measure(lambda: model(ids, mask), max(args.repetitions, 7), min_sample)
    record("models", "MiniLM-L6 sentence embeddings, batch 32, seq 128", threads, seconds, samples,
           embeddings_per_second=32 / seconds)


def resnet50(torch):
    """torchvision's ResNet-50 (v1.5: the stride on the 3x3 convolution) written with torch.nn, since
    torchvision is not installed here: 25,557,032 parameters, the same layers as ModelZoo's resnet50."""
    nn = torch.nn

    class Bottleneck(nn.Module):
        def __init__(self, inputs, width, stride):
            super().__init__()
            self.conv1, self.bn1 = nn.Conv2d(inputs, width, 1, bias=False), nn.BatchNorm2d(width)
            self.conv2, self.bn2 = nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width)
            self.conv3, self.bn3 = nn.Conv2d(width, 4 * width, 1, bias=False), nn.BatchNorm2d(4 * width)
            self.downsample = None
            if stride != 1 or inputs != 4 * width:
                self.downsample = nn.Sequential(nn.Conv2d(inputs, 4 * width, 1, stride, bias=False), nn.BatchNorm2d(4 * width))

        def forward(self, x):
            h = torch.relu(self.bn1(self.conv1(x)))
            h = torch.relu(self.bn2(self.conv2(h)))
            h = self.bn3(self.conv3(h))
            return torch.relu(h + (x if self.downsample is None else self.downsample(x)))

    layers = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
    inputs = 64
    for stage, blocks in enumerate([3, 4, 6, 3]):
        for block in range(blocks):
            layers.append(Bottleneck(inputs, 64 << stage, 2 if stage > 0 and block == 0 else 1))
            inputs = 4 * (64 << stage)
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2048, 1000)]
    return nn.Sequential(*layers).eval()


def vision_cases(torch, args, record):
    """The `vision` group: ResNet-50 inference, batch 8 at 224x224, per thread count."""
    model = resnet50(torch)
    x = torch.rand(8, 3, 224, 224)
    for threads in parse_ints(args.threads):
        torch.set_num_threads(threads)
        seconds, samples = measure(lambda: model(x), args.repetitions, 0.0)
        record("vision", "ResNet-50 inference, batch 8, 224x224", threads, seconds, samples, images_per_second=8 / seconds)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", default="sgemm,conv2d,elementwise")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--sizes", default="256,512,1024,2048", help="square matmul sizes")
    parser.add_argument("--repetitions", type=int, default=7)
    parser.add_argument("--min-sample-ms", type=float, default=50.0)
    args = parser.parse_args()

    try:
        import torch
    except ImportError as error:
        print(json.dumps({"error": f"torch is not importable: {error}"}))
        return 1

    groups = set(args.groups.split(","))
    min_sample = args.min_sample_ms / 1000.0
    results = []
    torch.manual_seed(0)

    def record(group, name, threads, seconds, samples, **extra):
        entry = {"group": group, "name": name, "threads": threads, "seconds": seconds, "samples": samples}
        entry.update(extra)
        results.append(entry)

    with torch.inference_mode():
        for threads in parse_ints(args.threads):
            torch.set_num_threads(threads)
            if "sgemm" in groups:
                for n in parse_ints(args.sizes):
                    a = torch.rand(n, n, dtype=torch.float32)
                    b = torch.rand(n, n, dtype=torch.float32)
                    seconds, samples = measure(lambda: torch.matmul(a, b), args.repetitions, min_sample)
                    record("sgemm", f"matmul {n}", threads, seconds, samples, gflops=2.0 * n**3 / seconds / 1e9)
            if "conv2d" in groups:
                x = torch.rand(64, 32, 28, 28, dtype=torch.float32)
                w = torch.rand(64, 32, 3, 3, dtype=torch.float32)
                bias = torch.rand(64, dtype=torch.float32)
                conv = torch.nn.functional.conv2d
                seconds, samples = measure(lambda: conv(x, w, bias, padding=1), args.repetitions, min_sample)
                flops = 2.0 * 64 * 64 * 28 * 28 * 32 * 3 * 3
                record("conv2d", "conv2d 64x32x28x28 * 64x32x3x3 pad 1", threads, seconds, samples, gflops=flops / seconds / 1e9)
            if "elementwise" in groups:
                count = 16 * 1024 * 1024
                a = torch.rand(count, dtype=torch.float32)
                b = torch.rand(count, dtype=torch.float32)
                out = torch.empty(count, dtype=torch.float32)
                mib64 = count * 4
                cases = [
                    ("add", lambda: torch.add(a, b), 3),
                    ("add out=", lambda: torch.add(a, b, out=out), 3),
                    ("relu", lambda: torch.relu(a), 2),
                    ("relu out=", lambda: torch.clamp_min(a, 0.0, out=out), 2),
                ]
                for name, body, streams in cases:
                    seconds, samples = measure(body, args.repetitions, min_sample)
                    record("elementwise", name, threads, seconds, samples, gbps=streams * mib64 / seconds / 1e9)

    if "models" in groups:
        with torch.inference_mode():
            models_cases(torch, args, min_sample, record)

    if "vision" in groups:
        with torch.inference_mode():
            vision_cases(torch, args, record)

    if "training" in groups:
        torch.set_num_threads(max(parse_ints(args.threads)))
        threads = torch.get_num_threads()
        for name, model, x, target, loss_fn in training_cases(torch):
            optimizer = torch.optim.SGD(model.parameters(), lr=0.01)

            def step():
                optimizer.zero_grad(set_to_none=True)
                loss = loss_fn(model(x), target)
                loss.backward()
                optimizer.step()

            seconds, samples = measure(step, max(args.repetitions, 30), 0.0)
            record("training", name, threads, seconds, samples, samples_per_second=x.shape[0] / seconds)

    print(json.dumps({
        "torch": torch.__version__,
        "mkldnn": bool(torch.backends.mkldnn.is_available()),
        "mkl": bool(torch.backends.mkl.is_available()),
        "results": results,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
