"""Does generated motion do what the prompt says? Raw decoder output against the cleaned motion, and ground truth.

    python benchmarks/bench_motion_quality.py                          # the shipped lab models
    python benchmarks/bench_motion_quality.py --artifacts-dir artifacts --steps 10 --confidence-noise 1

Prints one Markdown table. Columns: ground truth (every 5th clip of the built-in test split), its
reconstruction through the tokenizer (raw decoder output and after `cleanup`), and generation from two prompt
sets, 3 prompts per class: template captions (taken from those test clips) and the held-out paraphrases
(data.synthetic.captions.HELD_OUT_PARAPHRASES, never seen in training), raw and cleaned. Rows:
- physics (eval.physics): touch rate and contact distance on contact classes, foot skating, bone drift,
  deepest interpenetration, jerk; touch rate per contact class (touch_<class>);
- tokens: mode share (share of a token row held by its most frequent code) and read-back (`tokenize` of the
  motion, in the models' frame, against the tokens it was decoded from; for a reconstruction, against the test
  clip's own tokens: the tokenizer's own read-back, the most generated motion can expect);
- evaluator: class accuracy, R@3 in pools of 32 and FID against the ground-truth embeddings; for ground truth also
  R@3 when the test clips are retrieved by held-out paraphrases of their class (the reference for the paraphrase
  columns: the evaluator's text encoder was trained on the template wording);
- read-back of generated motion: `reconstruct` error (mm) against the motion, its change after a second pass,
  and how far person A moves (mm) when person B of the motion is inpainted.
"""
from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from intermask_lite import cleanup
from intermask_lite.data.sources import source_clips
from intermask_lite.data.synthetic.captions import HELD_OUT_PARAPHRASES
from intermask_lite.eval import metrics, physics
from intermask_lite.evaluator import embed_joints, embed_texts
from intermask_lite.kit import IDENTITY, load_pretrained
from intermask_lite.mask_transformer.sampling import Sampling
from intermask_lite.motion import Motion
from intermask_lite.utils import set_threads

PER_CLASS = 3
PHYSICS = ("touch_rate", "contact_dist", "skate_share", "skate_speed", "bone_drift", "pen_max_depth", "jerk")


def mm(a, b) -> float:
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b), axis=-1).mean() * 1000)


def own(kit, joints) -> Motion:
    """A motion (2, T, 22, 3) in the models' frame, marked so (token_frame), as the kit marks its own output:
    every motion of this benchmark is in that frame (the test clips by construction, the generated ones as made)."""
    m = Motion(joints, fps=kit.fps)
    m.token_frame = IDENTITY
    return m


def measure(kit, joints, labels, texts, ids=None, readback=False) -> dict:
    """Every row of the table for one set of motions (list of (2, T, 22, 3)) with their labels and prompts."""
    ev = kit.evaluator
    row = {k: v["value"] for k, v in physics.physics_report(joints, kit.fps, labels).items() if k in PHYSICS}
    emb = embed_joints(ev, joints, kit.fps)                            # (N, D)
    row["class_accuracy"] = ev.class_accuracy(emb, labels)
    row["r3"] = float(metrics.r_precision(embed_texts(ev, texts), emb, pool=min(32, len(joints)), rng=0)[2])
    row["_emb"] = emb
    touched: dict = {}                                                 # touch rate per contact class
    for j, label in zip(joints, labels):
        hit = physics.physics_sample(j, kit.fps, None, label)["touched"]
        if hit is not None:
            touched.setdefault(label, []).append(hit)
    row.update({f"touch_{label}": float(np.mean(v)) for label, v in sorted(touched.items())})
    if ids is not None:
        row["mode_share"] = float(np.mean([metrics.mode_share(i) for i in ids]))
        again = [kit.tokenize(own(kit, j)) for j in joints]
        row["readback"] = float(np.mean([metrics.token_agreement(a, i) for a, i in zip(again, ids)]))
    if readback:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            first = [kit.reconstruct(own(kit, j), cleanup=()).joints for j in joints]
            second = [kit.reconstruct(own(kit, j), cleanup=()).joints for j in first]
        row["recon_mm"] = float(np.mean([mm(r, j) for r, j in zip(first, joints)]))
        row["recon_again_mm"] = float(np.mean([mm(s, r) for s, r in zip(second, first)]))
    return row


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--artifacts-dir", default=None)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--seed", type=int, default=0, help="first seed")
    ap.add_argument("--seeds", type=int, default=3, help="seeds seed, seed+1, ...; the table shows their mean")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--guidance", type=float, default=None)
    ap.add_argument("--temperature", type=float, default=None)
    ap.add_argument("--confidence-noise", type=float, default=None)
    ap.add_argument("--anchor", type=int, default=None, help="text.anchor: nearest training captions a prompt "
                    "is pulled onto (0: none; default: the preset's)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    set_threads(args.threads)
    t0 = time.perf_counter()
    kit = load_pretrained("lab", args.artifacts_dir)
    if args.anchor is not None:
        kit.preset.text.anchor = args.anchor
    runs = []
    for seed in range(args.seed, args.seed + args.seeds):
        sampling = Sampling(seed=seed).updated(steps=args.steps, guidance=args.guidance, temperature=args.temperature,
                                               confidence_noise=args.confidence_noise)
        runs.append(measure_all(kit, sampling, args.seconds))
    cols = {name: {k: _mean([run[name].get(k) for run in runs]) for k in runs[0][name]} for name in runs[0]}
    seeds = ", ".join(str(s) for s in range(args.seed, args.seed + args.seeds))
    _print(cols, kit, sampling.updated(seed=args.seed), time.perf_counter() - t0, args.threads, seeds)
    print(f"\ntext.anchor = {kit.preset.text.anchor}")


def _mean(values):
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def _paraphrase(label: str, i: int) -> str:
    choices = HELD_OUT_PARAPHRASES[label]
    return choices[i % len(choices)]


def measure_all(kit, sampling, seconds: float) -> dict:
    """Every column of the table for one Sampling (one seed): {column: {measure: value}}."""
    clips = source_clips(kit.preset, "test")[::5]
    gt = [c.joints[:, : c.n_frames - c.n_frames % 4] for c in clips]
    gt_labels = [c.label for c in clips]
    gt_texts = [c.captions[0] for c in clips]
    gt_ids = [kit.tokenize(own(kit, j)) for j in gt]
    cols = {"ground truth": measure(kit, gt, gt_labels, gt_texts, gt_ids)}
    # its tokens are its own encoding: 1 by construction
    cols["ground truth"]["readback"] = None
    # the fair reference for the paraphrase columns' R@3: the test clips retrieved by paraphrases of their class
    # (the evaluator's text encoder knows the template wording; three paraphrase choices, averaged)
    gt_emb = cols["ground truth"]["_emb"]
    cols["ground truth"]["r3_paraphrase_texts"] = float(np.mean([
        metrics.r_precision(embed_texts(kit.evaluator, [_paraphrase(c.label, i + k) for i, c in enumerate(clips)]),
                            gt_emb, pool=min(32, len(gt)), rng=0)[2] for k in range(PER_CLASS)]))
    recon_raw = [kit.detokenize(i) for i in gt_ids]
    for name, stages in (("recon raw", ()), ("recon cleaned", "all")):
        joints = [cleanup.clean(r, kit.fps, stages) for r in recon_raw]
        # the tokenizer's own read-back: a test clip's tokens against those of its reconstruction
        cols[name] = measure(kit, joints, gt_labels, gt_texts, gt_ids)
        cols[name].pop("mode_share")                                  # the test clips' own, shown under ground truth
        cols[name]["mpjpe_mm"] = float(np.mean([mm(j, g) for j, g in zip(joints, gt)]))

    by_class = {}
    for c in clips:
        by_class.setdefault(c.label, [])
        if len(by_class[c.label]) < PER_CLASS and c.captions[0] not in by_class[c.label]:
            by_class[c.label].append(c.captions[0])
    prompt_sets = {"templates": by_class,
                   "paraphrases": {label: HELD_OUT_PARAPHRASES[label][:PER_CLASS] for label in by_class}}
    for set_name, prompts in prompt_sets.items():
        texts = [t for label in prompts for t in prompts[label]]
        labels = [label for label in prompts for _ in prompts[label]]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            motions = kit.generate(texts, seconds=seconds, sampling=sampling)
        ids = [m.tokens for m in motions]
        raw = [m.raw_joints for m in motions]
        cols[f"{set_name} raw"] = measure(kit, raw, labels, texts, ids, readback=True)
        cols[f"{set_name} cleaned"] = measure(kit, [m.joints for m in motions], labels, texts, ids, readback=True)
        if set_name == "templates":
            moved = []
            for m in motions[::PER_CLASS]:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    out = kit.inpaint(m, person="B", sampling=sampling, cleanup=())[0]
                    redone = kit.inpaint(own(kit, m.raw_joints), text=m.text, person="B", sampling=sampling,
                                         cleanup=())[0]
                moved.append((mm(out.joints[0], m.raw_joints[0]), mm(redone.joints[0], m.raw_joints[0])))
            cols[f"{set_name} raw"]["inpaint_moves_a_mm"] = float(np.mean([a for a, _ in moved]))
            cols[f"{set_name} raw"]["inpaint_retokenized_moves_a_mm"] = float(np.mean([b for _, b in moved]))
    ref = cols["ground truth"]["_emb"]
    for row in cols.values():
        row["fid"] = metrics.fid(row.pop("_emb"), ref)
    return cols


def _print(cols: dict, kit, sampling, seconds: float, threads: int, seeds: str) -> None:
    keys = list(dict.fromkeys(k for row in cols.values() for k in row))
    print(f"lab preset; {PER_CLASS} prompts per class; {sampling}, mean of seeds {seeds}; {seconds:.0f} s on "
          f"{threads} thread(s)\n")
    print("| measure | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for k in keys:
        cells = []
        for row in cols.values():
            v = row.get(k)
            cells.append("-" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.3g}")
        print(f"| {k} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
