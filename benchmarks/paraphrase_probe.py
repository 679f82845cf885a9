"""How well generated motion follows sentences the templates never produce: a quick probe for choosing text settings.

    python benchmarks/paraphrase_probe.py                          # the shipped lab models
    python benchmarks/paraphrase_probe.py --artifacts-dir runs/x   # a transformer trained with other text settings
    python benchmarks/paraphrase_probe.py --anchor 0 8             # with and without anchoring (text.anchor)

For three prompt sets (one caption per template of each class; the held-out paraphrases; the dev paraphrases,
written for choosing settings) it prints two things per anchoring setting:
- text side: the share of prompts whose pooled text vector is nearest to its own class's mean training-caption
  vector, and the mean distance to the nearest training caption's vector (how far off the vectors the
  transformer was trained on a prompt lands);
- generated class accuracy: `--samples` motions per prompt, 3 s each, classified by the evaluator.
Choose settings on the dev set; `python -m intermask_lite evaluate` gives the held-out numbers with intervals.
One seed and a few samples per prompt: differences under about 0.05 are noise.
"""
from __future__ import annotations

import argparse
import time

import torch

from intermask_lite.data.sources import training_clips
from intermask_lite.data.synthetic.captions import DEV_PARAPHRASES, HELD_OUT_PARAPHRASES
from intermask_lite.evaluator import embed_joints
from intermask_lite.kit import load_pretrained
from intermask_lite.text import known_captions
from intermask_lite.utils import set_threads


def prompt_sets() -> dict[str, tuple[list[str], list[str]]]:
    """name -> (prompts, their class labels)."""
    def flat(table):
        return [p for ps in table.values() for p in ps], [label for label, ps in table.items() for _ in ps]
    return {"template": known_captions(), "held-out": flat(HELD_OUT_PARAPHRASES), "dev": flat(DEV_PARAPHRASES)}


@torch.no_grad()
def text_side(kit, prompts, labels, captions, caption_labels) -> tuple[float, float]:
    """(share nearest to their own class's mean vector, mean distance to the nearest training caption's vector)."""
    bank, pooled = kit.text_condition(captions), kit.text_condition(prompts)  # (N, D), (B, D)
    classes = sorted(set(caption_labels))
    own = torch.tensor([classes.index(label) for label in caption_labels])    # (N,)
    means = torch.stack([bank[own == c].mean(0) for c in range(len(classes))])  # (C, D)
    right = torch.cdist(pooled, means).argmin(1) == torch.tensor([classes.index(label) for label in labels])
    return float(right.float().mean()), float(torch.cdist(pooled, bank).min(1).values.mean())


def generated_accuracy(kit, prompts, labels, samples: int, seed: int) -> float:
    """Share of `samples` 3 s motions per prompt that the evaluator classifies as the prompt's label."""
    motions = kit.generate(prompts, seconds=3.0, samples=samples, seed=seed)  # prompt-major
    emb = embed_joints(kit.evaluator, [m.joints for m in motions], kit.fps)
    return kit.evaluator.class_accuracy(emb, [label for label in labels for _ in range(samples)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="lab")
    ap.add_argument("--artifacts-dir", default=None, help="trained checkpoints (<dir>/<preset>/); default: shipped")
    ap.add_argument("--anchor", type=int, nargs="+", default=None, help="anchoring settings (default: the preset's)")
    ap.add_argument("--samples", type=int, default=4, help="motions per prompt")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    print(f"threads: {set_threads(args.threads)}")
    kit = load_pretrained(args.preset, args.artifacts_dir)
    captions, caption_labels = zip(*sorted({(c, clip.label) for clip in training_clips(kit.preset)[0]
                                             for c in clip.captions}))
    print("| anchor | prompts | n | text: right class | text: distance to nearest caption | generated class accuracy "
          "| seconds |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for k in args.anchor if args.anchor is not None else [kit.preset.text.anchor]:
        kit.preset.text.anchor = k
        for name, (prompts, labels) in prompt_sets().items():
            t0 = time.perf_counter()
            right, dist = text_side(kit, prompts, labels, list(captions), list(caption_labels))
            acc = generated_accuracy(kit, prompts, labels, args.samples, args.seed)
            print(f"| {k} | {name} | {len(prompts)} | {right:.3f} | {dist:.2f} | {acc:.3f} "
                  f"| {time.perf_counter() - t0:.0f} |", flush=True)


if __name__ == "__main__":
    main()
