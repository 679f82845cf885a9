"""Masking tools shared by training and decoding: token ids, schedules, masks, corruption, top-k.

Token ids: codes are 0..nb_code-1, then MASK = nb_code, PAD = nb_code + 1, SEP = nb_code + 2.
A token map has shape (B, 2, 5, T'): batch, person (A, B), body-part row, time column.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

N_ROWS = 5  # body-part rows of one person's token map


@dataclass(frozen=True)
class TokenIds:
    """The special token ids for a codebook of `nb_code` codes."""
    nb_code: int

    @property
    def mask(self) -> int:
        return self.nb_code

    @property
    def pad(self) -> int:
        return self.nb_code + 1

    @property
    def sep(self) -> int:
        return self.nb_code + 2

    @property
    def vocab_size(self) -> int:
        return self.nb_code + 3


# ---------------------------------------------------------------- schedules: r in [0, 1] -> mask ratio
def cosine_schedule(r: torch.Tensor) -> torch.Tensor:
    """cos(r * pi / 2): 1 at r = 0 (all masked), 0 at r = 1."""
    return torch.cos(r * math.pi / 2)


def linear_schedule(r: torch.Tensor) -> torch.Tensor:
    return 1.0 - r


def sqrt_schedule(r: torch.Tensor) -> torch.Tensor:
    return 1.0 - torch.sqrt(r)


SCHEDULES = {"cosine": cosine_schedule, "linear": linear_schedule, "sqrt": sqrt_schedule}
# each schedule's inverse: mask ratio -> r (the decoding time at which that share is still masked)
SCHEDULE_INVERSES = {"cosine": lambda ratio: torch.acos(ratio.clamp(0, 1)) * 2 / math.pi,
                     "linear": lambda ratio: 1.0 - ratio.clamp(0, 1),
                     "sqrt": lambda ratio: (1.0 - ratio.clamp(0, 1)) ** 2}


def get_schedule(name: str):
    """The schedule function by name (cosine, linear, sqrt)."""
    if name not in SCHEDULES:
        raise ValueError(f"unknown masking schedule {name!r}; expected one of {sorted(SCHEDULES)}")
    return SCHEDULES[name]


def schedule_time(name: str, ratio: torch.Tensor) -> torch.Tensor:
    """The inverse of schedule `name`: the time r in [0, 1] at which a share `ratio` of the tokens is masked."""
    get_schedule(name)                                                  # a clear error for an unknown name
    return SCHEDULE_INVERSES[name](ratio)


# ---------------------------------------------------------------- padding and masks
def lengths_to_valid(lengths: torch.Tensor, n_cols: int, n_rows: int = N_ROWS) -> torch.Tensor:
    """(B,) token-column lengths -> (B, 2, n_rows, n_cols) bool, True where the column is inside the clip."""
    if lengths.dim() != 1:
        raise ValueError(f"lengths must have shape (B,), got {tuple(lengths.shape)}")
    if (lengths < 1).any() or (lengths > n_cols).any():
        raise ValueError(f"lengths must lie in [1, {n_cols}] token columns, got {lengths.tolist()}")
    cols = torch.arange(n_cols, device=lengths.device)  # (T',)
    valid = cols[None, :] < lengths[:, None]  # (B, T')
    return valid[:, None, None, :].expand(-1, 2, n_rows, -1)  # (B, 2, R, T')


def pad_tokens(tokens: torch.Tensor, lengths: torch.Tensor, ids: TokenIds) -> torch.Tensor:
    """Write PAD into every column at or beyond each sample's length. tokens (B, 2, R, T')."""
    valid = lengths_to_valid(lengths, tokens.shape[-1], tokens.shape[2])  # (B, 2, R, T')
    return torch.where(valid, tokens, torch.full_like(tokens, ids.pad))


def random_mask_by_ratio(valid: torch.Tensor, ratio: torch.Tensor, generator: torch.Generator | None = None
                         ) -> torch.Tensor:
    """Choose round-up(ratio * n_valid) positions per sample (at least one), uniformly among valid ones.

    valid (B, ...) bool; ratio (B,) in [0, 1]. Positions are ranked jointly over everything after dim 0,
    so for a (B, 2, 5, T') map the choice spans both people. Returns a bool mask shaped like `valid`.
    """
    flat = valid.flatten(1)  # (B, N)
    n_valid = flat.sum(1)  # (B,)
    n_mask = torch.ceil(ratio.clamp(0, 1) * n_valid).long().clamp(min=1)  # (B,)
    n_mask = torch.minimum(n_mask, n_valid)
    scores = torch.rand(flat.shape, generator=generator, device="cpu").to(flat.device)  # (B, N)
    scores = scores.masked_fill(~flat, 2.0)  # invalid positions sort last
    ranks = scores.argsort(1).argsort(1)  # (B, N)
    chosen = ranks < n_mask[:, None]  # (B, N)
    return chosen.view_as(valid) & valid


def bert_corrupt(tokens: torch.Tensor, chosen: torch.Tensor, ids: TokenIds, generator: torch.Generator | None = None,
                 p_mask: float = 0.8, p_random: float = 0.1) -> torch.Tensor:
    """BERT-style corruption of the chosen positions: ~80 % MASK, ~10 % a random code, ~10 % kept."""
    u = torch.rand(tokens.shape, generator=generator, device="cpu").to(tokens.device)
    random_codes = torch.randint(0, ids.nb_code, tokens.shape, generator=generator, device="cpu").to(tokens.device)
    out = torch.where(chosen & (u < p_mask), torch.full_like(tokens, ids.mask), tokens)
    return torch.where(chosen & (u >= p_mask) & (u < p_mask + p_random), random_codes, out)


# ---------------------------------------------------------------- sampling
def top_k_filter(logits: torch.Tensor, k: int | None) -> torch.Tensor:
    """Keep the k largest logits on the last axis, set the rest to -inf; k None or <= 0 keeps all."""
    if k is None or k <= 0 or k >= logits.shape[-1]:
        return logits
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]  # (..., 1)
    return logits.masked_fill(logits < kth, float("-inf"))
