"""MotionTokenizer: grid (B, 12, 22, T) <-> tokens (B, 5, T/4) (2D) or (B, 1, T/4) (1D ablation).

Lengths: T must be a multiple of 4 (one token column = 4 frames); other lengths raise a ValueError.
Use `pad_to_multiple` to pad a grid by repeating its last frame, and crop the decoded grid back.
Two switches of the tokenizer study (config.TokenizerStudyConfig, passed as `study`): quantize=False bypasses
the codebook: the same network as a plain autoencoder (reconstruct() works, encode() and decode() refuse), the
measure of what the discrete bottleneck costs; joint_order="chains" lays the 2D joint axis out along the
kinematic chains (skeleton.CHAIN_ORDER) inside the tokenizer (default: the skeleton's order, the paper's);
inputs and outputs keep the skeleton's.
"""
from __future__ import annotations

from functools import lru_cache

import torch
from torch import nn

from .. import skeleton
from ..config import FRAMES_PER_TOKEN, TokenizerStudyConfig
from ..data.features import Normalizer, features_to_grid, joints_to_features
from .encdec import JOINT_SIZES, Decoder, Encoder
from .losses import POS, denormalize
from .quantizer import EMAQuantizer

N_CHANNELS, N_JOINTS = 12, 22  # grid channels per joint, joints
JOINT_ORDERS = {"smpl": None, "chains": skeleton.CHAIN_ORDER}  # study.joint_order: None = skeleton order


def _n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@lru_cache(maxsize=None)
def matched_1d_width(width: int, code_dim: int, depth: int, dilation_growth: int) -> int:
    """The conv width (a multiple of 4) that gives the 1D tokenizer's encoder and decoder the parameter count
    closest to the 2D ones of `width`: the 1D ablation then differs from the 2D tokenizer in its layout alone
    (same codebook, same temporal downsampling, parameter counts within a few per cent)."""
    args = (code_dim, depth, dilation_growth)

    def count(channels: int, w: int, dims: int) -> int:
        with torch.device("meta"):  # shapes only, no memory
            return _n_params(Encoder(channels, w, *args, dims=dims)) + _n_params(Decoder(channels, w, *args, dims=dims))
    target = count(N_CHANNELS, width, 2)
    lo, hi = 1, width                             # in units of 4 channels; the count grows with the width
    while count(N_CHANNELS * N_JOINTS, 4 * hi, 1) < target:
        hi *= 2
    while hi - lo > 1:                            # the last width below the target, then the nearer of it and the next
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if count(N_CHANNELS * N_JOINTS, 4 * mid, 1) < target else (lo, mid)
    return min((4 * lo, 4 * hi), key=lambda w: abs(count(N_CHANNELS * N_JOINTS, w, 1) - target))


def pad_to_multiple(grid: torch.Tensor, multiple: int = FRAMES_PER_TOKEN) -> tuple[torch.Tensor, int]:
    """Pad (..., T) by repeating the last frame up to a multiple of `multiple`; returns (grid, T)."""
    length = grid.shape[-1]
    pad = (-length) % multiple
    if pad:
        grid = torch.cat([grid, grid[..., -1:].expand(*grid.shape[:-1], pad)], dim=-1)
    return grid, length


def root_spread(pred_roots: torch.Tensor, true_roots: torch.Tensor) -> float:
    """The share of the truth's spread in where people stand that the prediction keeps, on the worse floor axis.

    pred_roots, true_roots: root (pelvis) positions (..., 3) of the same shape, e.g. joints[..., 0, :]. For x and
    z, the standard deviation of the predicted roots over all frames divided by the truth's; returns the smaller
    ratio. About 1 when placement is kept; near 0 when every root comes out on one line (the x = 0 basin,
    docs/tokenizer_study.md). nan when the true roots spread by less than a millimetre on both axes.
    """
    if pred_roots.shape != true_roots.shape or pred_roots.shape[-1] != 3:
        raise ValueError(f"expected two root position tensors (..., 3) of one shape, got {tuple(pred_roots.shape)} "
                         f"and {tuple(true_roots.shape)}")
    pred_xz, true_xz = pred_roots[..., [0, 2]].reshape(-1, 2), true_roots[..., [0, 2]].reshape(-1, 2)  # (N, 2)
    ratios = [float(p / t) for p, t in zip(pred_xz.std(0), true_xz.std(0)) if t >= 1e-3]
    return min(ratios) if ratios else float("nan")


def grid_stats(normalizer_state) -> tuple[torch.Tensor, torch.Tensor]:
    """Grid-form (12, 22) mean and std from a data.features.Normalizer, its state dict, or None (identity).

    A state dict holds "mean"/"std" of shape (262,) (the Normalizer's) or (12, 22) (already grid-form).
    """
    if normalizer_state is None:
        return torch.zeros(N_CHANNELS, N_JOINTS), torch.ones(N_CHANNELS, N_JOINTS)
    if hasattr(normalizer_state, "grid_mean"):
        mean, std = normalizer_state.grid_mean, normalizer_state.grid_std
    elif isinstance(normalizer_state, dict) and "mean" in normalizer_state and "std" in normalizer_state:
        mean, std = normalizer_state["mean"], normalizer_state["std"]
        if tuple(mean.shape) == (262,):
            norm = Normalizer.from_state_dict(normalizer_state)
            mean, std = norm.grid_mean, norm.grid_std
    else:
        raise ValueError("normalizer_state must be a Normalizer, a dict with 'mean' and 'std', or None; "
                         f"got {type(normalizer_state).__name__}")
    mean, std = torch.as_tensor(mean, dtype=torch.float32), torch.as_tensor(std, dtype=torch.float32)
    if mean.shape != (N_CHANNELS, N_JOINTS) or std.shape != (N_CHANNELS, N_JOINTS):
        raise ValueError(f"normaliser mean/std must have shape (262,) or (12, 22), got {tuple(mean.shape)}")
    return mean, std


class MotionTokenizer(nn.Module):
    """VQ-VAE over the feature grid; cfg is a VQConfig, normalizer_state gives the grid mean/std, study a
    config.TokenizerStudyConfig (default: the paper's tokenizer)."""

    def __init__(self, cfg, normalizer_state=None, study: TokenizerStudyConfig | None = None):
        super().__init__()
        study = study or TokenizerStudyConfig()
        if cfg.kind not in ("2d", "1d"):
            raise ValueError(f"VQConfig.kind must be '2d' or '1d', got {cfg.kind!r}")
        if study.joint_order not in JOINT_ORDERS:
            raise ValueError(f"joint_order must be one of {list(JOINT_ORDERS)}, got {study.joint_order!r}")
        for name, value in (("VQConfig.reset_until", cfg.reset_until), ("foot_from", study.foot_from)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} is a share of the training steps in [0, 1], got {value}")
        if cfg.kind == "1d" and study.joint_order != "smpl":
            raise ValueError("joint_order applies to the 2D tokenizer (the 1D one has no joint axis)")
        self.cfg, self.study = cfg, study
        self.quantize = study.quantize                                 # False: the codebook bypassed
        mean, std = grid_stats(normalizer_state)
        self.register_buffer("grid_mean", mean)  # (12, 22)
        self.register_buffer("grid_std", std)    # (12, 22)
        args = (cfg.code_dim, cfg.depth, cfg.dilation_growth)
        if cfg.kind == "2d":
            self.encoder = Encoder(N_CHANNELS, cfg.width, *args, dims=2)       # convolutions over (joints, time)
            self.decoder = Decoder(N_CHANNELS, cfg.width, *args, dims=2)
            self.token_rows = JOINT_SIZES[-1]
        else:
            width = cfg.width_1d or matched_1d_width(cfg.width, *args)  # the 2D parameter count
            self.encoder = Encoder(N_CHANNELS * N_JOINTS, width, *args, dims=1)  # joints folded into channels
            self.decoder = Decoder(N_CHANNELS * N_JOINTS, width, *args, dims=1)
            self.token_rows = 1
        self.quantizer = EMAQuantizer(cfg.nb_code, cfg.code_dim, cfg.mu, cfg.gumbel_temp)
        self.joint_order = JOINT_ORDERS[study.joint_order]               # network row i = joint joint_order[i]
        self.joint_unorder = None if self.joint_order is None else [self.joint_order.index(j) for j in range(N_JOINTS)]

    def n_params(self) -> int:
        return _n_params(self)

    def check_grid(self, grid: torch.Tensor) -> None:
        """Clear errors for a wrong shape, a length that is not a multiple of 4, or NaNs."""
        if grid.ndim != 4 or grid.shape[1:3] != (N_CHANNELS, N_JOINTS):
            raise ValueError(f"expected a grid of shape (B, 12, 22, T), got {tuple(grid.shape)}")
        if grid.shape[-1] % FRAMES_PER_TOKEN or grid.shape[-1] == 0:
            raise ValueError(f"grid length T={grid.shape[-1]} must be a positive multiple of {FRAMES_PER_TOKEN} "
                             f"(one token = {FRAMES_PER_TOKEN} frames); pad it with vq.model.pad_to_multiple")
        if not torch.isfinite(grid).all():
            raise ValueError("grid contains NaN or inf")

    def _latent(self, grid: torch.Tensor) -> torch.Tensor:
        """(B, 12, 22, T) -> (B, D, rows, T/4)."""
        self.check_grid(grid)
        if self.cfg.kind == "2d":
            if self.joint_order is not None:
                grid = grid[:, :, self.joint_order]                    # (B, 12, 22, T) joints re-laid out
            return self.encoder(grid)                                  # (B, D, 5, T/4)
        return self.encoder(grid.flatten(1, 2))[:, :, None]            # (B, D, 1, T/4)

    def _decode_latent(self, z: torch.Tensor) -> torch.Tensor:
        """(B, D, rows, T/4) -> (B, 12, 22, T)."""
        if self.cfg.kind == "2d":
            out = self.decoder(z)                                      # (B, 12, 22, T)
            return out if self.joint_unorder is None else out[:, :, self.joint_unorder]
        out = self.decoder(z[:, :, 0])                                 # (B, 264, T)
        return out.unflatten(1, (N_CHANNELS, N_JOINTS))

    def _require_codes(self) -> None:
        if not self.quantize:
            raise ValueError("this tokenizer bypasses its codebook (vq_study.quantize=False, a plain autoencoder "
                             "to measure what the codes cost): it has no tokens; use reconstruct(), or train one "
                             "with quantize=True for tokens")

    def forward(self, grid: torch.Tensor):
        """grid (B, 12, 22, T) -> (reconstruction (B, 12, 22, T), commit loss, stats dict of floats)."""
        z = self._latent(grid)                                         # (B, D, R, t)
        if not self.quantize:                                          # the codebook bypassed
            return self._decode_latent(z), z.new_zeros((), dtype=torch.float32), {}
        b, d, r, t = z.shape
        flat = z.permute(0, 2, 3, 1).reshape(-1, d)                    # (B*R*t, D)
        q, _, commit, stats = self.quantizer(flat)
        q = q.reshape(b, r, t, d).permute(0, 3, 1, 2)                  # (B, D, R, t)
        return self._decode_latent(q), commit, stats

    @torch.no_grad()
    def encode(self, grid: torch.Tensor) -> torch.Tensor:
        """grid (B, 12, 22, T) -> tokens (B, 5, T/4) long (1D: (B, 1, T/4)); nearest codes."""
        self._require_codes()
        z = self._latent(grid)                                         # (B, D, R, t)
        b, d, r, t = z.shape
        codes = self.quantizer.assign(z.permute(0, 2, 3, 1).reshape(-1, d).float(), stochastic=False)
        return codes.reshape(b, r, t)

    @torch.no_grad()
    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (B, 5, T/4) (1D: (B, 1, T/4)) -> grid (B, 12, 22, T)."""
        self._require_codes()
        if tokens.ndim != 3 or tokens.shape[1] != self.token_rows:
            raise ValueError(f"expected tokens of shape (B, {self.token_rows}, T/4), got {tuple(tokens.shape)}")
        q = self.quantizer.lookup(tokens.long())                       # (B, R, t, D)
        return self._decode_latent(q.permute(0, 3, 1, 2))

    def denormalize(self, grid: torch.Tensor) -> torch.Tensor:
        return denormalize(grid, self.grid_mean, self.grid_std)

    def grid_to_joints(self, grid: torch.Tensor) -> torch.Tensor:
        """Normalised grid (B, 12, 22, T) -> joint positions (B, T, 22, 3) in metres."""
        return self.denormalize(grid)[:, POS].permute(0, 3, 2, 1)

    def joints_to_grid(self, joints: torch.Tensor) -> torch.Tensor:
        """Joint positions (B, T, 22, 3) in metres -> normalised grid (B, 12, 22, T), via data.features (rotations
        by inverse kinematics); differentiable, so a loss on the grid reaches the positions (vq.readback)."""
        joints = joints.to(self.grid_mean.device, torch.float32)
        raw = features_to_grid(joints_to_features(joints))             # (B, 12, 22, T)
        return (raw - self.grid_mean[None, :, :, None]) / self.grid_std[None, :, :, None]

    @torch.no_grad()
    def reconstruct(self, grid: torch.Tensor) -> torch.Tensor:
        """Through the tokens and back (nearest codes): (B, 12, 22, T) -> (B, 12, 22, T); straight through the
        encoder and decoder when the codebook is bypassed (quantize=False)."""
        if not self.quantize:
            return self._decode_latent(self._latent(grid))
        return self.decode(self.encode(grid))

    @torch.no_grad()
    def joint_errors(self, grid: torch.Tensor, align_root: bool = False) -> torch.Tensor:
        """Joint position error through the tokens and back, in metres: (B, 12, 22, T) -> (B, T, 22).

        align_root: each pose's root moved onto the truth's first (see skeleton.joint_distances)."""
        return skeleton.joint_distances(self.grid_to_joints(self.reconstruct(grid)), self.grid_to_joints(grid),
                                        align_root)

