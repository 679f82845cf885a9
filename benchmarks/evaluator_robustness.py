"""How the evaluator's scores on the ground-truth test clips hold up under a few centimetres of noise.

An evaluator that only recognises the exact numbers of clean data cannot judge imperfect (generated)
motion. This prints R-precision top-3 and class accuracy on the built-in test split, clean and with white
(per joint and frame) or slow (smoothed over 9 frames) noise of a given size.

    python benchmarks/evaluator_robustness.py                             # the shipped lab evaluator
    python benchmarks/evaluator_robustness.py --evaluator artifacts/lab/evaluator_best.pt
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from intermask_lite.config import get_preset
from intermask_lite.data.synthetic import load_split
from intermask_lite.evaluator.model import load_evaluator, slow_noise
from intermask_lite.evaluator import retrieval_scores
from intermask_lite.checkpoints import checkpoint_path

NOISES = [("clean", None, 0.0), ("white 1 cm", "white", 0.01), ("white 3 cm", "white", 0.03),
          ("slow 3 cm", "slow", 0.03), ("slow 6 cm", "slow", 0.06)]


def noisy(clips, kind, std, rng):
    """Copies of the clips with noise of `std` metres added to every joint."""
    if kind is None:
        return clips
    out = []
    for c in clips:
        shape = c.joints.shape  # (2, T, 22, 3)
        noise = rng.normal(size=shape) if kind == "white" else slow_noise(shape, rng)
        out.append(c.replace(joints=(c.joints + std * noise).astype(np.float32)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--evaluator", default=None, help="evaluator checkpoint (default: the shipped lab one)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    path = args.evaluator or checkpoint_path("evaluator", "lab")
    model = load_evaluator(path)
    data = get_preset("lab").data
    test = load_split("test", data.n_clips, data.seed)
    rng = np.random.default_rng(args.seed)
    print(f"evaluator: {path}; {len(test)} test clips, pool 32")
    print(f"{'input':<12} {'R@3':>6} {'class acc':>9}")
    for name, kind, std in NOISES:
        scores = retrieval_scores(model, noisy(test, kind, std, rng), max_frames=120, pool=32, seed=args.seed)
        print(f"{name:<12} {scores['top3']:>6.3f} {scores['class_acc']:>9.3f}")


if __name__ == "__main__":
    main()
