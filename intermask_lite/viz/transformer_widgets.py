"""The masking-schedule explorer: pick a schedule and r, see which tokens of both people get masked.

    explorer = ScheduleExplorer(tokens, nb_code)   # tokens (2, 5, T') of one clip
    display(explorer.widget)                       # in a notebook; explorer.update() redraws by hand

Modes: "random" (the schedule's ratio, positions chosen jointly over both people), "mask A" / "mask B"
(interaction masking: one whole person). With `bert` on, the chosen positions get BERT corruption (most
become MASK, some a random code, outlined in red, some keep their code). The mask draw uses a fixed seed,
so moving r only grows or shrinks the same set of positions.
"""
from __future__ import annotations

import io

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch

from ..mask_transformer.tools import SCHEDULES, TokenIds, bert_corrupt, get_schedule, random_mask_by_ratio
from .transformer_plots import _pair, plot_masking_state

MODES = ("random", "mask A", "mask B")


def masked_inputs(tokens: torch.Tensor, nb_code: int, schedule: str, r: float, mode: str = "random",
                  bert: bool = False, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(chosen (2, 5, T') bool, model inputs (2, 5, T') long) for one clip's token maps (2, 5, T')."""
    if mode not in MODES:
        raise ValueError(f"unknown masking mode {mode!r}; expected one of {MODES}")
    if not 0.0 <= r <= 1.0:
        raise ValueError(f"r must lie in [0, 1], got {r}")
    ids = TokenIds(nb_code)
    tokens = torch.as_tensor(_pair(tokens))[None]  # (1, 2, 5, T')
    valid = tokens != ids.pad  # (1, 2, 5, T')
    generator = torch.Generator().manual_seed(seed)
    if mode == "random":
        ratio = get_schedule(schedule)(torch.tensor([float(r)]))  # (1,)
        chosen = random_mask_by_ratio(valid, ratio, generator)
    else:
        chosen = valid.clone()
        chosen[:, 1 if mode == "mask A" else 0] = False  # keep the other person
    if bert:
        inputs = bert_corrupt(tokens, chosen, ids, generator)
    else:
        inputs = torch.where(chosen, torch.full_like(tokens, ids.mask), tokens)
    return chosen[0], inputs[0]


class ScheduleExplorer:
    """ipywidgets controls (schedule, r, mode, BERT) above a picture of the masked inputs of one clip."""

    def __init__(self, tokens, nb_code: int, schedule: str = "cosine", r: float = 0.5, mode: str = "random",
                 bert: bool = False, seed: int = 0):
        self.tokens = torch.as_tensor(_pair(tokens))  # (2, 5, T')
        self.nb_code, self.seed = nb_code, seed
        self.schedule = widgets.Dropdown(options=sorted(SCHEDULES), value=schedule, description="schedule")
        self.r = widgets.FloatSlider(value=r, min=0.0, max=1.0, step=0.05, description="r")
        self.mode = widgets.ToggleButtons(options=MODES, value=mode, description="mode")
        self.bert = widgets.Checkbox(value=bert, description="BERT corruption")
        self.info = widgets.HTML()
        self.image = widgets.Image(format="png")
        for control in (self.schedule, self.r, self.mode, self.bert):
            control.observe(lambda _change: self.update(), names="value")
        controls = widgets.HBox([self.schedule, self.r, self.bert])
        self.widget = widgets.VBox([controls, self.mode, self.info, self.image])
        self.chosen = self.inputs = None
        self.update()

    def update(self) -> None:
        """Recompute the masks from the controls and redraw the picture and the counts."""
        self.chosen, self.inputs = masked_inputs(self.tokens, self.nb_code, self.schedule.value, self.r.value,
                                                 self.mode.value, self.bert.value, self.seed)
        n_valid = int((self.tokens != TokenIds(self.nb_code).pad).sum())
        n_chosen = int(self.chosen.sum())
        n_mask = int((self.inputs == TokenIds(self.nb_code).mask).sum())
        ratio = float(get_schedule(self.schedule.value)(torch.tensor(self.r.value)))
        note = f"schedule ratio {ratio:.2f}" if self.mode.value == "random" else "one whole person (r ignored)"
        self.info.value = (f"{note}: {n_chosen} of {n_valid} tokens chosen, {n_mask} shown as MASK, "
                           f"{n_chosen - n_mask} corrupted otherwise or kept")
        r_mark = self.r.value if self.mode.value == "random" else None
        fig = plot_masking_state(self.tokens, self.inputs, self.nb_code, self.schedule.value, r_mark)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=80)
        plt.close(fig)
        self.image.value = buffer.getvalue()
