"""Pictures of the motion tokenizer: token maps, codebook usage, per-joint errors, the receptive field of
each token row, training curves and the effect of editing one token.

    fig = plot_token_maps(tokens, nb_code, fps=20)          # (P, R, C) token ids, one heat map per person
    fig = plot_codebook_usage(tokens, nb_code)              # how often each code is used; dead codes
    fig = plot_joint_errors({"2D": err2d, "1D": err1d})     # (22,) errors in mm per joint, grouped bars
    fig = plot_class_errors(class_errors_mm(model, clips))  # error per interaction class and person
    fig = plot_receptive_field(row_receptive_field(model, grid))  # which joints feed which token row
    fig = plot_training_curves(history)                     # loss, val MPJPE, perplexity, usage, dead codes
    fig = plot_displacement(disp_mm, fps, col=3)            # (T, 22) joint displacement after a token edit
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from .. import skeleton as sk
from ..config import FRAMES_PER_TOKEN
from ..vq.pipeline import clip_grids


def _numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def _check_tokens(tokens, nb_code: int) -> np.ndarray:
    """Token ids as an int array (P, R, C); a single map (R, C) becomes (1, R, C)."""
    ids = _numpy(tokens).astype(np.int64)
    if ids.ndim == 2:
        ids = ids[None]
    if ids.ndim != 3 or ids.size == 0:
        raise ValueError(f"tokens must have shape (P, rows, columns) or (rows, columns), got {ids.shape}")
    if ids.min() < 0 or ids.max() >= nb_code:
        raise ValueError(f"token ids must lie in [0, {nb_code - 1}], got range [{ids.min()}, {ids.max()}]")
    return ids


# ------------------------------------------------------------------ token maps and codebook usage

def plot_token_maps(tokens, nb_code: int, fps: float = 20.0, titles=("person A", "person B"), annotate=None):
    """One heat map (rows x columns) of token ids per person; ids are written in the cells when few columns.

    tokens: (P, R, C) or (R, C). The top axis gives the time of each column in seconds.
    """
    ids = _check_tokens(tokens, nb_code)
    n_people, n_rows, n_cols = ids.shape
    annotate = n_cols <= 24 if annotate is None else annotate
    fig, axes = plt.subplots(n_people, 1, figsize=(min(2 + 0.45 * n_cols, 16), (1.3 + 0.45 * n_rows) * n_people),
                             squeeze=False)
    for p, ax in enumerate(axes[:, 0]):
        im = ax.imshow(ids[p], aspect="auto", cmap="turbo", vmin=0, vmax=nb_code - 1, interpolation="nearest")
        if annotate:
            for r in range(n_rows):
                for c in range(n_cols):
                    ax.text(c, r, str(ids[p, r, c]), ha="center", va="center", fontsize=7, color="white")
        ax.set_yticks(range(n_rows), [f"row {r}" for r in range(n_rows)])
        ax.set_xlabel("token column")
        ax.set_title(titles[p] if p < len(titles) else f"person {p}", fontsize=10)
        top = ax.secondary_xaxis("top", functions=(lambda c: c * FRAMES_PER_TOKEN / fps,
                                                   lambda s: s * fps / FRAMES_PER_TOKEN))
        top.set_xlabel("time (s)", fontsize=8)
        fig.colorbar(im, ax=ax, fraction=0.03, pad=0.01, label="code id")
    fig.tight_layout()
    return fig


def code_counts(tokens, nb_code: int) -> np.ndarray:
    """How many times each code id appears in `tokens` (any shape): (nb_code,) int."""
    ids = _numpy(tokens).astype(np.int64).ravel()
    if ids.size and (ids.min() < 0 or ids.max() >= nb_code):
        raise ValueError(f"token ids must lie in [0, {nb_code - 1}], got range [{ids.min()}, {ids.max()}]")
    return np.bincount(ids, minlength=nb_code)


def plot_codebook_usage(tokens, nb_code: int, title: str = ""):
    """Left: count of each code id (dead codes marked red below the axis). Right: counts sorted, log scale."""
    counts = code_counts(tokens, nb_code)
    p = counts / max(counts.sum(), 1)
    perplexity = float(np.exp(-(p * np.log(p + 1e-10)).sum()))
    dead = np.flatnonzero(counts == 0)
    fig, (ax_id, ax_rank) = plt.subplots(1, 2, figsize=(12, 3.4), gridspec_kw=dict(width_ratios=[2, 1]))
    ax_id.bar(np.arange(nb_code), counts, width=1.0, color="#2f6fbd")
    ax_id.plot(dead, np.zeros(len(dead)), "|", color="red", ms=10, label=f"dead ({len(dead)})")
    ax_id.set_xlabel("code id")
    ax_id.set_ylabel("tokens")
    ax_id.set_xlim(-0.5, nb_code - 0.5)
    ax_id.legend(loc="upper right", fontsize=8)
    ax_id.set_title(f"used {nb_code - len(dead)}/{nb_code} codes, perplexity {perplexity:.1f}", fontsize=10)
    ax_rank.semilogy(np.arange(1, nb_code + 1), np.sort(counts)[::-1] + 0.5, color="#2f6fbd")
    ax_rank.set_xlabel("code rank")
    ax_rank.set_ylabel("tokens (+0.5)")
    ax_rank.set_title("sorted (flat = evenly used)", fontsize=10)
    fig.suptitle(title or "codebook usage", fontsize=11)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------ errors per joint

@torch.no_grad()
def joint_errors_mm(model, grids, align_root: bool = False) -> np.ndarray:
    """Mean position error of each joint through the tokens and back, in mm: (22,).

    grids: normalised grids (B, 12, 22, T), or a list of Clips (both people, weighted by their frames).
    align_root: each pose's root (pelvis) moved onto the truth's first, so the pose alone counts.
    """
    if isinstance(grids, (list, tuple)):
        if not grids:
            raise ValueError("joint_errors_mm needs at least one clip")
        per_clip = [clip_grids(model, c) for c in grids]                               # each (2, 12, 22, T_i)
        return np.average([joint_errors_mm(model, g, align_root) for g in per_clip], axis=0,
                          weights=[g.shape[-1] for g in per_clip])
    err = model.joint_errors(grids.to(model.grid_mean.device), align_root)             # (B, T, 22) metres
    return err.mean(dim=(0, 1)).cpu().numpy() * 1000.0


def plot_joint_errors(errors, title: str = ""):
    """Grouped bars of per-joint errors in mm: `errors` is a (22,) array or {name: (22,) array}."""
    groups = errors if isinstance(errors, dict) else {"error": errors}
    groups = {k: _numpy(v).astype(float) for k, v in groups.items()}
    for name, v in groups.items():
        if v.shape != (sk.N_JOINTS,):
            raise ValueError(f"errors[{name!r}] must have shape (22,), got {v.shape}")
    fig, ax = plt.subplots(figsize=(12, 3.6))
    width = 0.8 / len(groups)
    x = np.arange(sk.N_JOINTS)
    for i, (name, v) in enumerate(groups.items()):
        ax.bar(x + (i - (len(groups) - 1) / 2) * width, v, width, label=f"{name} (mean {v.mean():.1f} mm)")
    ax.set_xticks(x, sk.JOINT_NAMES, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("mean error (mm)")
    ax.legend(fontsize=8)
    ax.set_title(title or "reconstruction error per joint", fontsize=11)
    fig.tight_layout()
    return fig


def class_errors_mm(model, clips) -> dict[str, np.ndarray]:
    """Mean position error through the tokens and back per clip label, in mm: {label: (2,) for A, B}.

    Frame-weighted over the clips of each label; labels in order of first appearance.
    """
    if not clips:
        raise ValueError("class_errors_mm needs at least one clip")
    sums, frames = {}, {}
    for clip in clips:
        err = model.joint_errors(clip_grids(model, clip).to(model.grid_mean.device))   # (2, T, 22) metres
        label = clip.label or "(no label)"
        sums[label] = sums.get(label, 0.0) + err.sum(dim=(1, 2)).cpu().numpy()         # (2,)
        frames[label] = frames.get(label, 0) + err.shape[1] * err.shape[2]
    return {label: sums[label] / frames[label] * 1000.0 for label in sums}


def plot_class_errors(errors: dict, title: str = ""):
    """Bars of {label: (2,) errors in mm for persons A and B}, classes sorted by their mean error."""
    for label, v in errors.items():
        if np.shape(v) != (2,):
            raise ValueError(f"errors[{label!r}] must hold two values (person A, person B), got shape {np.shape(v)}")
    if not errors:
        raise ValueError("plot_class_errors needs at least one class")
    labels = sorted(errors, key=lambda k: float(np.mean(errors[k])))
    values = np.array([errors[k] for k in labels], dtype=float)                        # (n_labels, 2)
    fig, ax = plt.subplots(figsize=(10, 3.6))
    x = np.arange(len(labels))
    for person, name in enumerate(("person A", "person B")):
        ax.bar(x + (person - 0.5) * 0.4, values[:, person], 0.4, label=name)
    ax.set_xticks(x, labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("mean error (mm)")
    ax.legend(fontsize=8)
    ax.set_title(title or "reconstruction error per interaction class", fontsize=11)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------ receptive field of the token rows

@torch.no_grad()
def row_receptive_field(model, grid: torch.Tensor, eps: float = 1e-2) -> np.ndarray:
    """How much each token row's encoder latent moves when one joint's input channels move: (22, rows).

    Finite differences on one grid (1, 12, 22, T) or (12, 22, T): joint j's 12 channels are raised by
    `eps` at every frame, and entry (j, r) is the mean absolute change of row r's latent divided by eps.
    """
    grid = grid[None] if grid.ndim == 3 else grid
    if grid.shape[0] != 1:
        raise ValueError(f"row_receptive_field takes one grid (1, 12, 22, T), got {tuple(grid.shape)}")
    model.check_grid(grid)
    grid = grid.to(model.grid_mean.device)
    bumps = torch.zeros(sk.N_JOINTS + 1, 1, sk.N_JOINTS, 1, device=grid.device)        # (23, 1, 22, 1)
    bumps[1:, 0] = torch.eye(sk.N_JOINTS, device=grid.device)[:, :, None] * eps
    batch = grid + bumps                                                                # (23, 12, 22, T)
    if model.cfg.kind == "2d":
        latent = model.encoder(batch)                                                   # (23, D, 5, T/4)
    else:
        latent = model.encoder(batch.flatten(1, 2))[:, :, None]                         # (23, D, 1, T/4)
    change = (latent[1:] - latent[:1]).abs().mean(dim=(1, 3)) / eps                     # (22, rows)
    return change.cpu().numpy()


def plot_receptive_field(influence, normalize: bool = True, title: str = ""):
    """The (22, rows) influence of each joint on each token row as an image with joint names.

    normalize: divide each row's column by its maximum, so each token row shows its own strongest joints.
    """
    infl = _numpy(influence).astype(float)
    if infl.ndim != 2 or infl.shape[0] != sk.N_JOINTS:
        raise ValueError(f"influence must have shape (22, rows), got {infl.shape}")
    shown = infl / np.maximum(infl.max(axis=0, keepdims=True), 1e-12) if normalize else infl
    fig, ax = plt.subplots(figsize=(2.2 + 0.8 * infl.shape[1], 6.5))
    im = ax.imshow(shown, aspect="auto", cmap="magma", interpolation="nearest")
    ax.set_yticks(range(sk.N_JOINTS), [f"{j:2d} {n}" for j, n in enumerate(sk.JOINT_NAMES)], fontsize=8)
    ax.set_xticks(range(infl.shape[1]), [f"row {r}" for r in range(infl.shape[1])])
    ax.xaxis.tick_top()
    fig.colorbar(im, ax=ax, fraction=0.08, label="share of the row's maximum" if normalize else "|dz| / eps")
    ax.set_title(title or "which joints feed which token row", fontsize=10, pad=24)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------ training curves

def _smooth(values: np.ndarray, weight: float) -> np.ndarray:
    """Exponential moving average (weight = memory of the previous value)."""
    out, running = np.empty_like(values), values[0]
    for i, v in enumerate(values):
        running = weight * running + (1 - weight) * v
        out[i] = running
    return out


def plot_training_curves(history: dict, smooth: float = 0.9, title: str = ""):
    """Panels from a train.fit history: loss (train and validation), validation MPJPE, perplexity,
    codebook usage and dead codes reset per step; panels whose keys are missing are left out."""
    if not history.get("loss"):
        raise ValueError("history has no 'loss' values; pass the dict returned by train.fit")
    steps = np.asarray(history.get("step", range(len(history["loss"]))), dtype=float)
    panels = [("loss", "loss"), ("val_mpjpe_mm", "validation MPJPE (mm)"), ("perplexity", "perplexity (batch)"),
              ("usage", "codebook usage (batch)"), ("dead_codes", "dead codes reset per step")]
    panels = [(k, name) for k, name in panels if history.get(k)]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.3 * len(panels), 3.0), squeeze=False)
    val_steps = np.asarray(history.get("val_step", []), dtype=float)
    for ax, (key, name) in zip(axes[0], panels):
        values = np.asarray(history[key], dtype=float)
        if key.startswith("val_"):
            ax.plot(val_steps, values, "o-", color="#c0392b")
        else:
            ax.plot(steps, values, color="#2f6fbd", alpha=0.3, lw=0.8)
            ax.plot(steps, _smooth(values, smooth), color="#2f6fbd", label="train")
        if key == "loss" and history.get("val_loss"):
            ax.plot(val_steps, history["val_loss"], "o-", color="#c0392b", label="validation")
            ax.legend(fontsize=8)
        if key == "loss":
            ax.set_yscale("log")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("step")
    fig.suptitle(title or "tokenizer training", fontsize=11)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------ token surgery

def plot_displacement(displacement_mm, fps: float = 20.0, col: int | None = None, title: str = ""):
    """How far each joint moved at each frame after a token edit: (T, 22) mm as a heat map (joints x time),
    the edited column's frames marked, and each joint's largest displacement as bars on the right."""
    disp = _numpy(displacement_mm).astype(float)
    if disp.ndim != 2 or disp.shape[1] != sk.N_JOINTS:
        raise ValueError(f"displacement must have shape (T, 22), got {disp.shape}")
    n_frames = disp.shape[0]
    fig, (ax, ax_bar) = plt.subplots(1, 2, figsize=(12, 5), sharey=True, gridspec_kw=dict(width_ratios=[4, 1]))
    im = ax.imshow(disp.T, aspect="auto", cmap="viridis", interpolation="nearest",
                   extent=(0, n_frames / fps, sk.N_JOINTS - 0.5, -0.5))
    if col is not None:
        start, stop = col * FRAMES_PER_TOKEN / fps, (col + 1) * FRAMES_PER_TOKEN / fps
        ax.axvspan(start, stop, fill=False, edgecolor="white", lw=1.5, ls="--", label="edited column")
        ax.legend(loc="lower right", fontsize=8)
    ax.set_yticks(range(sk.N_JOINTS), sk.JOINT_NAMES, fontsize=8)
    ax.set_xlabel("time (s)")
    fig.colorbar(im, ax=ax, fraction=0.04, pad=0.01, label="displacement (mm)")
    ax_bar.barh(range(sk.N_JOINTS), disp.max(axis=0), color="#e8842a")
    ax_bar.set_xlabel("largest (mm)")
    ax.set_title(title or "joint displacement after the edit", fontsize=10)
    fig.tight_layout()
    return fig
