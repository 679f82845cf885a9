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
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

import torch

from ..config import DECODE_STEPS, GUIDANCE
from .model import InterMTransformer, forward_with_guidance
from .tools import N_ROWS, get_schedule, lengths_to_valid, sample_logits, top_k_filter

LogitsFn = Callable[[torch.Tensor, float], torch.Tensor]  # ids (B, 2, R, C) long, guidance -> (B, 2, R, C, K)
GREEDY_TEMPERATURE = 1e-6  # temperatures at or below this pick the argmax


@dataclass
class Trace:
    """Everything a replay needs; tensors are stacked over the S steps."""
    masked: torch.Tensor      # (S, B, 2, R, C) bool: positions masked when step s began
    sampled: torch.Tensor     # (S, B, 2, R, C) long: ids with the step's samples filled in
    confidence: torch.Tensor  # (S, B, 2, R, C) float: model probability of each sample (nan if not sampled)
    entropy: torch.Tensor     # (S, B, 2, R, C) float: entropy of the sampling distribution (nan if not sampled)
    ids: torch.Tensor         # (S, B, 2, R, C) long: ids after step s (MASK where still undecided)
    n_masked: torch.Tensor    # (S, B) long: positions still masked after step s


@contextmanager
def _eval_mode(model: torch.nn.Module):
    """Run the model in eval mode (no dropout) under inference mode (no autograd bookkeeping at all), and
    restore its previous mode afterwards."""
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            yield
    finally:
        model.train(was_training)


def model_logits_fn(model: InterMTransformer, text) -> LogitsFn:
    """A logits_fn for decode: guided logits of `model` for captions `text` (B,) (None = unconditional) or
    for their pooled text vectors (B, D_text).

    The text is encoded once; ids move to the model's device; the model runs in eval mode and inference mode,
    and both guidance passes go through the model as one batch (forward_with_guidance).
    """
    device = next(model.parameters()).device
    with _eval_mode(model):
        pooled = model.encode_text(text if isinstance(text, torch.Tensor) else list(text))  # (B, D_text)

    def logits_fn(ids: torch.Tensor, guidance: float) -> torch.Tensor:
        with _eval_mode(model):
            return forward_with_guidance(model, ids.to(device), pooled, guidance)  # (B, 2, R, C, K)
    return logits_fn


def _schedule_fn(schedule: str | Callable[[float], float]) -> Callable[[float], float]:
    """Share of free positions left masked at progress r in [0, 1] (1 at r = 0, 0 at r = 1)."""
    if callable(schedule):
        return schedule
    curve = get_schedule(schedule)
    return lambda r: float(curve(torch.tensor(float(r), dtype=torch.float64)))


def _top_k_count(top_k: int | float | None, n_codes: int) -> int | None:
    """top_k as an int keeps that many codes; as a float in (0, 1] it keeps that share of the vocabulary."""
    if top_k is None:
        return None
    if isinstance(top_k, bool) or not isinstance(top_k, (int, float)):
        raise TypeError(f"top_k must be None, an int >= 1 or a float in (0, 1], got {top_k!r}")
    if isinstance(top_k, float):
        if not 0.0 < top_k <= 1.0:
            raise ValueError(f"top_k as a fraction must lie in (0, 1], got {top_k}")
        return max(1, math.ceil(top_k * n_codes))
    if not 1 <= top_k <= n_codes:
        raise ValueError(f"top_k must lie in 1..{n_codes} (the number of codes), got {top_k}")
    return top_k


def sampling_probs(logits: torch.Tensor, temperature: float = 1.0, top_k: int | float | None = None) -> torch.Tensor:
    """The distribution decoding samples from: top-k filter, then softmax(logits / temperature).

    logits (..., K) -> probs (..., K). A temperature <= GREEDY_TEMPERATURE gives a one-hot argmax.
    """
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    logits = top_k_filter(logits, _top_k_count(top_k, logits.shape[-1]))  # (..., K)
    if temperature <= GREEDY_TEMPERATURE:
        return torch.nn.functional.one_hot(logits.argmax(-1), logits.shape[-1]).to(logits.dtype)
    return torch.softmax(logits / temperature, dim=-1)                # (..., K)


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
def decode(logits_fn: LogitsFn, lengths, n_cols: int, nb_code: int, steps: int = DECODE_STEPS,
           schedule: str | Callable[[float], float] = "cosine", guidance: float = GUIDANCE,
           top_k: int | float | None = None, temperature: float = 1.0,
           generator: torch.Generator | None = None, fixed: torch.Tensor | None = None,
           fixed_mask: torch.Tensor | None = None, trace: bool = False, n_rows: int = N_ROWS):
    """Fill every free position of (B, 2, R, C) token maps in `steps` confident steps (R = n_rows: 5 rows for
    2D tokens, 1 for 1D).

    logits_fn(ids, guidance) -> logits (B, 2, R, C, nb_code); guidance happens inside it (see
    model_logits_fn). It gets CPU ids; the logits of masked positions come back to the CPU, where all
    sampling happens with the CPU `generator` (None: one seeded from torch's global RNG), so CPU and GPU
    runs pick the same tokens for the same logits. Positions where fixed_mask is True keep `fixed`; columns >= lengths[b] become PAD.
    top_k: None (all codes), an int (that many codes) or a float in (0, 1] (that share of the codes).
    Confidence is the model's probability of the sampled token (before temperature and top-k).
    Returns ids (B, 2, R, C) long, and a Trace as well when trace=True.
    """
    lengths = torch.as_tensor(lengths, dtype=torch.long).cpu()       # (B,)
    valid = lengths_to_valid(lengths, n_cols, n_rows)                 # (B, 2, R, C) inside the clip
    shape = tuple(valid.shape)
    if steps < 1 or nb_code < 1 or temperature < 0:
        raise ValueError(f"need steps >= 1, nb_code >= 1, temperature >= 0; got {steps}, {nb_code}, {temperature}")
    k = _top_k_count(top_k, nb_code)
    sample_temperature = 0.0 if temperature <= GREEDY_TEMPERATURE else temperature
    gamma = _schedule_fn(schedule)
    if generator is None:
        generator = torch.Generator().manual_seed(int(torch.randint(0, 2**62, (1,))))
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
        logits = logits_fn(ids, guidance)
        if tuple(logits.shape) != shape + (nb_code,):
            raise ValueError(f"logits_fn returned shape {tuple(logits.shape)}, expected (B, 2, R, C, K) = "
                             f"{shape + (nb_code,)}")
        picked = logits.detach()[masked.to(logits.device)].float().cpu()  # (N, K) rows of masked positions
        if torch.isnan(picked).any():
            raise ValueError(f"logits_fn returned NaN logits at step {step}")
        tokens = sample_logits(picked, sample_temperature, k, generator)  # (N,)
        sampled = ids.clone()
        sampled[masked] = tokens                                      # (B, 2, R, C)

        # rank the undecided positions jointly over both people; decided ones can never be re-masked
        confidence = torch.full(shape, float("inf"))                  # (B, 2, R, C)
        confidence[masked] = torch.softmax(picked, -1).gather(-1, tokens[:, None]).squeeze(-1)
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
            conf_map[masked] = confidence[masked]
            probs = sampling_probs(picked, temperature, top_k)        # (N, K)
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
