"""Torch datasets: per-person windows for the tokenizer and paired clips for the transformer.

Both work from a small per-clip cache (local 6D rotations and foot contacts, computed once with batched
inverse kinematics). A crop is canonicalised (A at the origin facing +Z at its first frame) before its
features are built; a tokenizer window can keep the coordinates it has inside a transformer-sized crop.
Rotations of joints 1..21 do not change under canonicalisation, and mirroring maps them exactly
(features.mirror_rot6d), so no item needs inverse kinematics again.
"""
from __future__ import annotations

import warnings

import numpy as np
import torch
from torch.utils.data import Dataset, get_worker_info

from ..config import FRAMES_PER_TOKEN
from . import features as F
from .augment import MIRROR_CONTACTS

_CHUNK_FRAMES = 8192  # frames per batched inverse-kinematics call
SHORT_CLIPS = ("skip", "reflect")  # what VQWindowDataset does with clips shorter than its window


def clip_cache(clips) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per clip: (rot6d (2, T, 21, 6) float32, contacts (2, T, 4) bool), the contacts detected if absent.

    The batched inverse kinematics every dataset here needs; compute it once and pass it as `cache=` to
    make_normalizer and the datasets built from the same clips.
    """
    if not clips:
        raise ValueError("no clips given: expected a non-empty list of Clip")
    flat = np.concatenate([c.joints.reshape(-1, 22, 3) for c in clips])  # (sum 2T, 22, 3)
    rot = np.concatenate([F.local_rot6d(flat[i:i + _CHUNK_FRAMES].astype(np.float64))
                          for i in range(0, len(flat), _CHUNK_FRAMES)]).astype(np.float32)  # (sum 2T, 21, 6)
    cache, at = [], 0
    for c in clips:
        n = 2 * c.n_frames
        contacts = c.contacts if c.contacts is not None else F.detect_contacts(c.joints, c.fps)
        cache.append((rot[at:at + n].reshape(2, c.n_frames, 21, 6), np.asarray(contacts, dtype=bool)))
        at += n
    return cache


def _checked_cache(clips, cache):
    """`cache` (from clip_cache(clips)) after a length check, or computed when None."""
    if cache is None:
        return clip_cache(clips)
    if len(cache) != len(clips):
        raise ValueError(f"cache holds {len(cache)} clips but {len(clips)} clips were given; "
                         "pass clip_cache(clips) of the same clips")
    return cache


def make_normalizer(clips, cache=None) -> F.Normalizer:
    """A Normalizer fitted on both people's features of every clip (cache: clip_cache(clips), if at hand)."""
    cache = _checked_cache(clips, cache)
    feats = [F.clip_features(c, rot6d=rot) for c, (rot, _) in zip(clips, cache)]
    return F.Normalizer.fit(feats)


def pingpong_frames(n_frames: int, length: int) -> np.ndarray:
    """(length,) frame indices 0, 1, ..., n-1, n-2, ..., 0, 1, ...: a clip played forward and back."""
    if n_frames < 2:
        raise ValueError(f"a clip needs at least 2 frames to be reflected, got {n_frames}")
    period = 2 * (n_frames - 1)
    at = np.arange(length) % period                                   # (length,)
    return np.where(at < n_frames, at, period - at)


def _crop_features(joints2, rot6d2, contacts2, start, length, mirrored=False, swapped=False, outer=None):
    """(2, length, 262) float32 features of a crop, optionally mirrored and/or people swapped.

    The crop is canonicalised on its own, or, given outer=(first, stop) around it, in the coordinates it
    has inside the canonicalised longer crop joints2[:, first:stop].
    """
    stop = start + length
    first, outer_stop = (start, stop) if outer is None else outer
    joints = F.canonicalize(joints2[:, first:outer_stop])[:, start - first:stop - first]
    rot, contacts = rot6d2[:, start:stop], contacts2[:, start:stop]
    if mirrored:
        joints, rot, contacts = F.mirror(joints), F.mirror_rot6d(rot), contacts[..., MIRROR_CONTACTS]
    if swapped:
        joints, rot, contacts = F.swap_people(joints), rot[::-1], contacts[::-1]
    return F.joints_to_features(joints, contacts, rot6d=rot).astype(np.float32)


class VQWindowDataset(Dataset):
    """Every (clip, person, window start[, mirrored]) -> normalised grid (12, 22, window) float32.

    stride: frames between window starts (default 4, one token column); the window ending at the clip's
    last frame is always included. short_clips: what happens to clips shorter than `window`: "skip" (the
    default; their number is in `n_skipped` and a warning says so) or "reflect" (one window each, the
    clip played forward, then backward, and so on until the window is full: `pingpong_frames`; a clip needs
    FRAMES_PER_TOKEN, one token column). Reflecting never shows the tokenizer frozen frames, as padding with the
    last one would.
    mirror_aug doubles the items deterministically: the second half are the mirrored windows.
    context: frames the transformer sees at once (DataConfig.max_frames). A window is canonicalised at the
    start of a context-long crop that holds it (the clip's first frame when the clip fits in `context`; for
    longer clips a start drawn per item with a fixed seed), so windows carry the positions the tokenizer
    must encode in the middle and at the end of a whole clip. None canonicalises each window at its own
    first frame, and windows then never show the people far from where a clip starts.
    cache: clip_cache(clips), when already computed (else computed here for the clips long enough).
    """

    def __init__(self, clips, normalizer: F.Normalizer, window: int = 64, stride: int | None = None,
                 mirror_aug: bool = False, context: int | None = None, cache=None, short_clips: str = "skip"):
        if window < FRAMES_PER_TOKEN or window % FRAMES_PER_TOKEN:
            raise ValueError(f"window must be a positive multiple of {FRAMES_PER_TOKEN} frames, got {window}")
        if short_clips not in SHORT_CLIPS:
            raise ValueError(f"short_clips must be one of {SHORT_CLIPS}, got {short_clips!r}")
        if context is not None and context < window:
            raise ValueError(f"context ({context} frames) must be at least the window ({window} frames)")
        self.clips, self.normalizer, self.window = list(clips), normalizer, window
        self.stride = FRAMES_PER_TOKEN if stride is None else int(stride)
        if self.stride < 1:
            raise ValueError(f"stride must be >= 1, got {stride}")
        self.mirror_aug, self.context = mirror_aug, context
        shortest = window if short_clips == "skip" else FRAMES_PER_TOKEN
        long_enough = [i for i, c in enumerate(self.clips) if c.n_frames >= shortest]
        self.n_skipped = len(self.clips) - len(long_enough)
        if not long_enough:
            hint = "lower the window or pass short_clips='reflect'" if short_clips == "skip" else "add longer clips"
            raise ValueError(f"no clip has at least {shortest} frames (window={window}, short_clips="
                             f"{short_clips!r}; longest: {max((c.n_frames for c in self.clips), default=0)}); {hint}")
        if self.n_skipped:
            warnings.warn(f"VQWindowDataset: skipped {self.n_skipped} of {len(self.clips)} clips shorter "
                          f"than {shortest} frames (window={window}, short_clips={short_clips!r})", stacklevel=2)
        if cache is None:
            self._cache = dict(zip(long_enough, clip_cache([self.clips[i] for i in long_enough])))
        else:
            cache = _checked_cache(self.clips, cache)
            self._cache = {i: cache[i] for i in long_enough}
        self.items = []  # (clip index, person, start)
        for i in long_enough:
            last = max(0, self.clips[i].n_frames - window)
            starts = sorted(set(range(0, last + 1, self.stride)) | {last})
            self.items += [(i, person, s) for person in (0, 1) for s in starts]

    def __len__(self) -> int:
        return len(self.items) * (2 if self.mirror_aug else 1)

    def outer_crop(self, clip_index: int, start: int) -> tuple[int, int]:
        """(first, stop) frames of the crop in whose coordinates the window at `start` is given (see `context`)."""
        if self.context is None:
            return start, start + self.window
        n_frames = self.clips[clip_index].n_frames
        lo = max(0, start + self.window - self.context)     # earliest crop start that still holds the window
        hi = min(start, max(0, n_frames - self.context))    # latest crop start that fits in the clip
        first = int(np.random.default_rng([clip_index, start]).integers(lo, hi + 1)) if hi > lo else lo
        return first, min(n_frames, first + self.context)

    def __getitem__(self, index: int) -> torch.Tensor:
        clip_index, person, start = self.items[index % len(self.items)]
        mirrored = index >= len(self.items)
        rot, contacts = self._cache[clip_index]
        clip = self.clips[clip_index]
        if clip.n_frames < self.window:                       # a short clip, reflected to fill the window
            frames = pingpong_frames(clip.n_frames, self.window)
            feats = _crop_features(clip.joints[:, frames], rot[:, frames], contacts[:, frames], 0, self.window,
                                   mirrored)
        else:
            feats = _crop_features(clip.joints, rot, contacts, start, self.window, mirrored,
                                   outer=self.outer_crop(clip_index, start))
        grid = F.features_to_grid(self.normalizer.normalize(feats[person]))  # (12, 22, window)
        return torch.from_numpy(np.ascontiguousarray(grid, dtype=np.float32))


class PairedClipDataset(Dataset):
    """Clips as both people's normalised grids, zero-padded to max_frames, with a caption.

    Item: dict(grids (2, 12, 22, max_frames) float32, length (frames, multiple of 4), caption, label, index).
    Clips longer than max_frames are cropped: a random start drawn from the dataset's generator when
    `train`, else the first frames. caption="random" draws one caption per item, "first" takes the first.
    mirror_aug / swap_aug mirror the clip (and its caption) / swap the people, each with probability 1/2.
    Random draws use one generator seeded with `seed` (per worker: seed + worker id).
    """

    def __init__(self, clips, normalizer: F.Normalizer, max_frames: int = 120, caption: str = "random",
                 mirror_aug: bool = False, swap_aug: bool = False, seed: int = 0, train: bool = True):
        if max_frames < FRAMES_PER_TOKEN or max_frames % FRAMES_PER_TOKEN:
            raise ValueError(f"max_frames must be a positive multiple of {FRAMES_PER_TOKEN}, got {max_frames}")
        if caption not in ("random", "first"):
            raise ValueError(f"caption must be 'random' or 'first', got {caption!r}")
        self.clips = [c for c in clips if c.n_frames >= FRAMES_PER_TOKEN]
        if not self.clips:
            raise ValueError(f"no clip has the {FRAMES_PER_TOKEN} frames one token column needs")
        self.n_skipped = len(clips) - len(self.clips)
        self.normalizer, self.max_frames, self.caption = normalizer, max_frames, caption
        self.mirror_aug, self.swap_aug, self.seed, self.train = mirror_aug, swap_aug, seed, train
        self._cache = clip_cache(self.clips)
        self._rng, self._rng_worker = np.random.default_rng(seed), None

    def __len__(self) -> int:
        return len(self.clips)

    def _generator(self) -> np.random.Generator:
        info = get_worker_info()
        if info is not None and self._rng_worker != info.id:
            self._rng, self._rng_worker = np.random.default_rng(self.seed + info.id), info.id
        return self._rng

    def __getitem__(self, index: int) -> dict:
        rng, clip = self._generator(), self.clips[index]
        length = min(clip.n_frames, self.max_frames) // FRAMES_PER_TOKEN * FRAMES_PER_TOKEN
        start = int(rng.integers(0, clip.n_frames - length + 1)) if self.train else 0
        mirrored = self.mirror_aug and rng.random() < 0.5
        swapped = self.swap_aug and rng.random() < 0.5
        rot, contacts = self._cache[index]
        feats = _crop_features(clip.joints, rot, contacts, start, length, mirrored, swapped)  # (2, L, 262)
        grids = np.zeros((2, F.GRID_CHANNELS, 22, self.max_frames), dtype=np.float32)
        grids[..., :length] = F.features_to_grid(self.normalizer.normalize(feats))  # (2, 12, 22, L)
        text = clip.captions[int(rng.integers(len(clip.captions)))] if self.caption == "random" else clip.captions[0]
        return {"grids": torch.from_numpy(grids), "length": length,
                "caption": F.mirror_caption(text) if mirrored else text, "label": clip.label, "index": index}


def collate_pairs(items: list[dict]) -> dict:
    """Stack PairedClipDataset items: grids (B, 2, 12, 22, F), lengths (B,), indices (B,), captions, labels."""
    if not items:
        raise ValueError("collate_pairs got an empty batch")
    return {
        "grids": torch.stack([it["grids"] for it in items]),  # (B, 2, 12, 22, F)
        "lengths": torch.tensor([it["length"] for it in items], dtype=torch.long),  # (B,)
        "indices": torch.tensor([it["index"] for it in items], dtype=torch.long),  # (B,)
        "captions": [it["caption"] for it in items],
        "labels": [it["label"] for it in items],
    }
