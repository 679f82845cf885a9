"""Loader for the InterHuman folder layout (nothing is downloaded; point it at your copy).

    <root>/motions_processed/person1/<id>.npy   (T, 492): columns 0:66 = 22 joint positions (Z up, metres),
    <root>/motions_processed/person2/<id>.npy             columns 186:312 = 21 body rotations in 6D
    <root>/annots/<id>.txt                      one caption per line
    <root>/split/{train,val,test}.txt           one clip id per line
    <root>/ignore_list.txt                      ids to skip (optional: a missing file skips nothing)

Clips come out in the kit's conventions: Y up, 30 fps, T cropped to a multiple of 4, canonicalised
(A at the origin facing +Z, floor at y = 0) unless canonical=False. `Clip.rotations` keeps the dataset's
own 6D rotations (its rest-pose convention); the kit's features recompute rotations from the joints.
"""
from __future__ import annotations

import numpy as np

from ..config import FRAMES_PER_TOKEN
from . import realdata as rd
from .clip import Clip

N_COLUMNS = 492
LAYOUT = "motions_processed/person1|person2/<id>.npy, annots/<id>.txt and split/<split>.txt"


def _load_person(path) -> tuple[np.ndarray, np.ndarray]:
    """(T, 22, 3) Z-up positions and (T, 21, 6) rotations of one person file."""
    data = rd.load_array(path, f"a (T, {N_COLUMNS}) InterHuman motion array")
    if data.ndim != 2 or data.shape[1] != N_COLUMNS:
        raise ValueError(f"{str(path)!r} has shape {data.shape}; expected (T, {N_COLUMNS})")
    if not np.isfinite(data).all():
        raise ValueError(f"{str(path)!r} contains NaN or inf")
    t = len(data)
    return data[:, :66].reshape(t, 22, 3), data[:, 186:312].reshape(t, 21, 6)


def load(root, split: str = "test", max_clips: int | None = None, min_frames: int = 16,
         canonical: bool = True) -> list[Clip]:
    """InterHuman clips of one split as a list of Clip (see the module docstring for the layout)."""
    root = rd.check_request(root, split, min_frames, LAYOUT, max_clips)
    split_path = root / "split" / f"{split}.txt"
    ids = rd.read_ids(split_path, "the list of clip ids of this split, one per line")
    ignore_path = root / "ignore_list.txt"
    ignored = set(rd.read_ids(ignore_path)) if ignore_path.is_file() else set()
    clips, n_short = [], 0
    for clip_id in ids:
        if clip_id in ignored:
            continue
        if max_clips is not None and len(clips) >= max_clips:
            break
        paths = [root / "motions_processed" / person / f"{clip_id}.npy" for person in ("person1", "person2")]
        (pos1, rot1), (pos2, rot2) = _load_person(paths[0]), _load_person(paths[1])
        if len(pos1) != len(pos2):
            raise ValueError(f"{str(paths[0])!r} has {len(pos1)} frames but {str(paths[1])!r} has {len(pos2)}; "
                             "expected the same number")
        captions = rd.read_captions(root / "annots" / f"{clip_id}.txt")
        n_frames = len(pos1) // FRAMES_PER_TOKEN * FRAMES_PER_TOKEN
        if n_frames < min_frames:
            n_short += 1
            continue
        joints = rd.finish_pair(rd.z_up_to_y_up(np.stack([pos1, pos2])), canonical)  # (2, T, 22, 3)
        rotations = np.stack([rot1, rot2])[:, :n_frames].astype(np.float32)  # (2, T, 21, 6)
        clips.append(Clip(joints=joints, fps=rd.FPS, captions=captions, clip_id=clip_id, rotations=rotations,
                          params={"source": "interhuman", "split": split}))
    rd.check_found(clips, root, split, "InterHuman", split_path, len(ids), n_short, min_frames)
    rd.warn_skipped(n_short, min_frames, "InterHuman")
    return clips
