"""Tokenizer benchmark: train the 2D and the 1D tokenizer with one preset and print a table.

Targets (lab preset, built-in test split): MPJPE <= 30 mm and codebook usage >= 80 % for the 2D tokenizer;
2D beats 1D at the same codebook size and a similar parameter count; lab training <= 5 minutes on 2 cores.
With the preset's evaluator at hand (artifacts/<preset>/ or shipped) it also prints what the evaluator makes of
the reconstructions (class accuracy, FID against the clips): runs of similar MPJPE can differ there.
MPJPE is printed twice: with the bodies where they stand, and root-aligned (the pose alone).

    python benchmarks/bench_tokenizer.py --preset lab --threads 2
    python benchmarks/bench_tokenizer.py --kinds 2d --threads 1 --seed 1 --set vq.nb_code=1024   # one knob
    python benchmarks/bench_tokenizer.py --kinds 2d --threads 1 --set vq_study.quantize=False   # without the codebook
"""
from __future__ import annotations

import argparse
import math
import resource
import time
from dataclasses import replace

import torch

from intermask_lite.config import get_preset, with_overrides
from intermask_lite.data.sources import training_clips
from intermask_lite.data.synthetic import load_split
from intermask_lite.evaluator import load_evaluator
from intermask_lite.checkpoints import checkpoint_path
from intermask_lite.utils import cpu_has_bf16
from intermask_lite.viz.token_plots import class_errors_mm
from intermask_lite.eval import evaluate_tokenizer
from intermask_lite.vq.pipeline import PLACEMENT_KEPT, train_tokenizer

TARGETS = {"mpjpe_mm": 30.0, "usage": 0.80, "minutes": 5.0}


def peak_rss_mb() -> float:
    """Peak host memory of this process; on CUDA, the peak GPU memory allocated instead."""
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports kilobytes


# (VQConfig.kind, TokenizerStudyConfig.joint_order)
KINDS = {"2d": ("2d", "smpl"), "2d-chains": ("2d", "chains"), "1d": ("1d", "smpl")}


def run(base, kind: str, progress: bool, device: str, evaluator=None, seed: int = 0) -> dict:
    """Train the tokenizer `kind` with the Preset `base` and measure it on the test split."""
    vq_kind, joint_order = KINDS[kind]
    cfg = replace(base, vq=replace(base.vq, kind=vq_kind), vq_study=replace(base.vq_study, joint_order=joint_order))
    t0 = time.perf_counter()
    model, history = train_tokenizer(cfg, *training_clips(cfg), progress=progress, device=device, seed=seed)
    total = time.perf_counter() - t0
    train_s = history["seconds"][-1]
    test = load_split("test", cfg.data.n_clips, cfg.data.seed)
    scores = evaluate_tokenizer(model, test, evaluator=evaluator)
    return {"kind": kind, "params": model.n_params(), "nb_code": model.cfg.nb_code,
            "steps": len(history["loss"]), "steps_per_s": len(history["loss"]) / train_s,
            "train_min": train_s / 60, "total_min": total / 60, "peak_mb": peak_rss_mb(),
            "by_class": class_errors_mm(model, test), **scores}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="lab")
    parser.add_argument("--kinds", nargs="+", default=["2d", "1d"], choices=list(KINDS),
                        help="2d-chains: the 2D tokenizer with its joint axis along the kinematic chains")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=None, help="override the preset's tokenizer steps")
    parser.add_argument("--set", nargs="+", default=[], metavar="SECTION.FIELD=VALUE",
                        help="change preset fields, e.g. --set vq.nb_code=1024 vq_train.lr=7e-4 (not vq.kind or "
                             "vq_study.joint_order: --kinds decides those)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the training runs")
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--artifacts-dir", default="artifacts", help="where to look for the evaluator first")
    args = parser.parse_args()
    taken = [item for item in args.set if item.partition("=")[0].strip() in ("vq.kind", "vq_study.joint_order")]
    if taken:
        parser.error(f"--set {' '.join(taken)}: --kinds decides vq.kind and vq_study.joint_order; "
                     f"choose with --kinds {{{','.join(KINDS)}}} instead")
    steps = [f"vq_train.steps={args.steps}"] if args.steps is not None else []
    try:
        base = with_overrides(get_preset(args.preset), args.set + steps)
    except ValueError as err:
        parser.error(str(err))
    torch.set_num_threads(args.threads)
    print(f"preset={args.preset} threads={args.threads} torch={torch.__version__} "
          f"cpu_bf16={base.vq_train.cpu_bf16} (native bf16 on this CPU: {cpu_has_bf16()})")
    ev_path = checkpoint_path("evaluator", args.preset, args.artifacts_dir)
    evaluator = load_evaluator(ev_path) if ev_path else None
    print(f"evaluator: {ev_path or 'none found (class accuracy and FID not measured)'}")
    print(f"seed={args.seed} overrides: {' '.join(args.set) or 'none'}")
    rows = [run(base, kind, args.progress, args.device, evaluator, args.seed) for kind in args.kinds]
    head = f"{'kind':>9} {'params':>9} {'codes':>5} {'steps':>6} {'steps/s':>7} {'train min':>9} " \
           f"{'total min':>9} {'peak MB':>8} {'MPJPE mm':>8} {'aligned':>7} {'root mm':>7} {'spread':>6} " \
           f"{'usage':>6} {'perplex':>7} {'dead':>5} {'class acc':>9} {'FID':>6} {'skate':>5}"
    print(head)
    for r in rows:
        codes = (f"{r['usage']:>6.1%} {r['perplexity']:>7.1f} {r['dead_codes']:>5}" if base.vq_study.quantize
                 else f"{'-':>6} {'-':>7} {'-':>5}")                  # no codebook: no code statistics
        print(f"{r['kind']:>9} {r['params']:>9,} {r['nb_code']:>5} {r['steps']:>6} {r['steps_per_s']:>7.2f} "
              f"{r['train_min']:>9.2f} {r['total_min']:>9.2f} {r['peak_mb']:>8.0f} {r['mpjpe_mm']:>8.1f} "
              f"{r['mpjpe_aligned_mm']:>7.1f} {r['root_error_mm']:>7.1f} {r['root_spread']:>6.2f} {codes} "
              f"{r.get('class_acc', float('nan')):>9.3f} {r.get('fid', float('nan')):>6.3f} {r['skate_speed']:>5.2f}")
    print("peak MB: process (or GPU) peak so far, runs are sequential; total min includes data preparation")
    print("MPJPE: where the bodies stand included; aligned: each pose's pelvis moved onto the truth's first (the pose "
          "alone, MoMask's convention); root mm: pelvis position error; spread: root_spread, the share of the "
          "truth's spread in where people stand that the reconstruction keeps (near 0: the x = 0 basin); "
          "skate: m/s the reconstructed feet slide where the true feet stand "
          f"(the truth: {rows[0]['skate_speed_truth']:.3f})")
    for r in rows:
        worst = sorted(r["by_class"].items(), key=lambda kv: -kv[1].mean())
        print(f"{r['kind']} MPJPE per class, person A/B (mm): "
              + ", ".join(f"{label} {a:.0f}/{b:.0f}" for label, (a, b) in worst))
    first = rows[0]
    if not base.vq_study.quantize:
        print("vq_study.quantize=False: the codebook bypassed (a plain autoencoder, no tokens): what the same network "
              "reconstructs without the codes; the targets are for tokenizers and are not checked")
    elif first["kind"] == "2d":
        for key, name in (("mpjpe_mm", "MPJPE"), ("mpjpe_aligned_mm", "root-aligned MPJPE")):
            print(f"target {name} <= {TARGETS['mpjpe_mm']} mm: "
                  f"{'met' if first[key] <= TARGETS['mpjpe_mm'] else 'MISSED'} ({first[key]:.1f})")
        print(f"target usage >= {TARGETS['usage']:.0%}: {'met' if first['usage'] >= TARGETS['usage'] else 'MISSED'}")
        spread = first["root_spread"]
        verdict = ("undefined (the true people do not spread)" if math.isnan(spread) else
                   "yes" if spread >= PLACEMENT_KEPT else "NO (the x = 0 basin, or a run too short)")
        print(f"placement kept (root spread >= {PLACEMENT_KEPT}): {verdict} ({spread:.2f})")
        print(f"target total <= {TARGETS['minutes']} min: "
              f"{'met' if first['total_min'] <= TARGETS['minutes'] else 'MISSED'}")
    by_kind = {r["kind"]: r for r in rows}
    if {"2d", "1d"} <= set(by_kind):
        for key, name in (("mpjpe_mm", "MPJPE"), ("mpjpe_aligned_mm", "root-aligned MPJPE")):
            better = by_kind["2d"][key] < by_kind["1d"][key]
            print(f"2D beats 1D on {name}: {'yes' if better else 'NO'}")


if __name__ == "__main__":
    main()
