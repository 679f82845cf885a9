"""The paper's claims, each tested by one switch over several seeds, written to results/claims.json.

    study = ClaimStudy("lab", out_dir="results/claims_runs", seeds=3, steps=1200, vq_steps=3200)
    study.run()                                    # trains and measures what is missing, then writes the JSON
    rows = json.loads(Path("results/claims.json").read_text())

Every claim compares the reference (the full model) with one variant that turns one thing off (or, for
step-unroll, on): the overrides of studies.ablations.VARIANTS, nothing else. Each (variant, seed) pair is one
unit of work: its tokenizer and transformer are trained with that seed (the 2D and 1D tokenizers are trained
per seed too) and measured by eval.evaluate; the unit's numbers are saved as runs/<variant>__seed<k>.json, so a
stopped study resumes where it stopped (the models' own checkpoints resume too).

Verdicts compare the two by seed (paired: the same seed gives the same data order and evaluation draws):
the mean difference in the paper's favour and its 95 % t-interval over seeds. "confirmed" when the whole
interval favours the paper, "contradicted" when it all goes against it, else "unresolved", with the number of
seeds that would resolve a difference of the measured size at the measured spread (a power estimate).
The speed curve times one interaction (batch 1, 3 s, 1 thread) and takes FID and R@3 at each number of
masked decoding steps and DDIM steps, for the seed-0 reference and the diffusion baseline. Each row states its
model's training budget (steps and seconds); `diffusion_steps="matched"` gives the baseline the reference's
training wall clock instead of its step count (timed on CALIBRATION_STEPS steps first).
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from scipy import stats
from tqdm.auto import tqdm

from ..config import GUIDANCE
from ..eval.tokenizer_eval import evaluate_tokenizer
from ..utils import atomic_write
from .ablations import TIMING_PROMPT, VARIANTS, AblationBench, metrics_of, time_generation

REFERENCE = "InterMask (2D tokens)"
ONE_D = "1D tokens"  # the one variant whose tokenizer differs: its reconstruction is measured too
CALIBRATION_STEPS = 20  # diffusion training steps timed to size a wall-clock-matched budget
# claim -> (the variant that tests it, True when the paper says the variant is better than the reference)
CLAIMS = {
    "2D token maps beat 1D tokens": (ONE_D, False),
    "cross-person attention helps": ("no cross-attention", False),
    "spatio-temporal attention helps": ("no spatio-temporal attention", False),
    "interaction masking helps": ("no interaction masking", False),
    "step-unroll helps": ("step-unroll on", True),
    # not the paper's own: the kit's other unroll (argmax at a random share of positions), measured beside it
    "step-unroll helps (random-share version)": ("step-unroll (random share)", True),
    "one collaborative model beats two independent ones": ("independent people", False),
}
# metric -> True when higher is better; the first decides a claim's verdict (the paper's headline metric)
METRICS = {"fid": False, "top3": True, "class_acc": True, "touch_rate": True}
TOKEN_METRICS = ("mpjpe_mm", "mpjpe_contact_mm", "mpjpe_right_arm_mm", "mpjpe_left_arm_mm", "mpjpe_spine_mm",
                 "mpjpe_right_leg_mm", "mpjpe_left_leg_mm")  # lower is better; the 2D-against-1D claim only
MIN_SEEDS = 3  # the fewest seeds a verdict stands on
MASKED_STEPS = (1, 2, 3, 5, 10, 20)
DDIM_STEPS = (5, 10, 20, 50)


def write_json(path: Path, obj) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(obj, indent=1) + "\n", encoding="utf-8"))


def top3(metrics: dict) -> float:
    """R@3 of a row of eval.evaluate's metrics, whatever its pool size."""
    return next(v["mean"] for k, v in metrics.items() if k.startswith("top3@"))


def mean_ci(values) -> tuple[float, list[float]]:
    """Mean and 95 % t-interval of per-seed values ([nan, nan] for fewer than 2)."""
    v = np.asarray(values, dtype=float)
    mean = float(v.mean())
    if len(v) < 2:
        return mean, [float("nan"), float("nan")]
    half = float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v)))
    return mean, [mean - half, mean + half]


def seeds_to_resolve(diffs, limit: int = 1000) -> int | None:
    """The fewest seeds whose 95 % t-interval of the mean difference would exclude 0, if the difference and its
    spread stay as measured (None: no spread measured, or more than `limit`)."""
    d = np.asarray(diffs, dtype=float)
    if len(d) < 2 or d.std(ddof=1) <= 1e-12 * max(1.0, abs(float(d.mean()))):
        return None
    effect, sd = abs(float(d.mean())), float(d.std(ddof=1))
    for n in range(MIN_SEEDS, limit + 1):
        if stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n) < effect:
            return n
    return None


def verdict(diffs) -> dict:
    """Paired differences in the paper's favour (positive: as the paper says) -> verdict and its numbers.
    Fewer than MIN_SEEDS seeds never decide (two seeds that happen to agree give an interval of width 0)."""
    mean, ci = mean_ci(diffs)
    if len(diffs) >= MIN_SEEDS and ci[0] > 0:
        word = "confirmed"
    elif len(diffs) >= MIN_SEEDS and ci[1] < 0:
        word = "contradicted"
    else:
        word = "unresolved"
    out = {"verdict": word, "advantage": mean, "ci95": ci, "n_seeds": len(diffs)}
    if word == "unresolved":
        out["seeds_to_resolve"] = seeds_to_resolve(diffs)
    return out


def matched_steps(seconds: float, seconds_per_step: float) -> int:
    """How many training steps fit in `seconds` at `seconds_per_step` (at least 1)."""
    if not (seconds_per_step > 0 and math.isfinite(seconds_per_step)) or not seconds >= 0:
        raise ValueError(f"need seconds >= 0 and a positive seconds_per_step, got {seconds} and {seconds_per_step}")
    return max(1, round(seconds / seconds_per_step))


def time_to_reach(curve: list[dict], fid: float) -> float | None:
    """Seconds per sample at which a curve (rows of one method) first gets to `fid` or better, going from fast
    to slow; between two measured points linear in log time. None if it never does."""
    points = sorted(curve, key=lambda r: r["seconds_per_sample"])
    for before, row in zip([None] + points, points):
        if row["fid"] > fid:
            continue
        if before is None:  # the fastest point is already as good
            return row["seconds_per_sample"]
        share = (before["fid"] - fid) / (before["fid"] - row["fid"])  # 0 at `before`, 1 at `row`
        lo, hi = math.log(before["seconds_per_sample"]), math.log(row["seconds_per_sample"])
        return math.exp(lo + share * (hi - lo))
    return None


def matched_speed(speed_rows: list[dict]) -> dict | None:
    """The two methods at the same quality: the best FID both curves reach (the worse of their two best), the
    time each needs for it, and how many times faster masked decoding is there (None without both curves)."""
    curves = {m: [r for r in speed_rows if r.get("method") == m] for m in ("masked", "ddim")}
    if not all(curves.values()):
        return None
    fid = max(min(r["fid"] for r in rows) for rows in curves.values())
    masked, ddim = time_to_reach(curves["masked"], fid), time_to_reach(curves["ddim"], fid)
    return {"fid": fid, "masked_seconds": masked, "ddim_seconds": ddim, "speedup": ddim / masked}


def verdict_markdown(rows: list[dict]) -> str:
    """The README's table: one line per claim (its deciding metric), then the speed match if measured."""
    lines = ["| claim | verdict | metric | advantage (95 % interval) | seeds | seeds to resolve |", "|---" * 6 + "|"]
    for r in (r for r in rows if r.get("decides")):
        lo, hi = r["ci95"]
        interval = "" if math.isnan(lo) else f" [{lo:+.3f}, {hi:+.3f}]"
        lines.append(f"| {r['claim']} | **{r['verdict']}** | {r['metric']} | {r['advantage']:+.3f}{interval} | "
                     f"{r['n_seeds']} | {r.get('seeds_to_resolve') or '-'} |")
    match = matched_speed(rows)
    if match:
        lines += ["", f"At FID {match['fid']:.3f} (the best both reach) masked decoding takes "
                      f"{match['masked_seconds']:.3f} s per sample and DDIM {match['ddim_seconds']:.3f} s: "
                      f"{match['speedup']:.1f}x."]
    return "\n".join(lines) + "\n"


@dataclass
class ClaimStudy:
    """The claims of the paper at one budget: which preset, how many seeds, how long each model trains."""

    preset: str = "lab"
    out_dir: Path | str = "results/claims_runs"
    seeds: int = 3
    steps: int = 1200            # transformer steps of every variant
    vq_steps: int = 3200         # tokenizer steps (2D and 1D alike)
    diffusion_steps: int | str | None = None  # the baseline's steps (None: `steps`; "matched": the same wall clock)
    eval_clips: int | None = 70  # test clips per evaluation (None: the whole test split)
    replications: int = 3        # evaluation replications per seed (averaged into one value per seed)
    claims: tuple = tuple(CLAIMS)
    speed_curve: bool = True
    progress: bool = True        # one bar over the units of work

    def __post_init__(self):
        self.out_dir = Path(self.out_dir)
        unknown = [c for c in self.claims if c not in CLAIMS]
        if unknown:
            raise ValueError(f"unknown claims {unknown}; expected some of {list(CLAIMS)}")
        if self.seeds < 1 or self.steps < 1 or self.vq_steps < 1:
            raise ValueError("seeds, steps and vq_steps must be at least 1")
        d = self.diffusion_steps
        if not (d is None or d == "matched" or (isinstance(d, int) and not isinstance(d, bool) and d >= 1)):
            raise ValueError(f"diffusion_steps must be a positive number of steps, 'matched' or None, not {d!r}")

    def bench(self, seed: int) -> AblationBench:
        return AblationBench.build(self.preset, steps=self.steps, vq_steps=self.vq_steps, seed=seed,
                                   replications=self.replications, eval_clips=self.eval_clips,
                                   out_dir=self.out_dir / f"seed{seed}", evaluator_dir=self.out_dir / "evaluator",
                                   timing_threads=(1,), timing_repeats=1)

    def settings(self, bench: AblationBench, variant: str) -> dict:
        """The full resolved configuration of a variant (rows of one claim differ only in its switch)."""
        budget = {"steps": self.steps, "vq_steps": self.vq_steps, "eval_clips": self.eval_clips,
                  "replications": self.replications}
        return {"preset": asdict(bench.variant_preset(VARIANTS[variant])), "budget": budget}

    def _unit_path(self, variant: str, seed: int) -> Path:
        return self.out_dir / "runs" / f"{variant.replace(' ', '_').replace('(', '').replace(')', '')}__seed{seed}.json"

    def _measure(self, bench: AblationBench, variant: str) -> dict:
        """One (variant, seed): train, evaluate; the numbers of claims.json and the tokenizer's reconstruction."""
        row = bench.run_variant(variant, VARIANTS[variant])
        kit = bench.kits[variant]
        report_metrics = row["metrics"]
        values = {k: report_metrics[k]["mean"] for k in ("fid", "class_acc") if k in report_metrics}
        values["top3"] = top3(report_metrics)
        values["touch_rate"] = row["physics"]["touch_rate"]
        if variant in (REFERENCE, ONE_D):
            recon = evaluate_tokenizer(kit.tokenizer, bench.test_clips())
            values.update({k: recon[k] for k in TOKEN_METRICS})
        return {"variant": variant, "seed": bench.seed, "values": values, "params": row["params"],
                "tokenizer_params": row["tokenizer_params"], "train_seconds": row["train_seconds"],
                "settings": self.settings(bench, variant)}

    def run(self, out_json: Path | str = "results/claims.json") -> list[dict]:
        """Measure every missing (variant, seed) unit, the speed curve, then write and return the rows."""
        # claim by claim (each claim's verdict is ready as soon as its seeds are), the reference first
        order = list(dict.fromkeys((s, v) for c in self.claims for s in range(self.seeds)
                                   for v in (REFERENCE, CLAIMS[c][0])))
        todo = [(s, v) for s, v in order if not self._unit_path(v, s).exists()]
        bar = tqdm(total=len(todo) + self.speed_curve, desc="study", unit="model", disable=not self.progress)
        benches = {}
        for seed, variant in todo:
            bar.set_description_str(f"study: {variant}, seed {seed}")
            if seed not in benches:
                benches[seed] = self.bench(seed)
            bench = benches[seed]
            write_json(self._unit_path(variant, seed), self._measure(bench, variant))
            bench.kits.pop(variant, None)  # one transformer in memory at a time
            bar.update(1)
        bar.set_description_str("study: speed curve")
        speed = self.speed_rows() if self.speed_curve else []
        bar.update(int(self.speed_curve))
        bar.close()
        rows = self.rows() + speed
        write_json(Path(out_json), rows)
        return rows

    def units(self) -> dict:
        """{(variant, seed): unit} of every unit measured so far."""
        out = {}
        for path in sorted((self.out_dir / "runs").glob("*.json")):
            unit = json.loads(path.read_text())
            out[(unit["variant"], unit["seed"])] = unit
        return out

    def rows(self) -> list[dict]:
        """claims.json's metric rows and verdict rows from the units measured so far."""
        units, rows = self.units(), []
        for claim in self.claims:
            variant, variant_better = CLAIMS[claim]
            seeds = sorted(s for (v, s) in units if v == variant and (REFERENCE, s) in units)
            if not seeds:
                continue
            metrics = dict(METRICS)
            if variant == ONE_D:
                metrics.update(dict.fromkeys(TOKEN_METRICS, False))
            for name in (REFERENCE, variant):
                for metric in metrics:
                    mean, ci = mean_ci([units[(name, s)]["values"][metric] for s in seeds])
                    rows.append({"claim": claim, "variant": name, "metric": metric, "mean": mean, "ci95": ci,
                                 "n_seeds": len(seeds), "settings": units[(name, seeds[0])]["settings"],
                                 "params": units[(name, seeds[0])]["params"]})
            for i, metric in enumerate(metrics):
                sign = (1 if metrics[metric] else -1) * (1 if variant_better else -1)
                diffs = [sign * (units[(variant, s)]["values"][metric] - units[(REFERENCE, s)]["values"][metric])
                         for s in seeds]
                rows.append({"claim": claim, "metric": metric, "decides": i == 0, **verdict(diffs)})
        return rows

    def speed_rows(self) -> list[dict]:
        """Quality against sampling time: masked decoding steps and DDIM steps (seed 0 models)."""
        path = self.out_dir / "speed_curve.json"
        if path.exists():
            return json.loads(path.read_text())
        bench = self.bench(0)
        kit, _, history = bench.kit(REFERENCE, VARIANTS[REFERENCE])
        budget = {"masked": (self.steps, history["seconds"][-1])}      # the whole run's seconds, resumes included
        steps = self.diffusion_steps or self.steps
        if steps == "matched":
            steps = self._matched_diffusion_steps(bench, budget["masked"][1])
        diffusion, _, history = replace(bench, steps=steps).diffusion_kit()
        budget["ddim"] = (steps, history["seconds"][-1])
        rows = []
        for method, model, steps_list, guidance in (("masked", kit, MASKED_STEPS, GUIDANCE),
                                                    ("ddim", diffusion, DDIM_STEPS, diffusion.model.cfg.guidance)):
            train_steps, train_seconds = budget[method]
            for steps in steps_list:
                m = metrics_of(bench._evaluate(model, steps, guidance))
                def one(model=model, steps=steps, guidance=guidance):  # this point's settings, bound now
                    return model.generate(TIMING_PROMPT, seconds=3.0, seed=0, steps=steps, guidance=guidance)
                seconds = time_generation(one, (1,), 3)["1_threads"]
                rows.append({"method": method, "steps": steps, "seconds_per_sample": seconds,
                             "fid": m["fid"]["mean"], "fid_ci": m["fid"]["ci"], "top3": top3(m),
                             "train_steps": train_steps, "train_seconds": train_seconds})
        write_json(path, rows)
        return rows

    def _matched_diffusion_steps(self, bench: AblationBench, seconds: float) -> int:
        """The baseline's steps that take `seconds` of training, timed on a short run of CALIBRATION_STEPS."""
        probe = replace(bench, steps=CALIBRATION_STEPS, out_dir=self.out_dir / "calibration")
        _, _, history = probe.diffusion_kit()
        return matched_steps(seconds, history["seconds"][-1] / CALIBRATION_STEPS)


__all__ = ["CLAIMS", "ClaimStudy", "matched_speed", "matched_steps", "mean_ci", "seeds_to_resolve", "verdict",
           "verdict_markdown"]
