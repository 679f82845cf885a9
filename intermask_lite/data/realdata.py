"""Shared helpers of the real-dataset loaders (InterHuman, Inter-X): files, captions, axes, cropping."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ..config import FRAMES_PER_TOKEN
from .augment import canonicalize

SPLITS = ("train", "val", "test")
FPS = 30.0  # both datasets' processed motions


def check_root(root, layout: str) -> Path:
    """The dataset folder as a Path, or an error saying which layout was expected."""
    path = Path(root).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"dataset folder {str(path)!r} does not exist; expected a folder with {layout}")
    return path


def check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def check_request(root, split: str, min_frames: int, layout: str) -> Path:
    """The checks every loader starts with: split name, min_frames, dataset folder; returns the folder."""
    check_split(split)
    if min_frames < 4:
        raise ValueError(f"min_frames must be at least 4 (one token column), got {min_frames}")
    return check_root(root, layout)


def require_file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise FileNotFoundError(f"missing file {str(path)!r}: expected {what}")
    return path


def read_ids(path: Path) -> list[str]:
    """Non-empty, stripped lines of an id list."""
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def read_captions(path: Path, cut_at_hash: bool = False) -> list[str]:
    """One caption per line; `cut_at_hash` keeps the text before '#' (HumanML3D-style token annotations)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    captions = [(line.split("#")[0] if cut_at_hash else line).strip() for line in lines]
    captions = [c for c in captions if c]
    if not captions:
        raise ValueError(f"caption file {str(path)!r} is empty: expected one caption per line")
    return captions


def z_up_to_y_up(points: np.ndarray) -> np.ndarray:
    """Right-handed Z-up -> Y-up (a -90 degree turn about X): (x, y, z) -> (x, z, -y). Shape (..., 3)."""
    return np.stack([points[..., 0], points[..., 2], -points[..., 1]], axis=-1)


def finish_pair(joints2: np.ndarray, canonical: bool) -> np.ndarray:
    """Y-up joints (2, T, 22, 3) -> cropped to a multiple of 4 frames, canonicalised if asked, float32."""
    joints2 = joints2[:, : joints2.shape[1] // FRAMES_PER_TOKEN * FRAMES_PER_TOKEN]
    return (canonicalize(joints2) if canonical else joints2).astype(np.float32)


def warn_skipped(n_short: int, min_frames: int, source: str) -> None:
    if n_short:
        warnings.warn(f"{source}: skipped {n_short} clips shorter than min_frames={min_frames}", stacklevel=3)
