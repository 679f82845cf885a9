"""A contrastive text-motion evaluator (in the style of InterGen's), the yardstick for FID and R-precision.

Motion side: each person's per-frame positions and velocities (132 numbers, normalised with the evaluator's
own statistics) are concatenated with the partner's, embedded, and run through a small transformer over
time with a padding mask; the same weights encode (A, B) and (B, A) and the two pooled vectors are summed,
so swapping the two people leaves the embedding unchanged. Text side: the kit's "scratch" text encoder with
a projection. Both embeddings are L2-normalised (euclidean distances between them lie in [0, 2]).
Training: symmetric InfoNCE over the batch plus a cross-entropy class head on the motion embedding, on
clips of which a share (EvalConfig.noise_prob) is perturbed by a few centimetres of noise (`perturb_joints`).

Why not the full 262-d feature: the local rotations are a function of the positions (inverse kinematics),
and on generated motion inverse kinematics turns centimetre errors into large rotation changes; foot
contacts are thresholded flags that flip with the same errors. An evaluator trained on clean data alone
keys on such details: one trained on the full features without noise scored 100 % class accuracy on the
test split and 16 % once 1 cm of noise was added, so it could not tell a slightly imperfect handshake from
a hug. The noise teaches it to judge the motion, not its last millimetre.

    model, history = train_evaluator("lab", *training_clips(lab()))   # or load_evaluator(path)
    m = embed_joints(model, [clip.joints for clip in clips], fps=20)   # (N, D) numpy
    t = embed_texts(model, [clip.captions[0] for clip in clips])       # (N, D) numpy

Features are always computed from joints, so ground truth and generated motion go through exactly the
same path. The evaluator expects the frame rate it was trained at
(model.fps); resample other data first.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import EvalConfig, TextConfig
from ..data.features import velocities
from ..eval import metrics
from ..text import build_text_encoder
from ..utils import file_sha256, load_checkpoint, load_weights

LOGIT_SCALE_MAX = 100.0  # cap of the learned inverse temperature (as in CLIP)
N_EVAL_FEATURES = 132   # per person and frame: 22 positions and 22 velocities


def motion_features(joints) -> np.ndarray:
    """Raw evaluator input for one sample: joints (2, T, 22, 3) -> (T, 2, 132) float32 [positions, velocities].

    Velocities are per frame, so the evaluator is tied to its training frame rate (checked in embed_joints).
    """
    j = np.asarray(joints, dtype=np.float32)
    if j.ndim != 4 or j.shape[0] != 2 or j.shape[2:] != (22, 3):
        raise ValueError(f"joints must have shape (2, T, 22, 3), got {j.shape}")
    feats = np.concatenate([j.reshape(2, -1, 66), velocities(j).reshape(2, -1, 66)], axis=-1)  # (2, T, 132)
    return np.ascontiguousarray(feats.transpose(1, 0, 2))


def slow_noise(shape, rng: np.random.Generator, frames: int = 9) -> np.ndarray:
    """Noise of std 1 that varies slowly along axis 1 (a moving average over `frames`): shape (P, T, ...)."""
    raw = rng.normal(size=(shape[0], shape[1] + frames, *shape[2:]))
    csum = np.cumsum(raw, axis=1)
    return (csum[:, frames:] - csum[:, :-frames]) / np.sqrt(frames)


def perturb_joints(joints: np.ndarray, rng: np.random.Generator, iid_cm: float = 2.0, smooth_cm: float = 5.0,
                   smooth_frames: int = 9) -> np.ndarray:
    """Joints (2, T, 22, 3) plus noise: white noise of std U(0, iid_cm) cm per joint and frame, and
    slowly varying noise (slow_noise over `smooth_frames`) of std U(0, smooth_cm) cm."""
    j = np.asarray(joints, dtype=np.float32)
    white = rng.normal(size=j.shape) * rng.uniform(0, iid_cm / 100)
    slow = slow_noise(j.shape, rng, smooth_frames) * rng.uniform(0, smooth_cm / 100)
    return (j + white + slow).astype(np.float32)


def sinusoidal_positions(length: int, width: int) -> torch.Tensor:
    """Fixed sinusoidal time encodings (length, width)."""
    pos = torch.arange(length, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, width, 2, dtype=torch.float32) * (-math.log(10000.0) / width))
    enc = torch.zeros(length, width)
    enc[:, 0::2] = torch.sin(pos * freq)
    enc[:, 1::2] = torch.cos(pos * freq)[:, : width // 2]
    return enc


class Evaluator(nn.Module):
    """encode_motion / encode_text -> unit vectors (B, dim); classify(motion_emb) -> class logits."""

    def __init__(self, cfg: EvalConfig, classes: list[str], vocab: list[str], max_words: int = 32,
                 fps: float = 20.0):
        super().__init__()
        if cfg.width % cfg.heads:
            raise ValueError(f"evaluator width {cfg.width} must be divisible by heads {cfg.heads}")
        self.cfg, self.classes, self.fps = cfg, list(classes), float(fps)
        self.text_cfg = TextConfig(encoder="scratch", dim=cfg.width, adapter_layers=cfg.text_layers,
                                   max_words=max_words)
        self.register_buffer("feat_mean", torch.zeros(N_EVAL_FEATURES))  # normaliser of the evaluator's input
        self.register_buffer("feat_std", torch.ones(N_EVAL_FEATURES))
        self.in_proj = nn.Linear(2 * N_EVAL_FEATURES, cfg.width)
        layer = nn.TransformerEncoderLayer(cfg.width, cfg.heads, dim_feedforward=2 * cfg.width, dropout=0.1,
                                           batch_first=True, norm_first=True)
        self.motion_encoder = nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
        self.motion_out = nn.Sequential(nn.LayerNorm(cfg.width), nn.Linear(cfg.width, cfg.dim))
        self.text_encoder = build_text_encoder(self.text_cfg, vocab=vocab)
        self.text_out = nn.Sequential(nn.LayerNorm(cfg.width), nn.Linear(cfg.width, cfg.dim))
        self.class_head = nn.Linear(cfg.dim, len(self.classes))
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    @property
    def device(self) -> torch.device:
        return self.feat_mean.device

    def set_normalizer(self, mean, std) -> None:
        """Store the feature statistics (132,) used to normalise every input."""
        self.feat_mean.copy_(torch.as_tensor(np.asarray(mean), dtype=torch.float32))
        self.feat_std.copy_(torch.as_tensor(np.asarray(std), dtype=torch.float32))

    def _person_stream(self, own: torch.Tensor, other: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Pooled (B, width) summary of one person seen together with the partner."""
        x = self.in_proj(torch.cat([own, other], dim=-1))  # (B, T, W)
        x = x + sinusoidal_positions(x.shape[1], x.shape[2]).to(x.device)
        x = self.motion_encoder(x, src_key_padding_mask=~valid)  # (B, T, W)
        return (x * valid[..., None]).sum(1) / valid.sum(1, keepdim=True)  # (B, W)

    def encode_motion(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Raw (unnormalised) features (B, T, 2, 132) and valid lengths (B,) -> unit embeddings (B, dim)."""
        if features.ndim != 4 or features.shape[2:] != (2, N_EVAL_FEATURES):
            raise ValueError(f"features must have shape (B, T, 2, {N_EVAL_FEATURES}), got {tuple(features.shape)}")
        lengths = torch.as_tensor(lengths, device=features.device)
        if lengths.shape != features.shape[:1] or (lengths < 1).any() or (lengths > features.shape[1]).any():
            raise ValueError(f"lengths must be (B,) in 1..T={features.shape[1]}, got {lengths.tolist()}")
        x = (features - self.feat_mean) / self.feat_std  # (B, T, 2, 132)
        valid = torch.arange(x.shape[1], device=x.device)[None] < lengths[:, None]  # (B, T)
        a, b = x[:, :, 0], x[:, :, 1]  # (B, T, 132) each
        pooled = self._person_stream(a, b, valid) + self._person_stream(b, a, valid)  # (B, W)
        return F.normalize(self.motion_out(pooled), dim=-1)  # (B, dim)

    def encode_text(self, texts: list[str]) -> torch.Tensor:
        """Captions (B,) -> unit embeddings (B, dim)."""
        if isinstance(texts, str) or not texts or any(not isinstance(t, str) or not t.strip() for t in texts):
            raise ValueError(f"texts must be a non-empty list of non-empty strings, got {texts!r}")
        _, _, pooled = self.text_encoder(list(texts))  # (B, W)
        return F.normalize(self.text_out(pooled), dim=-1)  # (B, dim)

    def classify(self, motion_emb: torch.Tensor) -> torch.Tensor:
        """Motion embeddings (B, dim) -> class logits (B, n_classes)."""
        return self.class_head(motion_emb)

    @torch.no_grad()
    def class_accuracy(self, motion_emb, labels) -> float | None:
        """Share of motions (embeddings (N, dim), labels (N,)) classified right, counting only the labels it
        knows; None when it knows none of them."""
        index = {name: i for i, name in enumerate(self.classes)}
        known = [i for i, label in enumerate(labels) if label in index]
        if not known:
            return None
        emb = torch.as_tensor(np.asarray(motion_emb)[known], dtype=torch.float32, device=self.device)  # (K, dim)
        return metrics.class_accuracy(self.classify(emb).cpu().numpy(), [index[labels[i]] for i in known])

    def contrastive_loss(self, text_emb: torch.Tensor, motion_emb: torch.Tensor) -> torch.Tensor:
        """Symmetric InfoNCE: each caption must pick its own motion in the batch and vice versa."""
        scale = self.logit_scale.clamp(max=math.log(LOGIT_SCALE_MAX)).exp()
        logits = scale * text_emb @ motion_emb.T  # (B, B)
        target = torch.arange(len(logits), device=logits.device)
        return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))

    def extra_state(self) -> dict:
        """Plain data needed to rebuild the model around its state_dict (stored in checkpoints)."""
        return {"eval_cfg": dict(vars(self.cfg)), "classes": self.classes, "vocab": self.text_encoder.vocab,
                "max_words": self.text_cfg.max_words, "fps": self.fps}


def evaluator_loss(model: Evaluator, batch: dict, device) -> tuple[torch.Tensor, dict]:
    """InfoNCE + w_class * class cross-entropy on one batch (the loss_fn of train.fit)."""
    feats, lengths = batch["features"].to(device), batch["length"].to(device)
    motion = model.encode_motion(feats, lengths)  # (B, dim)
    text = model.encode_text(list(batch["caption"]))  # (B, dim)
    nce = model.contrastive_loss(text, motion)
    labels = batch["label"].to(device)  # (B,) class index, -1 for clips without a known class
    known = labels >= 0
    ce = F.cross_entropy(model.classify(motion[known]), labels[known]) if known.any() else nce * 0
    return nce + model.cfg.w_class * ce, {"nce": float(nce.detach()), "ce": float(ce.detach())}


@torch.no_grad()
def embed_joints(model: Evaluator, joints_list, fps: float, batch_size: int = 64,
                 max_frames: int | None = None) -> np.ndarray:
    """Motion embeddings (N, dim) for a list of (2, T, 22, 3) arrays (lengths may differ)."""
    if abs(fps - model.fps) > 1e-6:
        raise ValueError(f"the evaluator was trained at {model.fps} fps, got motion at {fps} fps; resample")
    model.eval()
    feats = [motion_features(j)[:max_frames] for j in joints_list]
    out = []
    for start in range(0, len(feats), batch_size):
        chunk = feats[start:start + batch_size]
        lengths = torch.tensor([len(f) for f in chunk])
        padded = torch.zeros(len(chunk), int(lengths.max()), 2, N_EVAL_FEATURES)  # (B, T, 2, 132)
        for i, f in enumerate(chunk):
            padded[i, : len(f)] = torch.from_numpy(f)
        out.append(model.encode_motion(padded.to(model.device), lengths.to(model.device)).cpu())
    return torch.cat(out).numpy()


@torch.no_grad()
def embed_texts(model: Evaluator, texts: list[str], batch_size: int = 256) -> np.ndarray:
    """Text embeddings (N, dim) for a list of captions."""
    model.eval()
    out = [model.encode_text(list(texts[s:s + batch_size])).cpu() for s in range(0, len(texts), batch_size)]
    return torch.cat(out).numpy()


def build_evaluator(extra: dict) -> Evaluator:
    """An untrained Evaluator from the plain data of Evaluator.extra_state()."""
    return Evaluator(EvalConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in extra["eval_cfg"].items()}),
                     extra["classes"], extra["vocab"], extra["max_words"], extra["fps"])


def load_evaluator(path: str | Path, device: str = "cpu") -> Evaluator:
    """Rebuild a trained evaluator from an 'evaluator' checkpoint (train.fit layout), in eval mode."""
    ckpt = load_checkpoint(path, kind="evaluator")
    model = build_evaluator(ckpt["extra"])
    load_weights(model, ckpt["model"], path)
    return model.to(device).eval()


def evaluator_checksum(path: str | Path) -> str:
    """sha256 hex digest of a checkpoint file: results are comparable only under the same evaluator."""
    return file_sha256(path)
