"""Where the training clips of a preset come from, in one place: `training_clips(preset)`.

    train_clips, val_clips = training_clips(preset)            # preset.data.source picks the data
    preset = with_overrides(get_preset("paper"), ["data.source=interhuman:/data/InterHuman"])

preset.data.source is "synthetic" (the built-in generator: preset.data.n_clips clips from preset.data.seed),
"interhuman:<folder>" or "interx:<folder>" (a copy you already have; nothing is downloaded). Clips whose frame
rate differs from preset.data.fps are resampled to it (linear interpolation of the joints, nearest frame for the
foot contacts): the built-in data is made at 20 fps and the real datasets at 30, so the paper preset (30 fps)
trains on either.
"""
from __future__ import annotations

# Imported inside functions: each source's loader (built-in, InterHuman, Inter-X) when that source is asked for,
# and config/distributed helpers that would otherwise load torch with this module.

from pathlib import Path

import numpy as np

from ..skeleton import resample_joints
from .clip import Clip

SOURCES = ("synthetic", "interhuman", "interx")


def parse_source(source: str) -> tuple[str, Path | None]:
    """"synthetic" -> ("synthetic", None); "interhuman:<folder>" -> ("interhuman", Path(folder)); same for interx."""
    kind, colon, folder = str(source).partition(":")
    kind = kind.strip().lower()
    if kind not in SOURCES:
        raise ValueError(f"unknown data source {source!r}; expected 'synthetic', 'interhuman:<folder>' or "
                         "'interx:<folder>'")
    if kind == "synthetic":
        if folder.strip():
            raise ValueError(f"data source {source!r}: the built-in data takes no folder; write 'synthetic'")
        return kind, None
    if not folder.strip():
        raise ValueError(f"data source {source!r} names no folder; write '{kind}:<folder>', e.g. {kind}:/data/{kind}")
    return kind, Path(folder.strip()).expanduser()


def resample_clip(clip: Clip, fps: float) -> Clip:
    """The clip at `fps`: joints interpolated linearly, contacts from the nearest source frame, rotations
    dropped (the features recompute them from the joints). The same clip when its rate is already `fps`."""
    if abs(clip.fps - fps) < 1e-6:
        return clip
    joints = resample_joints(clip.joints, clip.fps, fps, axis=1)                 # (2, T', 22, 3)
    contacts = None
    if clip.contacts is not None:
        src = np.rint(np.arange(joints.shape[1]) * clip.fps / fps).astype(int)  # (T',) nearest source frame
        contacts = np.asarray(clip.contacts)[:, np.minimum(src, clip.n_frames - 1)]  # (2, T', 4)
    return Clip(joints=joints, fps=float(fps), captions=list(clip.captions), label=clip.label, clip_id=clip.clip_id,
                contacts=contacts, params=dict(clip.params))


def source_clips(preset, split: str) -> list[Clip]:
    """One split ("train", "val", "test") of preset.data.source, at preset.data.fps."""
    from ..distributed import main_first
    kind, folder = parse_source(preset.data.source)
    with main_first():  # with several processes rank 0 fills the built-in data's cache before the others read it
        if kind == "synthetic":
            from .synthetic import load_split
            clips = load_split(split, preset.data.n_clips, preset.data.seed)
        elif kind == "interhuman":
            from . import interhuman
            clips = interhuman.load(folder, split=split)
        else:
            from . import interx
            clips = interx.load(folder, split=split)
    if not clips and split == "train":
        raise ValueError(f"data source {preset.data.source!r} has no training clips")
    return [resample_clip(c, preset.data.fps) for c in clips]


def training_clips(preset) -> tuple[list[Clip], list[Clip]]:
    """(train_clips, val_clips) of a preset (a config.Preset or its name), from preset.data.source: what every
    train_* function gets from load_or_train. A source too small to hold any validation clips out (the smoke
    preset's built-in data) validates on its training clips."""
    from ..config import get_preset
    preset = get_preset(preset)
    train = source_clips(preset, "train")
    return train, source_clips(preset, "val") or train
