"""Loader for the Inter-X folder layout (nothing is downloaded; point it at your copy).

    <root>/motions/{train,val,test}.h5   one dataset per clip id, shape (T, 56, 6): columns 0:3 person 1,
                                         3:6 person 2; rows 0 root orientation, 1..21 body joints (axis-angle
                                         local rotations), 22 jaw, 23-24 eyes, 25..54 hands, 55 root translation
    <root>/texts_processed/<id>.txt      one caption per line (text after '#' is ignored)

Joints are rebuilt with the kit's skeleton: forward kinematics of the axis-angle rotations with
skeleton.REST_OFFSETS placed at the root translation. This is an approximation: the SMPL-X body shape
(bone lengths, and the offset between the translation and the pelvis) is not available here, so every
person gets the kit's default body; the offset is the same for both people and canonicalisation removes
it. Z up is turned into Y up, T cropped to a multiple of 4, 30 fps, canonicalised unless canonical=False.
The label is the id's action code (e.g. "A012" in "G001T000A012R003") when present.
"""
from __future__ import annotations

import re

import h5py
import numpy as np

from .. import skeleton as sk
from ..config import FRAMES_PER_TOKEN
from . import realdata as rd
from ..utils import error_reason
from .clip import Clip

N_ROWS, ROOT_TRANSLATION_ROW = 56, 55
LAYOUT = "motions/<split>.h5 and texts_processed/<id>.txt"


def _joints_from_params(params: np.ndarray) -> np.ndarray:
    """(T, 56, 6) Inter-X parameters -> (2, T, 22, 3) Z-up joint positions of both people."""
    people = []
    for cols in (slice(0, 3), slice(3, 6)):
        rot = sk.axis_angle_to_matrix(params[:, :22, cols].astype(np.float64))  # (T, 22, 3, 3)
        people.append(sk.forward_kinematics(rot, params[:, ROOT_TRANSLATION_ROW, cols].astype(np.float64)))
    return np.stack(people)


def _read_entry(h5, clip_id: str, h5_path) -> np.ndarray:
    """The (T, 56, 6) parameters of one clip; a wrong shape or type, a damaged read or NaN is an error naming it."""
    where = f"{str(h5_path)!r}: entry {clip_id!r}"
    item = h5.get(clip_id)
    if not isinstance(item, h5py.Dataset) or item.ndim != 3 or item.shape[1:] != (N_ROWS, 6):
        shape = item.shape if isinstance(item, h5py.Dataset) else "a group"
        raise ValueError(f"{where} is {shape}; expected a (T, {N_ROWS}, 6) dataset")
    if not (np.issubdtype(item.dtype, np.floating) or np.issubdtype(item.dtype, np.integer)):
        raise ValueError(f"{where} holds {item.dtype} values; expected numbers")
    try:
        params = item[()]
    except Exception as err:  # a damaged or truncated file
        raise ValueError(f"{where} cannot be read ({error_reason(err)}); the file is damaged") from None
    if not np.isfinite(params).all():
        raise ValueError(f"{where} contains NaN or inf")
    return params


def load(root, split: str = "test", max_clips: int | None = None, min_frames: int = 16,
         canonical: bool = True) -> list[Clip]:
    """Inter-X clips of one split as a list of Clip (see the module docstring for the layout)."""
    root = rd.check_request(root, split, min_frames, LAYOUT, max_clips)
    expected = f"an HDF5 file with one (T, {N_ROWS}, 6) dataset per clip"
    h5_path = rd.require_file(root / "motions" / f"{split}.h5", expected)
    clips, n_short = [], 0
    try:
        h5 = h5py.File(h5_path, "r")
        clip_ids = sorted(h5.keys())
    except Exception as err:  # truncated, or not HDF5 at all
        reason = error_reason(err)
        raise ValueError(f"{str(h5_path)!r} cannot be read as HDF5 ({reason}): expected {expected}") from None
    with h5:
        for clip_id in clip_ids:
            if max_clips is not None and len(clips) >= max_clips:
                break
            rd.check_clip_id(clip_id, f"{str(h5_path)!r}")
            params = _read_entry(h5, clip_id, h5_path)
            captions = rd.read_captions(root / "texts_processed" / f"{clip_id}.txt", cut_at_hash=True)
            if len(params) // FRAMES_PER_TOKEN * FRAMES_PER_TOKEN < min_frames:
                n_short += 1
                continue
            joints = rd.finish_pair(rd.z_up_to_y_up(_joints_from_params(params)), canonical)  # (2, T, 22, 3)
            action = re.search(r"A\d{3}", clip_id)
            clips.append(Clip(joints=joints, fps=rd.FPS, captions=captions, clip_id=clip_id,
                              label=action.group(0) if action else "", params={"source": "interx", "split": split}))
    rd.check_found(clips, root, split, "Inter-X", h5_path, len(clip_ids), n_short, min_frames)
    rd.warn_skipped(n_short, min_frames, "Inter-X")
    return clips
