"""Matplotlib plots of an ablation table (benchmarks/ablations.py, studies.ablations): rows with intervals,
quality against generation time, and the decoding-steps and guidance sweeps.

    fig = plot_variants(table, "class_acc")              # one bar per variant, 95 % interval, ground truth line
    fig = plot_quality_vs_time(table, "fid")             # every row and sweep point: metric against seconds
    fig = plot_sweeps(table, "class_acc")                # steps sweep and guidance sweep side by side
    fig = plot_claims(rows)                              # results/claims.json: each claim's verdict, over seeds
    fig = plot_speed_curve(rows)                         # ... and its FID against sampling time curve
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import NullFormatter

from ..eval.report_io import metric_label

COLORS = {"intermask": "#4C72B0", "diffusion": "#DD8452", "reference": "#55A868"}


def _stat(row: dict, metric: str) -> tuple[float, float]:
    stat = row["metrics"].get(metric)
    if stat is None:
        raise ValueError(f"row {row['name']!r} has no metric {metric!r}; it has {sorted(row['metrics'])}")
    return stat["mean"], stat["ci"]


def _seconds(row: dict, threads: str) -> float:
    timing = row.get("gen_seconds") or {}
    if threads not in timing:
        raise ValueError(f"row {row['name']!r} has no generation time for {threads!r}; it has {sorted(timing)}")
    return timing[threads]


def plot_variants(table: dict, metric: str = "class_acc", ax=None):
    """One horizontal bar per row of the table (mean, 95 % interval), the ground truth as a dashed line."""
    rows = table["rows"]
    if not rows:
        raise ValueError("the table has no rows")
    means, cis = zip(*(_stat(r, metric) for r in rows))
    fig, ax = (plt.subplots(figsize=(7, 0.45 * len(rows) + 1.2)) if ax is None else (ax.figure, ax))
    y = np.arange(len(rows))[::-1]
    colors = [COLORS["reference"] if i == 0 else COLORS[r.get("model", "intermask")] for i, r in enumerate(rows)]
    ax.barh(y, means, xerr=cis, color=colors, alpha=0.85, capsize=3)
    ax.set_yticks(y, [r["name"] for r in rows], fontsize=8)
    gt = (table.get("ground_truth") or {}).get(metric)
    if gt is not None:
        ax.axvline(gt["mean"], color="black", ls="--", lw=1, label="ground truth")
        ax.legend(fontsize=8, loc="lower right")
    ax.set_xlabel(metric_label(metric) + " (mean ± 95 % interval)")
    ax.set_title(f"{metric_label(metric)} of each variant")
    fig.tight_layout()
    return fig


def plot_quality_vs_time(table: dict, metric: str = "class_acc", threads: str = "1_threads", ax=None):
    """Metric against the seconds one 3-second interaction takes (batch 1), log time axis.

    The variants are dots; the steps sweep of the reference model and the DDIM sweep of the baseline are lines.
    """
    fig, ax = (plt.subplots(figsize=(8, 4.4)) if ax is None else (ax.figure, ax))
    markers = "os^vD<>Ph*X"
    for i, row in enumerate(table["rows"]):
        mean, ci = _stat(row, metric)
        ax.errorbar(_seconds(row, threads), mean, yerr=ci, fmt=markers[i % len(markers)], color=f"C{i % 10}",
                    capsize=3, label=row["name"])
    for key, color, label in (("steps_sweep", COLORS["reference"], "InterMask: decoding steps"),
                              ("diffusion_steps_sweep", COLORS["diffusion"], "diffusion: DDIM steps")):
        points = list(table.get(key) or [])
        if key == "diffusion_steps_sweep":  # with the baseline's own row
            points += [r for r in table["rows"] if r.get("model") == "diffusion"]
        points = sorted({r["decode_steps"]: r for r in points}.values(), key=lambda r: r["decode_steps"])
        if len(points) > 1:
            ax.plot([_seconds(r, threads) for r in points], [_stat(r, metric)[0] for r in points], "-",
                    color=color, alpha=0.6, label=label)
            for r in points:
                ax.annotate(str(r["decode_steps"]), (_seconds(r, threads), _stat(r, metric)[0]), fontsize=7,
                            color=color, xytext=(0, -10), textcoords="offset points")
    gt = (table.get("ground_truth") or {}).get(metric)
    if gt is not None:
        ax.axhline(gt["mean"], color="black", ls="--", lw=1, label="ground truth")
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(f"seconds per 3 s interaction (batch 1, {threads.replace('_', ' ')})")
    ax.set_ylabel(metric_label(metric))
    ax.set_title("quality against generation time")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    return fig


def plot_sweeps(table: dict, metric: str = "class_acc", threads: str = "1_threads"):
    """Two panels: the metric (with intervals) and the time per interaction against decoding steps and guidance."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, key, field, label in ((axes[0], "steps_sweep", "decode_steps", "decoding steps"),
                                  (axes[1], "guidance_sweep", "guidance", "guidance scale")):
        rows = sorted(table.get(key) or [], key=lambda r: r[field])
        if not rows:
            ax.set_axis_off()
            continue
        x = [r[field] for r in rows]
        means, cis = zip(*(_stat(r, metric) for r in rows))
        ax.errorbar(x, means, yerr=cis, fmt="o-", color=COLORS["intermask"], capsize=3)
        ax.set_xlabel(label)
        ax.set_ylabel(metric_label(metric), color=COLORS["intermask"])
        twin = ax.twinx()
        twin.plot(x, [_seconds(r, threads) for r in rows], "s--", color="grey", alpha=0.7)
        twin.set_ylabel("s per interaction", color="grey")
        ax.set_title(f"{metric_label(metric)} and time against {label}")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- results/claims.json (studies.claims)
VERDICT_COLORS = {"confirmed": "#55A868", "contradicted": "#C44E52", "unresolved": "#8C8C8C"}


def plot_claims(rows: list[dict], ax=None):
    """Each claim's deciding comparison: the advantage in the paper's favour (mean over seeds, 95 % interval);
    right of the zero line the paper is right. Colour = verdict."""
    decided = [r for r in rows if r.get("decides")]
    if not decided:
        raise ValueError("no verdict rows in the claims (run `intermask-lite study` first)")
    fig, ax = (plt.subplots(figsize=(8, 0.5 * len(decided) + 1.4)) if ax is None else (ax.figure, ax))
    y = np.arange(len(decided))[::-1]
    means = np.array([r["advantage"] for r in decided])
    lo, hi = (np.array([r["ci95"][i] for r in decided]) for i in (0, 1))
    err = np.nan_to_num(np.vstack([means - lo, hi - means]))  # no interval (one seed): no bar
    ax.barh(y, means, xerr=err, color=[VERDICT_COLORS[r["verdict"]] for r in decided], alpha=0.85, capsize=3)
    ax.set_yticks(y, [f"{r['claim']}\n({r['metric']}, {r['n_seeds']} seeds: {r['verdict']})" for r in decided],
                  fontsize=8)
    ax.axvline(0, color="black", lw=1)
    ax.set_xlabel("advantage in the paper's favour (variant against the full model; > 0: as the paper says)")
    ax.set_title("The paper's claims, paired over seeds")
    fig.tight_layout()
    return fig


def plot_speed_curve(rows: list[dict], metric: str = "fid", ax=None):
    """Quality against sampling time: masked decoding steps and DDIM steps (speed rows of claims.json)."""
    speed = [r for r in rows if "method" in r]
    if not speed:
        raise ValueError("no speed-curve rows in the claims (run `intermask-lite study` without --no-speed-curve)")
    fig, ax = (plt.subplots(figsize=(7, 4.2)) if ax is None else (ax.figure, ax))
    for method, color, label in (("masked", COLORS["intermask"], "masked decoding (InterMask)"),
                                 ("ddim", COLORS["diffusion"], "DDIM (diffusion baseline)")):
        points = sorted((r for r in speed if r["method"] == method), key=lambda r: r["seconds_per_sample"])
        if not points:
            continue
        x, v = [r["seconds_per_sample"] for r in points], [r[metric] for r in points]
        if points[0].get("train_seconds"):                             # the training budget behind the curve
            label += f", trained {points[0]['train_steps']} steps / {points[0]['train_seconds'] / 60:.1f} min"
        ax.plot(x, v, "o-", color=color, label=label)
        for r in points:
            ax.annotate(str(r["steps"]), (r["seconds_per_sample"], r[metric]), textcoords="offset points",
                        xytext=(4, 4), fontsize=7, color=color)
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("seconds per 3-second interaction (batch 1, 1 thread; log scale)")
    ax.set_ylabel(metric_label(metric))
    ax.set_title(f"{metric_label(metric)} against sampling time (numbers: steps)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
