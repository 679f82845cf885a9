"""Channels-last against the standard layout for the tokenizer's 2D convolutions: one training step each.

    python benchmarks/bench_conv_layout.py --preset lab --threads 1 2

Prints, per thread count, the median seconds of a training step (forward, backward, AdamW) at the preset's
batch and window in each layout, in float32 and, where this CPU has native bf16, under bf16 autocast, and the
layout the kit uses (vq.encdec.conv_layout: channels-last unless INTERMASK_CONV_LAYOUT=standard). Where the
standard layout wins on your CPU, set that variable. Say whether the host was busy when you quote it.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from intermask_lite.config import get_preset
from intermask_lite.utils import cpu_has_bf16, set_threads
from intermask_lite.vq import encdec
from intermask_lite.vq.model import MotionTokenizer


def step_seconds(preset, bf16: bool, steps: int) -> dict:
    """Median wall seconds of one training step per layout; the layouts take turns step by step, so a busy
    host's load falls on both alike."""
    layouts = {"standard": torch.contiguous_format, "channels-last": torch.channels_last}
    runs = {}
    for name, layout in layouts.items():
        torch.manual_seed(0)
        model = MotionTokenizer(preset.vq).train()
        runs[name] = (model, torch.optim.AdamW(model.parameters(), lr=1e-4), layout)
    grid = torch.randn(preset.vq_train.batch_size, 12, 22, preset.data.window)  # (B, 12, 22, W)
    chosen, times = encdec.conv_layout, {name: [] for name in layouts}
    try:
        for i in range(steps + 2):
            for name, (model, optimizer, layout) in runs.items():
                encdec.conv_layout = lambda x, layout=layout: layout
                start = time.perf_counter()
                optimizer.zero_grad(set_to_none=True)
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                    recon, commit, _ = model(grid)
                    loss = (recon.float() - grid).pow(2).mean() + 0.02 * commit
                loss.backward()
                optimizer.step()
                if i >= 2:                                             # two warm-up steps
                    times[name].append(time.perf_counter() - start)
    finally:
        encdec.conv_layout = chosen
    return {name: statistics.median(t) for name, t in times.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="lab", choices=["smoke", "lab", "paper"])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--steps", type=int, default=30)
    args = ap.parse_args(argv)
    preset = get_preset(args.preset)
    precisions = [False] + ([True] if cpu_has_bf16() else [])
    print(f"preset {args.preset}: batch {preset.vq_train.batch_size} x window {preset.data.window}, "
          f"torch {torch.__version__}, native bf16 on this CPU: {cpu_has_bf16()}")
    print(f"{'threads':>7} {'precision':>9} {'standard s':>10} {'chan-last s':>11} {'ratio':>6}  kit uses")
    for threads in args.threads:
        set_threads(threads)
        for bf16 in precisions:
            seconds = step_seconds(preset, bf16, args.steps)
            plain, last = seconds["standard"], seconds["channels-last"]
            picked = encdec.conv_layout(torch.zeros(1, 1, 1, 1))
            name = "channels-last" if picked == torch.channels_last else "standard"
            print(f"{threads:>7} {'bf16' if bf16 else 'float32':>9} {plain:>10.4f} {last:>11.4f} "
                  f"{last / plain:>6.2f}  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
