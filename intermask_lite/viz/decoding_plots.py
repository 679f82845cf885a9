"""Replaying iterative masked decoding: token maps filling in step by step, and the skeletons at each step.

Works on the `Trace` that `decode(..., trace=True)` (or `Kit.generate(..., trace=True)`) returns. At step s
the token maps show the codes decided so far (still-masked positions grey); the skeletons are decoded from
the step's *sampled* maps, i.e. the decided codes plus this step's samples at the masked positions: what the
model would output if decoding stopped there. Person A is drawn on top, person B below.
"""
from __future__ import annotations

# Imported inside functions: matplotlib and the filmstrip, when a picture is drawn.

import io

import ipywidgets as widgets
import numpy as np
import torch

from .. import skeleton

MASK_GREY = "#c9ced6"   # positions still masked
PAD_WHITE = "#ffffff"   # columns beyond the clip's length


def _check_trace(trace, sample: int) -> None:
    n_samples = trace.ids.shape[1]
    if not 0 <= sample < n_samples:
        raise IndexError(f"sample {sample} out of range: the trace holds {n_samples} sample(s)")


def _fig_png(fig) -> bytes:
    """A matplotlib Figure rendered to PNG bytes (no pyplot, no display needed)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi)
    return buf.getvalue()


def clip_length(ids: torch.Tensor, nb_code: int) -> int:
    """Token columns inside the clip: those before the first all-PAD column. ids (2, R, C)."""
    pad_cols = (ids == nb_code + 1).all(dim=0).all(dim=0)               # (C,)
    return int(pad_cols.long().argmax()) if pad_cols.any() else ids.shape[-1]


def _draw_map(ax, ids: np.ndarray, nb_code: int, newly: np.ndarray | None, title: str) -> None:
    """One person's (R, C) ids as an image: codes coloured, MASK grey, PAD white, new decisions dotted."""
    import matplotlib as mpl

    cmap = mpl.colormaps["viridis"].with_extremes(bad=MASK_GREY)
    codes = np.ma.masked_where(ids >= nb_code, ids.astype(float))    # (R, C) MASK and PAD hidden
    ax.imshow(codes, cmap=cmap, vmin=0, vmax=nb_code - 1, aspect="auto", interpolation="nearest")
    pad = np.ma.masked_where(ids != nb_code + 1, np.ones_like(ids, dtype=float))
    ax.imshow(pad, cmap=mpl.colors.ListedColormap([PAD_WHITE]), aspect="auto", interpolation="nearest")
    if newly is not None and newly.any():
        rows, cols = np.nonzero(newly)
        ax.scatter(cols, rows, s=10, c="black", marker="o", linewidths=0)
    ax.set_yticks(range(ids.shape[0]), skeleton.BODY_PARTS[: ids.shape[0]], fontsize=8)
    ax.set_xlabel("token column (4 frames each)", fontsize=8)
    ax.tick_params(axis="x", labelsize=8)
    ax.set_title(title, fontsize=9)


def token_map_figure(ids: torch.Tensor, nb_code: int, newly: torch.Tensor | None = None, title: str = ""):
    """Both people's token maps, A above B. ids (2, R, C) long with MASK = nb_code, PAD = nb_code + 1.

    newly (2, R, C) bool marks positions decided at this step (black dots). Returns a matplotlib Figure.
    """
    from matplotlib.figure import Figure

    ids = torch.as_tensor(ids)
    if ids.dim() != 3 or ids.shape[0] != 2:
        raise ValueError(f"ids must have shape (2, R, C) (person A, person B), got {tuple(ids.shape)}")
    fig = Figure(figsize=(max(4.0, 0.28 * ids.shape[-1] + 2.0), 3.6), dpi=100)
    axes = fig.subplots(2, 1, sharex=True)
    for p, ax in enumerate(axes):
        n_masked = int((ids[p] == nb_code).sum())
        _draw_map(ax, ids[p].numpy(), nb_code, None if newly is None else newly[p].numpy(),
                  f"person {'AB'[p]}: {n_masked} masked")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def _step_views(trace, step: int, sample: int, nb_code: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(ids after the step, sampled ids of the step, positions decided at the step), each (2, R, C)."""
    after = trace.ids[step, sample]                                   # (2, R, C) MASK where undecided
    sampled = trace.sampled[step, sample]                              # (2, R, C) codes everywhere inside
    newly = trace.masked[step, sample] & (after != nb_code)           # (2, R, C) masked before, decided now
    return after, sampled, newly


def plot_decoding_steps(trace, nb_code: int, sample: int = 0, steps: list[int] | None = None):
    """A static contact sheet: both token maps after each of `steps` (default: up to 5, spread out).

    Rows are steps (1-based in the titles), columns are person A and B. Returns a matplotlib Figure.
    """
    from matplotlib.figure import Figure

    _check_trace(trace, sample)
    n_steps = trace.ids.shape[0]
    steps = sorted(set(np.linspace(0, n_steps - 1, min(5, n_steps)).round().astype(int))) if steps is None else steps
    if not steps or any(not 0 <= s < n_steps for s in steps):
        raise ValueError(f"steps must be a non-empty list of step indices in 0..{n_steps - 1}, got {steps}")
    n_cols = trace.ids.shape[-1]
    fig = Figure(figsize=(2 * max(3.0, 0.22 * n_cols + 1.6), 1.25 * len(steps) + 0.6), dpi=100)
    axes = fig.subplots(len(steps), 2, squeeze=False)
    for row, s in enumerate(steps):
        after, _, newly = _step_views(trace, s, sample, nb_code)
        for p in range(2):
            n_masked = int((after[p] == nb_code).sum())
            _draw_map(axes[row, p], after[p].numpy(), nb_code, newly[p].numpy(),
                      f"step {s + 1}/{n_steps}, person {'AB'[p]}: {n_masked} masked")
            if row < len(steps) - 1:
                axes[row, p].set_xlabel("")
    fig.tight_layout()
    return fig


def plot_masked_counts(trace, schedule: str = "cosine", sample: int = 0):
    """Positions still masked after each step (both people together) against the schedule's curve.

    The schedule curve is n_free * gamma(r) for progress r in [0, 1]; the decoder keeps floor() of it
    masked after step s (r = (s + 1) / S) and 0 after the last step. Returns a matplotlib Figure.
    """
    from matplotlib.figure import Figure

    from ..mask_transformer.tools import get_schedule

    _check_trace(trace, sample)
    n_steps = trace.ids.shape[0]
    n_free = int(trace.masked[0, sample].sum())
    counts = [n_free] + trace.n_masked[:, sample].tolist()
    r = torch.linspace(0, 1, 200, dtype=torch.float64)
    fig = Figure(figsize=(5.5, 3.4), dpi=100)
    ax = fig.subplots()
    ax.plot(r.numpy() * n_steps, (n_free * get_schedule(schedule)(r)).numpy(), color="#888888",
            label=f"{schedule} schedule x {n_free} free positions")
    ax.step(range(n_steps + 1), counts, where="post", color="#2f6fbd", alpha=0.4)
    ax.plot(range(n_steps + 1), counts, "o", color="#2f6fbd", label="still masked after the step")
    ax.set_xlabel("decoding step")
    ax.set_ylabel("masked positions (A and B)")
    ax.set_xticks(range(n_steps + 1))
    ax.set_ylim(-0.03 * n_free, 1.05 * n_free)
    ax.legend(fontsize=8)
    ax.set_title(f"{n_steps} steps: masked count follows the schedule", fontsize=10)
    fig.tight_layout()
    return fig


class DecodeReplay(widgets.VBox):
    """A slider over decoding steps: both token maps (masked positions grey) and the skeletons at that step.

    to_joints(ids (2, R, C) long) -> joints (2, T, 22, 3) decodes token maps (e.g. `Kit.detokenize`).
    Builds without a running kernel: `step`, `current_ids`, `current_joints`, and the PNG bytes in
    `token_image.value` / `skeleton_image.value` always hold the selection, so it can be driven from code.
    """

    def __init__(self, trace, to_joints, nb_code: int, fps: float = 20, sample: int = 0, frames: int = 4):
        _check_trace(trace, sample)
        if frames < 1:
            raise ValueError(f"frames must be >= 1 (filmstrip panels), got {frames}")
        self.trace, self.to_joints, self.nb_code = trace, to_joints, nb_code
        self.fps, self.sample, self.frames = fps, sample, frames
        self.n_steps = trace.ids.shape[0]
        self.length = clip_length(trace.ids[-1, sample], nb_code)
        self._cache: dict[int, tuple[bytes, bytes, np.ndarray]] = {}
        self.slider = widgets.IntSlider(value=1, min=1, max=self.n_steps, description="step",
                                        continuous_update=False)
        self.play = widgets.Play(value=1, min=1, max=self.n_steps, interval=1200, description="play")
        widgets.jslink((self.play, "value"), (self.slider, "value"))
        self.info = widgets.HTML()
        self.token_image = widgets.Image(format="png")
        self.skeleton_image = widgets.Image(format="png")
        self.slider.observe(lambda change: self.show_step(change["new"]), names="value")
        super().__init__([widgets.HBox([self.play, self.slider]), self.info, self.token_image, self.skeleton_image])
        self.show_step(1)

    def _render(self, step: int) -> tuple[bytes, bytes, np.ndarray]:
        s = step - 1
        after, sampled, newly = _step_views(self.trace, s, self.sample, self.nb_code)
        n_left = int(self.trace.n_masked[s, self.sample])
        maps = token_map_figure(after[..., : self.length], self.nb_code, newly[..., : self.length],
                                title=f"after step {step}/{self.n_steps}: {n_left} positions still masked "
                                      "(grey); dots = decided at this step")
        joints = np.asarray(self.to_joints(sampled[..., : self.length].clone()))  # (2, T, 22, 3)
        from .filmstrip import filmstrip_figure

        strip = filmstrip_figure(joints, self.fps, n=self.frames,
                                 title=f"step {step}: decoded from the step's sampled tokens")
        return _fig_png(maps), _fig_png(strip), joints

    def show_step(self, step: int) -> None:
        """Show decoding step `step` (1-based: 1 is the first step, n_steps the final result)."""
        if not 1 <= step <= self.n_steps:
            raise ValueError(f"step must lie in 1..{self.n_steps}, got {step}")
        if step not in self._cache:
            self._cache[step] = self._render(step)
        tokens_png, skeleton_png, joints = self._cache[step]
        self.step = step
        self.current_ids = self.trace.ids[step - 1, self.sample].clone()  # (2, R, C)
        self.current_joints = joints                                      # (2, T, 22, 3)
        self.token_image.value, self.skeleton_image.value = tokens_png, skeleton_png
        n_left = int(self.trace.n_masked[step - 1, self.sample])
        share = 100 * (1 - n_left / max(1, int(self.trace.masked[0, self.sample].sum())))
        self.info.value = f"<b>step {step} / {self.n_steps}</b> &middot; {share:.0f} % of the free tokens decided"
        if self.slider.value != step:
            self.slider.value = step


def replay(kit, trace, sample: int = 0, frames: int = 4) -> DecodeReplay:
    """The replay widget for a trace from `kit.generate(..., trace=True)`, decoding with the kit's tokenizer."""
    return DecodeReplay(trace, kit.detokenize, kit.nb_code, fps=kit.fps, sample=sample, frames=frames)

