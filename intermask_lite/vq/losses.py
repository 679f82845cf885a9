"""Reconstruction losses of the tokenizer, on the (B, 12, 22, T) grid.

Grid channels per joint: 0:3 position, 3:6 velocity, 6:12 local rotation in 6D (the root's slot is zero).
The feature loss compares normalised grids; the others denormalise first and work in metres:
positions, frame-to-frame velocity of the positions, bone lengths along the skeleton chains, the geodesic
angle between rotations, and foot contact (the predicted foot velocity is pushed to zero on the frames
where the ground-truth foot is in contact). Metric terms use SmoothL1 with a 2 cm transition (METRIC_BETA)
so that centimetre errors still get a linear, not vanishing, gradient. The losses run in float32 under autocast.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import skeleton

POS, VEL, ROT = slice(0, 3), slice(3, 6), slice(6, 12)  # grid channel groups
METRIC_BETA = 0.02          # SmoothL1 transition (metres) of the metric losses
FOOT_HEIGHT = (0.12, 0.05, 0.12, 0.05)  # contact height thresholds (m) for FOOT_JOINT_ORDER (ankle, toe, ...)
FOOT_SPEED = 0.025          # contact speed threshold (m per frame: 0.5 m/s at 20 fps)
CHAIN_BONES = [(c[i], c[i + 1]) for c in skeleton.CHAINS.values() for i in range(len(c) - 1)]


def denormalize(grid: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """(B, 12, 22, T) normalised -> raw units, with mean/std of shape (12, 22)."""
    return grid * std[None, :, :, None] + mean[None, :, :, None]


def grid_positions(raw: torch.Tensor) -> torch.Tensor:
    """Joint positions of a raw grid: (B, 12, 22, T) -> (B, T, 22, 3), contiguous (norms over a strided last
    axis run ~15x slower on the CPU)."""
    return raw[:, POS].permute(0, 3, 2, 1).contiguous()


def chain_bone_lengths(joints: torch.Tensor) -> torch.Tensor:
    """(B, T, 22, 3) -> (B, T, n_bones) lengths of the bones along the skeleton chains."""
    parent = [p for p, _ in CHAIN_BONES]
    child = [c for _, c in CHAIN_BONES]
    return (joints[..., child, :] - joints[..., parent, :]).norm(dim=-1)


def foot_contact(joints: torch.Tensor) -> torch.Tensor:
    """Ground-truth contact from positions: (B, T, 22, 3) -> (B, T-1, 4) bool (low and slow feet)."""
    feet = joints[:, :, skeleton.FOOT_JOINT_ORDER]                  # (B, T, 4, 3)
    speed = (feet[:, 1:] - feet[:, :-1]).norm(dim=-1)               # (B, T-1, 4)
    height = feet[:, :-1, :, 1]                                     # (B, T-1, 4)
    limit = torch.tensor(FOOT_HEIGHT, device=joints.device, dtype=joints.dtype)
    return (speed < FOOT_SPEED) & (height < limit)


def _metric(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.smooth_l1_loss(pred, target, beta=METRIC_BETA)


def geodesic_loss(pred_raw: torch.Tensor, gt_raw: torch.Tensor) -> torch.Tensor:
    """Mean angle (radians) between predicted and true local rotations of joints 1..21."""
    pred6 = pred_raw[:, ROT, 1:].permute(0, 3, 2, 1).contiguous()   # (B, T, 21, 6)
    gt6 = gt_raw[:, ROT, 1:].permute(0, 3, 2, 1).contiguous()       # (B, T, 21, 6)
    angle = skeleton.geodesic_angle(skeleton.rot6d_to_matrix(pred6), skeleton.rot6d_to_matrix(gt6))
    return angle.mean()


def reconstruction_losses(pred: torch.Tensor, gt: torch.Tensor, mean: torch.Tensor, std: torch.Tensor,
                          cfg) -> tuple[torch.Tensor, dict]:
    """Weighted sum of all reconstruction terms (commitment excluded) and each term as a float.

    pred, gt: (B, 12, 22, T) normalised grids; mean, std: (12, 22); cfg: VQConfig (w_* weights).
    """
    if pred.shape != gt.shape:
        raise ValueError(f"prediction {tuple(pred.shape)} and target {tuple(gt.shape)} differ in shape")
    with torch.autocast(device_type=pred.device.type, enabled=False):  # float32: bf16 rounds acos's clamp to 1
        return _losses(pred.float(), gt.float(), mean, std, cfg)


def _losses(pred, gt, mean, std, cfg) -> tuple[torch.Tensor, dict]:
    pred_raw, gt_raw = denormalize(pred, mean, std), denormalize(gt, mean, std)
    pred_j, gt_j = grid_positions(pred_raw), grid_positions(gt_raw)  # (B, T, 22, 3)
    pred_v, gt_v = pred_j[:, 1:] - pred_j[:, :-1], gt_j[:, 1:] - gt_j[:, :-1]  # (B, T-1, 22, 3)
    contact = foot_contact(gt_j)                                    # (B, T-1, 4)
    foot_v = pred_v[:, :, skeleton.FOOT_JOINT_ORDER]                # (B, T-1, 4, 3)
    if contact.any():
        foot = _metric(foot_v[contact], torch.zeros_like(foot_v[contact]))
    else:
        foot = pred.new_zeros(())
    terms = {
        "feat": F.smooth_l1_loss(pred, gt),
        "pos": _metric(pred_j, gt_j),
        "vel": _metric(pred_v, gt_v),
        "bone": _metric(chain_bone_lengths(pred_j), chain_bone_lengths(gt_j)),
        "geo": geodesic_loss(pred_raw, gt_raw),
        "foot": foot,
    }
    weights = {"feat": cfg.w_feat, "pos": cfg.w_pos, "vel": cfg.w_vel, "bone": cfg.w_bone,
               "geo": cfg.w_geo, "foot": cfg.w_foot}
    total = sum(weights[k] * v for k, v in terms.items())
    return total, {k: float(v.detach()) for k, v in terms.items()}
