"""Inter-M: the collaborative masked transformer over both people's 2D token maps.

Input ids (B, 2, 5, T'): person, body-part row, time column; codes, MASK or PAD (tools.TokenIds).
The joint sequence is [A tokens][SEP][B tokens], each map flattened row by row. Both people share one 2D
sinusoidal positional encoding (row, column) and there is no person embedding, so swapping A and B swaps
the logits. Text conditions every sub-layer through adaLN-Zero from the pooled text vector only (the text
token features are not attended: simpler, and the captions here are short).

One block: joint self-attention (unless study.joint_self_attn is off) + feed-forward over the whole sequence;
then, per person with shared weights, spatial attention (the 5 rows of one column) plus temporal attention (the columns
of one row), summed; then cross-attention from each person to the other's stream as it was before this block's
spatio-temporal step; then a feed-forward layer. PAD positions are masked as keys in every attention.
The ablation study switches sub-layers off (config.TransformerStudyConfig, passed as `study`).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn

from ..config import TransformerConfig, TransformerStudyConfig
from ..text import TextEncoder
from .attention import AdaLN, Attention, Dropout, FeedForward
from .tools import N_ROWS, TokenIds


def sinusoid_2d(n_rows: int, n_cols: int, dim: int) -> torch.Tensor:
    """(n_rows, n_cols, dim): the first half of the channels encodes the row, the second the column."""
    if dim % 4:
        raise ValueError(f"latent_dim must be a multiple of 4 for the 2D positional encoding, got {dim}")
    quarter = dim // 4
    freqs = torch.exp(-math.log(10000.0) * torch.arange(quarter) / quarter)  # (D/4,)
    rows = torch.arange(n_rows)[:, None] * freqs  # (R, D/4)
    cols = torch.arange(n_cols)[:, None] * freqs  # (C, D/4)
    row_pe = torch.cat([rows.sin(), rows.cos()], -1)[:, None].expand(-1, n_cols, -1)  # (R, C, D/2)
    col_pe = torch.cat([cols.sin(), cols.cos()], -1)[None].expand(n_rows, -1, -1)  # (R, C, D/2)
    return torch.cat([row_pe, col_pe], -1)  # (R, C, D)


class InterMBlock(nn.Module):
    """Joint self-attention, spatio-temporal attention per person, cross-attention, feed-forward."""

    def __init__(self, cfg: TransformerConfig, study: TransformerStudyConfig):
        super().__init__()
        D, H, p = cfg.latent_dim, cfg.n_heads, cfg.dropout
        width = cfg.ff_width or cfg.ff_mult * D  # feed-forward width
        self.self_norm, self.self_attn = (AdaLN(D), Attention(D, H)) if study.joint_self_attn else (None, None)
        self.ff1_norm, self.ff1 = AdaLN(D), FeedForward(D, width, p)
        self.spatial = Attention(D, H) if study.spatial else None
        self.temporal = Attention(D, H) if study.temporal else None
        self.st_norm = AdaLN(D) if (study.spatial or study.temporal) else None
        use_cross = study.cross and not study.independent
        self.cross_norm = AdaLN(D) if use_cross else None
        self.cross = Attention(D, H) if use_cross else None
        self.ff2_norm, self.ff2 = AdaLN(D), FeedForward(D, width, p)
        self.drop = Dropout(p)

    def forward(self, x, sep, c, valid, seq_allowed):
        """x (B, 2, 5, T, D), sep (B, 1, D), c (B, D), valid (B, 2, 5, T) bool, seq_allowed (B, 1|N, N)."""
        B, _, R, T, D = x.shape
        seq = torch.cat([x[:, 0].flatten(1, 2), sep, x[:, 1].flatten(1, 2)], 1)  # (B, N, D), N = 2RT + 1
        if self.self_attn is not None:
            h, gate = self.self_norm(seq, c)
            seq = seq + gate * self.drop(self.self_attn(h, h, seq_allowed))
        h, gate = self.ff1_norm(seq, c)
        seq = seq + gate * self.drop(self.ff1(h))
        n = R * T
        sep = seq[:, n : n + 1]  # (B, 1, D)
        x = torch.stack([seq[:, :n], seq[:, n + 1 :]], 1).view(B, 2, R, T, D)  # (B, 2, R, T, D)
        before = x

        if self.st_norm is not None:
            h, gate = self.st_norm(x, c)  # (B, 2, R, T, D)
            parts = []
            if self.spatial is not None:  # across the rows of one column
                hs = h.permute(0, 1, 3, 2, 4).reshape(B * 2 * T, R, D)  # (B2T, R, D)
                ks = valid.permute(0, 1, 3, 2).reshape(B * 2 * T, 1, R)  # (B2T, 1, R)
                parts.append(self.spatial(hs, hs, ks).view(B, 2, T, R, D).permute(0, 1, 3, 2, 4))
            if self.temporal is not None:  # across the columns of one row
                ht = h.reshape(B * 2 * R, T, D)  # (B2R, T, D)
                kt = valid.reshape(B * 2 * R, 1, T)  # (B2R, 1, T)
                parts.append(self.temporal(ht, ht, kt).view(B, 2, R, T, D))
            update = parts[0] + parts[1] if len(parts) == 2 else parts[0]  # (B, 2, R, T, D)
            x = x + gate * self.drop(update)

        if self.cross is not None:  # each person attends to the other's stream from before this step
            h, gate = self.cross_norm(x, c)  # (B, 2, R, T, D)
            ctx, _ = self.cross_norm(before.flip(1), c)  # (B, 2, R, T, D): the other person
            kc = valid.flip(1).reshape(B * 2, 1, n)  # (B2, 1, RT)
            y = self.cross(h.reshape(B * 2, n, D), ctx.reshape(B * 2, n, D), kc).view(B, 2, R, T, D)
            x = x + gate * self.drop(y)

        h, gate = self.ff2_norm(x, c)
        x = x + gate * self.drop(self.ff2(h))
        return x, sep


class InterMTransformer(nn.Module):
    """ids (B, 2, 5, T') + text -> logits over the codes (B, 2, 5, T', nb_code)."""

    def __init__(self, cfg: TransformerConfig, nb_code: int, text_encoder: TextEncoder, n_rows: int = N_ROWS,
                 study: TransformerStudyConfig | None = None):
        super().__init__()
        self.cfg, self.n_rows = cfg, n_rows  # token rows per person: 5 (2D tokenizer) or 1 (1D)
        self.study = study = study or TransformerStudyConfig()
        self.ids = TokenIds(nb_code)
        D = cfg.latent_dim
        self.text_encoder = text_encoder
        self.token_emb = nn.Embedding(self.ids.vocab_size, D)
        self.cond_proj = nn.Linear(text_encoder.cfg.dim, D)
        self.in_drop = Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(InterMBlock(cfg, study) for _ in range(cfg.n_layers))
        self.out_norm = nn.LayerNorm(D, elementwise_affine=False, eps=1e-6)
        self.out_mod = nn.Sequential(nn.SiLU(), nn.Linear(D, 2 * D))  # final shift and scale
        nn.init.zeros_(self.out_mod[1].weight)
        nn.init.zeros_(self.out_mod[1].bias)
        self.head = nn.Linear(D, nb_code)

    def encode_text(self, text) -> torch.Tensor:
        """Captions (None = null condition) -> pooled text vectors (B, D_text); a tensor passes through."""
        if isinstance(text, torch.Tensor):
            return text
        return self.text_encoder(list(text))[2]

    def _check_ids(self, ids: torch.Tensor) -> None:
        if ids.dim() != 4 or ids.shape[1] != 2 or ids.shape[2] != self.n_rows or ids.dtype != torch.long:
            raise ValueError(f"ids must be a long tensor (B, 2, {self.n_rows}, T'), got {tuple(ids.shape)} {ids.dtype}")
        if ids.numel() and (ids.min() < 0 or ids.max() > self.ids.pad):
            raise ValueError(f"ids must be codes 0..{self.ids.nb_code - 1}, MASK={self.ids.mask} or "
                             f"PAD={self.ids.pad}; got values in [{int(ids.min())}, {int(ids.max())}]")

    def _sequence_mask(self, valid: torch.Tensor) -> torch.Tensor:
        """Which keys each query of [A][SEP][B] may see: (B, 1, N), or (B, N, N) when `independent`."""
        B = valid.shape[0]
        sep_ok = torch.ones(B, 1, dtype=torch.bool, device=valid.device)
        keys = torch.cat([valid[:, 0].flatten(1), sep_ok, valid[:, 1].flatten(1)], 1)  # (B, N)
        if not self.study.independent:
            return keys[:, None]  # (B, 1, N)
        n = valid[0, 0].numel()
        owner = torch.tensor([0] * n + [2] + [1] * n, device=valid.device)  # A, SEP, B
        same = (owner[:, None] == owner[None, :]) | (owner[None, :] == 2)  # (N, N): SEP sees only itself
        return same[None] & keys[:, None]  # (B, N, N)

    def forward(self, ids: torch.Tensor, text) -> torch.Tensor:
        """ids (B, 2, 5, T') long; text: list of captions/None or pooled vectors (B, D_text)."""
        self._check_ids(ids)
        B, _, R, T = ids.shape
        pooled = self.encode_text(text)
        if pooled.shape[0] != B:
            raise ValueError(f"got {pooled.shape[0]} texts for a batch of {B} token maps")
        c = self.cond_proj(pooled)  # (B, D)
        valid = ids != self.ids.pad  # (B, 2, 5, T')
        pe = sinusoid_2d(R, T, self.cfg.latent_dim).to(c.device, c.dtype)  # (5, T', D)
        x = self.in_drop(self.token_emb(ids) + pe)  # (B, 2, 5, T', D)
        sep = self.token_emb.weight[self.ids.sep].expand(B, 1, -1)  # (B, 1, D)
        seq_allowed = self._sequence_mask(valid)
        for block in self.blocks:
            x, sep = block(x, sep, c, valid, seq_allowed)
        shift, scale = self.out_mod(c).chunk(2, dim=-1)  # 2 x (B, D)
        x = self.out_norm(x) * (1 + scale[:, None, None, None]) + shift[:, None, None, None]
        return self.head(x)  # (B, 2, 5, T', nb_code)


def forward_with_guidance(model: InterMTransformer, ids: torch.Tensor, text, guidance: float) -> torch.Tensor:
    """Classifier-free guided logits uncond + s * (cond - uncond); s = 1 is exactly the conditional pass."""
    if guidance == 1:
        return model(ids, text)
    B = ids.shape[0]
    cond = model.encode_text(text)  # (B, D_text)
    uncond = model.encode_text([None] * B)  # (B, D_text)
    both = model(torch.cat([ids, ids]), torch.cat([cond, uncond]))  # (2B, 2, 5, T', nb_code)
    return both[B:] + guidance * (both[:B] - both[B:])
