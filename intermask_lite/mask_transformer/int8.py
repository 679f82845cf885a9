"""Int8 inference on CPUs: the transformer's linear layers with 8-bit weights (dynamic quantisation).

    fast = int8_inference(model)          # a copy; the float32 model is left as it was
    kit = load_pretrained("lab", int8=True)

Each nn.Linear of the Inter-M blocks and of the output head becomes a dynamically quantised one: weights are
stored as int8 (one scale per output channel), activations are quantised per batch on the fly, and the matrix
products run in 8-bit integer kernels. It pays off on wide layers: on an AVX2 CPU a guided decoding step of the
paper-sized transformer (width 384) runs about 1.4x faster (benchmarks/bench_paper_speed.py), while the lab's
(width 64) runs slower, its matrices too small to gain. The text encoder, the embeddings and the adaLN modulation
stay in float32. For inference only (no gradients) and only on CPUs; the generated motion differs slightly from
float32 (docs/results.md compares both with the evaluator).
"""
from __future__ import annotations

import copy
import warnings

import torch
from torch import nn


def int8_inference(model: nn.Module) -> nn.Module:
    """A copy of an InterMTransformer whose blocks and head run int8 linear layers (CPU, eval mode)."""
    if next(model.parameters()).device.type != "cpu":
        raise ValueError("int8 inference runs on CPUs only: move the model to the CPU (device='cpu') or drop int8")
    if not hasattr(model, "blocks") or not hasattr(model, "head"):
        raise TypeError(f"int8_inference expects an InterMTransformer, got {type(model).__name__}")
    fast = copy.deepcopy(model).eval()
    with warnings.catch_warnings():  # torch marks the eager quantisation API as deprecated in favour of torchao
        warnings.simplefilter("ignore")
        spec = {nn.Linear: torch.ao.quantization.per_channel_dynamic_qconfig}  # one weight scale per output
        fast.blocks = torch.ao.quantization.quantize_dynamic(fast.blocks, spec, dtype=torch.qint8)
        fast.head = torch.ao.quantization.quantize_dynamic(nn.Sequential(fast.head), spec, dtype=torch.qint8)[0]
    fast.requires_grad_(False)
    fast.int8 = True
    return fast
