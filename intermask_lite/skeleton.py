"""The 22-joint SMPL/HumanML3D skeleton: names, parents, chains, rest offsets, FK and rotation helpers.

Conventions (docs/architecture.md, section 3): metres, Y up, floor at y = 0; a person in the rest pose faces +Z,
so their left side is +X. Rotation helpers work on torch tensors and on numpy arrays (returned as numpy).
"""
from __future__ import annotations

import numpy as np
import torch

JOINT_NAMES = [
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck",
    "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist",
]
N_JOINTS = 22
PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19]
CHAINS = {
    "right_leg": [0, 2, 5, 8, 11],
    "left_leg": [0, 1, 4, 7, 10],
    "spine": [0, 3, 6, 9, 12, 15],
    "right_arm": [9, 14, 17, 19, 21],
    "left_arm": [9, 13, 16, 18, 20],
}
# the joints along the chains, so that neighbours are connected: right leg up, pelvis, left leg down, spine up,
# right arm in, left arm out (vq_study.joint_order="chains" lays the tokenizer's joint axis out this way)
CHAIN_ORDER = [11, 8, 5, 2, 0, 1, 4, 7, 10, 3, 6, 9, 12, 15, 21, 19, 17, 14, 13, 16, 18, 20]
FOOT_JOINTS = {"left": (7, 10), "right": (8, 11)}
FOOT_JOINT_ORDER = [7, 10, 8, 11]  # the order of the 4 foot-contact flags: l_ankle, l_foot, r_ankle, r_foot
MIRROR_LEFT = [1, 4, 7, 10, 13, 16, 18, 20]
MIRROR_RIGHT = [2, 5, 8, 11, 14, 17, 19, 21]
MIRROR_PERM = list(range(N_JOINTS))
for _l, _r in zip(MIRROR_LEFT, MIRROR_RIGHT):
    MIRROR_PERM[_l], MIRROR_PERM[_r] = _r, _l
# bones as (parent, child) pairs, in joint order (child 1..21)
BONES = [(PARENTS[j], j) for j in range(1, N_JOINTS)]
# the joints each body-part token row mainly covers (5 rows after the tokenizer's spatial downsampling)
BODY_PARTS = ["right leg", "left leg", "spine and head", "right arm", "left arm"]

# Rest-pose offsets of each joint from its parent (metres, T-pose, facing +Z, left = +X).
REST_OFFSETS = np.array([
    [0.00, 0.97, 0.00],    # 0 pelvis: absolute rest position (the feet touch the floor)
    [0.07, -0.09, 0.00],   # 1 left_hip
    [-0.07, -0.09, 0.00],  # 2 right_hip
    [0.00, 0.11, -0.02],   # 3 spine1
    [0.00, -0.40, 0.00],   # 4 left_knee
    [0.00, -0.40, 0.00],   # 5 right_knee
    [0.00, 0.13, 0.00],    # 6 spine2
    [0.00, -0.40, -0.02],  # 7 left_ankle
    [0.00, -0.40, -0.02],  # 8 right_ankle
    [0.00, 0.05, 0.02],    # 9 spine3
    [0.00, -0.06, 0.13],   # 10 left_foot
    [0.00, -0.06, 0.13],   # 11 right_foot
    [0.00, 0.21, -0.02],   # 12 neck
    [0.07, 0.11, -0.01],   # 13 left_collar
    [-0.07, 0.11, -0.01],  # 14 right_collar
    [0.00, 0.10, 0.04],    # 15 head
    [0.11, 0.04, 0.00],    # 16 left_shoulder
    [-0.11, 0.04, 0.00],   # 17 right_shoulder
    [0.26, 0.00, 0.00],    # 18 left_elbow
    [-0.26, 0.00, 0.00],   # 19 right_elbow
    [0.25, 0.00, 0.00],    # 20 left_wrist
    [-0.25, 0.00, 0.00],   # 21 right_wrist
], dtype=np.float64)


def joint_index(name: str) -> int:
    """Index of a joint by name, with a clear error for unknown names."""
    if name not in JOINT_NAMES:
        raise KeyError(f"unknown joint name {name!r}; expected one of {JOINT_NAMES}")
    return JOINT_NAMES.index(name)


def scaled_offsets(height_scale: float = 1.0) -> np.ndarray:
    """Rest offsets for a body scaled uniformly (1.0 = the default 1.75 m adult)."""
    return REST_OFFSETS * float(height_scale)


def bone_lengths(joints):
    """Length of each of the 21 bones: (..., 22, 3) -> (..., 21). numpy or torch."""
    child = list(range(1, N_JOINTS))
    parent = PARENTS[1:]
    diff = joints[..., child, :] - joints[..., parent, :]
    if isinstance(diff, torch.Tensor):
        return diff.norm(dim=-1)
    return np.linalg.norm(diff, axis=-1)


def joint_distances(pred, truth, align_root: bool = False):
    """Per-joint position errors, the one definition behind every MPJPE of the kit: (..., J, 3) x2 -> (..., J).

    numpy or torch. align_root first moves each pose's root (joint 0, the pelvis) onto the origin in both, so
    only the pose counts, not where the body stands (the tokenizer MPJPE of MoMask-style code).
    """
    if pred.shape != truth.shape or pred.shape[-1] != 3:
        raise ValueError(f"pred {tuple(pred.shape)} and truth {tuple(truth.shape)} must have one shape (..., J, 3)")
    if align_root:
        pred, truth = pred - pred[..., :1, :], truth - truth[..., :1, :]
    diff = pred - truth
    if isinstance(diff, torch.Tensor):
        return diff.norm(dim=-1)
    return np.linalg.norm(diff, axis=-1)


def rest_pose(offsets: np.ndarray | None = None) -> np.ndarray:
    """Global joint positions of the rest pose: (22, 3)."""
    offsets = REST_OFFSETS if offsets is None else offsets
    pos = np.zeros((N_JOINTS, 3))
    for j in range(N_JOINTS):
        pos[j] = offsets[j] if PARENTS[j] < 0 else pos[PARENTS[j]] + offsets[j]
    return pos


# ---------------------------------------------------------------- rotations (torch core, numpy wrappers)

def _to_torch(x):
    if isinstance(x, torch.Tensor):
        return x, False
    return torch.as_tensor(np.asarray(x, dtype=np.float64)), True


def _back(x: torch.Tensor, was_numpy: bool):
    return x.numpy() if was_numpy else x


def forward_kinematics(local_rot, root_pos, offsets=None):
    """Joint positions from local rotations.

    local_rot: (..., 22, 3, 3) rotation of each joint relative to its parent (joint 0: global root rotation).
    root_pos: (..., 3) pelvis position. offsets: (22, 3) rest offsets (default REST_OFFSETS).
    Returns (..., 22, 3) global positions (numpy in, numpy out).
    """
    rot, was_np = _to_torch(local_rot)
    root, _ = _to_torch(root_pos)
    root = root.to(rot.dtype)
    off = torch.as_tensor(REST_OFFSETS if offsets is None else offsets, dtype=rot.dtype)  # (22, 3)
    if rot.shape[-3:] != (N_JOINTS, 3, 3):
        raise ValueError(f"local_rot must end in (22, 3, 3), got {tuple(rot.shape)}")
    glob_r = [rot[..., 0, :, :]]
    pos = [root]
    for j in range(1, N_JOINTS):
        p = PARENTS[j]
        pos.append(pos[p] + torch.einsum("...ij,j->...i", glob_r[p], off[j]))
        glob_r.append(glob_r[p] @ rot[..., j, :, :])
    return _back(torch.stack(pos, dim=-2), was_np)  # (..., 22, 3)


def axis_angle_to_matrix(axis_angle):
    """Rodrigues: (..., 3) axis * angle -> (..., 3, 3)."""
    aa, was_np = _to_torch(axis_angle)
    angle = aa.norm(dim=-1, keepdim=True).clamp_min(1e-12)  # (..., 1)
    axis = aa / angle
    x, y, z = axis.unbind(-1)
    zero = torch.zeros_like(x)
    k = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], dim=-1).reshape(*aa.shape[:-1], 3, 3)
    s, c = torch.sin(angle)[..., None], torch.cos(angle)[..., None]
    eye = torch.eye(3, dtype=aa.dtype, device=aa.device).expand_as(k)
    return _back(eye + s * k + (1 - c) * (k @ k), was_np)


def rot_y(angle):
    """Rotation about the vertical axis: (...,) radians -> (..., 3, 3)."""
    a, was_np = _to_torch(angle)
    c, s, o, z = torch.cos(a), torch.sin(a), torch.ones_like(a), torch.zeros_like(a)
    m = torch.stack([c, z, s, z, o, z, -s, z, c], dim=-1).reshape(*a.shape, 3, 3)
    return _back(m, was_np)


def matrix_to_rot6d(mat):
    """(..., 3, 3) -> (..., 6): the first two columns, concatenated (Zhou et al. 2019)."""
    m, was_np = _to_torch(mat)
    return _back(torch.cat([m[..., :, 0], m[..., :, 1]], dim=-1), was_np)


def rot6d_to_matrix(rot6d):
    """(..., 6) -> (..., 3, 3) by Gram-Schmidt; inverse of matrix_to_rot6d for valid rotations."""
    r, was_np = _to_torch(rot6d)
    a1, a2 = r[..., :3], r[..., 3:]
    b1 = torch.nn.functional.normalize(a1, dim=-1)
    b2 = torch.nn.functional.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
    b3 = torch.cross(b1, b2, dim=-1)
    return _back(torch.stack([b1, b2, b3], dim=-1), was_np)


def rotation_between(u, v):
    """Smallest rotation taking direction u to direction v: (..., 3), (..., 3) -> (..., 3, 3)."""
    a, was_np = _to_torch(u)
    b, _ = _to_torch(v)
    b = b.to(a.dtype)
    a = torch.nn.functional.normalize(a, dim=-1)
    b = torch.nn.functional.normalize(b, dim=-1)
    axis = torch.cross(a, b, dim=-1)
    sin = axis.norm(dim=-1, keepdim=True)
    cos = (a * b).sum(-1, keepdim=True)
    angle = torch.atan2(sin, cos)
    # opposite vectors: rotate by pi about any axis perpendicular to a
    perp = torch.cross(a, a.new_tensor([1.0, 0.0, 0.0]).expand_as(a), dim=-1)
    perp = torch.where(perp.norm(dim=-1, keepdim=True) < 1e-6,
                       torch.cross(a, a.new_tensor([0.0, 1.0, 0.0]).expand_as(a), dim=-1), perp)
    axis = torch.where(sin < 1e-9, perp, axis)
    axis = torch.nn.functional.normalize(axis, dim=-1)
    return _back(axis_angle_to_matrix(axis * angle), was_np)


def geodesic_angle(r1, r2):
    """Angle (radians) of the relative rotation r1^T r2: (..., 3, 3) x2 -> (...,)."""
    a, was_np = _to_torch(r1)
    b, _ = _to_torch(r2)
    rel = a.transpose(-1, -2) @ b.to(a.dtype)
    cos = ((rel.diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2).clamp(-1 + 1e-7, 1 - 1e-7)
    return _back(torch.acos(cos), was_np)


def two_bone_ik(root, target, len_upper, len_lower, pole):
    """Analytic two-bone IK: where the middle joint (knee/elbow) goes.

    root, target, pole: (..., 3) numpy; len_upper, len_lower: bone lengths. The chain bends towards pole
    (a direction). Targets out of reach are clamped to the reachable sphere. Returns (mid, end) positions.
    """
    root, target, pole = (np.asarray(a, dtype=np.float64) for a in (root, target, pole))
    d = target - root
    dist = np.linalg.norm(d, axis=-1, keepdims=True)
    reach = len_upper + len_lower - 1e-6
    dist_c = np.clip(dist, abs(len_upper - len_lower) + 1e-6, reach)
    dir_ = d / np.maximum(dist, 1e-9)
    end = root + dir_ * dist_c
    # law of cosines: distance along dir_ to the foot of the mid joint, and the offset from the line
    a = (len_upper ** 2 - len_lower ** 2 + dist_c ** 2) / (2 * dist_c)
    h = np.sqrt(np.maximum(len_upper ** 2 - a ** 2, 0.0))
    bend = pole - (pole * dir_).sum(-1, keepdims=True) * dir_
    bend = bend / np.maximum(np.linalg.norm(bend, axis=-1, keepdims=True), 1e-9)
    mid = root + dir_ * a + bend * h
    return mid, end


def resample_joints(x: np.ndarray, fps_in: float, fps_out: float, axis: int = 0) -> np.ndarray:
    """Linear interpolation of `x` along its time `axis` from fps_in to fps_out.

    The output has round((T - 1) * fps_out / fps_in) + 1 frames, spanning the same first-to-last time.
    """
    x = np.moveaxis(np.asarray(x, dtype=np.float64), axis, 0)  # (T, ...)
    n_in = x.shape[0]
    n_out = int(round((n_in - 1) * fps_out / fps_in)) + 1
    src = np.clip(np.arange(n_out) * fps_in / fps_out, 0, n_in - 1)  # fractional source frame of each output
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, n_in - 1)
    w = (src - lo).reshape(-1, *([1] * (x.ndim - 1)))
    out = (1 - w) * x[lo] + w * x[hi]  # (T', ...)
    return np.moveaxis(out, 0, axis).astype(np.float32)
