"""Iterative masked decoding of two token maps at once (generation, reaction, inpainting).

Token ids are laid out as (B, 2, R, C): batch, person (A, B), body-part row, time column. Codes are
0..K-1, MASK = K, PAD = K + 1. Decoding starts with every free position masked; each step predicts all
positions, samples the masked ones, and re-masks the least confident of them, ranked jointly over both
people, so that the number still masked follows the schedule and reaches 0 at the last step.

Batches of prompts and several samples per prompt are the caller's business: expand the batch (repeat
each prompt's condition and length ``samples`` times) and decode once; every row is independent.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

from .model import InterMTransformer, forward_with_guidance
from .sampling import Sampling, draw, row_seed, sampling_probs
from .tools import N_ROWS, get_schedule, lengths_to_valid
from ..utils import eval_mode

LogitsFn = Callable[[torch.Tensor, float], torch.Tensor]  # ids (B, 2, R, C) long, guidance -> (B, 2, R, C, K)


@dataclass
class Trace:
    """Everything a replay needs; tensors are stacked over the S steps."""
    masked: torch.Tensor      # (S, B, 2, R, C) bool: positions masked when step s began
    sampled: torch.Tensor     # (S, B, 2, R, C) long: ids with the step's samples filled in
    confidence: torch.Tensor  # (S, B, 2, R, C) float: model probability of each sample (nan if not sampled)
    entropy: torch.Tensor     # (S, B, 2, R, C) float: entropy of the sampling distribution (nan if not sampled)
    ids: torch.Tensor         # (S, B, 2, R, C) long: ids after step s (MASK where still undecided)
    n_masked: torch.Tensor    # (S, B) long: positions still masked after step s


def model_logits_fn(model: InterMTransformer, text) -> LogitsFn:
    """A logits_fn for decode: guided logits of `model` for captions `text` (B,) (None = unconditional) or
    for their pooled text vectors (B, D_text).

    The text is encoded once; ids move to the model's device; the model runs in eval mode and inference mode,
    and both guidance passes go through the model as one batch (forward_with_guidance).
    """
    device = next(model.parameters()).device
    with eval_mode(model, inference=True):
        pooled = model.encode_text(text if isinstance(text, torch.Tensor) else list(text))  # (B, D_text)

    def logits_fn(ids: torch.Tensor, guidance: float) -> torch.Tensor:
        with eval_mode(model, inference=True):
            return forward_with_guidance(model, ids.to(device), pooled, guidance)  # (B, 2, R, C, K)
    return logits_fn


def _schedule_fn(schedule: str | Callable[[float], float]) -> Callable[[float], float]:
    """Share of free positions left masked at progress r in [0, 1] (1 at r = 0, 0 at r = 1)."""
    if callable(schedule):
        return schedule
    curve = get_schedule(schedule)
    return lambda r: float(curve(torch.tensor(float(r), dtype=torch.float64)))


def _row_uniforms(per_row: list[int], generators: list[torch.Generator]) -> torch.Tensor:
    """(N,) uniform draws, per_row[b] of them from row b's own generator, rows in order (b-major)."""
    return torch.cat([torch.rand(n, generator=g) for n, g in zip(per_row, generators)])


def _check_fixed(fixed, fixed_mask, shape):
    if (fixed is None) != (fixed_mask is None):
        raise ValueError("give both fixed and fixed_mask, or neither")
    if fixed is None:
        return torch.zeros(shape, dtype=torch.long), torch.zeros(shape, dtype=torch.bool)
    if tuple(fixed.shape) != shape or tuple(fixed_mask.shape) != shape:
        raise ValueError(f"fixed and fixed_mask must have shape (B, 2, R, C) = {shape}, "
                         f"got {tuple(fixed.shape)} and {tuple(fixed_mask.shape)}")
    if fixed_mask.dtype != torch.bool:
        raise TypeError(f"fixed_mask must be a bool tensor, got {fixed_mask.dtype}")
    return fixed.detach().long().cpu(), fixed_mask.cpu()


@torch.no_grad()
def decode(logits_fn: LogitsFn, lengths, n_cols: int, nb_code: int, sampling: Sampling | None = None,
           fixed: torch.Tensor | None = None, fixed_mask: torch.Tensor | None = None, trace: bool = False,
           n_rows: int = N_ROWS, row_seeds=None, schedule: str | Callable[[float], float] = "cosine"):
    """Fill every free position of (B, 2, R, C) token maps in `sampling.steps` confident steps (R = n_rows:
    5 rows for 2D tokens, 1 for 1D).

    logits_fn(ids, guidance) -> logits (B, 2, R, C, nb_code); guidance happens inside it (see
    model_logits_fn). It gets CPU ids; the logits of masked positions come back to the CPU, where all sampling
    happens, so CPU and GPU runs pick the same tokens for the same logits. Row b draws from its own generator,
    seeded with row_seeds[b] (default: row_seed(sampling.seed, b, 0)), so a row does not depend on the others.
    Positions where fixed_mask is True keep `fixed`; columns >= lengths[b] become PAD. `schedule` is used when
    sampling.schedule is None. Confidence is the model's probability of the sampled token (before temperature
    and top-k); re-masking ranks log-confidence plus fading Gumbel noise (sampling.confidence_noise).
    Returns ids (B, 2, R, C) long, and a Trace as well when trace=True.
    """
    sampling = Sampling() if sampling is None else sampling
    if not isinstance(sampling, Sampling):
        raise TypeError(f"sampling must be a Sampling, got {type(sampling).__name__}")
    lengths = torch.as_tensor(lengths, dtype=torch.long).cpu()       # (B,)
    valid = lengths_to_valid(lengths, n_cols, n_rows)                 # (B, 2, R, C) inside the clip
    shape = tuple(valid.shape)
    if nb_code < 1:
        raise ValueError(f"need nb_code >= 1, got {nb_code}")
    steps, k = sampling.steps, sampling.top_k_count(nb_code)
    gamma = _schedule_fn(sampling.schedule or schedule)
    seeds = [row_seed(sampling.seed, b, 0) for b in range(shape[0])] if row_seeds is None else list(row_seeds)
    if len(seeds) != shape[0]:
        raise ValueError(f"row_seeds has {len(seeds)} seeds for a batch of {shape[0]}")
    generators = [torch.Generator().manual_seed(int(s)) for s in seeds]
    fixed, fixed_mask = _check_fixed(fixed, fixed_mask, shape)
    fixed_mask = fixed_mask & valid                                   # padding wins over fixed
    if fixed_mask.any() and (fixed[fixed_mask].min() < 0 or fixed[fixed_mask].max() >= nb_code):
        raise ValueError(f"fixed ids must be codes in 0..{nb_code - 1} wherever fixed_mask is True (inside the length)")

    mask_id, pad_id = nb_code, nb_code + 1
    free = ~fixed_mask & valid                                        # (B, 2, R, C)
    n_free = free.flatten(1).sum(1)                                   # (B,)
    ids = torch.where(valid, torch.where(fixed_mask, fixed, mask_id), pad_id)  # (B, 2, R, C)
    masked = free.clone()                                             # (B, 2, R, C) still undecided
    records = []

    for step in range(steps):
        logits = logits_fn(ids, sampling.guidance)
        if tuple(logits.shape) != shape + (nb_code,):
            raise ValueError(f"logits_fn returned shape {tuple(logits.shape)}, expected (B, 2, R, C, K) = "
                             f"{shape + (nb_code,)}")
        picked = logits.detach()[masked.to(logits.device)].float().cpu()  # (N, K) rows of masked positions
        if torch.isnan(picked).any():
            raise ValueError(f"logits_fn returned NaN logits at step {step}")
        per_row = masked.flatten(1).sum(1).tolist()                   # masked positions of each row, b-major
        uniforms = _row_uniforms(per_row, generators)                 # (N,)
        probs = sampling_probs(picked, sampling.temperature, k)       # (N, K)
        tokens = draw(probs, uniforms)                                # (N,)
        sampled = ids.clone()
        sampled[masked] = tokens                                      # (B, 2, R, C)

        # rank the undecided positions jointly over both people; decided ones can never be re-masked
        confidence = torch.full(shape, float("inf"))                  # (B, 2, R, C)
        chosen_p = torch.softmax(picked, -1).gather(-1, tokens[:, None]).squeeze(-1)  # (N,)
        score = chosen_p.clamp_min(1e-30).log()
        noise = sampling.confidence_noise * (1.0 - step / steps)
        if noise > 0:
            u = _row_uniforms(per_row, generators).clamp(1e-12, 1 - 1e-12)  # (N,)
            score = score + noise * -torch.log(-torch.log(u))         # (N,) Gumbel
        confidence[masked] = score
        is_last = step == steps - 1
        n_keep = torch.tensor([0 if is_last else math.floor(gamma((step + 1) / steps) * int(n))
                               for n in n_free])                      # (B,)
        n_keep = torch.minimum(n_keep, masked.flatten(1).sum(1))      # never more than are masked now
        order = confidence.flatten(1).argsort(dim=1, stable=True)     # (B, 2*R*C) least confident first
        ranks = torch.empty_like(order).scatter_(1, order, torch.arange(order.shape[1]).expand_as(order))
        new_masked = (ranks < n_keep[:, None]).view(shape)             # (B, 2, R, C)
        new_ids = torch.where(new_masked, mask_id, sampled)           # (B, 2, R, C)

        if trace:
            nan_map = torch.full(shape, float("nan"))
            conf_map, ent_map = nan_map.clone(), nan_map.clone()
            conf_map[masked] = chosen_p
            ent_map[masked] = -(probs * probs.clamp_min(1e-30).log()).sum(-1)
            records.append((masked, sampled, conf_map, ent_map, new_ids, new_masked.flatten(1).sum(1)))
        ids, masked = new_ids, new_masked

    if not trace:
        return ids
    stacked = [torch.stack(column) for column in zip(*records)]
    return ids, Trace(*stacked)


def reaction_masks(ids_a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Keep person A's tokens (B, R, C) entirely; person B is generated. -> fixed, fixed_mask (B, 2, R, C)."""
    if ids_a.dim() != 3:
        raise ValueError(f"ids_a must have shape (B, R, C), got {tuple(ids_a.shape)}")
    fixed = torch.stack([ids_a.long(), torch.zeros_like(ids_a, dtype=torch.long)], dim=1)  # (B, 2, R, C)
    fixed_mask = torch.zeros(fixed.shape, dtype=torch.bool)
    fixed_mask[:, 0] = True
    return fixed, fixed_mask


def inpaint_masks(ids: torch.Tensor, person: str = "both", rows: list[int] | None = None,
                  cols: tuple[int, int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Regenerate the region person x rows x columns [c0, c1) of ids (B, 2, R, C); everything else is fixed.

    rows None = every body-part row, cols None = every column. -> fixed (= ids), fixed_mask (B, 2, R, C).
    """
    if ids.dim() != 4 or ids.shape[1] != 2:
        raise ValueError(f"ids must have shape (B, 2, R, C), got {tuple(ids.shape)}")
    people = {"A": [0], "B": [1], "both": [0, 1]}
    if person not in people:
        raise ValueError(f"person must be 'A', 'B' or 'both', got {person!r}")
    n_rows, n_cols = ids.shape[2], ids.shape[3]
    rows = list(range(n_rows)) if rows is None else list(rows)
    if not rows or any(not 0 <= r < n_rows for r in rows):
        raise ValueError(f"rows must be a non-empty list of rows in 0..{n_rows - 1}, got {rows}")
    c0, c1 = (0, n_cols) if cols is None else cols
    if not 0 <= c0 < c1 <= n_cols:
        raise ValueError(f"cols must be (c0, c1) with 0 <= c0 < c1 <= {n_cols}, got {cols}")
    region = torch.zeros(ids.shape, dtype=torch.bool)                 # (B, 2, R, C)
    for p in people[person]:
        region[:, p, rows, c0:c1] = True
    return ids.detach().long().cpu().clone(), ~region
