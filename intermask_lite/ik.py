"""Joint rotations from joint positions (inverse kinematics) for the 22-joint skeleton.

Global frame of each joint, walking from the root down the tree:
- joints with several children (pelvis, spine3): the rotation that best maps the rest directions of all
  children onto the observed ones (Kabsch / SVD), so the twist of the hips and shoulders is recovered;
- joints with one child: the smallest swing that turns the parent frame's rest direction of the child
  onto the observed direction (the twist is inherited from the parent);
- leaf joints (feet, head, wrists): the parent's frame (local rotation = identity).
Only bone directions are used, so the rotations do not depend on bone lengths; forward kinematics with
offsets whose lengths match the measured bones reproduces the joints exactly.
"""
from __future__ import annotations

import numpy as np
import torch

from . import skeleton as sk

_CHILDREN = [[c for c in range(sk.N_JOINTS) if sk.PARENTS[c] == j] for j in range(sk.N_JOINTS)]


def _kabsch(rest_dirs: torch.Tensor, seen_dirs: torch.Tensor) -> torch.Tensor:
    """Rotation R minimising sum |R rest - seen|^2 over unit directions: (K, 3), (..., K, 3) -> (..., 3, 3)."""
    cov = torch.einsum("ki,...kj->...ij", rest_dirs, seen_dirs)  # (..., 3, 3) = sum_k rest_k seen_k^T
    u, _, vh = torch.linalg.svd(cov)
    v = vh.transpose(-1, -2)
    det = torch.linalg.det(v @ u.transpose(-1, -2))  # (...,)  -1 would be a reflection
    fix = torch.ones(*det.shape, 3, dtype=cov.dtype, device=cov.device)
    fix[..., 2] = torch.sign(det) + (det == 0).to(cov.dtype)
    return v @ torch.diag_embed(fix) @ u.transpose(-1, -2)  # (..., 3, 3)


def joints_to_local_rotations(joints, offsets=None):
    """Local rotations that reproduce `joints` by forward kinematics.

    joints: (..., 22, 3) numpy or torch global positions. offsets: (22, 3) rest offsets whose directions
    define the rest pose (default skeleton.REST_OFFSETS; only directions matter).
    Returns (local_rot (..., 22, 3, 3), root_pos (..., 3)), numpy in -> numpy out (torch in: differentiable), with
    skeleton.forward_kinematics(local_rot, root_pos, offsets) == joints when the bone lengths match.
    """
    was_numpy = not isinstance(joints, torch.Tensor)
    pos = torch.as_tensor(np.asarray(joints) if was_numpy else joints)
    if pos.shape[-2:] != (sk.N_JOINTS, 3):
        raise ValueError(f"joints must end in (22, 3), got {tuple(pos.shape)}")
    out_dtype = pos.dtype if pos.is_floating_point() else torch.float32
    pos = pos.to(torch.float64)                               # torch input keeps its gradient (vq.readback)
    off = torch.as_tensor(sk.REST_OFFSETS if offsets is None else np.asarray(offsets), dtype=torch.float64,
                          device=pos.device)
    if off.shape != (sk.N_JOINTS, 3):
        raise ValueError(f"offsets must have shape (22, 3), got {tuple(off.shape)}")
    rest_dir = torch.nn.functional.normalize(off, dim=-1)  # (22, 3)

    batch = pos.shape[:-2]
    eye = torch.eye(3, dtype=torch.float64, device=pos.device).expand(*batch, 3, 3)
    glob = [eye] * sk.N_JOINTS  # global frame of each joint, (..., 3, 3)
    local = [eye] * sk.N_JOINTS
    for j in range(sk.N_JOINTS):  # parents come before children in this order
        parent_glob = eye if j == 0 else glob[sk.PARENTS[j]]
        kids = _CHILDREN[j]
        if len(kids) >= 2:
            seen = torch.nn.functional.normalize(pos[..., kids, :] - pos[..., j:j + 1, :], dim=-1)  # (..., K, 3)
            glob[j] = _kabsch(rest_dir[kids], seen)
        elif len(kids) == 1:
            c = kids[0]
            rest_in_world = torch.einsum("...ij,j->...i", parent_glob, rest_dir[c])  # (..., 3)
            swing = sk.rotation_between(rest_in_world, pos[..., c, :] - pos[..., j, :])  # (..., 3, 3)
            glob[j] = swing @ parent_glob
        else:
            glob[j] = parent_glob
        local[j] = parent_glob.transpose(-1, -2) @ glob[j]
    local_rot = torch.stack(local, dim=-3).to(out_dtype)  # (..., 22, 3, 3)
    root_pos = pos[..., 0, :].to(out_dtype)  # (..., 3)
    if was_numpy:
        return local_rot.numpy(), root_pos.numpy()
    return local_rot, root_pos


def offsets_from_joints(joints) -> np.ndarray:
    """Rest offsets (22, 3) fitted to a motion: REST_OFFSETS directions with the measured mean bone lengths.

    joints: (..., T, 22, 3) numpy or torch. The pelvis row is the rest height: REST_OFFSETS' pelvis height
    scaled by the ratio of measured to default leg length, so the feet keep their gap to the floor.
    """
    pos = joints.detach().cpu().numpy() if isinstance(joints, torch.Tensor) else np.asarray(joints)
    if pos.ndim < 3 or pos.shape[-2:] != (sk.N_JOINTS, 3):
        raise ValueError(f"joints must have shape (..., T, 22, 3), got {pos.shape}")
    lengths = sk.bone_lengths(pos.astype(np.float64)).reshape(-1, sk.N_JOINTS - 1).mean(0)  # (21,)
    rest_len = np.linalg.norm(sk.REST_OFFSETS[1:], axis=-1)  # (21,)
    offsets = sk.REST_OFFSETS.copy()
    offsets[1:] = sk.REST_OFFSETS[1:] / rest_len[:, None] * lengths[:, None]
    leg = [1, 4, 7, 10]  # left hip, knee, ankle, foot: their offsets sum to the pelvis-to-toe height
    rest_leg_drop = -sk.REST_OFFSETS[leg, 1].sum()
    leg_drop = -offsets[leg, 1].sum()
    offsets[0] = [0.0, sk.REST_OFFSETS[0, 1] * leg_drop / rest_leg_drop, 0.0]
    return offsets
