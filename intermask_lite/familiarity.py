"""Honesty about unfamiliar motion: a user's motion that the tokenizer reconstructs much worse than the
built-in test split is flagged, with the number and what it means.

The reference is the 95th percentile of the per-clip reconstruction error over the built-in test split
(mean joint distance through the tokens and back, in millimetres). For the shipped tokenizer it is
measured once by `record_reference` and kept in the checkpoint manifest; for any other tokenizer it is
measured on first use (on up to REFERENCE_CLIPS test clips).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from .config import FRAMES_PER_TOKEN
from .data.synthetic import load_split
from .eval.metrics import mpjpe
from .utils import file_sha256

FACTOR = 2.0           # a motion is unfamiliar above FACTOR x the test split's 95th percentile
REFERENCE_CLIPS = 64   # test clips measured when no recorded reference exists
REFERENCE_KEY = "test_error_p95_mm"  # the manifest field of the shipped tokenizer


class UnfamiliarMotionWarning(UserWarning):
    """A motion reconstructs much worse than the built-in test split: the models do not know it."""


class UnfamiliarPromptWarning(UserWarning):
    """A prompt is far from every caption the models were trained on."""


class CroppedInputWarning(UserWarning):
    """A motion longer than the models' longest was cut (crop=True): the warning says what was kept."""


def motion_error_mm(reconstruction, truth) -> float:
    """Mean joint distance in millimetres between two (..., T, 22, 3) arrays of the same shape (the kit's MPJPE)."""
    return mpjpe(reconstruction, truth)


@torch.no_grad()
def clip_errors_mm(tokenizer, clips, max_frames: int) -> np.ndarray:
    """Per clip, the reconstruction error through the tokens and back (mm): clips are in the canonical frame."""
    out = []
    for clip in clips:
        n = min(clip.joints.shape[1], max_frames) // FRAMES_PER_TOKEN * FRAMES_PER_TOKEN
        joints = np.asarray(clip.joints[:, :n], dtype=np.float32)  # (2, T, 22, 3)
        grid = tokenizer.joints_to_grid(torch.as_tensor(joints))  # (2, 12, 22, T)
        device = next(tokenizer.parameters()).device
        recon = tokenizer.grid_to_joints(tokenizer.reconstruct(grid.to(device))).cpu().numpy()  # (2, T, 22, 3)
        out.append(motion_error_mm(recon, joints))
    return np.array(out)


def measure_reference(tokenizer, preset, limit: int | None = None) -> float:
    """The 95th percentile (mm) of the per-clip reconstruction error over the built-in test split of `preset`."""
    clips = load_split("test", preset.data.n_clips, preset.data.seed)
    clips = clips[:limit] if limit else clips
    if not clips:
        raise ValueError(f"preset {preset.name!r} has no built-in test clips to measure a reference on")
    return float(np.percentile(clip_errors_mm(tokenizer, clips, preset.data.max_frames), 95))


def recorded_reference(checkpoint: Path | None) -> float | None:
    """The reference kept in the manifest next to a shipped tokenizer checkpoint, if it matches the file."""
    if checkpoint is None:
        return None
    manifest = Path(checkpoint).parent / "manifest.json"
    if not manifest.exists():
        return None
    entry = json.loads(manifest.read_text()).get(Path(checkpoint).name, {})
    if REFERENCE_KEY not in entry or entry.get("sha256") != file_sha256(Path(checkpoint)):
        return None
    return float(entry[REFERENCE_KEY])


def record_reference(checkpoint: Path, tokenizer, preset) -> float:
    """Measure the reference on the whole test split and keep it in the manifest entry of `checkpoint`."""
    value = measure_reference(tokenizer, preset)
    manifest = Path(checkpoint).parent / "manifest.json"
    data = json.loads(manifest.read_text())
    data[Path(checkpoint).name][REFERENCE_KEY] = round(value, 1)
    tmp = manifest.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(manifest)
    return value


def motion_note(error_mm: float, reference_mm: float, n_classes: int = 14) -> str | None:
    """None for a familiar motion; else one sentence with the number and what it means."""
    if error_mm <= FACTOR * reference_mm:
        return None
    return (f"this motion reconstructs with a mean joint error of {error_mm:.0f} mm through the tokenizer, more "
            f"than {FACTOR:g} times the 95th percentile of the built-in test split ({reference_mm:.0f} mm): the "
            f"models know {n_classes} synthetic two-person interactions, and this motion is unlike them, so "
            "reconstructions, reactions and inpainting of it are unreliable.")
