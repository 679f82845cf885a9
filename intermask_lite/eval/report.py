"""The evaluation entry point: `evaluate(kit)` -> metrics with 95 % intervals, and `write_report`.

    report = iml.eval.evaluate(kit, replications=5)     # the built-in test split of kit.preset
    md_path, json_path = write_report(report, "runs/eval")

Rows (T2M / InterGen protocol, all measured with the kit's evaluator):
- ground truth: the real test motions with their captions. FID is GT against itself (~0, a sanity
  check); R-precision, MM Dist, Diversity and class accuracy are the targets the models aim at.
- generated: one sample per test caption, with that clip's length (capped at preset.data.max_frames).
- generated (paraphrases): the same, prompted with a held-out paraphrase of the clip's interaction (words the
  caption templates never produce, data.synthetic.captions.HELD_OUT_PARAPHRASES); R-precision and MM Dist still match
  against the clip's template caption. Class accuracy here against the generated row's: how well the models
  follow a user's own words. Left out (with a note) when a clip's class has no paraphrases.
- reaction: person A taken from the test clip (through the tokenizer), person B generated.
- reconstruction: each test clip through the tokenizer and back (no transformer); also MPJPE, with the bodies
  where they stand and root-aligned (the pose alone).

Each replication draws one caption per clip, new generation seeds and new R-precision pools; the
report gives mean and the half-width of the 95 % interval (metrics.mean_ci95) over replications, the
per-replication seeds, the evaluator checksum and an environment fingerprint. A physics section compares
the sets (physics.physics_report).
"""
from __future__ import annotations

import time

import numpy as np
import torch
from tqdm.auto import tqdm

from .. import cleanup as cleanup_stages
from ..config import FRAMES_PER_TOKEN
from ..data.synthetic import HELD_OUT_PARAPHRASES, load_split
from ..evaluator import embed_joints, embed_texts
from ..mask_transformer.generate import reaction_masks
from ..mask_transformer.sampling import Sampling
from ..motion import Motion
from . import metrics, physics
from .report_io import environment, evaluator_id, write_report  # noqa: F401  (write_report re-exported)

ROWS = ("ground truth", "generated", "generated (paraphrases)", "reaction", "reconstruction")
GEN_BATCH = 32      # prompts decoded together
MM_PAIRS = 10       # sample pairs per prompt for MultiModality (T2M's mm_num_times)
DIV_PAIRS = 300     # random pairs for Diversity (T2M's diversity_times)
# separate random streams per replication
STREAMS = {"generated": 0, "multimodality": 1, "reaction": 2, "paraphrases": 3}


def metric_keys(pools) -> list[str]:
    """Column order of the report: FID, R-precision top-1..3 per pool, MM Dist, Diversity, MModality, ..."""
    tops = [f"top{k}@{pool}" for pool in pools for k in (1, 2, 3)]
    return ["fid", *tops, "mm_dist", "diversity", "multimodality", "class_acc", "mpjpe_mm", "mpjpe_aligned_mm"]


def work_units(replications: int, tokens: bool = True, reaction: bool = True, paraphrases: bool = True) -> list[str]:
    """What evaluate's one progress bar counts, in order: one unit per row of each replication, the embedding of
    the ground truth (and the tokenizer round trip), and the physics of each set compared."""
    per_rep = ["ground truth", "generated", "multimodality", *(["generated (paraphrases)"] if paraphrases else []),
               *(["reaction"] if reaction else []), *(["reconstruction"] if tokens else [])]
    sets = ["ground truth", "generated", *(["generated (paraphrases)"] if paraphrases else []),
            *(["reaction"] if reaction else []), *(["reconstruction"] if tokens else [])]
    return (["embedding the ground truth", *(["tokenizer round trip (reconstruction)"] if tokens else [])]
            + [f"{name} (replication {r + 1}/{replications})" for r in range(replications) for name in per_rep]
            + [f"physics of {name}" for name in sets])


def _test_set(kit, clips) -> dict:
    """GT joints cropped to a multiple of 4 frames and at most max_frames, their token columns, captions, labels."""
    if clips is None:
        clips = load_split("test", kit.preset.data.n_clips, kit.preset.data.seed)
    clips = list(clips)
    if len(clips) < 2:
        raise ValueError(f"evaluate needs at least 2 clips, got {len(clips)}")
    joints, cols = [], []
    for c in clips:
        j = Motion(c.joints, fps=c.fps).resample(kit.fps).joints if abs(c.fps - kit.fps) > 1e-6 else c.joints
        n = min(j.shape[1], kit.preset.data.max_frames) // FRAMES_PER_TOKEN
        if n < 1:
            raise ValueError(f"clip {c.clip_id!r} has {j.shape[1]} frames; at least {FRAMES_PER_TOKEN} are needed")
        joints.append(np.asarray(j[:, : n * FRAMES_PER_TOKEN], dtype=np.float32))  # (2, T, 22, 3)
        cols.append(n)
    return {"joints": joints, "cols": cols, "captions": [list(c.captions) for c in clips],
            "labels": [c.label for c in clips]}


def _paraphrases(labels, seed: int) -> list[str] | None:
    """One held-out paraphrase per clip label (its own random stream), or None if a label has none."""
    if not all(label in HELD_OUT_PARAPHRASES for label in labels):
        return None
    rng = np.random.default_rng([seed, STREAMS["paraphrases"]])
    return [HELD_OUT_PARAPHRASES[label][rng.integers(len(HELD_OUT_PARAPHRASES[label]))] for label in labels]


def _chunk_seed(seed: int, stream: str, chunk: int) -> int:
    """An independent generator seed for each batch of each kind of sampling in a replication."""
    return int(np.random.default_rng([seed, STREAMS[stream], chunk]).integers(2**31))


@torch.no_grad()
def _decode_joints(kit, texts, cols, seed, stream, sampling, actor_ids=None, stages=()) -> list[np.ndarray]:
    """Generate (or, with actor_ids, react to) each prompt at its own length -> joints (2, 4*cols, 22, 3) each.

    Kit.generate / Kit.react take one length per call; Kit.decode_tokens takes one per prompt, so test
    clips of different lengths share a batch. Prompts are batched in order of length (less padding: about
    a fifth fewer decoded columns on the built-in test split) and returned in the given order.
    """
    order = sorted(range(len(texts)), key=lambda i: cols[i])
    out = [None] * len(texts)
    for chunk, start in enumerate(range(0, len(order), GEN_BATCH)):
        idx = order[start:start + GEN_BATCH]
        c = [cols[i] for i in idx]
        n_cols = max(c)
        if not hasattr(kit, "tokenize"):  # a generator without tokens (e.g. baselines.DiffusionKit)
            joints = kit.generate_joints([texts[i] for i in idx], [FRAMES_PER_TOKEN * n for n in c],
                                         _chunk_seed(seed, stream, chunk), sampling.steps, sampling.guidance)
            for b, i in enumerate(idx):
                out[i] = joints[b]
            continue
        fixed = fixed_mask = None
        if actor_ids is not None:
            padded = torch.zeros(len(idx), actor_ids[idx[0]].shape[0], n_cols, dtype=torch.long)  # (B, R, C)
            for b, i in enumerate(idx):
                padded[b, :, : actor_ids[i].shape[-1]] = actor_ids[i]
            fixed, fixed_mask = reaction_masks(padded)                  # (B, 2, R, C) each
        chunk_sampling = sampling.updated(seed=_chunk_seed(seed, stream, chunk))
        ids = kit.decode_tokens([texts[i] for i in idx], c, n_cols, chunk_sampling, fixed=fixed,
                                fixed_mask=fixed_mask)  # (B, 2, R, C)
        for b, i in enumerate(idx):
            out[i] = cleanup_stages.clean(kit.detokenize(ids[b], c[b]), kit.fps, stages)
    return out


def _row(evaluator, motion_emb, text_emb, ref_emb, labels, pools, rng_seed) -> dict:
    """FID against ref_emb, R-precision per pool, MM Dist, Diversity and class accuracy of one set."""
    row = {"fid": metrics.fid(motion_emb, ref_emb), "mm_dist": metrics.matching_score(text_emb, motion_emb),
           "diversity": metrics.diversity(motion_emb, n_pairs=min(DIV_PAIRS, len(motion_emb)), rng=rng_seed)}
    for pool in pools:
        top = metrics.r_precision(text_emb, motion_emb, pool=pool, top_k=3, rng=rng_seed)
        row.update({f"top{k + 1}@{pool}": float(top[k]) for k in range(3)})
    accuracy = evaluator.class_accuracy(motion_emb, labels)
    if accuracy is not None:
        row["class_acc"] = accuracy
    return row


def _summarise(per_rep: list[dict], keys: list[str]) -> dict:
    """{metric: {"mean", "ci", "values"}} over replications; None where a metric does not apply."""
    out = {}
    for key in keys:
        values = [rep[key] for rep in per_rep if rep.get(key) is not None]
        if values:
            mean, ci = metrics.mean_ci95(values)
            out[key] = {"mean": mean, "ci": ci, "values": [float(v) for v in values]}
        else:
            out[key] = None
    return out


def evaluate(kit, clips=None, replications: int | None = None, seed: int = 0, pools=None, steps: int | None = None,
             guidance: float | None = None, mm_prompts: int | None = None, reaction: bool = True,
             paraphrases: bool = True, progress: bool = True, sampling: Sampling | None = None, cleanup="all") -> dict:
    """Evaluate a Kit against ground truth; returns a JSON-ready dict (see the module docstring).

    kit: a Kit, or any generator with `preset`, `evaluator`, `fps`, `device` and
    `generate_joints(texts, n_frames, seed, steps, guidance)` -> list of joints (2, n, 22, 3) and no `tokenize`
    (e.g. baselines.diffusion_train.DiffusionKit): then only the generated row is measured.

    clips: test clips (default: the built-in test split of kit.preset); replications: default
    preset.eval.replications; pools: R-precision pool sizes (default preset.eval.pools; pools larger than
    the number of clips are skipped with a note); sampling: decoding settings (default Sampling(); its seed is
    replaced per batch), steps and guidance change those two fields of it; cleanup: the cleanup stages run on
    every generated motion ("all", names, or () for the raw decoder output; the reconstruction row stays raw);
    mm_prompts: prompts used for MultiModality (default preset.eval.mm_prompts, at most the number of clips),
    each sampled preset.eval.mm_samples times; reaction: also evaluate reaction generation; paraphrases: also
    generate from held-out paraphrases of each clip's class.
    """
    sampling, stages = ((sampling or Sampling()).updated(steps=steps, guidance=guidance),
                        cleanup_stages.check_stages(cleanup))
    if getattr(kit, "evaluator", None) is None:
        raise ValueError("evaluate needs the kit's evaluator: load it with load_pretrained(..., evaluator=True)")
    ecfg = kit.preset.eval
    replications = ecfg.replications if replications is None else int(replications)
    if replications < 1:
        raise ValueError(f"replications must be >= 1, got {replications}")
    t0 = time.perf_counter()
    ev, fps = kit.evaluator.eval(), kit.fps
    data = _test_set(kit, clips)
    n = len(data["joints"])
    pools = list(ecfg.pools if pools is None else pools)
    used = [p for p in pools if p <= n]
    notes = [f"R-precision pool {p} skipped: only {n} clips" for p in pools if p > n]
    mm_prompts = min(ecfg.mm_prompts if mm_prompts is None else int(mm_prompts), n)
    mm_samples = max(2, ecfg.mm_samples)
    keys = metric_keys(used)
    tokens = hasattr(kit, "tokenize")  # else a generator of joints alone: no reaction, no reconstruction row
    if not tokens:
        reaction = False
        notes.append("the model has no tokens: generated row only (no reaction, no reconstruction)")

    para_ok = paraphrases and _paraphrases(data["labels"], seed) is not None  # depends on the labels alone
    units = work_units(replications, tokens=tokens, reaction=reaction, paraphrases=para_ok)
    bar = tqdm(total=len(units), desc="evaluate", unit="step", disable=not progress)
    started = []

    def step(what: str) -> None:
        """Count the unit just finished (if any) and name the one starting: one bar over all the work."""
        if started:
            bar.update(1)
        started.append(what)
        bar.set_description_str(f"evaluate: {what}")

    step("embedding the ground truth")
    gt_emb = embed_joints(ev, data["joints"], fps)  # (N, D)
    if tokens:
        step("tokenizer round trip (reconstruction)")
        recon_ids = [kit.tokenize(Motion(j, fps=fps)) for j in data["joints"]]  # each (2, R, C)
        recon = [kit.detokenize(ids)[:, : j.shape[1]]  # the tokenizer's own output, as long as the clip
                 for ids, j in zip(recon_ids, data["joints"])]
        recon_emb = embed_joints(ev, recon, fps)
        frames = [g.shape[1] for g in data["joints"]]
        recon_mpjpe = {key: float(np.average([metrics.mpjpe(r, g, align_root=aligned)
                                              for r, g in zip(recon, data["joints"])], weights=frames))
                       for key, aligned in (("mpjpe_mm", False), ("mpjpe_aligned_mm", True))}  # frame-weighted

    seeds = [seed * 1000 + r for r in range(replications)]
    rows = {name: [] for name in ROWS}
    half_fid, first = [], {}
    for r, rep_seed in enumerate(seeds):
        rep = f" (replication {r + 1}/{replications})"
        step("ground truth" + rep)
        rng = np.random.default_rng(rep_seed)
        texts = [caps[rng.integers(len(caps))] for caps in data["captions"]]
        text_emb = embed_texts(ev, texts)  # (N, D)
        common = (data["labels"], used, rep_seed)
        rows["ground truth"].append(_row(ev, gt_emb, text_emb, gt_emb, *common))
        halves = rng.permutation(n)
        half_fid.append(metrics.fid(gt_emb[halves[: n // 2]], gt_emb[halves[n // 2:]]))

        step("generated" + rep)
        gen = _decode_joints(kit, texts, data["cols"], rep_seed, "generated", sampling, stages=stages)
        row = _row(ev, embed_joints(ev, gen, fps), text_emb, gt_emb, *common)
        step("multimodality" + rep)
        prompts = rng.choice(n, mm_prompts, replace=False)
        mm = _decode_joints(kit, [texts[i] for i in prompts for _ in range(mm_samples)],
                            [data["cols"][i] for i in prompts for _ in range(mm_samples)], rep_seed, "multimodality",
                            sampling, stages=stages)
        mm_emb = embed_joints(ev, mm, fps).reshape(mm_prompts, mm_samples, -1)  # (P, S, D)
        row["multimodality"] = metrics.multimodality(mm_emb, n_pairs=min(MM_PAIRS, mm_samples), rng=rep_seed)
        rows["generated"].append(row)
        first.setdefault("generated", gen)

        para = _paraphrases(data["labels"], rep_seed) if para_ok else None
        if para is not None:
            step("generated (paraphrases)" + rep)
            gen_p = _decode_joints(kit, para, data["cols"], rep_seed, "paraphrases", sampling, stages=stages)
            rows["generated (paraphrases)"].append(_row(ev, embed_joints(ev, gen_p, fps), text_emb, gt_emb, *common))
            first.setdefault("generated (paraphrases)", gen_p)

        if reaction:
            step("reaction" + rep)
            react = _decode_joints(kit, texts, data["cols"], rep_seed, "reaction", sampling,
                                   [ids[0] for ids in recon_ids], stages=stages)
            rows["reaction"].append(_row(ev, embed_joints(ev, react, fps), text_emb, gt_emb, *common))
            first.setdefault("reaction", react)
        if tokens:
            step("reconstruction" + rep)
            recon_row = _row(ev, recon_emb, text_emb, gt_emb, *common)
            recon_row.update(recon_mpjpe)
            rows["reconstruction"].append(recon_row)

    sets = {"ground truth": data["joints"], **first, **({"reconstruction": recon} if tokens else {})}
    physics_rows = {}
    for name, j in sets.items():
        step(f"physics of {name}")
        physics_rows[name] = physics.physics_report(j, fps, labels=data["labels"])
    bar.update(1)
    bar.set_description_str("evaluate: done")
    bar.close()
    if not reaction and tokens:
        notes.append("reaction generation not evaluated (reaction=False)")
    summary = {name: _summarise(reps, keys) for name, reps in rows.items() if reps}
    share = paraphrase_share(summary)
    if share is not None:
        notes.append(f"class accuracy of motion generated from held-out paraphrases is {share:.2f} x that from "
                     "template captions")
    elif paraphrases:
        notes.append("paraphrases not evaluated: some test clips have classes without held-out paraphrases")
    return {
        "preset": kit.preset.name, "n_clips": n, "replications": replications, "seed": seed, "seeds": seeds,
        "pools": used, "steps": sampling.steps, "guidance": sampling.guidance, "cleanup": list(stages),
        "mm_prompts": mm_prompts, "mm_samples": mm_samples,
        "text_anchor": kit.preset.text.anchor if hasattr(kit, "text_condition") else 0,  # baselines do not anchor
        "metrics": keys, "rows": summary, "paraphrase_share": share,
        "gt_half_fid": _summarise([{"fid": v} for v in half_fid], ["fid"])["fid"],
        "physics": physics_rows, "notes": notes, **evaluator_id(kit), "environment": environment(kit.device),
        "seconds": time.perf_counter() - t0,
    }


def paraphrase_share(rows: dict) -> float | None:
    """Class accuracy of the paraphrase row over the generated row's (None when either is missing)."""
    para, gen = rows.get("generated (paraphrases)"), rows.get("generated")
    if not para or not gen or not para.get("class_acc") or not gen.get("class_acc") or not gen["class_acc"]["mean"]:
        return None
    return para["class_acc"]["mean"] / gen["class_acc"]["mean"]
