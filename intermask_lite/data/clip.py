"""`Clip`: one two-person interaction, whatever the source (built-in, InterHuman, Inter-X)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .augment import MIRROR_CONTACTS, mirror, mirror_caption


@dataclass
class Clip:
    """A two-person clip in the kit's conventions (metres, Y up, A starts at the origin facing +Z).

    joints:   (2, T, 22, 3) float32 global positions of person A (index 0) and B (index 1)
    fps:      frames per second (20 for the built-in data, 30 for InterHuman / Inter-X)
    captions: one or more descriptions
    label:    interaction class ("" when the source has none)
    contacts: (2, T, 4) bool foot contacts (l_ankle, l_foot, r_ankle, r_foot) or None (computed later)
    rotations:(2, T, 21, 6) local 6D rotations of joints 1..21 or None (derived from joints when needed)
    params:   the generator parameters (built-in data) or source metadata
    """

    joints: np.ndarray
    fps: float
    captions: list[str]
    label: str = ""
    clip_id: str = ""
    contacts: np.ndarray | None = None
    rotations: np.ndarray | None = None
    params: dict = field(default_factory=dict)

    def __post_init__(self):
        j = np.asarray(self.joints)
        if j.ndim != 4 or j.shape[0] != 2 or j.shape[2:] != (22, 3):
            raise ValueError(f"Clip {self.clip_id!r}: joints must have shape (2, T, 22, 3), got {j.shape}")
        if not np.isfinite(j).all():
            raise ValueError(f"Clip {self.clip_id!r}: joints contain NaN or inf")
        if not self.captions or any(not str(c).strip() for c in self.captions):
            raise ValueError(f"Clip {self.clip_id!r}: needs at least one non-empty caption, got {self.captions!r}")
        if self.fps <= 0:
            raise ValueError(f"Clip {self.clip_id!r}: fps must be positive, got {self.fps}")
        self.joints = j.astype(np.float32)

    @property
    def n_frames(self) -> int:
        return int(self.joints.shape[1])

    @property
    def seconds(self) -> float:
        return self.n_frames / self.fps


def mirror_clip(clip: Clip) -> Clip:
    """The clip's mirror image (x -> -x, left and right swapped), its captions and foot contacts mirrored too
    ("the left hand" becomes "the right hand"); rotations are left to be derived again."""
    contacts = None if clip.contacts is None else np.asarray(clip.contacts)[..., MIRROR_CONTACTS]
    return Clip(joints=mirror(np.asarray(clip.joints)), fps=clip.fps,
                captions=[mirror_caption(c) for c in clip.captions], label=clip.label,
                clip_id=f"{clip.clip_id}~mirrored", contacts=contacts, params=dict(clip.params, mirrored=True))


def resample_joints(x: np.ndarray, fps_in: float, fps_out: float, axis: int = 0) -> np.ndarray:
    """Linear interpolation of `x` along its time `axis` from fps_in to fps_out.

    The output has round((T - 1) * fps_out / fps_in) + 1 frames, spanning the same first-to-last time.
    """
    x = np.moveaxis(np.asarray(x, dtype=np.float64), axis, 0)  # (T, ...)
    n_in = x.shape[0]
    n_out = int(round((n_in - 1) * fps_out / fps_in)) + 1
    src = np.clip(np.arange(n_out) * fps_in / fps_out, 0, n_in - 1)  # fractional source frame of each output
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, n_in - 1)
    w = (src - lo).reshape(-1, *([1] * (x.ndim - 1)))
    out = (1 - w) * x[lo] + w * x[hi]  # (T', ...)
    return np.moveaxis(out, 0, axis).astype(np.float32)


def training_clip_lists(train_clips, val_clips, who: str) -> tuple[list, list]:
    """A trainer's (train_clips, val_clips) arguments as lists; val_clips may be None or empty (no validation).

    Raises a ValueError naming the trainer when there is nothing to train on."""
    if train_clips is None or not len(train_clips):
        raise ValueError(f"{who} needs training clips (list[Clip]); data.sources.training_clips(preset) gives "
                         "the built-in (train, val) pair")
    return list(train_clips), list(val_clips or [])
