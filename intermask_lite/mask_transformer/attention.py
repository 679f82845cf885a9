"""Building blocks of one Inter-M block: attention with key masks, feed-forward, adaLN-Zero modulation.

Every sub-layer is pre-norm and modulated by the text vector c (adaLN-Zero):
    x = x + gate(c) * sublayer(LayerNorm(x) * (1 + scale(c)) + shift(c))
with shift, scale and gate from a zero-initialised linear layer, so each block starts as the identity.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class Attention(nn.Module):
    """Multi-head attention; `allowed` (B, Lq, Lk) or (B, 1, Lk) bool says which keys a query may see."""

    def __init__(self, dim: int, n_heads: int):
        super().__init__()
        if dim % n_heads:
            raise ValueError(f"latent_dim {dim} must be divisible by n_heads {n_heads}")
        self.n_heads = n_heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, context: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        B, Lq, D = x.shape
        Lk, H = context.shape[1], self.n_heads
        q = self.q(x).view(B, Lq, H, D // H).transpose(1, 2)  # (B, H, Lq, D/H)
        k, v = self.kv(context).view(B, Lk, 2, H, D // H).permute(2, 0, 3, 1, 4)  # 2 x (B, H, Lk, D/H)
        # a query that may see no key at all (a padded one) sees every key instead: its output is
        # never used, and this keeps the softmax finite
        allowed = allowed | ~allowed.any(-1, keepdim=True)  # (B, Lq or 1, Lk)
        # on a CPU, no mask when every key is visible (no padding): the fused kernel runs without one (on a
        # GPU the check would wait for the device, so the mask stays)
        full = allowed.device.type == "cpu" and bool(allowed.all())
        mask = None if full else allowed[:, None]  # (B, 1, Lq or 1, Lk)
        # no dropout on the attention weights: it forces the slow unfused kernel (dropout acts on outputs)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B, H, Lq, D/H)
        return self.out(y.transpose(1, 2).reshape(B, Lq, D))


class Dropout(nn.Dropout):
    """nn.Dropout whose CPU masks cost far fewer random numbers: one 64-bit draw gives four 16-bit uniforms.

    An element is kept when its 16-bit draw is at least round(p * 65536), so the masks are Bernoulli(1 - p)
    with p rounded to a multiple of 1/65536 (0.2 stays 0.2 to 5 decimals); about 3.5x faster than nn.Dropout
    on a CPU, where drawing the masks was 9 % of a paper-sized training step. Other devices use nn.Dropout."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or not 0 < self.p < 1 or x.device.type != "cpu" or not x.is_floating_point():
            return super().forward(x)
        n = x.numel()
        draws = torch.randint(-2**63, 2**63 - 1, ((n + 3) // 4,), dtype=torch.int64)  # 4 x 16 random bits each
        uniform16 = draws.view(torch.int16)[:n].view(x.shape)  # uniform on -32768..32767
        keep = uniform16 >= round(self.p * 65536) - 32768
        return torch.where(keep, x * (1.0 / (1.0 - self.p)), 0.0)


class FeedForward(nn.Sequential):
    """dim -> width -> dim with GELU; dropout on the hidden layer."""

    def __init__(self, dim: int, width: int, dropout: float):
        super().__init__(nn.Linear(dim, width), nn.GELU(), Dropout(dropout), nn.Linear(width, dim))


class AdaLN(nn.Module):
    """LayerNorm without affine weights, then shift and scale from c; also returns the residual gate."""

    def __init__(self, dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.to_mod = nn.Sequential(nn.SiLU(), nn.Linear(dim, 3 * dim))
        nn.init.zeros_(self.to_mod[1].weight)
        nn.init.zeros_(self.to_mod[1].bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, ..., D), c (B, D) -> modulated x (B, ..., D) and gate (B, 1.., D)."""
        shift, scale, gate = self.to_mod(c).chunk(3, dim=-1)  # 3 x (B, D)
        view = (c.shape[0],) + (1,) * (x.dim() - 2) + (c.shape[1],)
        return self.norm(x) * (1 + scale.view(view)) + shift.view(view), gate.view(view)
