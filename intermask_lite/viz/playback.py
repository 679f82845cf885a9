"""Plotly 3D playback of one or two skeletons: bones along skeleton.CHAINS, a floor grid, play/pause, slider.

Works inline in JupyterLab, in exported notebook HTML and as a stand-alone HTML page. Conventions:
metres, Y up, floor at y = 0; person A is drawn blue, person B orange.
"""
from __future__ import annotations

# Imported inside functions: plotly, when a playback is drawn.

import math
import textwrap

import numpy as np

from .. import skeleton

PERSON_COLORS = ("#2f6fbd", "#e8842a")       # A blue, B orange
PERSON_DARK = ("#1b4680", "#a85510")          # head and joint outlines
FLOOR_COLOR, GRID_COLOR = "#f1f3f6", "#c8ced8"
CHAIN_ORDER = ["spine", "left_leg", "right_leg", "left_arm", "right_arm"]
HEAD = skeleton.JOINT_NAMES.index("head")


def person_names(n_people: int, names=None) -> list[str]:
    """Legend names of the people: "person A", "person B" unless `names` gives one per person (e.g. ("ground
    truth", "reconstruction") when a motion shows one person twice)."""
    if names is None:
        return [f"person {'AB'[p]}" for p in range(n_people)]
    names = [str(n) for n in names]
    if len(names) != n_people:
        raise ValueError(f"names must give one name per person ({n_people}), got {len(names)}: {names}")
    return names


def embed_html_outputs() -> None:
    """From now on, show plotly figures in a notebook both as plotly's JupyterLab output and as self-contained HTML
    (plotly.js embedded once, in the first output), so an executed notebook plays back offline in VS Code,
    nbviewer or an exported HTML page too, not only in JupyterLab."""
    import plotly.io as pio
    pio.renderers.default = "plotly_mimetype+notebook"


def scene_bounds(joints: np.ndarray, margin: float = 0.6) -> dict:
    """A square floor area around everything that moves, and the height of the scene.

    joints: (P, T, 22, 3). Returns {"x": (lo, hi), "z": (lo, hi), "y": (0, top)} with equal x/z spans.
    """
    flat = joints.reshape(-1, 3)  # (P*T*22, 3)
    lo, hi = flat.min(0), flat.max(0)
    half = max(hi[0] - lo[0], hi[2] - lo[2]) / 2 + margin
    cx, cz = (lo[0] + hi[0]) / 2, (lo[2] + hi[2]) / 2
    top = max(2.0, float(hi[1]) + 0.2)
    return {"x": (cx - half, cx + half), "z": (cz - half, cz + half), "y": (0.0, top)}


def frame_indices(n_frames: int, max_frames: int) -> tuple[np.ndarray, int]:
    """Every `step`-th frame so that at most `max_frames` remain; returns (indices, step)."""
    if max_frames < 1:
        raise ValueError(f"max_frames must be at least 1, got {max_frames}")
    step = max(1, math.ceil(n_frames / max_frames))
    return np.arange(0, n_frames, step), step


def wrap_title(title: str, width: int = 64) -> str:
    """Wrap a caption onto several lines for a plotly title (lines joined by <br>)."""
    return "<br>".join(textwrap.wrap(title, width)) if title else ""


def _bone_xyz(pose: np.ndarray) -> tuple[list, list, list]:
    """One person's chains as polylines separated by None, in mm-rounded metres. pose: (22, 3)."""
    xs, ys, zs = [], [], []
    p = np.round(pose.astype(np.float64), 3)
    for name in CHAIN_ORDER:
        for j in skeleton.CHAINS[name]:
            xs.append(p[j, 0]), ys.append(p[j, 1]), zs.append(p[j, 2])
        xs.append(None), ys.append(None), zs.append(None)
    return xs, ys, zs


def _person_traces(go, pose: np.ndarray, person: int, legend: bool, name: str) -> list:
    """Bones (lines + joint dots) and a head marker for one person in one frame, in the legend as `name`."""
    x, y, z = _bone_xyz(pose)
    head = np.round(pose[HEAD].astype(np.float64), 3)
    bones = go.Scatter3d(x=x, y=y, z=z, mode="lines+markers", name=name, legendgroup=name, showlegend=legend,
                         line=dict(color=PERSON_COLORS[person], width=9),
                         marker=dict(size=3.5, color=PERSON_DARK[person]), hoverinfo="skip")
    head_dot = go.Scatter3d(x=[head[0]], y=[head[1]], z=[head[2]], mode="markers", name=name,
                            legendgroup=name, showlegend=False, hoverinfo="skip",
                            marker=dict(size=11, color=PERSON_COLORS[person],
                                        line=dict(color=PERSON_DARK[person], width=2)))
    return [bones, head_dot]


def _floor_traces(go, bounds: dict, joints: np.ndarray) -> list:
    """A light floor square with a 0.5 m grid at y = 0 and each person's pelvis path on it."""
    (x0, x1), (z0, z1) = bounds["x"], bounds["z"]
    floor = go.Mesh3d(x=[x0, x1, x1, x0], y=[0, 0, 0, 0], z=[z0, z0, z1, z1], i=[0, 0], j=[1, 2], k=[2, 3],
                      color=FLOOR_COLOR, opacity=1.0, hoverinfo="skip", showlegend=False, flatshading=True,
                      lighting=dict(ambient=1.0, diffuse=0.0, specular=0.0))
    gx, gy, gz = [], [], []
    for x in np.arange(math.ceil(x0 * 2) / 2, x1, 0.5):
        gx += [x, x, None]
        gy += [0, 0, None]
        gz += [z0, z1, None]
    for z in np.arange(math.ceil(z0 * 2) / 2, z1, 0.5):
        gx += [x0, x1, None]
        gy += [0, 0, None]
        gz += [z, z, None]
    grid = go.Scatter3d(x=gx, y=gy, z=gz, mode="lines", line=dict(color=GRID_COLOR, width=2),
                        hoverinfo="skip", showlegend=False)
    paths = []
    for p in range(joints.shape[0]):
        root = np.round(joints[p, :, 0].astype(np.float64), 3)  # (T, 3)
        paths.append(go.Scatter3d(x=root[:, 0], y=np.full(len(root), 0.002), z=root[:, 2], mode="lines",
                                  line=dict(color=PERSON_COLORS[p], width=3, dash="dot"), opacity=0.6,
                                  hoverinfo="skip", showlegend=False))
    return [floor, grid] + paths


def _controls(names: list[str], times: np.ndarray, frame_ms: float) -> tuple[list, list]:
    """Play/pause buttons and a time slider for the animation frames called `names`."""
    still = {"frame": {"duration": 0, "redraw": True}, "mode": "immediate", "transition": {"duration": 0}}
    play = {"frame": {"duration": frame_ms, "redraw": True}, "fromcurrent": True,
            "transition": {"duration": 0}, "mode": "immediate"}
    buttons = [dict(label="\u25B6 Play", method="animate", args=[None, play]),
               dict(label="\u275A\u275A Pause", method="animate", args=[[None], still])]
    menus = [dict(type="buttons", direction="left", showactive=False, x=0.02, y=0.02, xanchor="left",
                  yanchor="top", pad=dict(r=10, t=10), buttons=buttons)]
    steps = [dict(method="animate", label=f"{t:.1f}", args=[[name], still]) for name, t in zip(names, times)]
    sliders = [dict(active=0, steps=steps, x=0.22, len=0.76, y=0.02, yanchor="top", pad=dict(t=10, b=10),
                    currentvalue=dict(prefix="t = ", suffix=" s", visible=True, xanchor="right"),
                    transition=dict(duration=0))]
    return menus, sliders


def playback_figure(joints, fps: float, title: str = "", max_frames: int = 200, names=None):
    """The plotly Figure of a 3D playback. joints: (P, T, 22, 3) or (T, 22, 3); names: the legend's name of each
    person (default "person A", "person B"); returns go.Figure."""
    import plotly.graph_objects as go

    joints = np.asarray(joints, dtype=np.float32)
    joints = joints[None] if joints.ndim == 3 else joints  # (P, T, 22, 3)
    if joints.ndim != 4 or joints.shape[0] not in (1, 2) or joints.shape[2:] != (22, 3):
        raise ValueError(f"joints must have shape (P, T, 22, 3) with P in {{1, 2}}, got {joints.shape}")
    n_people, n_frames = joints.shape[:2]
    labels = person_names(n_people, names)
    idx, step = frame_indices(n_frames, max_frames)
    bounds = scene_bounds(joints)

    def frame_traces(t):
        return [tr for p in range(n_people) for tr in _person_traces(go, joints[p, t], p, True, labels[p])]

    dynamic = list(range(2 * n_people))  # trace indices updated by the frames
    frames = [go.Frame(data=frame_traces(t), traces=dynamic, name=str(k)) for k, t in enumerate(idx)]
    fig = go.Figure(data=frame_traces(idx[0]) + _floor_traces(go, bounds, joints), frames=frames)

    menus, sliders = _controls([f.name for f in frames], idx / fps, 1000.0 * step / fps)
    span = bounds["x"][1] - bounds["x"][0]
    axis = dict(showbackground=False, showgrid=False, zeroline=False, showspikes=False,
                tickfont=dict(size=9, color="#8a93a0"), title_font=dict(size=11, color="#8a93a0"))
    subtitle = f"{n_people} {'person' if n_people == 1 else 'people'} \u00b7 {n_frames / fps:.1f} s at {fps:g} fps"
    heading = (wrap_title(title) + ("<br>" if title else "")
               + f"<span style='font-size:12px;color:#6b7280'>{subtitle}</span>")
    fig.update_layout(
        title=dict(text=heading, x=0.5, xanchor="center", y=0.97, font=dict(size=17)),
        scene=dict(xaxis=dict(range=bounds["x"], title="x (m)", **axis),
                   yaxis=dict(range=bounds["y"], title="y (m, up)", **axis),
                   zaxis=dict(range=bounds["z"], title="z (m)", **axis),
                   aspectmode="manual", aspectratio=dict(x=1, y=bounds["y"][1] / span, z=1),
                   camera=dict(up=dict(x=0, y=1, z=0), center=dict(x=0, y=-0.05, z=0),
                               eye=dict(x=1.15, y=0.45, z=0.7), projection=dict(type="perspective")),
                   dragmode="orbit"),
        updatemenus=menus, sliders=sliders, height=640, margin=dict(l=0, r=0, t=95, b=70),
        legend=dict(x=0.02, y=0.92, bgcolor="rgba(255,255,255,0.7)"), paper_bgcolor="white",
        uirevision="keep-camera",
    )
    return fig


def playback_html(joints, fps: float, title: str = "", max_frames: int = 200, include_plotlyjs=True,
                  names=None) -> str:
    """A stand-alone HTML page of the playback, plotly.js embedded by default (see Motion.to_html)."""
    fig = playback_figure(joints, fps, title=title, max_frames=max_frames, names=names)
    return fig.to_html(include_plotlyjs=include_plotlyjs, full_html=True, auto_play=False,
                       config={"displaylogo": False, "responsive": True})
