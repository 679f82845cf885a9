"""How decoding samples: one `Sampling` settings object, validated once, and the one sampling distribution.

`Sampling(steps, guidance, top_k, temperature, seed, schedule, confidence_noise)` travels unchanged from
the CLI or `Kit.generate/react/inpaint` down to `generate.decode`. Bad values (NaN, infinite, negative, a
wrong type) raise a ValueError naming the field when the object is made, before any model runs.

Randomness is per row: row b of a batch draws from its own generator, seeded from (seed, prompt index,
sample index) by `row_seed`, so a sample does not depend on what else is in the batch.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import numpy as np
import torch

from ..config import CONFIDENCE_NOISE, DECODE_STEPS, GUIDANCE
from .tools import SCHEDULES, top_k_filter

GREEDY_TEMPERATURE = 1e-6  # temperatures at or below this pick the argmax
MAX_STEPS = 1000           # more decoding steps than this buy nothing and only take time
MAX_GUIDANCE = 100.0       # classifier-free guidance scales beyond this only amplify noise


@dataclass(frozen=True)
class Sampling:
    """Decoding settings. steps: confident steps; guidance: classifier-free guidance scale (1 = none, 0 = the
    unconditional model); top_k: None (all codes), an int (that many) or a float in (0, 1] (that share);
    temperature: softmax temperature (0 = argmax); seed: seeds every row's generator (see row_seed);
    schedule: masking schedule name, None = the model's own; confidence_noise: scale of Gumbel noise on the
    log-confidence that ranks positions for re-masking, fading to 0 over the steps (MaskGIT's choice
    temperature; 0 = rank by confidence alone)."""

    steps: int = DECODE_STEPS
    guidance: float = GUIDANCE
    top_k: int | float | None = None
    temperature: float = 1.0
    seed: int = 0
    schedule: str | None = None
    confidence_noise: float = CONFIDENCE_NOISE

    def __post_init__(self):
        _check_int("steps", self.steps, 1, MAX_STEPS)
        _check_int("seed", self.seed, 0, 2**63 - 1)
        _check_real("guidance", self.guidance, 0.0, MAX_GUIDANCE)
        _check_real("temperature", self.temperature, 0.0, 100.0)
        _check_real("confidence_noise", self.confidence_noise, 0.0, 100.0)
        if self.schedule is not None and self.schedule not in SCHEDULES:
            raise ValueError(f"Sampling.schedule must be None (the model's) or one of {sorted(SCHEDULES)}, "
                             f"got {self.schedule!r}")
        top_k = self.top_k
        if top_k is not None:
            if isinstance(top_k, bool) or not isinstance(top_k, (int, float)):
                raise ValueError(f"Sampling.top_k must be None, an int >= 1 or a float in (0, 1], got {top_k!r}")
            if isinstance(top_k, float) and not 0.0 < top_k <= 1.0:
                raise ValueError(f"Sampling.top_k as a share of the codes must lie in (0, 1], got {top_k}")
            if isinstance(top_k, int) and top_k < 1:
                raise ValueError(f"Sampling.top_k as a number of codes must be >= 1, got {top_k}")

    def updated(self, **changes) -> "Sampling":
        """A copy with some fields changed (None values are ignored, so unset CLI options keep the defaults);
        unknown names raise."""
        names = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise TypeError(f"unknown sampling setting(s) {unknown}; expected some of {sorted(names)}")
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def top_k_count(self, n_codes: int) -> int | None:
        """top_k as a number of codes for a codebook of n_codes (None: all)."""
        if self.top_k is None:
            return None
        if isinstance(self.top_k, float):
            return max(1, math.ceil(self.top_k * n_codes))
        if self.top_k > n_codes:
            raise ValueError(f"Sampling.top_k={self.top_k} is more than the {n_codes} codes of the codebook")
        return self.top_k


def _check_int(name, value, lo, hi):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"Sampling.{name} must be an integer, got {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"Sampling.{name} must lie in {lo}..{hi}, got {value}")


def _check_real(name, value, lo, hi):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise ValueError(f"Sampling.{name} must be a number, got {value!r}")
    if not math.isfinite(value) or not lo <= value <= hi:
        raise ValueError(f"Sampling.{name} must be a finite number in [{lo:g}, {hi:g}], got {value}")


def row_seed(seed: int, prompt: int, sample: int) -> int:
    """The generator seed of one decoded row: a function of (seed, prompt index, sample index) only."""
    return int(np.random.SeedSequence([int(seed), int(prompt), int(sample)]).generate_state(1, np.uint64)[0] >> 1)


def sampling_probs(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None) -> torch.Tensor:
    """The distribution decoding samples from: top-k filter (top_k codes, None = all), then
    softmax(logits / temperature). logits (..., K) -> probs (..., K); temperature <= GREEDY_TEMPERATURE: one-hot
    argmax."""
    logits = top_k_filter(logits.float(), top_k)                     # (..., K)
    if temperature <= GREEDY_TEMPERATURE:
        return torch.nn.functional.one_hot(logits.argmax(-1), logits.shape[-1]).to(logits.dtype)
    return torch.softmax(logits / temperature, dim=-1)                # (..., K)


def draw(probs: torch.Tensor, uniforms: torch.Tensor) -> torch.Tensor:
    """Codes (N,) drawn from probs (N, K) by inverting the CDF at uniforms (N,) in [0, 1)."""
    cdf = probs.cumsum(-1)                                            # (N, K)
    u = uniforms[:, None].to(cdf) * cdf[:, -1:]                        # guards against a cdf ending a hair below 1
    # right=True: a draw of exactly 0 must not pick a leading zero-probability (filtered) code
    return torch.searchsorted(cdf, u, right=True).squeeze(-1).clamp(max=probs.shape[-1] - 1)
