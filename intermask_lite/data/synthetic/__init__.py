"""The built-in dataset: procedural two-person interactions with captions, generated in seconds from a seed.

    clips = make_dataset(n_clips=2000, seed=0)        # list[Clip], classes balanced round-robin, cached on disk
    splits = split_dataset(clips)                      # {"train", "val", "test"}, balanced by class
    clip = make_clip("handshake", rng=0)               # one clip

A clip is choreographed in a scene frame (the initiator at the origin), posed with footsteps, FK and IK
(movement.py), its roles possibly swapped, then moved so that person A starts at the origin facing +Z.
params["contact_start"] / params["contact_end"] give the designated body-contact frames ([start, end), -1 if
none): the only frames where the two torsos may come closer than two torso radii.
"""
from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .captions import HELD_OUT_PARAPHRASES, make_captions  # noqa: F401  (re-exported)
from ..clip import Clip
from .contact_classes import CONTACT_CHOREOGRAPHY
from .apart_classes import APART_CHOREOGRAPHY
from .movement import (BodyPlan, FootPlan, attach_arms, keyframes, min_jerk, plan_footsteps,  # noqa: F401
                           pose_person, pose_torsos, rot_y)
from .stage import Stage
from ...utils import atomic_write, read_or_build

GENERATOR_VERSION = 1
FPS = 20
CLASSES = ["handshake", "high_five", "wave", "hug", "bow", "push", "punch_dodge", "pull", "follow", "pass_by",
           "approach", "circle_dance", "pat_shoulder", "chase"]
_CHOREOGRAPHY = {**CONTACT_CHOREOGRAPHY, **APART_CHOREOGRAPHY}


def _idle(st: Stage, plan: BodyPlan) -> np.ndarray:
    """Add small head drift to a plan; return its breathing signal (T,) in radians."""
    t = st.t
    rate, phase = st.rng.uniform(0.2, 0.35), st.rng.uniform(0, 2 * np.pi)
    for name in ("neck_yaw", "neck_pitch"):
        f, p = st.rng.uniform(0.15, 0.4, 2), st.rng.uniform(0, 2 * np.pi, 2)
        drift = 0.05 * np.sin(2 * np.pi * f[0] * t + p[0]) + 0.03 * np.sin(2 * np.pi * f[1] * t + p[1])
        setattr(plan, name, getattr(plan, name) + drift)
    return 0.02 * np.sin(2 * np.pi * rate * t + phase)


def _to_a_frame(joints: np.ndarray, a_root_xz: np.ndarray, a_yaw: float) -> np.ndarray:
    """Move (2, T, 22, 3) joints so that A's pelvis starts at the origin (on the floor plane) facing +Z."""
    shifted = joints - np.array([a_root_xz[0], 0.0, a_root_xz[1]])
    return shifted @ rot_y(-a_yaw).T


def make_clip(label: str, rng, clip_id: str = "") -> Clip:
    """One procedural clip of class `label`; rng is a numpy Generator or an int seed."""
    if label not in _CHOREOGRAPHY:
        raise KeyError(f"unknown interaction class {label!r}; expected one of {CLASSES}")
    rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    st = Stage(label, rng, FPS)
    plans, arm_fn = _CHOREOGRAPHY[label](st)
    breaths = [_idle(st, plan) for plan in plans]
    feet = [plan_footsteps(plan, FPS) for plan in plans]
    looks = [plans[1].root_xz, plans[0].root_xz]
    bodies = pose_torsos(plans, feet, looks, breaths)
    joints = np.stack([attach_arms(body, *instr) for body, instr in zip(bodies, arm_fn(bodies))])  # (2, T, 22, 3)
    contacts = np.stack([np.repeat(f.planted, 2, axis=1) for f in feet])  # (2, T, 4): l_ankle, l_foot, r_ankle, r_foot
    swap = bool(rng.random() < 0.5)
    order = [1, 0] if swap else [0, 1]
    joints, contacts = joints[order], contacts[order]
    first = plans[order[0]]
    joints = _to_a_frame(joints, first.root_xz[0], float(first.yaw[0]))
    n = joints.shape[1]
    c0, c1 = (-1, -1) if st.contact is None else (max(0, int(np.ceil(st.contact[0] * FPS))),
                                                  min(n, int(np.floor(st.contact[1] * FPS)) + 1))
    params = {**st.params, "label": label, "initiator": "B" if swap else "A", "contact_start": c0, "contact_end": c1,
              "n_frames": n, "generator_version": GENERATOR_VERSION}
    captions = make_captions(label, params, rng, n=int(rng.integers(3, 5)))
    return Clip(joints=joints.astype(np.float32), fps=float(FPS), captions=captions, label=label, clip_id=clip_id,
                contacts=contacts, params=params)


def make_dataset(n_clips: int = 2000, seed: int = 0, cache: bool = True, cache_dir=None,
                 progress: bool = True) -> list[Clip]:
    """n_clips clips, classes round-robin in CLASSES order, clip i drawn from the seed sequence (seed, i).

    With cache=True the set is stored as one .npz (arrays and JSON text, no pickle) under cache_dir
    (default: $INTERMASK_CACHE or ~/.cache/intermask_lite), keyed by GENERATOR_VERSION, seed and n_clips.
    The file is written atomically and checked when read; one that fails the check is noted and rebuilt.
    """
    if int(n_clips) < 1:
        raise ValueError(f"n_clips must be a positive integer, got {n_clips}")
    clip_ids = [f"syn{seed}_{i:05d}" for i in range(n_clips)]

    def build() -> list[Clip]:
        return [make_clip(CLASSES[i % len(CLASSES)], np.random.default_rng([seed, i]), clip_ids[i])
                for i in tqdm(range(n_clips), desc="synthetic clips", disable=not progress)]

    if not cache:
        return build()
    return read_or_build(_cache_path(n_clips, seed, cache_dir), lambda path: load_cache(path, clip_ids), build,
                         _write_npz)


def _cache_path(n_clips: int, seed: int, cache_dir) -> Path:
    root = Path(cache_dir or os.environ.get("INTERMASK_CACHE") or Path.home() / ".cache" / "intermask_lite")
    return root / f"synthetic_v{GENERATOR_VERSION}_seed{seed}_n{n_clips}.npz"


def save_cache(clips: list[Clip], path) -> None:
    """Store clips as one compressed .npz: joints and contacts concatenated over time, metadata as JSON text.

    Compression halves the file (about 47 MB for 2,000 clips) and costs about 2 s to write, nothing to read.
    The write is atomic (a temp file renamed into place): readers never see half a file."""
    atomic_write(path, lambda tmp: _write_npz(clips, tmp))


def _write_npz(clips: list[Clip], path: Path) -> None:
    meta = [{"fps": c.fps, "captions": c.captions, "label": c.label, "clip_id": c.clip_id, "params": c.params,
             "n_frames": c.n_frames} for c in clips]
    with open(path, "wb") as fh:  # a file object: np.savez would add ".npz" to a name
        np.savez_compressed(fh, joints=np.concatenate([c.joints for c in clips], axis=1),  # (2, sum T, 22, 3)
                            contacts=np.concatenate([c.contacts for c in clips], axis=1),  # (2, sum T, 4)
                            meta=np.array(json.dumps(meta)))


def load_cache(path, clip_ids: list[str] | None = None) -> list[Clip]:
    """Clips from a cache file written by save_cache (loaded without pickle), checked: the arrays' shapes and
    types, one metadata entry per clip, frame counts adding up, and (if given) exactly these clip ids.
    Anything else is a ValueError saying what is wrong."""
    if not zipfile.is_zipfile(path):
        raise ValueError("it is not an .npz (zip) file")
    with np.load(path, allow_pickle=False) as data:
        missing = {"joints", "contacts", "meta"} - set(data.files)
        if missing:
            raise ValueError(f"it has no {', '.join(sorted(missing))} array; expected joints, contacts and meta")
        joints, contacts, meta = data["joints"], data["contacts"], json.loads(str(data["meta"]))
    if joints.dtype != np.float32 or joints.ndim != 4 or joints.shape[0] != 2 or joints.shape[2:] != (22, 3):
        raise ValueError(f"joints are {joints.dtype} {joints.shape}; expected float32 (2, T, 22, 3)")
    if contacts.dtype != bool or contacts.shape != (2, joints.shape[1], 4):
        raise ValueError(f"contacts are {contacts.dtype} {contacts.shape}; expected bool (2, {joints.shape[1]}, 4)")
    if not isinstance(meta, list) or not all(isinstance(m, dict) for m in meta):
        raise ValueError("its meta is not a list of clip records")
    try:
        n_frames = [int(m["n_frames"]) for m in meta]
        ids = [m["clip_id"] for m in meta]
    except (KeyError, TypeError, ValueError):
        raise ValueError("a meta record lacks its n_frames or clip_id") from None
    if sum(n_frames) != joints.shape[1] or min(n_frames, default=1) < 1:
        raise ValueError(f"its clips' frame counts add up to {sum(n_frames)}; the arrays hold {joints.shape[1]}")
    if clip_ids is not None and ids != clip_ids:
        raise ValueError(f"it holds {len(ids)} clips from {ids[0] if ids else 'none'}; expected {len(clip_ids)} "
                         f"from {clip_ids[0]}")
    clips, start = [], 0
    for m in meta:
        end = start + m["n_frames"]
        clips.append(Clip(joints=joints[:, start:end], fps=m["fps"], captions=m["captions"], label=m["label"],
                          clip_id=m["clip_id"], contacts=contacts[:, start:end], params=m["params"]))
        start = end
    return clips


def split_dataset(clips: list[Clip], fractions=(0.8, 0.1, 0.1), seed: int = 0) -> dict:
    """{"train", "val", "test"}: each class shuffled (seeded) and cut by `fractions`, so every split is balanced."""
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"fractions must be three non-negative numbers summing to 1, got {fractions}")
    rng = np.random.default_rng(seed)
    splits = {"train": [], "val": [], "test": []}
    by_label: dict = {}
    for clip in clips:
        by_label.setdefault(clip.label, []).append(clip)
    for label in sorted(by_label):
        group = by_label[label]
        idx = rng.permutation(len(group))
        n_train = int(round(fractions[0] * len(group)))
        n_val = int(round(fractions[1] * len(group)))
        for name, part in (("train", idx[:n_train]), ("val", idx[n_train:n_train + n_val]),
                           ("test", idx[n_train + n_val:])):
            splits[name].extend(group[i] for i in part)
    return splits


def load_split(split: str, n_clips: int = 2000, seed: int = 0) -> list[Clip]:
    """One split ("train", "val" or "test") of the (cached) built-in dataset."""
    if split not in ("train", "val", "test"):
        raise ValueError(f"split must be 'train', 'val' or 'test', got {split!r}")
    return split_dataset(make_dataset(n_clips, seed, progress=False), seed=seed)[split]
