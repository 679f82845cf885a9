"""An InterGen-style two-person diffusion model: the baseline InterMask compares against.

It works on per-person motion features of 132 numbers a frame: the 22 joint positions (66) and their
frame-to-frame velocities (66), normalised by one mean/std shared by both people (the evaluator reads the same
two quantities; the rotations and contacts of the 262-d feature are left out, so no inverse kinematics is
needed and joints come back as the first 66 numbers). Both people go through one denoiser with shared weights
(two branches): per block, self-attention over one person's frames, cross-attention to the other person's
frames, a feed-forward layer; text (the kit's text encoder, pooled) and the diffusion step condition every
sub-layer through adaLN-Zero. The denoiser predicts x0 (InterGen's choice) or the noise; a cosine schedule of
`timesteps` steps; DDIM sampling with classifier-free guidance, both guidance passes in one batch.

Not kept from InterGen: its geometric losses (bone length, foot contact, relative orientation) and its
mirrored-pair augmentation; the loss here is the masked MSE of the prediction (the same for every step).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn

from ..mask_transformer.attention import AdaLN, Attention, Dropout, FeedForward
from ..text import TextEncoder
from ..utils import eval_mode

N_MOTION = 132  # per-person feature: 22 positions + 22 velocities, 3 each


@dataclass
class DiffusionConfig:
    latent_dim: int = 172        # width of the denoiser (lab: 1.516 M parameters against Inter-M's 1.521 M)
    n_layers: int = 2            # blocks (self-attention, cross-attention, feed-forward)
    n_heads: int = 4             # attention heads
    ff_mult: int = 2             # feed-forward width multiple
    dropout: float = 0.1         # dropout on sub-layer outputs
    timesteps: int = 1000        # diffusion steps of the training schedule
    schedule: str = "cosine"     # noise schedule: "cosine" or "linear"
    prediction: str = "x0"       # what the denoiser predicts: "x0" (InterGen) or "eps"
    text_drop_prob: float = 0.1  # share of captions replaced by the null condition (for guidance)
    sample_steps: int = 50       # DDIM steps at generation
    guidance: float = 2.0        # classifier-free guidance scale at generation


def diffusion_config(preset_name: str) -> DiffusionConfig:
    """The denoiser's size for a preset: "smoke" tiny; "lab" about the lab Inter-M's parameter count."""
    if preset_name == "smoke":
        return DiffusionConfig(latent_dim=32, n_layers=1, n_heads=2, timesteps=100, sample_steps=5)
    if preset_name in ("lab", "paper"):
        return DiffusionConfig() if preset_name == "lab" else DiffusionConfig(latent_dim=512, n_layers=8, n_heads=8)
    raise ValueError(f"no diffusion size for preset {preset_name!r}; expected 'smoke', 'lab' or 'paper'")


# ---------------------------------------------------------------- noise schedule and DDIM
def alpha_bars(timesteps: int, schedule: str = "cosine") -> torch.Tensor:
    """Cumulative signal share alpha_bar[t] for t = 0..T-1 (float64), near 1 at t = 0, near 0 at T-1.

    cosine (Nichol & Dhariwal): f(t) = cos^2(((t / T) + s) / (1 + s) * pi / 2), alpha_bar[t] = f(t + 1) / f(0),
    s = 0.008, with each step's beta capped at 0.999; linear: betas from 1e-4 to 0.02 (DDPM) scaled to T.
    """
    if timesteps < 2:
        raise ValueError(f"timesteps must be >= 2, got {timesteps}")
    if schedule == "cosine":
        s = 0.008
        f = torch.cos((torch.arange(timesteps + 1, dtype=torch.float64) / timesteps + s) / (1 + s) * math.pi / 2) ** 2
        betas = (1 - f[1:] / f[:-1]).clamp(max=0.999)  # (T,)
    elif schedule == "linear":
        scale = 1000 / timesteps
        betas = torch.linspace(scale * 1e-4, scale * 0.02, timesteps, dtype=torch.float64)
    else:
        raise ValueError(f"unknown noise schedule {schedule!r}; expected 'cosine' or 'linear'")
    return torch.cumprod(1 - betas, 0)  # (T,)


def ddim_timesteps(timesteps: int, steps: int) -> list[int]:
    """`steps` training steps from T-1 down to 0, evenly spaced (descending, distinct)."""
    if not 1 <= steps <= timesteps:
        raise ValueError(f"DDIM steps must lie in 1..{timesteps}, got {steps}")
    return sorted({round(x) for x in torch.linspace(0, timesteps - 1, steps).tolist()}, reverse=True)


def ddim_step(x_t, x0, eps, alpha_bar_t, alpha_bar_prev, eta: float = 0.0, noise=None):
    """One DDIM update x_t -> x_prev given the predicted clean sample x0 and noise eps.

    x_prev = sqrt(ab_prev) x0 + sqrt(1 - ab_prev - sigma^2) eps + sigma z, with
    sigma = eta sqrt((1 - ab_prev) / (1 - ab_t)) sqrt(1 - ab_t / ab_prev); eta = 0 is deterministic.
    """
    ab_t, ab_prev = torch.as_tensor(alpha_bar_t, dtype=torch.float64), torch.as_tensor(alpha_bar_prev,
                                                                                       dtype=torch.float64)
    sigma = eta * torch.sqrt((1 - ab_prev) / (1 - ab_t)) * torch.sqrt(1 - ab_t / ab_prev)
    out = ab_prev.sqrt() * x0 + torch.sqrt((1 - ab_prev - sigma ** 2).clamp(min=0)) * eps
    if eta > 0:
        if noise is None:
            raise ValueError("ddim_step with eta > 0 needs the noise z")
        out = out + sigma * noise
    return out.to(x_t.dtype)


# ---------------------------------------------------------------- the denoiser
def sinusoid(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """(..., ) positions -> (..., dim) sine/cosine features."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=positions.device) / half)  # (D/2,)
    angles = positions.float()[..., None] * freqs  # (..., D/2)
    return torch.cat([angles.sin(), angles.cos()], -1)


class DuetBlock(nn.Module):
    """Self-attention over one person's frames, cross-attention to the other person, feed-forward."""

    def __init__(self, cfg: DiffusionConfig):
        super().__init__()
        D, H, p = cfg.latent_dim, cfg.n_heads, cfg.dropout
        self.self_norm, self.self_attn = AdaLN(D), Attention(D, H)
        self.cross_norm, self.cross = AdaLN(D), Attention(D, H)
        self.ff_norm, self.ff = AdaLN(D), FeedForward(D, cfg.ff_mult * D, p)
        self.drop = Dropout(p)

    def forward(self, x, c, keys):
        """x (B, 2, T, D), c (B, D), keys (B, 2, T) bool -> (B, 2, T, D); both people share the weights."""
        B, _, T, D = x.shape
        flat_keys = keys.reshape(B * 2, 1, T)  # (2B, 1, T)
        h, gate = self.self_norm(x, c)
        y = self.self_attn(h.reshape(B * 2, T, D), h.reshape(B * 2, T, D), flat_keys).view(B, 2, T, D)
        x = x + gate * self.drop(y)
        h, gate = self.cross_norm(x, c)
        other = h.flip(1)  # (B, 2, T, D): each person's context is the other person
        y = self.cross(h.reshape(B * 2, T, D), other.reshape(B * 2, T, D), keys.flip(1).reshape(B * 2, 1, T))
        x = x + gate * self.drop(y.view(B, 2, T, D))
        h, gate = self.ff_norm(x, c)
        return x + gate * self.drop(self.ff(h))


class DuetDenoiser(nn.Module):
    """x_t (B, 2, T, 132), step t (B,), text -> prediction (B, 2, T, 132) (x0 or eps, cfg.prediction)."""

    def __init__(self, cfg: DiffusionConfig, text_encoder: TextEncoder):
        super().__init__()
        if cfg.prediction not in ("x0", "eps"):
            raise ValueError(f"prediction must be 'x0' or 'eps', got {cfg.prediction!r}")
        self.cfg, D = cfg, cfg.latent_dim
        self.text_encoder = text_encoder
        self.cond_proj = nn.Linear(text_encoder.cfg.dim, D)
        self.step_mlp = nn.Sequential(nn.Linear(D, D), nn.SiLU(), nn.Linear(D, D))
        self.in_proj = nn.Linear(N_MOTION, D)
        self.blocks = nn.ModuleList(DuetBlock(cfg) for _ in range(cfg.n_layers))
        self.out_norm = AdaLN(D)
        self.out_proj = nn.Linear(D, N_MOTION)
        self.register_buffer("alpha_bar", alpha_bars(cfg.timesteps, cfg.schedule).float(), persistent=False)

    def encode_text(self, text) -> torch.Tensor:
        """Captions (None = null condition) -> pooled text vectors (B, D_text); a tensor passes through."""
        return text if isinstance(text, torch.Tensor) else self.text_encoder(list(text))[2]

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, text, valid: torch.Tensor) -> torch.Tensor:
        """x_t (B, 2, T, 132), t (B,) long, text captions or pooled (B, D_text), valid (B, T) bool frames."""
        B, _, T, _ = x_t.shape
        c = self.cond_proj(self.encode_text(text)) + self.step_mlp(sinusoid(t, self.cfg.latent_dim))  # (B, D)
        frames = sinusoid(torch.arange(T, device=x_t.device), self.cfg.latent_dim)  # (T, D)
        x = self.in_proj(x_t) + frames  # (B, 2, T, D)
        keys = valid[:, None].expand(B, 2, T)  # (B, 2, T)
        for block in self.blocks:
            x = block(x, c, keys)
        h, _ = self.out_norm(x, c)
        return self.out_proj(h)  # (B, 2, T, 132)


def guided_prediction(model: DuetDenoiser, x_t, t, pooled, valid, guidance: float) -> torch.Tensor:
    """uncond + s * (cond - uncond), both passes in one batch; s = 1 is exactly the conditional pass."""
    if guidance == 1:
        return model(x_t, t, pooled, valid)
    B = x_t.shape[0]
    null = model.encode_text([None] * B)  # (B, D_text)
    both = model(torch.cat([x_t, x_t]), torch.cat([t, t]), torch.cat([pooled, null]), torch.cat([valid, valid]))
    return both[B:] + guidance * (both[:B] - both[B:])


def ddim_sample(model: DuetDenoiser, texts, n_frames, steps: int | None = None, guidance: float | None = None,
                eta: float = 0.0, generator: torch.Generator | None = None) -> torch.Tensor:
    """Normalised motion (B, 2, max(n_frames), 132) for B captions; frames past each length are zero.

    Noise comes from `generator` (a CPU generator: the same seed gives the same motion on every device).
    """
    cfg = model.cfg
    steps = cfg.sample_steps if steps is None else int(steps)
    guidance = cfg.guidance if guidance is None else float(guidance)
    device = next(model.parameters()).device
    lengths = torch.as_tensor(list(n_frames))
    if len(lengths) != len(texts) or (lengths < 1).any():
        raise ValueError(f"need one positive length per caption; got {len(texts)} captions, lengths {lengths.tolist()}")
    B, T = len(texts), int(lengths.max())
    valid = (torch.arange(T)[None] < lengths[:, None]).to(device)  # (B, T)
    with eval_mode(model):
        pooled = model.encode_text(list(texts))  # (B, D_text)
        x = torch.randn(B, 2, T, N_MOTION, generator=generator).to(device)  # (B, 2, T, 132)
        ab = model.alpha_bar.double().cpu()
        times = ddim_timesteps(cfg.timesteps, steps)
        for i, t in enumerate(times):
            ab_prev = ab[times[i + 1]] if i + 1 < len(times) else torch.tensor(1.0, dtype=torch.float64)
            ab_t = ab[t]
            out = guided_prediction(model, x, torch.full((B,), t, device=device), pooled, valid, guidance)
            if cfg.prediction == "x0":
                x0 = out
                eps = (x - ab_t.sqrt().item() * x0) / (1 - ab_t).sqrt().item()
            else:
                eps = out
                x0 = (x - (1 - ab_t).sqrt().item() * eps) / ab_t.sqrt().item()
            noise = torch.randn(x.shape, generator=generator).to(device) if eta > 0 else None
            x = ddim_step(x, x0, eps, ab_t, ab_prev, eta, noise) * valid[:, None, :, None]
    return x
