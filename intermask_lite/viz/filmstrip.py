"""Matplotlib pictures of a motion: a filmstrip of key frames and an animated GIF (Pillow, no ffmpeg).

For places where plotly does not render (GitHub, PDF, slides). Same look as the plotly playback:
person A blue, person B orange, a 0.5 m floor grid at y = 0, a fixed camera with Y up.
"""
from __future__ import annotations

# Imported inside functions: matplotlib and Pillow, when a picture is drawn.

import math
import textwrap
from pathlib import Path

import numpy as np

from .. import skeleton
from .playback import (CHAIN_ORDER, FLOOR_COLOR, GRID_COLOR, HEAD, PERSON_COLORS, PERSON_DARK, person_names,
                       scene_bounds)

VIEW = dict(elev=18, azim=-31)  # matplotlib camera, close to the plotly one (a three-quarter view)


def _mpl(xyz: np.ndarray) -> tuple:
    """Our (x, y up, z) to matplotlib's (X, Y, Z up) = (x, -z, y): a proper rotation, so no mirroring."""
    xyz = np.asarray(xyz)
    return xyz[..., 0], -xyz[..., 2], xyz[..., 1]


def _as_people(joints) -> np.ndarray:
    joints = np.asarray(joints, dtype=np.float32)
    joints = joints[None] if joints.ndim == 3 else joints  # (P, T, 22, 3)
    if joints.ndim != 4 or joints.shape[0] not in (1, 2) or joints.shape[2:] != (22, 3):
        raise ValueError(f"joints must have shape (P, T, 22, 3) with P in {{1, 2}}, got {joints.shape}")
    return joints


def _setup_axes(ax, bounds: dict, zoom: float) -> None:
    """Fixed limits, equal scale, no panes, a light floor with a 0.5 m grid."""
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection

    (x0, x1), (y0, y1), (z0, z1) = bounds["x"], bounds["y"], bounds["z"]
    ax.set_xlim(x0, x1), ax.set_ylim(-z1, -z0), ax.set_zlim(y0, y1)
    ax.set_box_aspect((x1 - x0, z1 - z0, y1 - y0), zoom=zoom)
    ax.view_init(**VIEW)
    ax.set_axis_off()
    ax.computed_zorder = False  # draw in order: floor, grid, then people (the floor is always below them)
    floor = [[(x0, -z0, 0), (x1, -z0, 0), (x1, -z1, 0), (x0, -z1, 0)]]
    ax.add_collection3d(Poly3DCollection(floor, facecolor=FLOOR_COLOR, edgecolor=GRID_COLOR, linewidth=0.8))
    for x in np.arange(math.ceil(x0 * 2) / 2, x1, 0.5):
        ax.plot([x, x], [-z0, -z1], [0, 0], color=GRID_COLOR, linewidth=0.6)
    for z in np.arange(math.ceil(z0 * 2) / 2, z1, 0.5):
        ax.plot([x0, x1], [-z, -z], [0, 0], color=GRID_COLOR, linewidth=0.6)


def _person_artists(ax, person: int, linewidth: float) -> list:
    """One line per chain plus a head marker, to be filled by `_update`."""
    lines = [ax.plot([], [], [], color=PERSON_COLORS[person], linewidth=linewidth, solid_capstyle="round",
                     marker="o", markersize=linewidth * 0.55, markerfacecolor=PERSON_DARK[person],
                     markeredgewidth=0)[0] for _ in CHAIN_ORDER]
    head = ax.plot([], [], [], linestyle="none", marker="o", markersize=linewidth * 2.6,
                   color=PERSON_COLORS[person], markeredgecolor=PERSON_DARK[person], markeredgewidth=1.2)[0]
    return lines + [head]


def _update(artists: list, pose: np.ndarray) -> None:
    """Move one person's artists to `pose` (22, 3)."""
    for line, name in zip(artists, CHAIN_ORDER):
        chain = pose[skeleton.CHAINS[name]]  # (n, 3)
        line.set_data_3d(*_mpl(chain))
    artists[-1].set_data_3d(*_mpl(pose[HEAD:HEAD + 1]))


def _legend(fig, n_people: int, names=None) -> None:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=PERSON_COLORS[p], linewidth=3, label=label)
               for p, label in enumerate(person_names(n_people, names))]
    fig.legend(handles=handles, loc="lower center", ncol=n_people, frameon=False, fontsize=9)


def filmstrip_figure(joints, fps: float, n: int = 6, title: str = "", names=None):
    """`n` evenly spaced frames side by side in one matplotlib Figure (not attached to pyplot); names: the
    legend's name of each person (default "person A", "person B")."""
    from matplotlib.figure import Figure

    joints = _as_people(joints)
    if n < 1:
        raise ValueError(f"filmstrip needs n >= 1 panels, got {n}")
    n_frames = joints.shape[1]
    idx = np.unique(np.round(np.linspace(0, n_frames - 1, n)).astype(int))
    bounds = scene_bounds(joints)
    fig = Figure(figsize=(2.5 * len(idx), 3.3), dpi=100)
    for k, t in enumerate(idx):
        ax = fig.add_subplot(1, len(idx), k + 1, projection="3d")
        _setup_axes(ax, bounds, zoom=1.6)
        for p in range(joints.shape[0]):
            _update(_person_artists(ax, p, linewidth=2.2), joints[p, t])
        ax.set_title(f"t = {t / fps:.1f} s", fontsize=10, y=0.93)
    fig.subplots_adjust(left=0, right=1, bottom=0.06, top=0.86 if title else 0.95, wspace=0)
    if title:
        fig.suptitle("\n".join(textwrap.wrap(title, 25 * len(idx))), fontsize=11)
    _legend(fig, joints.shape[0], names)
    return fig


def gif_frame_indices(n_frames: int, fps: float, out_fps: float) -> np.ndarray:
    """Source frames shown in a GIF at out_fps: round(n_frames * out_fps / fps) of them (at least one)."""
    n_out = max(1, int(round(n_frames * out_fps / fps)))
    return np.minimum(np.round(np.arange(n_out) * fps / out_fps).astype(int), n_frames - 1)


def write_gif(path, joints, fps: float, out_fps: float | None = None, size: tuple[int, int] = (480, 400),
              title: str = "") -> Path:
    """Render the motion to an animated GIF at `out_fps` (default `fps`) of `size` pixels; returns the path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from PIL import Image

    joints = _as_people(joints)
    out_fps = float(fps if out_fps is None else out_fps)
    if out_fps <= 0:
        raise ValueError(f"GIF fps must be positive, got {out_fps}")
    dpi = 100
    fig = Figure(figsize=(size[0] / dpi, size[1] / dpi), dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 0.9 if title else 1), projection="3d")
    _setup_axes(ax, scene_bounds(joints), zoom=1.45)
    artists = [_person_artists(ax, p, linewidth=2.6) for p in range(joints.shape[0])]
    if title:
        fig.suptitle("\n".join(textwrap.wrap(title, max(20, size[0] // 8))), fontsize=9, y=0.98)
    clock = fig.text(0.03, 0.03, "", fontsize=9, color="#555555")

    frames = []
    for t in gif_frame_indices(joints.shape[1], fps, out_fps):
        for p, person_artists in enumerate(artists):
            _update(person_artists, joints[p, t])
        clock.set_text(f"t = {t / fps:.2f} s")  # also keeps consecutive frames distinct for Pillow
        canvas.draw()
        rgb = np.asarray(canvas.buffer_rgba())[..., :3]  # (H, W, 3)
        frames.append(Image.fromarray(rgb))
    palette = frames[0].quantize(colors=96)
    frames = [f.quantize(palette=palette, dither=Image.Dither.NONE) for f in frames]
    path = Path(path)
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=int(round(1000 / out_fps)), loop=0)
    return path
