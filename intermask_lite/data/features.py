"""The 262-d per-person feature (InterHuman's layout), its (12, 22, T) grid form and the normaliser.

Per frame: 22 global positions (66) | 22 velocities pos[t+1] - pos[t] in metres per frame (66; the last
frame repeats the previous one) | local rotations of joints 1..21 in 6D (126, from ik) | 4 foot contacts
in skeleton.FOOT_JOINT_ORDER. The grid puts [pos 3, vel 3, rot6d 6] on 12 channels per joint, with a zero
rotation slot for the root and no contact channel. Functions take numpy or torch and return the same.
Canonicalisation, mirroring and person swapping live in `augment` and are re-exported here.
"""
from __future__ import annotations

import numpy as np
import torch

from .. import ik
from .. import skeleton as sk
from .augment import canonicalize, facing_angle, mirror, mirror_caption, mirror_rot6d, swap_people  # noqa: F401

N_FEATURES = 262
GRID_CHANNELS = 12
POS, VEL, ROT, CONTACT = slice(0, 66), slice(66, 132), slice(132, 258), slice(258, 262)
# contact thresholds: height above the floor (ankle, foot) in metres and foot speed in metres per second
CONTACT_HEIGHTS = (0.12, 0.05)
CONTACT_SPEED = 0.5


def _is_torch(x) -> bool:
    return isinstance(x, torch.Tensor)


def _cat(parts, axis):
    return torch.cat(parts, dim=axis) if _is_torch(parts[0]) else np.concatenate(parts, axis=axis)


def _check_joints(joints):
    if tuple(joints.shape[-2:]) != (sk.N_JOINTS, 3) or joints.ndim < 3:
        raise ValueError(f"joints must have shape (..., T, 22, 3), got {tuple(joints.shape)}")


def _check_features(feats):
    if feats.shape[-1] != N_FEATURES:
        raise ValueError(f"features must end in {N_FEATURES}, got shape {tuple(feats.shape)}")


def velocities(pos):
    """Per-frame displacement pos[t+1] - pos[t], the last frame repeating the previous: (..., T, J, 3)."""
    if pos.shape[-3] < 2:
        return pos * 0
    diff = pos[..., 1:, :, :] - pos[..., :-1, :, :]  # (..., T-1, J, 3)
    return _cat([diff, diff[..., -1:, :, :]], axis=-3)


def local_rot6d(joints):
    """Local rotations of joints 1..21 in 6D from positions: (..., T, 22, 3) -> (..., T, 21, 6)."""
    _check_joints(joints)
    local_rot, _ = ik.joints_to_local_rotations(joints)  # (..., T, 22, 3, 3)
    return sk.matrix_to_rot6d(local_rot[..., 1:, :, :])


def detect_contacts(joints, fps: float, heights=CONTACT_HEIGHTS, speed: float = CONTACT_SPEED):
    """Foot contacts (..., T, 4) bool in FOOT_JOINT_ORDER: the joint is low (floor at y = 0) and slow."""
    _check_joints(joints)
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    feet = joints[..., sk.FOOT_JOINT_ORDER, :]  # (..., T, 4, 3)
    vel = velocities(feet)
    limit = [heights[0], heights[1], heights[0], heights[1]]  # ankle, foot, ankle, foot
    if _is_torch(joints):
        low = feet[..., 1] < feet.new_tensor(limit)
        return low & (vel.norm(dim=-1) * fps < speed)
    return (feet[..., 1] < np.array(limit)) & (np.linalg.norm(vel, axis=-1) * fps < speed)


def joints_to_features(joints, contacts=None, fps: float = 20.0, rot6d=None):
    """Joints (..., T, 22, 3) -> features (..., T, 262).

    contacts: (..., T, 4) bool/float or None (then detected at `fps`). rot6d: precomputed
    (..., T, 21, 6) local rotations (from local_rot6d) to skip the inverse kinematics.
    """
    _check_joints(joints)
    lead = tuple(joints.shape[:-2])  # (..., T)
    if contacts is None:
        contacts = detect_contacts(joints, fps)
    if rot6d is None:
        rot6d = local_rot6d(joints)
    if tuple(contacts.shape) != lead + (4,):
        raise ValueError(f"contacts must have shape {lead + (4,)}, got {tuple(contacts.shape)}")
    if tuple(rot6d.shape) != lead + (21, 6):
        raise ValueError(f"rot6d must have shape {lead + (21, 6)}, got {tuple(rot6d.shape)}")
    if _is_torch(joints):
        contacts = torch.as_tensor(contacts).to(joints.dtype)
        rot6d = torch.as_tensor(rot6d).to(joints.dtype)
    else:
        contacts = np.asarray(contacts).astype(joints.dtype)
        rot6d = np.asarray(rot6d).astype(joints.dtype)
    parts = [joints.reshape(*lead, 66), velocities(joints).reshape(*lead, 66), rot6d.reshape(*lead, 126), contacts]
    return _cat(parts, axis=-1)  # (..., T, 262)


def features_to_joints(feats):
    """Features (..., T, 262) -> joint positions (..., T, 22, 3)."""
    _check_features(feats)
    return feats[..., POS].reshape(*feats.shape[:-1], sk.N_JOINTS, 3)


def features_to_grid(feats):
    """Features (..., T, 262) -> grid (..., 12, 22, T): per joint [pos 3, vel 3, rot6d 6], root rotation 0."""
    _check_features(feats)
    lead = tuple(feats.shape[:-1])  # (..., T)
    pos = feats[..., POS].reshape(*lead, 22, 3)
    vel = feats[..., VEL].reshape(*lead, 22, 3)
    rot = feats[..., ROT].reshape(*lead, 21, 6)
    root_rot = rot[..., :1, :] * 0  # (..., T, 1, 6)
    per_joint = _cat([pos, vel, _cat([root_rot, rot], axis=-2)], axis=-1)  # (..., T, 22, 12)
    return per_joint.transpose(-1, -3) if _is_torch(feats) else np.swapaxes(per_joint, -1, -3)


def grid_to_features(grid):
    """Grid (..., 12, 22, T) -> features (..., T, 262) with zero foot contacts (the grid has none)."""
    if grid.ndim < 3 or tuple(grid.shape[-3:-1]) != (GRID_CHANNELS, sk.N_JOINTS):
        raise ValueError(f"grid must have shape (..., 12, 22, T), got {tuple(grid.shape)}")
    per_joint = grid.transpose(-1, -3) if _is_torch(grid) else np.swapaxes(grid, -1, -3)  # (..., T, 22, 12)
    lead = tuple(per_joint.shape[:-2])  # (..., T)
    pos = per_joint[..., :3].reshape(*lead, 66)
    vel = per_joint[..., 3:6].reshape(*lead, 66)
    rot = per_joint[..., 1:, 6:].reshape(*lead, 126)
    return _cat([pos, vel, rot, pos[..., :4] * 0], axis=-1)  # (..., T, 262)


def clip_features(clip, rot6d=None):
    """Both people's features (2, T, 262) float32 for a Clip (its contacts if present, else detected)."""
    return joints_to_features(clip.joints, clip.contacts, fps=clip.fps, rot6d=rot6d).astype(np.float32)


class Normalizer:
    """One mean/std (262,) shared by both people; std floored per feature group so no channel explodes."""

    # rotation 6D components are unit-scale already: flooring their std at 1 keeps the tokenizer from chasing
    # rotation residues of a few hundredths (at 0.01 a decoded motion re-encoded to 1.7 % of its own tokens,
    # at 1.0 to 49 %, and reconstructed 12 mm better: 1200-step lab tokenizers, 60 test clips)
    STD_FLOORS = {"pos": 1e-2, "vel": 1e-3, "rot": 1.0, "contact": 1e-1}  # metres, metres/frame, 6D, flag

    def __init__(self, mean, std):
        self.mean = np.asarray(mean, dtype=np.float32)
        self.std = np.asarray(std, dtype=np.float32)
        if self.mean.shape != (N_FEATURES,) or self.std.shape != (N_FEATURES,):
            raise ValueError(f"mean and std must have shape (262,), got {self.mean.shape} and {self.std.shape}")
        if not (self.std > 0).all():
            raise ValueError("std must be positive everywhere")

    @classmethod
    def fit(cls, feature_arrays) -> "Normalizer":
        """Fit on a list of (..., T, 262) arrays holding BOTH people's features."""
        rows = [np.asarray(f, dtype=np.float64).reshape(-1, N_FEATURES) for f in feature_arrays]
        if not rows or sum(len(r) for r in rows) == 0:
            raise ValueError("Normalizer.fit needs at least one non-empty (T, 262) feature array")
        allrows = np.concatenate(rows)  # (N, 262)
        std = allrows.std(0)
        for name, sl in (("pos", POS), ("vel", VEL), ("rot", ROT), ("contact", CONTACT)):
            std[sl] = np.maximum(std[sl], cls.STD_FLOORS[name])
        return cls(allrows.mean(0), std)

    def _stats(self, x, mean, std):
        if _is_torch(x):
            as_x = dict(dtype=x.dtype, device=x.device)
            return torch.as_tensor(mean, **as_x), torch.as_tensor(std, **as_x)
        return mean.astype(x.dtype, copy=False), std.astype(x.dtype, copy=False)

    def normalize(self, feats):
        _check_features(feats)
        mean, std = self._stats(feats, self.mean, self.std)
        return (feats - mean) / std

    def denormalize(self, feats):
        _check_features(feats)
        mean, std = self._stats(feats, self.mean, self.std)
        return feats * std + mean

    @property
    def grid_mean(self) -> np.ndarray:
        """(12, 22) mean in grid layout (root rotation slot 0)."""
        return features_to_grid(self.mean[None])[..., 0]

    @property
    def grid_std(self) -> np.ndarray:
        """(12, 22) std in grid layout (root rotation slot 1, so it stays 0 after normalising)."""
        std = features_to_grid(self.std[None])[..., 0].copy()
        std[6:, 0] = 1.0
        return std

    def normalize_grid(self, grid):
        """Normalise a grid (..., 12, 22, T) directly."""
        mean, std = self._stats(grid, self.grid_mean, self.grid_std)
        return (grid - mean[..., None]) / std[..., None]

    def denormalize_grid(self, grid):
        mean, std = self._stats(grid, self.grid_mean, self.grid_std)
        return grid * std[..., None] + mean[..., None]

    def state_dict(self) -> dict:
        return {"mean": torch.from_numpy(self.mean.copy()), "std": torch.from_numpy(self.std.copy())}

    @classmethod
    def from_state_dict(cls, state: dict) -> "Normalizer":
        if "mean" not in state or "std" not in state:
            raise KeyError(f"normaliser state needs 'mean' and 'std', got keys {sorted(state)}")
        return cls(torch.as_tensor(state["mean"]).numpy(), torch.as_tensor(state["std"]).numpy())
