"""Ablations of InterMask and the diffusion baseline, trained alike and measured by eval.evaluate.

    bench = AblationBench.build("lab", steps=600, vq_steps=1600)   # data, evaluator, both tokenizers
    row = bench.run_variant("no cross-attention", {"transformer_study.cross": False})
    rows = [bench.run_variant(name, overrides) for name, overrides in VARIANTS.items()]
    rows.append(bench.run_diffusion())

Every variant gets the same clips (the preset's built-in dataset and its train/val/test split), the same
seed and the same number of training steps (`steps`, with the preset's warm-up and decay scaled to it); the
2D and 1D tokenizers get the same `vq_steps`. Each row holds the metrics of eval.evaluate (mean and 95 %
interval over replications, generated row only), the parameter count, the training time and the generation
time of one 3-second interaction (batch 1, median of a few runs).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from ..baselines.diffusion_train import DiffusionKit, train_diffusion
from ..checkpoints import load_or_train
from ..config import DECODE_STEPS, GUIDANCE, Preset, get_preset, with_overrides
from ..data.synthetic import make_dataset, split_dataset
from ..eval.report import evaluate
from ..kit import Kit
from ..mask_transformer.training import train_transformer
from ..vq.pipeline import train_tokenizer

# name -> preset overrides; the first is the reference (the paper's model at the kit's sizes)
VARIANTS = {
    "InterMask (2D tokens)": {},
    "1D tokens": {"vq.kind": "1d"},
    "no spatio-temporal attention": {"transformer_study.spatial": False, "transformer_study.temporal": False},
    "no cross-attention": {"transformer_study.cross": False},
    "no joint self-attention": {"transformer_study.joint_self_attn": False},
    "independent people": {"transformer_study.independent": True},
    "no interaction masking": {"transformer.interaction_mask_prob": 0.0},
    "step-unroll on": {"transformer_study.unroll": True},  # the paper's: re-masked by confidence, a step later
    "step-unroll (random share)": {"transformer_study.unroll": True, "transformer_study.unroll_mode": "random_share"},
}
DIFFUSION = "diffusion baseline (InterGen-style)"
TIMING_PROMPT = "two people shake hands"


def scaled_train(cfg, steps: int):
    """A TrainConfig cut (or stretched) to `steps`, keeping the share of warm-up steps and validating 4 times."""
    warmup = max(1, round(cfg.warmup * steps / cfg.steps)) if cfg.warmup else 0
    return replace(cfg, steps=int(steps), warmup=min(warmup, max(steps - 1, 0)), eval_every=max(1, steps // 4))


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def time_generation(generate, threads=(1, 2), repeats: int = 3) -> dict:
    """Median seconds of `generate()` (one interaction) with each torch thread count; restores the count."""
    before, out = torch.get_num_threads(), {}
    try:
        for n in threads:
            torch.set_num_threads(n)
            generate()  # warm-up
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                generate()
                times.append(time.perf_counter() - t0)
            out[f"{n}_threads"] = float(np.median(times))
    finally:
        torch.set_num_threads(before)
    return out


def metrics_of(report: dict, row: str = "generated") -> dict:
    """{metric: {"mean", "ci"}} of one row of an evaluation report (metrics that apply)."""
    return {k: {"mean": v["mean"], "ci": v["ci"]} for k, v in report["rows"][row].items() if v is not None}


@dataclass
class AblationBench:
    """Shared data, evaluator and tokenizers of one ablation table, and the settings every row uses."""

    preset: Preset
    clips: list
    splits: dict
    evaluator: torch.nn.Module
    steps: int
    vq_steps: int
    seed: int = 0
    replications: int = 3
    mm_prompts: int = 8
    eval_clips: int | None = None  # test clips evaluated (None: the whole test split)
    timing_threads: tuple = (1, 2)
    timing_repeats: int = 3
    out_dir: Path | None = None
    progress: bool = False
    tokenizers: dict = field(default_factory=dict)
    ground_truth: dict | None = None  # the ground-truth row of the first evaluation (the same for every row)
    kits: dict = field(default_factory=dict)  # name -> the trained Kit / DiffusionKit (for sweeps and examples)
    tokenizer_source: str | None = None  # the file of a 2D tokenizer given from outside (None: trained here)

    @classmethod
    def build(cls, preset="lab", steps: int | None = None, vq_steps: int | None = None, clips=None,
              evaluator_dir=None, **kwargs) -> "AblationBench":
        """Make the preset's dataset (or take `clips`) and its split, and load its evaluator: from
        evaluator_dir/<preset>/ (default out_dir/evaluator), else the shipped one, else train one there."""
        preset = get_preset(preset)
        clips = make_dataset(preset.data.n_clips, preset.data.seed, progress=False) if clips is None else list(clips)
        out = kwargs.get("out_dir")
        evaluator_dir = evaluator_dir or (None if out is None else Path(out) / "evaluator")
        evaluator = load_or_train("evaluator", preset, evaluator_dir, progress=kwargs.get("progress", False),
                                  seed=kwargs.get("seed", 0))
        return cls(preset, clips, split_dataset(clips), evaluator, steps or preset.transformer_train.steps,
                   vq_steps or preset.vq_train.steps, **kwargs)

    def _dir(self, name: str) -> Path | None:
        return None if self.out_dir is None else Path(self.out_dir) / "models" / name.replace(" ", "_")

    def variant_preset(self, overrides: dict) -> Preset:
        preset = with_overrides(self.preset, [f"{k}={v}" for k, v in overrides.items()])
        return replace(preset, vq_train=scaled_train(preset.vq_train, self.vq_steps),
                       transformer_train=scaled_train(preset.transformer_train, self.steps))

    def tokenizer(self, preset: Preset):
        """The tokenizer of preset.vq.kind, trained once per table with vq_steps (the same seed and clips)."""
        kind = preset.vq.kind
        if kind not in self.tokenizers:
            t0 = time.perf_counter()
            out = self._dir(f"tokenizer_{kind}")
            model, _ = train_tokenizer(preset, self.splits["train"], self.splits["val"], out_dir=out, kind=kind,
                                       progress=self.progress, seed=self.seed)
            self.tokenizers[kind] = (model, time.perf_counter() - t0)
        return self.tokenizers[kind][0]

    def test_clips(self) -> list:
        """The test split, or `eval_clips` of it evenly spaced (the split is ordered by class: all classes stay)."""
        test = self.splits["test"]
        n = len(test) if self.eval_clips is None else min(self.eval_clips, len(test))
        return [test[i * len(test) // n] for i in range(n)]

    def _evaluate(self, kit, steps, guidance) -> dict:
        test = self.test_clips()
        report = evaluate(kit, test, replications=self.replications, seed=self.seed, steps=steps, guidance=guidance,
                          mm_prompts=self.mm_prompts, reaction=False, progress=self.progress)
        if self.ground_truth is None:
            self.ground_truth = metrics_of(report, "ground truth")
        return report

    def kit(self, name: str, overrides: dict):
        """(Kit, training seconds, history) of one variant, trained with the shared budget."""
        preset = self.variant_preset(overrides)
        tok = self.tokenizer(preset)
        t0 = time.perf_counter()
        model, history = train_transformer(preset, self.splits["train"], self.splits["val"], tokenizer=tok,
                                           out_dir=self._dir(name), progress=self.progress, seed=self.seed)
        return Kit(preset, tok, model, self.evaluator, torch.device("cpu")), time.perf_counter() - t0, history

    def run_variant(self, name: str, overrides: dict, steps: int = DECODE_STEPS, guidance: float = GUIDANCE,
                    kit=None) -> dict:
        """Train (unless `kit` is given) and measure one InterMask variant; returns its table row."""
        train_s, history = None, {}
        if kit is None:
            kit, train_s, history = self.kit(name, overrides)
            self.kits[name] = kit
        report = self._evaluate(kit, steps, guidance)
        timing = time_generation(lambda: kit.generate(TIMING_PROMPT, seconds=3.0, seed=0, steps=steps,
                                                      guidance=guidance),
                                 self.timing_threads, self.timing_repeats)
        return {"name": name, "overrides": {k: str(v) for k, v in overrides.items()}, "model": "intermask",
                "params": n_params(kit.transformer), "tokenizer_params": n_params(kit.tokenizer),
                "train_seconds": train_s, "val_acc": (history.get("val_acc") or [None])[-1],
                "decode_steps": steps, "guidance": guidance, "metrics": metrics_of(report),
                "physics": {k: v["value"] for k, v in report["physics"]["generated"].items()},
                "gen_seconds": timing, "eval_seconds": report["seconds"]}

    def diffusion_kit(self):
        """(DiffusionKit, training seconds, history) of the baseline, trained with the shared budget."""
        preset = self.variant_preset({})
        t0 = time.perf_counter()
        model, history = train_diffusion(preset, self.splits["train"], self.splits["val"],
                                         out_dir=self._dir("diffusion"), progress=self.progress, seed=self.seed)
        return DiffusionKit(preset, model, self.evaluator), time.perf_counter() - t0, history

    def run_diffusion(self, steps: int | None = None, guidance: float | None = None, kit=None) -> dict:
        """Train (unless `kit` is given) and measure the diffusion baseline (steps: DDIM steps)."""
        train_s, history = None, {}
        if kit is None:
            kit, train_s, history = self.diffusion_kit()
            self.kits[DIFFUSION] = kit
        steps = steps or kit.model.cfg.sample_steps
        guidance = kit.model.cfg.guidance if guidance is None else guidance
        report = self._evaluate(kit, steps, guidance)
        timing = time_generation(lambda: kit.generate(TIMING_PROMPT, seconds=3.0, seed=0, steps=steps,
                                                      guidance=guidance), self.timing_threads, self.timing_repeats)
        return {"name": DIFFUSION, "overrides": {}, "model": "diffusion", "params": n_params(kit.model),
                "tokenizer_params": 0, "train_seconds": train_s,
                "val_loss": (history.get("val_loss") or [None])[-1], "decode_steps": steps, "guidance": guidance,
                "metrics": metrics_of(report), "gen_seconds": timing, "eval_seconds": report["seconds"]}

    def settings(self) -> dict:
        """What every row shares, for the table's header."""
        return {"preset": self.preset.name, "steps": self.steps, "vq_steps": self.vq_steps, "seed": self.seed,
                "replications": self.replications, "mm_prompts": self.mm_prompts,
                "test_clips": len(self.test_clips()), "train_clips": len(self.splits["train"]),
                "batch_size": self.preset.transformer_train.batch_size, "threads": torch.get_num_threads(),
                "tokenizer_seconds": {k: v[1] for k, v in self.tokenizers.items()},
                "tokenizer_2d": self.tokenizer_source or f"trained here, {self.vq_steps} steps"}


def differences(table: dict, metric: str, higher_is_better: bool = True) -> list[dict]:
    """Each row against the first (the reference): the difference of means and whether the two 95 % intervals
    are apart ("better", "worse") or overlap ("within the intervals")."""
    if not table["rows"]:
        raise ValueError("the table has no rows")
    ref = table["rows"][0]["metrics"][metric]
    out = []
    for row in table["rows"][1:]:
        stat = row["metrics"].get(metric)
        if stat is None:
            continue
        delta = stat["mean"] - ref["mean"]
        apart = abs(delta) > stat["ci"] + ref["ci"]
        verdict = ("better" if (delta > 0) == higher_is_better else "worse") if apart else "within the intervals"
        out.append({"name": row["name"], "mean": stat["mean"], "delta": delta, "verdict": verdict})
    return out


def merge_tables(parts: list[dict], token_part: dict | None = None) -> dict:
    """One table from parts measured with the same settings (e.g. by parallel runs with --only): rows in the order
    of VARIANTS, then the baseline; sweeps joined. token_part: a table whose rows form the 2D-against-1D section
    (its tokenizers trained with their own budget)."""
    if not parts:
        raise ValueError("merge_tables needs at least one table")
    order = [*VARIANTS, DIFFUSION]
    rows = sorted((r for p in parts for r in p["rows"]), key=lambda r: order.index(r["name"]) if r["name"] in order
                  else len(order))
    names = [r["name"] for r in rows]
    if len(set(names)) != len(names):
        raise ValueError(f"rows measured twice: {sorted({n for n in names if names.count(n) > 1})}")
    merged = {**parts[0], "rows": rows, "seconds": max(p.get("seconds", 0) for p in parts),
              "parts": [p["settings"] for p in parts]}
    for key in ("steps_sweep", "guidance_sweep", "diffusion_steps_sweep"):
        merged[key] = [r for p in parts for r in p.get(key) or []]
    if token_part is not None:
        merged["token_rows"], merged["token_settings"] = token_part["rows"], token_part["settings"]
    return merged


# ---------------------------------------------------------------- the table as Markdown
COLUMNS = (("fid", "FID ↓"), ("top3@32", "R@3 ↑"), ("mm_dist", "MM Dist ↓"), ("diversity", "Diversity →GT"),
           ("multimodality", "MModality ↑"), ("class_acc", "Class acc ↑"))


def _cell(stat) -> str:
    return "n/a" if not stat else f"{stat['mean']:.3f} ± {stat['ci']:.3f}"


def _rows_markdown(rows: list[dict], first: str, keys) -> list[str]:
    threads = sorted({k for row in rows for k in (row.get("gen_seconds") or {})})
    timing = " / ".join(k.split("_")[0] for k in threads) or "-"
    lines = [f"| {first} | params | train min | " + " | ".join(label for _, label in keys)
             + f" | s per interaction ({timing} threads) |", "|---" * (len(keys) + 4) + "|"]
    for row in rows:
        train = "" if row.get("train_seconds") is None else f"{row['train_seconds'] / 60:.1f}"
        gen = row.get("gen_seconds") or {}
        timing = " / ".join(f"{gen[k]:.3f}" for k in sorted(gen))
        label = row["name"] if first == "variant" else f"{row['name']}: {row['decode_steps']} steps, " \
                                                       f"guidance {row['guidance']:g}"
        params = f"{row['params'] / 1e3:.0f} k" if row.get("params") else ""
        lines.append(f"| {label} | {params} | {train} | "
                     + " | ".join(_cell(row["metrics"].get(k)) for k, _ in keys) + f" | {timing} |")
    return lines


def table_markdown(table: dict) -> str:
    """The JSON table of benchmarks/ablations.py as Markdown: settings, the variants, the sweeps."""
    s = table["settings"]
    tokenizer = s.get("tokenizer_2d") or f"trained here, {s['vq_steps']} steps"
    pool = [k for k in (table["rows"][0]["metrics"] if table["rows"] else {}) if k.startswith("top3@")]
    keys = [(pool[0] if pool and k == "top3@32" else k, label) for k, label in COLUMNS]
    lines = ["# Ablations and the diffusion baseline", "",
             f"- preset `{s['preset']}`; every model trained {s['steps']} steps (batch {s['batch_size']}, "
             f"seed {s['seed']}) on {s['train_clips']} built-in clips; 2D tokenizer: {tokenizer}",
             f"- evaluated on {s['test_clips']} test clips, {s['replications']} replications (mean ± 95 % "
             f"interval), MultiModality over {s['mm_prompts']} prompts; InterMask decodes {DECODE_STEPS} steps "
             f"with guidance {GUIDANCE:g} unless a row says otherwise",
             f"- torch threads: {s['threads']}; {table.get('host', '')}", ""]
    gt = table.get("ground_truth")
    lines += _rows_markdown(table["rows"] + ([{"name": "ground truth", "params": 0, "metrics": gt}] if gt else []),
                            "variant", keys)
    if table.get("token_rows"):
        ts = table["token_settings"]
        tokenizers = (f"2D tokenizer {ts['tokenizer_2d']}, 1D tokenizer trained {ts['vq_steps']} steps here"
                      if ts.get("tokenizer_2d") else f"both tokenizers trained {ts['vq_steps']} steps here")
        lines += ["", f"## 2D against 1D tokens ({tokenizers}, transformers {ts['steps']} steps)", ""] \
            + _rows_markdown(table["token_rows"], "variant", keys)
    for title, key in (("Decoding steps (InterMask)", "steps_sweep"), ("Guidance scale (InterMask)", "guidance_sweep"),
                       ("DDIM steps (diffusion baseline)", "diffusion_steps_sweep")):
        if table.get(key):
            lines += ["", f"## {title}", ""] + _rows_markdown(table[key], "setting", keys)
    lines += [""] + [f"- note: {note}" for note in table.get("notes") or []]
    # a table put together by hand may not time itself
    if table.get("seconds"):
        lines += ["", f"Total time: {table['seconds'] / 60:.1f} min."]
    return "\n".join(lines) + "\n"
