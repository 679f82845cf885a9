"""Pictures of the masked transformer's world: token maps, the [A][SEP][B] sequence, masks, attention reach,
training curves and accuracy by mask ratio.

A token map pair has shape (2, 5, T'): person (A, B), body-part row, time column. Ids follow
mask_transformer.tools.TokenIds: codes 0..nb_code-1, then MASK, PAD, SEP.

    fig = plot_token_sequence(tokens, nb_code)                    # both maps and the flattened sequence
    fig = plot_token_maps({"clean": tokens, "masked": inputs}, nb_code, marks={"masked": replaced})
    fig = plot_attention_reach(n_cols=8, query=(0, 2, 3))         # what one query token may attend to
    fig = plot_training_curves(history)                           # loss and masked-token accuracy
    accs = accuracy_by_mask_ratio(model, tokens, captions, [0.1, 0.5, 0.9])
    tv = prompt_distance(model, "two people shake hands", "two people hug", n_cols=15)  # does the prompt count?
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..mask_transformer.tools import N_ROWS, TokenIds, get_schedule, random_mask_by_ratio
from ..utils import eval_mode

SPECIAL_COLORS = {"mask": (0.72, 0.72, 0.72), "pad": (1.0, 1.0, 1.0), "sep": (0.0, 0.0, 0.0)}
ATTENTION_KINDS = ("self", "spatial", "temporal", "cross")
ROW_LABELS = ["row 0", "row 1", "row 2", "row 3", "row 4"]


def _pair(tokens) -> np.ndarray:
    """A (2, 5, T') integer array from a tensor or array, with a clear error otherwise."""
    arr = np.asarray(tokens.detach().cpu() if isinstance(tokens, torch.Tensor) else tokens)
    if arr.ndim != 3 or arr.shape[:2] != (2, N_ROWS):
        raise ValueError(f"tokens must have shape (2, {N_ROWS}, T') (person, row, column), got {arr.shape}")
    return arr.astype(np.int64)


def token_rgb(ids, nb_code: int) -> np.ndarray:
    """Any integer array of ids -> (..., 3) colours: codes along 'turbo', MASK grey, PAD white, SEP black."""
    ids = np.asarray(ids, dtype=np.int64)
    special = TokenIds(nb_code)
    if ids.size and (ids.min() < 0 or ids.max() > special.sep):
        raise ValueError(f"ids must lie in 0..{special.sep} for nb_code={nb_code}, got [{ids.min()}, {ids.max()}]")
    palette = plt.get_cmap("turbo")(np.linspace(0.05, 0.95, nb_code))[:, :3]  # (nb_code, 3)
    table = np.concatenate([palette, [SPECIAL_COLORS["mask"], SPECIAL_COLORS["pad"], SPECIAL_COLORS["sep"]]])
    return table[ids]  # (..., 3)


def sequence_of(tokens, nb_code: int) -> np.ndarray:
    """(2, 5, T') -> (2 * 5 * T' + 1,): [A flattened row by row][SEP][B flattened row by row]."""
    pair = _pair(tokens)
    return np.concatenate([pair[0].reshape(-1), [TokenIds(nb_code).sep], pair[1].reshape(-1)])


def _draw_map(ax, ids: np.ndarray, nb_code: int, title: str = "", marks: np.ndarray | None = None) -> None:
    """One person's (5, T') ids as coloured cells; `marks` (5, T') bool gets a red outline."""
    ax.imshow(token_rgb(ids, nb_code), aspect="auto", interpolation="nearest")
    ax.set_yticks(range(N_ROWS), ROW_LABELS, fontsize=7)
    ax.set_xlabel("time column", fontsize=8)
    ax.tick_params(axis="x", labelsize=7)
    if marks is not None:
        for r, c in zip(*np.nonzero(marks)):
            ax.add_patch(plt.Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, ec="red", lw=1.5))
    if title:
        ax.set_title(title, fontsize=9)


def plot_token_sequence(tokens, nb_code: int, title: str = ""):
    """Both people's 5 x T' maps, and below them the one sequence the transformer reads: [A][SEP][B]."""
    pair = _pair(tokens)
    seq = sequence_of(pair, nb_code)  # (10 T' + 1,)
    n_cols = pair.shape[2]
    fig = plt.figure(figsize=(12, 4.2))
    grid = fig.add_gridspec(2, 2, height_ratios=[3, 1], hspace=0.6)
    for p, name in enumerate("AB"):
        _draw_map(fig.add_subplot(grid[0, p]), pair[p], nb_code, f"person {name}: 5 rows x {n_cols} columns")
    ax = fig.add_subplot(grid[1, :])
    ax.imshow(token_rgb(seq, nb_code)[None], aspect="auto", interpolation="nearest")
    n = N_ROWS * n_cols
    for k in range(1, 2 * N_ROWS):  # thin lines where one row ends and the next begins
        ax.axvline(k * n_cols - 0.5 + (k >= N_ROWS), color="white", lw=0.8)
    ax.set_yticks([])
    ax.set_xticks([n / 2, n, n + 1 + n / 2], ["A: row 0 | row 1 | ... | row 4", "SEP", "B: row 0 | ... | row 4"])
    ax.set_title(f"the sequence: {seq.size} tokens = 2 x 5 x {n_cols} + 1", fontsize=9)
    if title:
        fig.suptitle(title)
    return fig


def plot_token_maps(maps: dict, nb_code: int, marks: dict | None = None, title: str = ""):
    """One row of panels (person A, person B) per entry of `maps` {label: (2, 5, T')}.

    marks {label: (2, 5, T') bool}: cells to outline in red (e.g. the ones BERT corruption replaced).
    MASK is grey, PAD white.
    """
    if not maps:
        raise ValueError("plot_token_maps needs at least one token map")
    marks = marks or {}
    fig, axes = plt.subplots(len(maps), 2, figsize=(12, 1.7 * len(maps) + 0.6), squeeze=False)
    for (label, tokens), row in zip(maps.items(), axes):
        pair = _pair(tokens)
        mark = None if label not in marks else np.asarray(marks[label], dtype=bool)
        for p, name in enumerate("AB"):
            _draw_map(row[p], pair[p], nb_code, f"{label}: person {name}", None if mark is None else mark[p])
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_schedules(ax=None, names=("cosine", "linear", "sqrt"), r_mark: float | None = None):
    """Mask ratio against r in [0, 1] for each schedule; r_mark draws a dashed line at that r."""
    ax = plt.subplots(figsize=(4, 3))[1] if ax is None else ax
    r = torch.linspace(0, 1, 101)
    for name in names:
        ax.plot(r.numpy(), get_schedule(name)(r).numpy(), label=name)
    if r_mark is not None:
        ax.axvline(r_mark, color="k", ls="--", lw=1)
    ax.set_xlabel("r")
    ax.set_ylabel("mask ratio")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8)
    return ax


def plot_masking_state(tokens, inputs, nb_code: int, schedule: str, r: float | None, title: str = ""):
    """The schedule curve (marked at r) beside both people's model inputs after masking."""
    pair, masked = _pair(tokens), _pair(inputs)
    fig = plt.figure(figsize=(12, 2.6))
    grid = fig.add_gridspec(1, 3, width_ratios=[1, 2, 2], wspace=0.3)
    plot_schedules(fig.add_subplot(grid[0]), names=(schedule,), r_mark=r)
    replaced = (masked != pair) & (masked != TokenIds(nb_code).mask)  # random codes from BERT corruption
    for p, name in enumerate("AB"):
        _draw_map(fig.add_subplot(grid[p + 1]), masked[p], nb_code, f"input, person {name}", replaced[p])
    if title:
        fig.suptitle(title, fontsize=10)
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.22, top=0.8)
    return fig


def attention_reach(kind: str, query: tuple[int, int, int], n_cols: int) -> np.ndarray:
    """(2, 5, n_cols) bool: the tokens that query (person, row, column) may attend to with one attention kind.

    self: every token of both people (and SEP); spatial: the same column of the same person; temporal: the
    same row of the same person; cross: every token of the other person. Padding is ignored here.
    """
    if kind not in ATTENTION_KINDS:
        raise ValueError(f"unknown attention kind {kind!r}; expected one of {ATTENTION_KINDS}")
    person, row, col = query
    if person not in (0, 1) or not 0 <= row < N_ROWS or not 0 <= col < n_cols:
        raise ValueError(f"query must be (person 0|1, row 0..{N_ROWS - 1}, column 0..{n_cols - 1}), got {query}")
    seen = np.zeros((2, N_ROWS, n_cols), dtype=bool)
    if kind == "self":
        seen[:] = True
    elif kind == "spatial":
        seen[person, :, col] = True
    elif kind == "temporal":
        seen[person, row, :] = True
    else:
        seen[1 - person] = True
    return seen


def plot_attention_reach(n_cols: int, query: tuple[int, int, int], kinds=ATTENTION_KINDS):
    """One panel per attention kind: the tokens the query (star) sees, A left and B right of a gap."""
    fig, axes = plt.subplots(len(kinds), 1, figsize=(10, 1.5 * len(kinds) + 0.4), squeeze=False)
    for kind, ax in zip(kinds, axes[:, 0]):
        seen = attention_reach(kind, query, n_cols)  # (2, 5, T')
        picture = np.full((N_ROWS, 2 * n_cols + 1), np.nan)  # A | gap | B
        picture[:, :n_cols], picture[:, n_cols + 1:] = seen[0], seen[1]
        ax.imshow(picture, cmap="Blues", vmin=-0.3, vmax=1.2, aspect="auto", interpolation="nearest")
        x = query[2] + query[0] * (n_cols + 1)
        ax.plot(x, query[1], marker="*", color="orange", ms=14, mec="k")
        ax.set_xticks(np.arange(-0.5, 2 * n_cols + 1), minor=True)  # thin lines between tokens
        ax.set_yticks(np.arange(-0.5, N_ROWS), minor=True)
        ax.grid(which="minor", color="white", lw=0.6)
        ax.tick_params(which="minor", length=0)
        ax.set_yticks(range(N_ROWS), ROW_LABELS, fontsize=7)
        ax.set_xticks([(n_cols - 1) / 2, n_cols + 1 + (n_cols - 1) / 2], ["person A", "person B"])
        ax.set_title(f"{kind} attention: sees {int(seen.sum())} tokens"
                     + (" (and SEP)" if kind == "self" else ""), fontsize=9)
    fig.tight_layout()
    return fig


def _smooth(values, window: int) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    window = max(1, min(window, len(values)))
    return np.convolve(values, np.ones(window) / window, mode="valid")


def plot_training_curves(history: dict, title: str = "", smooth: int = 20):
    """Training loss and masked-token accuracy (moving average of `smooth` steps) with the validation points."""
    missing = {"step", "loss", "acc"} - set(history)
    if missing:
        raise ValueError(f"history lacks {sorted(missing)}; expected the dict returned by train.fit")
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 3.4))
    steps = np.asarray(history["step"])
    for ax, key, label in ((ax_loss, "loss", "cross-entropy"), (ax_acc, "acc", "masked-token accuracy")):
        if smooth > 1:
            ax.plot(steps, history[key], color="C0", alpha=0.25, lw=0.8, label="train (per step)")
        smooth_vals = _smooth(history[key], smooth)
        ax.plot(steps[len(steps) - len(smooth_vals):], smooth_vals, color="C0",
                label=f"train ({smooth}-step mean)" if smooth > 1 else "train")
        if f"val_{key}" in history:
            ax.plot(history["val_step"], history[f"val_{key}"], "o-", color="C3", label="validation")
        ax.set_xlabel("step")
        ax.set_ylabel(label)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def accuracy_by_mask_ratio(model, tokens: torch.Tensor, captions: list[str], ratios, batch_size: int = 64,
                           seed: int = 0) -> np.ndarray:
    """Masked-token accuracy at each fixed mask ratio: positions chosen jointly over both people, set to MASK.

    tokens (N, 2, 5, T') codes or PAD; captions (N,). Returns (len(ratios),) floats. Same seed, same masks.
    """
    if len(tokens) != len(captions):
        raise ValueError(f"{len(tokens)} token maps but {len(captions)} captions")
    ids = model.ids
    device = next(model.parameters()).device
    out = []
    with eval_mode(model):
        for ratio in ratios:
            generator = torch.Generator().manual_seed(seed)
            hits, total = 0, 0
            for start in range(0, len(tokens), batch_size):
                batch = tokens[start : start + batch_size].to(device)  # (b, 2, 5, T')
                valid = batch != ids.pad
                chosen = random_mask_by_ratio(valid, torch.full((len(batch),), float(ratio)), generator)
                inputs = torch.where(chosen, torch.full_like(batch, ids.mask), batch)
                pred = model(inputs, list(captions[start : start + batch_size])).argmax(-1)  # (b, 2, 5, T')
                hits += int((pred[chosen] == batch[chosen]).sum())
                total += int(chosen.sum())
            out.append(hits / max(total, 1))
    return np.asarray(out)


@torch.no_grad()
def prompt_distance(model, prompt_a: str, prompt_b: str, n_cols: int) -> float:
    """How much the prompt moves the model's first decoding step: the total-variation distance (0 = the prompt is
    ignored, 1 = disjoint) between the token distributions it predicts for an all-MASK pair of n_cols columns under
    the two prompts, averaged over the 2 x 5 x n_cols positions (no guidance)."""
    if n_cols < 1:
        raise ValueError(f"n_cols must be >= 1, got {n_cols}")
    device = next(model.parameters()).device
    masked = torch.full((2, 2, N_ROWS, n_cols), model.ids.mask, dtype=torch.long, device=device)  # (2, 2, 5, C)
    with eval_mode(model):
        probs = model(masked, [prompt_a, prompt_b]).float().softmax(-1)  # (2, 2, 5, C, K)
    return float(0.5 * (probs[0] - probs[1]).abs().sum(-1).mean())


def plot_accuracy_by_ratio(ratios, curves: dict, reference: float | None = None, ax=None):
    """Accuracy against mask ratio, one line per entry of curves {label: accuracies}; reference: a dashed level."""
    ax = plt.subplots(figsize=(5.5, 3.5))[1] if ax is None else ax
    for label, accs in curves.items():
        ax.plot(ratios, accs, "o-", label=label)
    if reference is not None:
        ax.axhline(reference, color="k", ls="--", lw=1, label="always the most frequent code")
    ax.set_xlabel("share of tokens masked")
    ax.set_ylabel("accuracy on masked tokens")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    return ax
