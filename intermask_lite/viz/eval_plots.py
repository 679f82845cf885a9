"""Matplotlib plots of the physics metrics (eval.physics): distance over time and set-vs-set bars.

    fig = plot_distance(clip.joints, clip.fps, title="handshake")      # gap and root distance, overlap shaded
    fig = plot_physics_comparison({"ground truth": rep_gt, "generated": rep_gen})   # one panel per metric
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..eval import physics

SET_COLORS = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860"]


def _shade_runs(ax, mask: np.ndarray, times: np.ndarray, dt: float, color: str, label: str) -> None:
    """Shade each run of True frames as one band (one legend entry)."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(int), [0]])))
    for k, (start, stop) in enumerate(zip(edges[::2], edges[1::2])):
        ax.axvspan(times[start], times[stop - 1] + dt, color=color, alpha=0.25, lw=0,
                   label=label if k == 0 else None)


def plot_distance(joints, fps: float, title: str = "", ax=None, pen_tol: float = 0.03):
    """Closest capsule gap and horizontal pelvis distance of the two people over time.

    Frames where the bodies overlap by more than pen_tol are shaded red. Returns the figure.
    """
    pen = physics.interpenetration(joints, pen_tol=pen_tol)
    _, root = physics.interpersonal_distance(joints)
    times = np.arange(len(root)) / fps
    fig, ax = (plt.subplots(figsize=(8, 3.2)) if ax is None else (ax.figure, ax))
    ax.plot(times, root, color="#4C72B0", lw=2, label="pelvis distance (horizontal)")
    ax.plot(times, pen["gap"], color="#DD8452", lw=2, label="closest body gap (capsules)")
    ax.axhline(0.0, color="black", lw=0.8)
    _shade_runs(ax, pen["pen_mask"], times, 1.0 / fps, "#C44E52", "interpenetration")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("distance (m)")
    ax.set_xlim(times[0], times[-1] + 1.0 / fps)
    ax.set_title(title or f"distance between the two people (max overlap {pen['pen_max_depth'] * 100:.1f} cm)")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8, framealpha=0.9)
    fig.tight_layout()
    return fig


def plot_physics_comparison(reports: dict, metrics: list[str] | None = None, ncols: int = 4):
    """Bars comparing sets (e.g. ground truth vs generated), one small panel per metric.

    reports: {set name: physics.physics_report(...)}; metrics: which keys (default: all present and finite
    in at least one set). Each panel's title says the unit and which direction is better.
    """
    if not reports:
        raise ValueError("plot_physics_comparison needs at least one report")
    names = list(reports)
    first = reports[names[0]]
    keys = metrics or [k for k in first if any(np.isfinite(reports[n][k]["value"]) for n in names)]
    unknown = [k for k in keys if k not in first]
    if unknown:
        raise KeyError(f"unknown metrics {unknown}; available: {list(first)}")
    nrows = int(np.ceil(len(keys) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 2.6 * nrows), squeeze=False)
    for ax, key in zip(axes.flat, keys):
        values = [reports[n][key]["value"] for n in names]
        colors = [SET_COLORS[i % len(SET_COLORS)] for i in range(len(names))]
        bars = ax.bar(range(len(names)), np.nan_to_num(values), color=colors)
        for bar, v in zip(bars, values):
            text = "n/a" if not np.isfinite(v) else ("0" if abs(v) < 1e-9 else f"{v:.3g}")
            ax.annotate(text, (bar.get_x() + bar.get_width() / 2,
                        bar.get_height()), ha="center", va="bottom", fontsize=8)
        unit = first[key]["unit"]
        ax.set_title(f"{key}{f' ({unit})' if unit else ''}\n{first[key]['better']} is better", fontsize=9)
        ax.set_xticks(range(len(names)), names, fontsize=8, rotation=15)
        top = max([v for v in values if np.isfinite(v)] + [0.0])
        ax.set_ylim(min(0.0, *np.nan_to_num(values)), top * 1.2 if top > 0 else 1.0)
        ax.grid(axis="y", alpha=0.3)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    fig.tight_layout()
    return fig
