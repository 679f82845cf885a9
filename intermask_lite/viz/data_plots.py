"""Matplotlib pictures of the data: skeleton drawings, the (12, 22, T) feature grid, top-down paths,
a gallery of classes and dataset statistics.

    ax = plot_skeleton(skeleton.rest_pose(), view="front", labels=True)     # 2D drawing of one pose
    fig = plot_feature_grid(grid, fps=20)                                   # one panel per grid channel
    fig = plot_topdown({"original": joints2, "mirrored": mirror(joints2)})  # pelvis paths seen from above
    fig = class_gallery(clips)                                              # one 3D still per class
    fig = plot_dataset_stats(dataset_stats(clips))                          # counts, lengths, speeds, distances
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .. import skeleton as sk
from ..data.augment import facing_angle
from .filmstrip import _person_artists, _setup_axes, _update
from .playback import PERSON_COLORS, scene_bounds

CHAIN_COLORS = {"spine": "#555555", "left_leg": "#2f6fbd", "left_arm": "#6fa8dc", "right_leg": "#c0392b",
                "right_arm": "#e8842a"}
VIEWS = {"front": (0, 1), "side": (2, 1), "top": (0, 2)}  # which coordinates go on the (horizontal, vertical) axes
CHANNEL_NAMES = ["pos x", "pos y", "pos z", "vel x", "vel y", "vel z"] + [f"rot6d {k}" for k in range(1, 7)]


def plot_skeleton(pose, ax=None, view: str = "front", labels: bool = False, title: str = ""):
    """Draw one pose (22, 3) as its five chains in a 2D view ("front": x-y, "side": z-y, "top": x-z).

    Left chains are blue, right chains red/orange. Front view looks at the person's face (their left on the
    right of the picture). Returns the axes.
    """
    pose = np.asarray(pose, dtype=np.float64)
    if pose.shape != (sk.N_JOINTS, 3):
        raise ValueError(f"pose must have shape (22, 3), got {pose.shape}")
    if view not in VIEWS:
        raise ValueError(f"view must be one of {sorted(VIEWS)}, got {view!r}")
    ax = plt.subplots(figsize=(3, 4))[1] if ax is None else ax
    h, v = VIEWS[view]
    for name, chain in sk.CHAINS.items():
        ax.plot(pose[chain, h], pose[chain, v], "-o", color=CHAIN_COLORS[name], lw=2.5, ms=4, label=name)
    if labels:
        for j, p in enumerate(pose):
            ax.annotate(str(j), (p[h], p[v]), xytext=(3, 3), textcoords="offset points", fontsize=7)
    ax.set_aspect("equal")
    ax.set_xlabel("xyz"[h] + " (m)")
    ax.set_ylabel("xyz"[v] + " (m)")
    if title:
        ax.set_title(title)
    return ax


def plot_feature_grid(grid, fps: float = 20.0, title: str = ""):
    """One heat map (22 joints x T frames) per channel of a (12, 22, T) grid, each with its own colour scale."""
    grid = np.asarray(grid)
    if grid.ndim != 3 or grid.shape[:2] != (12, sk.N_JOINTS):
        raise ValueError(f"grid must have shape (12, 22, T), got {grid.shape}")
    n_frames = grid.shape[2]
    fig, axes = plt.subplots(3, 4, figsize=(13, 8.5), sharex=True, sharey=True)
    for c, ax in enumerate(axes.flat):
        lim = max(float(np.abs(grid[c]).max()), 1e-6)
        im = ax.imshow(grid[c], aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest",
                       extent=(0, n_frames / fps, sk.N_JOINTS - 0.5, -0.5))
        ax.set_title(CHANNEL_NAMES[c], fontsize=10)
        fig.colorbar(im, ax=ax, fraction=0.05, pad=0.02)
    for ax in axes[:, 0]:
        ax.set_yticks(range(0, sk.N_JOINTS, 3), [sk.JOINT_NAMES[j] for j in range(0, sk.N_JOINTS, 3)], fontsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("time (s)")
    fig.suptitle(title or "feature grid: channel x joint x time", fontsize=12)
    fig.tight_layout()
    return fig


def plot_topdown(variants: dict, arrow: float = 0.3):
    """Pelvis paths of both people seen from above, one panel per {name: joints2 (2, T, 22, 3)}.

    A dot marks the start, an arrow the facing at frame 0 (across the hips and shoulders), a cross the end.
    All panels share one square scale, so the variants can be compared by eye.
    """

    fig, axes = plt.subplots(1, len(variants), figsize=(3.6 * len(variants), 3.8), squeeze=False)
    for ax, (name, joints2) in zip(axes[0], variants.items()):
        joints2 = np.asarray(joints2)
        for p in range(2):
            root = joints2[p, :, 0]  # (T, 3)
            yaw = float(facing_angle(joints2[p, 0]))
            ax.plot(root[:, 0], root[:, 2], color=PERSON_COLORS[p], lw=2, label=f"person {'AB'[p]}")
            ax.plot(root[0, 0], root[0, 2], "o", color=PERSON_COLORS[p], ms=7)
            ax.plot(root[-1, 0], root[-1, 2], "x", color=PERSON_COLORS[p], ms=7, mew=2)
            tip = (root[0, 0] + arrow * np.sin(yaw), root[0, 2] + arrow * np.cos(yaw))
            ax.annotate("", xy=tip, xytext=(root[0, 0], root[0, 2]),
                        arrowprops=dict(arrowstyle="-|>", color=PERSON_COLORS[p], lw=2))
        ax.axhline(0, color="#bbbbbb", lw=0.8, zorder=0)
        ax.axvline(0, color="#bbbbbb", lw=0.8, zorder=0)
        ax.set_xlabel("x (m)")
        ax.set_ylabel("z (m)")
        ax.set_title(name)
    roots = np.concatenate([np.asarray(j)[:, :, 0][..., [0, 2]].reshape(-1, 2) for j in variants.values()])  # (N, 2)
    centre, half = (roots.max(0) + roots.min(0)) / 2, np.ptp(roots, axis=0).max() / 2 + arrow + 0.2
    for ax in axes[0]:
        ax.set_xlim(centre[0] - half, centre[0] + half)
        ax.set_ylim(centre[1] - half, centre[1] + half)
        ax.set_aspect("equal", adjustable="box")
    axes[0, 0].legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def class_gallery(clips, columns: int = 7):
    """One 3D still per class (the first clip of each label), at its contact frame or else its middle frame."""
    firsts = {}
    for clip in clips:
        firsts.setdefault(clip.label, clip)
    if not firsts:
        raise ValueError("class_gallery needs at least one clip")
    rows = -(-len(firsts) // columns)
    fig = plt.figure(figsize=(2.2 * columns, 2.9 * rows))
    for k, (label, clip) in enumerate(firsts.items()):
        start, end = clip.params.get("contact_start", -1), clip.params.get("contact_end", -1)
        t = (start + end) // 2 if start >= 0 else clip.n_frames // 2
        ax = fig.add_subplot(rows, columns, k + 1, projection="3d")
        _setup_axes(ax, scene_bounds(clip.joints[:, t:t + 1], margin=0.3), zoom=1.3)
        for p in range(2):
            _update(_person_artists(ax, p, linewidth=1.8), clip.joints[p, t])
        ax.set_title(label, fontsize=10, y=0.92)
    fig.subplots_adjust(left=0, right=1, bottom=0, top=1, wspace=0, hspace=0)
    return fig


def dataset_stats(clips) -> dict:
    """Per-clip numbers: label, seconds, mean pelvis speed over both people (m/s) and the closest any joint of
    A comes to any joint of B over the clip (m)."""
    labels, seconds, speeds, closest = [], [], [], []
    for clip in clips:
        roots = clip.joints[:, :, 0, [0, 2]]  # (2, T, 2) pelvis on the floor
        step = np.linalg.norm(np.diff(roots, axis=1), axis=-1)  # (2, T-1)
        pair = np.linalg.norm(clip.joints[0, :, :, None] - clip.joints[1, :, None], axis=-1)  # (T, 22, 22)
        labels.append(clip.label or "(no label)")
        seconds.append(clip.seconds)
        speeds.append(float(step.mean() * clip.fps))
        closest.append(float(pair.min()))
    return {"label": np.array(labels), "seconds": np.array(seconds), "speed": np.array(speeds),
            "closest": np.array(closest)}


def plot_dataset_stats(stats: dict):
    """Four panels: clips per class, clip lengths, pelvis speed per class, closest approach per class."""
    order = list(dict.fromkeys(stats["label"]))  # classes in first-seen order
    fig, axes = plt.subplots(2, 2, figsize=(13, 8))
    counts = [int((stats["label"] == c).sum()) for c in order]
    axes[0, 0].bar(order, counts, color="#4C72B0")
    axes[0, 0].set_ylabel("clips")
    axes[0, 0].set_title("clips per class")
    step = 0.2  # built-in clips are a multiple of 4 frames long (0.2 s at 20 fps)
    axes[0, 1].hist(stats["seconds"],
                    bins=np.arange(stats["seconds"].min() - step / 2, stats["seconds"].max() + step, step),
                    color="#55A868")
    axes[0, 1].set_xlabel("length (s)")
    axes[0, 1].set_ylabel("clips")
    axes[0, 1].set_title("clip lengths")
    for ax, key, unit, what in ((axes[1, 0], "speed", "m/s", "mean pelvis speed"),
                                (axes[1, 1], "closest", "m", "closest joint-to-joint distance of A and B")):
        ax.boxplot([stats[key][stats["label"] == c] for c in order], showfliers=False)
        ax.set_xticks(range(1, len(order) + 1), order)
        ax.set_ylabel(unit)
        ax.set_title(what)
    for ax in (axes[0, 0], axes[1, 0], axes[1, 1]):
        ax.tick_params(axis="x", labelrotation=45)
        for lab in ax.get_xticklabels():
            lab.set_horizontalalignment("right")
    fig.tight_layout()
    return fig
