"""Token surgery: change one token of a person's map, decode, and see which joints and frames moved.

    result = token_surgery(tokenizer, tokens, row=2, col=5, code=17)   # dict with before/after joints
    TokenSurgery(tokenizer, tokens, fps=20)                            # the same behind three sliders
"""
from __future__ import annotations

import html
import io

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch

from .. import skeleton as sk
from ..config import FRAMES_PER_TOKEN
from .token_plots import plot_displacement


def _as_map(tokens) -> torch.Tensor:
    """One person's token map as a (1, R, C) long tensor; accepts (R, C) or (1, R, C)."""
    ids = torch.as_tensor(tokens).long().cpu()
    if ids.ndim == 2:
        ids = ids[None]
    if ids.ndim != 3 or ids.shape[0] != 1:
        raise ValueError(f"token surgery edits one person's map: expected (rows, columns) or (1, rows, columns), "
                         f"got {tuple(ids.shape)}")
    return ids


@torch.no_grad()
def token_surgery(model, tokens, row: int, col: int, code: int) -> dict:
    """Replace token (row, col) by `code` and decode both maps.

    Returns {"tokens": edited (R, C), "old_code", "before": (T, 22, 3), "after": (T, 22, 3) metres,
    "displacement_mm": (T, 22) distance each joint moved at each frame}.
    """
    ids = _as_map(tokens)                                              # (1, R, C)
    _, n_rows, n_cols = ids.shape
    nb_code = model.cfg.nb_code
    if not (0 <= row < n_rows and 0 <= col < n_cols):
        raise ValueError(f"(row, col) = ({row}, {col}) lies outside the {n_rows} x {n_cols} token map")
    if not 0 <= code < nb_code:
        raise ValueError(f"code must lie in [0, {nb_code - 1}], got {code}")
    edited = ids.clone()
    edited[0, row, col] = code
    device = model.grid_mean.device
    joints = model.grid_to_joints(model.decode(torch.cat([ids, edited]).to(device))).cpu().numpy()  # (2, T, 22, 3)
    return {"tokens": edited[0], "old_code": int(ids[0, row, col]), "before": joints[0], "after": joints[1],
            "displacement_mm": np.linalg.norm(joints[1] - joints[0], axis=-1) * 1000.0}


def describe(result: dict, row: int, col: int, code: int, fps: float) -> str:
    """A one-paragraph HTML summary of a token_surgery result: the joint and moment that moved most."""
    disp = result["displacement_mm"]                                   # (T, 22)
    frame, joint = np.unravel_index(int(disp.argmax()), disp.shape)
    moved = np.flatnonzero(disp.max(axis=1) > 1.0)                     # frames where some joint moved > 1 mm
    span = f"{moved[0] / fps:.2f}-{(moved[-1] + 1) / fps:.2f} s" if moved.size else "none"
    top = np.argsort(disp.max(axis=0))[::-1][:3]
    return (f"row {row}, column {col} (frames {col * FRAMES_PER_TOKEN}-{(col + 1) * FRAMES_PER_TOKEN - 1}): "
            f"code {result['old_code']} &rarr; {code}. Largest change: <b>{html.escape(sk.JOINT_NAMES[joint])}</b> "
            f"{disp.max():.0f} mm at {frame / fps:.2f} s; frames moved by &gt; 1 mm: {span}; "
            f"most affected joints: {', '.join(sk.JOINT_NAMES[j] for j in top)}.")


def figure_png(fig) -> bytes:
    """A matplotlib Figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi)
    return buf.getvalue()


class TokenSurgery(widgets.VBox):
    """Sliders for row, column and new code; shows the per-joint displacement over time after decoding.

    The plot is a PNG in an Image widget, so the widget also works headless (papermill, exported notebooks).
    `result`, `figure`, `info` and `image` always hold the current edit; `set(row=..., col=..., code=...)`
    drives it from code.
    """

    def __init__(self, model, tokens, fps: float = 20.0, row: int = 0, col: int | None = None,
                 code: int | None = None):
        self.model, self.fps = model, fps
        self.tokens = _as_map(tokens)[0]                               # (R, C)
        n_rows, n_cols = self.tokens.shape
        nb_code = model.cfg.nb_code
        col = n_cols // 2 if col is None else col
        if code is None:
            code = (int(self.tokens[row, col]) + nb_code // 2) % nb_code  # some other code
        slider = dict(continuous_update=False, style={"description_width": "60px"})
        self.row_slider = widgets.IntSlider(value=row, min=0, max=n_rows - 1, description="row", **slider)
        self.col_slider = widgets.IntSlider(value=col, min=0, max=n_cols - 1, description="column", **slider)
        self.code_slider = widgets.IntSlider(value=code, min=0, max=nb_code - 1, description="new code", **slider)
        self.info = widgets.HTML()
        self.image = widgets.Image(format="png")
        self.result: dict | None = None
        self.figure = None
        self._holding = False  # True while set() moves several sliders: refresh once at the end
        for s in (self.row_slider, self.col_slider, self.code_slider):
            s.observe(lambda change: None if self._holding else self._refresh(), names="value")
        super().__init__([widgets.HBox([self.row_slider, self.col_slider, self.code_slider]), self.info, self.image])
        self._refresh()

    def set(self, row: int | None = None, col: int | None = None, code: int | None = None) -> dict:
        """Move the sliders (any of them) and return the new result."""
        self._holding = True
        try:
            for slider, value in ((self.row_slider, row), (self.col_slider, col), (self.code_slider, code)):
                if value is not None and not slider.min <= value <= slider.max:
                    raise ValueError(f"{slider.description} must lie in [{slider.min}, {slider.max}], got {value}")
                if value is not None:
                    slider.value = value
        finally:
            self._holding = False
        self._refresh()
        return self.result

    def _refresh(self) -> None:
        row, col, code = self.row_slider.value, self.col_slider.value, self.code_slider.value
        self.result = token_surgery(self.model, self.tokens, row, col, code)
        self.info.value = describe(self.result, row, col, code, self.fps)
        self.figure = plot_displacement(self.result["displacement_mm"], self.fps, col=col)
        plt.close(self.figure)  # shown through the Image widget, not by the inline backend
        self.image.value = figure_png(self.figure)
