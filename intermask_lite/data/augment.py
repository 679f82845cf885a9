"""Rigid normalisation and symmetry of two-person clips: canonicalise, mirror (with captions), swap people.

Canonical frame (docs/architecture.md, section 3): floor at y = 0 (the lowest foot joint of both people over the
clip), A's root starts at x = z = 0 and A faces +Z at frame 0; B is expressed in the same frame.
"""
from __future__ import annotations

import re

import numpy as np
import torch

from .. import skeleton as sk

_LEFT_HIP, _RIGHT_HIP = sk.joint_index("left_hip"), sk.joint_index("right_hip")
_LEFT_SHOULDER, _RIGHT_SHOULDER = sk.joint_index("left_shoulder"), sk.joint_index("right_shoulder")


def _check_pair(joints2):
    shape = tuple(joints2.shape)
    if len(shape) != 4 or shape[0] != 2 or shape[2:] != (sk.N_JOINTS, 3):
        raise ValueError(f"joints2 must have shape (2, T, 22, 3), got {shape}")


def facing_angle(joints) -> np.ndarray:
    """Heading about +Y (radians, 0 = facing +Z, pi/2 = facing +X) of poses (..., 22, 3) numpy.

    The across vector (left minus right, hips plus shoulders) points to the person's left (+X at rest);
    forward = across x up.
    """
    j = np.asarray(joints, dtype=np.float64)
    across = (j[..., _LEFT_HIP, :] - j[..., _RIGHT_HIP, :]) + (j[..., _LEFT_SHOULDER, :] - j[..., _RIGHT_SHOULDER, :])
    forward_x, forward_z = -across[..., 2], across[..., 0]  # across x (0, 1, 0)
    return np.arctan2(forward_x, forward_z)


def canonicalize(joints2):
    """(2, T, 22, 3) numpy -> the same clip with floor y = 0, A's root at x = z = 0 and A facing +Z at frame 0."""
    _check_pair(joints2)
    j = np.asarray(joints2, dtype=np.float64)
    floor = j[:, :, sk.FOOT_JOINT_ORDER, 1].min()
    j = j - np.array([j[0, 0, 0, 0], floor, j[0, 0, 0, 2]])
    turn = sk.rot_y(np.array(-facing_angle(j[0, 0])))  # (3, 3)
    return (j @ turn.T).astype(np.asarray(joints2).dtype)


def mirror(joints):
    """Reflect x -> -x and swap left/right joints: (..., 22, 3) numpy or torch. mirror(mirror(x)) == x."""
    if tuple(joints.shape[-2:]) != (sk.N_JOINTS, 3):
        raise ValueError(f"joints must end in (22, 3), got {tuple(joints.shape)}")
    out = joints[..., sk.MIRROR_PERM, :]
    out = out.clone() if isinstance(out, torch.Tensor) else out.copy()
    out[..., 0] = -out[..., 0]
    return out


MIRROR_CONTACTS = [2, 3, 0, 1]  # foot flags of the mirror image (FOOT_JOINT_ORDER: l_ankle, l_foot, r_ankle, r_foot)
_ROT_PERM = [sk.MIRROR_PERM[j] - 1 for j in range(1, sk.N_JOINTS)]
# reflecting S = diag(-1, 1, 1) turns a local rotation M into S M S: column 0 -> -S c0, column 1 -> S c1
_ROT6D_SIGNS = np.array([1.0, -1.0, -1.0, -1.0, 1.0, 1.0])


def mirror_rot6d(rot6d):
    """Local 6D rotations of joints 1..21 (..., 21, 6) of a motion -> those of its mirror image."""
    if tuple(rot6d.shape[-2:]) != (sk.N_JOINTS - 1, 6):
        raise ValueError(f"rot6d must end in (21, 6), got {tuple(rot6d.shape)}")
    signs = torch.as_tensor(_ROT6D_SIGNS, dtype=rot6d.dtype) if isinstance(rot6d, torch.Tensor) else _ROT6D_SIGNS
    return rot6d[..., _ROT_PERM, :] * signs


def swap_people(joints2):
    """B becomes A: (2, T, 22, 3) -> the swapped clip, re-canonicalised in the new A's frame."""
    _check_pair(joints2)
    return canonicalize(np.asarray(joints2)[::-1])


_SWAPS = {
    "left": "right", "right": "left",
    "clockwise": "counterclockwise", "counterclockwise": "clockwise",
    "counter-clockwise": "clockwise", "anticlockwise": "clockwise", "anti-clockwise": "clockwise",
}
_WORD = re.compile(r"\b(counter-clockwise|counterclockwise|anti-clockwise|anticlockwise|clockwise|left|right)"
                   r"(?=wards?\b|most\b|\b)", re.IGNORECASE)


def _match_case(template: str, word: str) -> str:
    if template.isupper() and len(template) > 1:
        return word.upper()
    if template[0].isupper():
        return word[0].upper() + word[1:]
    return word


def mirror_caption(text: str) -> str:
    """The caption of the mirrored motion: left <-> right, clockwise <-> counterclockwise, case kept.

    Also covers leftward(s)/rightmost and counter-clockwise / anticlockwise. ("right" meaning "correct"
    is swapped too; captions rarely use it that way.)
    """
    return _WORD.sub(lambda m: _match_case(m.group(0), _SWAPS[m.group(0).lower()]), text)
