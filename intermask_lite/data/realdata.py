"""Shared helpers of the real-dataset loaders (InterHuman, Inter-X): files, captions, axes, cropping."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ..config import FRAMES_PER_TOKEN
from ..utils import error_reason
from .augment import canonicalize

SPLITS = ("train", "val", "test")
FPS = 30.0  # both datasets' processed motions


def check_root(root, layout: str) -> Path:
    """The dataset folder as a Path, or an error saying which layout was expected."""
    path = Path(root).expanduser()
    if not path.is_dir():
        problem = "is a file, not a folder" if path.exists() else "does not exist"
        raise FileNotFoundError(f"dataset folder {str(path)!r} {problem}; expected a folder with {layout}")
    return path


def check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def check_request(root, split: str, min_frames: int, layout: str, max_clips: int | None = None) -> Path:
    """The checks every loader starts with: split name, min_frames, max_clips, dataset folder; returns the folder."""
    check_split(split)
    if min_frames < 4:
        raise ValueError(f"min_frames must be at least 4 (one token column), got {min_frames}")
    if max_clips is not None and (isinstance(max_clips, bool) or not isinstance(max_clips, int) or max_clips < 1):
        raise ValueError(f"max_clips must be a positive integer or None (all clips), got {max_clips!r}")
    return check_root(root, layout)


def require_file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise FileNotFoundError(f"missing file {str(path)!r}: expected {what}")
    return path


def read_text(path: Path, what: str) -> str:
    """The UTF-8 text of a file that must exist; an unreadable one is an error naming it and what was expected."""
    require_file(path, what)
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{str(path)!r} is not UTF-8 text: expected {what}") from None
    except OSError as err:  # permissions, an I/O error
        raise ValueError(f"{str(path)!r} cannot be read ({error_reason(err)}): expected {what}") from None


def check_clip_id(clip_id: str, where: str) -> str:
    """A clip id that can only name a file inside the data folder: no path separator, '..', drive or NUL."""
    if not clip_id or ".." in clip_id or any(ch in clip_id for ch in "/\\:\0") or clip_id == ".":
        raise ValueError(f"{where}: clip id {clip_id!r} is not a plain file name; expected an id such as 1234, "
                         "without '/', '\\', '..' or a drive")
    return clip_id


def read_ids(path: Path, what: str = "one clip id per line") -> list[str]:
    """Non-empty, stripped lines of an id list, each checked by check_clip_id (an error names the line)."""
    lines = read_text(path, what).splitlines()
    return [check_clip_id(line.strip(), f"{str(path)!r}, line {n}") for n, line in enumerate(lines, 1)
            if line.strip()]


def read_captions(path: Path, cut_at_hash: bool = False) -> list[str]:
    """One caption per line; `cut_at_hash` keeps the text before '#' (HumanML3D-style token annotations)."""
    lines = read_text(path, "one caption per line").splitlines()
    captions = [(line.split("#")[0] if cut_at_hash else line).strip() for line in lines]
    captions = [c for c in captions if c]
    if not captions:
        raise ValueError(f"caption file {str(path)!r} is empty: expected one caption per line")
    return captions


def load_array(path: Path, what: str) -> np.ndarray:
    """A .npy file of real numbers (no pickle); anything else is an error naming the file and `what` it should be."""
    require_file(path, what)
    try:
        with open(path, "rb") as fh:
            if fh.read(6) != b"\x93NUMPY":  # else numpy would take it for a pickle
                raise ValueError("no .npy header")
        data = np.load(path, allow_pickle=False)
    except Exception as err:  # truncated, another format, pickled objects
        reason = error_reason(err)
        raise ValueError(f"{str(path)!r} cannot be read as a .npy array ({reason}): expected {what}") from None
    if not isinstance(data, np.ndarray) or not (np.issubdtype(data.dtype, np.floating)
                                                 or np.issubdtype(data.dtype, np.integer)):
        kind = data.dtype if isinstance(data, np.ndarray) else type(data).__name__
        raise ValueError(f"{str(path)!r} holds {kind} values: expected {what}")
    return data


def check_found(clips: list, root: Path, split: str, source: str, listing: Path, n_listed: int, n_short: int,
                min_frames: int) -> None:
    """Nothing when there are clips, else a ValueError naming the folder and split and why none came out of the
    `listing` file."""
    if clips:
        return
    if n_listed == 0:
        why = f"{str(listing)!r} lists no clips"
    elif n_short:
        which = "its one clip was" if n_short == 1 else f"all {n_short} clips were"
        why = f"{which} skipped as shorter than min_frames={min_frames} frames (lower min_frames to keep them)"
    else:
        why = f"all {n_listed} clips listed in {str(listing)!r} are on the ignore list"
    raise ValueError(f"{source} folder {str(root)!r}, split {split!r}: no clips to load: {why}")


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
