"""`Clip`: one two-person interaction, whatever the source (built-in, InterHuman, Inter-X)."""
from __future__ import annotations

import numpy as np

from ..motion import Motion
from .augment import MIRROR_CONTACTS, mirror, mirror_caption


class Clip:
    """A two-person clip of a dataset: a `Motion` (joints, fps, label) and the record around it.

    In the kit's conventions (metres, Y up, A starts at the origin facing +Z):
    motion:   the Motion of both people, captioned with the first caption; `joints`, `fps` and `label` read it
    joints:   (2, T, 22, 3) float32 global positions of person A (index 0) and B (index 1)
    fps:      frames per second (20 for the built-in data, 30 for InterHuman / Inter-X)
    captions: one or more descriptions
    label:    interaction class ("" when the source has none)
    contacts: (2, T, 4) bool foot contacts (l_ankle, l_foot, r_ankle, r_foot) or None (computed later)
    rotations:(2, T, 21, 6) local 6D rotations of joints 1..21 or None (derived from joints when needed)
    params:   the generator parameters (built-in data) or source metadata
    """

    def __init__(self, joints, fps: float, captions: list[str], label: str = "", clip_id: str = "",
                 contacts: np.ndarray | None = None, rotations: np.ndarray | None = None, params: dict | None = None):
        j = np.asarray(joints)
        if j.ndim != 4 or j.shape[0] != 2 or j.shape[2:] != (22, 3):
            raise ValueError(f"Clip {clip_id!r}: joints must have shape (2, T, 22, 3), got {j.shape}")
        if not np.isfinite(j).all():
            raise ValueError(f"Clip {clip_id!r}: joints contain NaN or inf")
        if not captions or any(not str(c).strip() for c in captions):
            raise ValueError(f"Clip {clip_id!r}: needs at least one non-empty caption, got {captions!r}")
        if not fps > 0:
            raise ValueError(f"Clip {clip_id!r}: fps must be positive, got {fps}")
        self.motion = Motion(j, fps=fps, text=str(captions[0]), label=label)  # checks and holds the joints
        self.captions, self.clip_id = list(captions), clip_id
        self.contacts, self.rotations, self.params = contacts, rotations, dict(params or {})

    joints = property(lambda self: self.motion.joints, doc="(2, T, 22, 3) float32: the motion's joints")
    fps = property(lambda self: self.motion.fps, doc="frames per second of the motion")
    label = property(lambda self: self.motion.label, doc="the interaction class, or \"\"")
    n_frames = property(lambda self: self.motion.n_frames)
    seconds = property(lambda self: self.motion.seconds)

    def replace(self, **changes) -> "Clip":
        """A copy with some fields changed (joints, fps, captions, label, clip_id, contacts, rotations, params)."""
        fields = dict(joints=self.joints, fps=self.fps, captions=self.captions, label=self.label, clip_id=self.clip_id,
                      contacts=self.contacts, rotations=self.rotations, params=self.params)
        unknown = sorted(set(changes) - set(fields))
        if unknown:
            raise TypeError(f"Clip has no field(s) {unknown}; expected some of {sorted(fields)}")
        return Clip(**{**fields, **changes})

    def __repr__(self) -> str:
        return (f"Clip({self.clip_id!r}, label={self.label!r}, frames={self.n_frames}, fps={self.fps:g}, "
                f"captions={len(self.captions)})")


def mirror_clip(clip: Clip) -> Clip:
    """The clip's mirror image (x -> -x, left and right swapped), its captions and foot contacts mirrored too
    ("the left hand" becomes "the right hand"); rotations are left to be derived again."""
    contacts = None if clip.contacts is None else np.asarray(clip.contacts)[..., MIRROR_CONTACTS]
    return Clip(joints=mirror(np.asarray(clip.joints)), fps=clip.fps,
                captions=[mirror_caption(c) for c in clip.captions], label=clip.label,
                clip_id=f"{clip.clip_id}~mirrored", contacts=contacts, params=dict(clip.params, mirrored=True))


def training_clip_lists(train_clips, val_clips, who: str) -> tuple[list, list]:
    """A trainer's (train_clips, val_clips) arguments as lists; val_clips may be None or empty (no validation).

    Raises a ValueError naming the trainer when there is nothing to train on."""
    if train_clips is None or not len(train_clips):
        raise ValueError(f"{who} needs training clips (list[Clip]); data.sources.training_clips(preset) gives "
                         "the built-in (train, val) pair")
    return list(train_clips), list(val_clips or [])
