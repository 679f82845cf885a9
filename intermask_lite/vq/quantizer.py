"""One codebook with EMA updates, dead-code reset and stochastic assignment during training.

- Codes are initialised from the first batch of encoder outputs.
- EMA: each code moves towards the mean of the vectors assigned to it, with decay `mu`; a code whose
  running assignment count falls below 1 (fewer than one vector per batch, on average over the last
  ~1/(1-mu) batches) is dead and is reset to a random encoder output of the current batch, while
  `reset_dead` is on (training can switch it off for its last steps; see VQConfig.reset_until).
- Training assigns codes by sampling softmax(-distance / temp) through the Gumbel trick (temp 0: nearest);
  evaluation always takes the nearest code.
- The straight-through estimator copies the decoder's gradient onto the encoder output.
The quantizer runs in float32 even under autocast.
"""
from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

DEAD_COUNT = 1.0  # EMA assignment count under which a code is dead


def _all_reduce(t: torch.Tensor) -> torch.Tensor:
    """Sum over processes when torch.distributed runs, so every rank keeps the same codebook."""
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(t)
    return t


class EMAQuantizer(nn.Module):
    """forward(x (N, D)) -> (quantised (N, D) with straight-through gradient, codes (N,), commit loss, stats)."""

    def __init__(self, nb_code: int, code_dim: int, mu: float = 0.99, gumbel_temp: float = 0.0):
        super().__init__()
        self.nb_code, self.code_dim, self.mu, self.gumbel_temp = nb_code, code_dim, mu, gumbel_temp
        self.register_buffer("codebook", torch.zeros(nb_code, code_dim))   # (K, D)
        self.register_buffer("code_sum", torch.zeros(nb_code, code_dim))   # (K, D) EMA of assigned sums
        self.register_buffer("code_count", torch.ones(nb_code))            # (K,) EMA of assignment counts
        self.register_buffer("initialised", torch.tensor(False))
        self.reset_dead = True  # reset dead codes in training (a switch, not state: never saved)

    def _random_rows(self, x: torch.Tensor, n: int) -> torch.Tensor:
        """n rows of x picked at random (repeated, with a little noise, when x has fewer rows)."""
        if x.shape[0] < n:
            reps = (n + x.shape[0] - 1) // x.shape[0]
            std = 0.01 / (x.shape[-1] ** 0.5)
            x = x.repeat(reps, 1) + torch.randn(x.shape[0] * reps, x.shape[1], device=x.device) * std
        return x[torch.randperm(x.shape[0], device=x.device)[:n]]  # (n, D)

    @torch.no_grad()
    def _init_codebook(self, x: torch.Tensor) -> None:
        codes = self._random_rows(x, self.nb_code)
        if dist.is_available() and dist.is_initialized():
            dist.broadcast(codes, 0)
        self.codebook.copy_(codes)
        self.code_sum.copy_(codes)
        self.code_count.fill_(1.0)
        self.initialised.fill_(True)

    def distances(self, x: torch.Tensor) -> torch.Tensor:
        """Squared distances to every code: (N, D) -> (N, K)."""
        return (x.pow(2).sum(-1, keepdim=True) - 2 * x @ self.codebook.t()
                + self.codebook.pow(2).sum(-1)[None])

    def assign(self, x: torch.Tensor, stochastic: bool) -> torch.Tensor:
        """Code index of each row of x: (N, D) -> (N,) long."""
        logits = -self.distances(x)  # (N, K)
        if stochastic and self.gumbel_temp > 0:
            u = torch.rand_like(logits).clamp_(1e-9, 1 - 1e-9)
            logits = logits / self.gumbel_temp - torch.log(-torch.log(u))
        return logits.argmax(-1)

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        """Code vectors: (...) long -> (..., D)."""
        if codes.numel() and (codes.min() < 0 or codes.max() >= self.nb_code):
            raise ValueError(f"token ids must lie in [0, {self.nb_code - 1}], got range "
                             f"[{int(codes.min())}, {int(codes.max())}]")
        return F.embedding(codes, self.codebook)

    @torch.no_grad()
    def _ema_update(self, x: torch.Tensor, codes: torch.Tensor) -> int:
        """Move used codes towards their assigned mean, reset dead ones; returns the number reset."""
        onehot = F.one_hot(codes, self.nb_code).float()            # (N, K)
        batch_sum = _all_reduce(onehot.t() @ x)                     # (K, D)
        batch_count = _all_reduce(onehot.sum(0))                    # (K,)
        self.code_sum.mul_(self.mu).add_(batch_sum, alpha=1 - self.mu)
        self.code_count.mul_(self.mu).add_(batch_count, alpha=1 - self.mu)
        dead = (self.code_count < DEAD_COUNT) & self.reset_dead    # (K,)
        n_dead = int(dead.sum())
        if n_dead:
            fresh = self._random_rows(x, self.nb_code)              # (K, D)
            if dist.is_available() and dist.is_initialized():
                dist.broadcast(fresh, 0)
            self.code_sum[dead] = fresh[dead]
            self.code_count[dead] = 1.0
        self.codebook.copy_(self.code_sum / self.code_count[:, None])
        return n_dead

    def forward(self, x: torch.Tensor):
        with torch.autocast(device_type=x.device.type, enabled=False):
            x = x.float()                                            # (N, D)
            if self.training and not bool(self.initialised):
                self._init_codebook(x.detach())
            codes = self.assign(x.detach(), stochastic=self.training)  # (N,)
            n_reset = self._ema_update(x.detach(), codes) if self.training else 0
            q = self.lookup(codes)                                   # (N, D)
            commit = F.mse_loss(x, q.detach())
            q = x + (q - x).detach()                                 # straight-through estimator
        stats = self.code_stats(codes)
        if self.training:
            stats["dead_codes"] = float(n_reset)
        return q, codes, commit, stats

    @torch.no_grad()
    def code_stats(self, codes: torch.Tensor) -> dict:
        """perplexity, usage (share of codes used) and dead codes (unused) of a batch of codes.

        In training, forward() replaces dead_codes by the number of codes the EMA found dead and reset.
        """
        counts = torch.bincount(codes.flatten(), minlength=self.nb_code).float()  # (K,)
        p = counts / counts.sum().clamp_min(1)
        perplexity = torch.exp(-(p * torch.log(p + 1e-10)).sum())
        return {"perplexity": float(perplexity), "usage": float((counts > 0).float().mean()),
                "dead_codes": float((counts == 0).sum())}
