"""Tokenizer size/steps sweep: which widths, codebooks and step counts reach which reconstruction error.

Every configuration trains with vq.pipeline.train_tokenizer, as `python -m intermask_lite train vq` does (the
dead-code resets and the foot term on the preset's schedule), and is scored on the built-in test split.
Prints a Markdown table.

    python benchmarks/sweep_tokenizer.py --device cuda                 # all configurations
    python benchmarks/sweep_tokenizer.py --configs lab wide --threads 2
"""
from __future__ import annotations

import argparse
from dataclasses import replace

import torch

from intermask_lite.config import get_preset
from intermask_lite.data.sources import training_clips
from intermask_lite.data.synthetic import load_split
from intermask_lite.eval import evaluate_tokenizer
from intermask_lite.vq.pipeline import train_tokenizer

# name: (VQConfig changes, TrainConfig changes) on top of the lab preset
CONFIGS = {
    "lab": ({}, {}),
    "lab_long": ({}, {"steps": 3000}),
    "w64": ({"width": 64, "code_dim": 64}, {"steps": 3000, "batch_size": 32}),
    "w64_512": ({"width": 64, "code_dim": 64, "nb_code": 512}, {"steps": 3000, "batch_size": 32}),
    "w64_paperloss": ({"width": 64, "code_dim": 64, "w_pos": 1.0, "w_vel": 100.0, "w_bone": 5.0, "w_foot": 500.0},
                      {"steps": 3000, "batch_size": 32}),
    "w128_1024": ({"width": 128, "code_dim": 128, "nb_code": 1024}, {"steps": 6000, "batch_size": 64, "lr": 5e-4}),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    ap.add_argument("--preset", default="lab", help="base preset (its data size and window)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    ap.add_argument("--steps-scale", type=float, default=1.0, help="multiply every step count (quick runs)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    base = get_preset(args.preset)
    test = load_split("test", base.data.n_clips, base.data.seed)

    rows = []
    for name in args.configs:
        vq_changes, train_changes = CONFIGS[name]
        vq_cfg = replace(base.vq, **vq_changes)
        tc = replace(base.vq_train, **train_changes)
        tc = replace(tc, steps=max(1, int(tc.steps * args.steps_scale)), eval_every=10**9)
        model, history = train_tokenizer(replace(base, vq=vq_cfg, vq_train=tc), *training_clips(base),
                                         device=args.device, progress=False)
        scores = evaluate_tokenizer(model, test)
        secs = history["seconds"][-1]
        rows.append((name, vq_cfg.width, vq_cfg.code_dim, vq_cfg.nb_code, model.n_params(), tc.steps,
                     tc.batch_size, secs, tc.steps / secs, scores["mpjpe_mm"], scores["usage"]))
        print(f"{name}: mpjpe {scores['mpjpe_mm']:.1f} mm, usage {scores['usage']:.0%}, {secs:.0f} s", flush=True)

    print("\n| config | width | code dim | codes | params | steps | batch | train s | steps/s | MPJPE mm | usage |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]:,} | {r[5]} | {r[6]} | {r[7]:.0f} | {r[8]:.1f} | "
              f"{r[9]:.1f} | {r[10]:.0%} |")


if __name__ == "__main__":
    main()
