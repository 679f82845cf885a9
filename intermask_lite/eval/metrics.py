"""Distribution and retrieval metrics on embeddings, in the style of the T2M / InterGen evaluation.

All functions take numpy arrays (torch tensors are converted) and return floats or numpy arrays.
Embeddings come from the evaluator (`Evaluator.encode_motion` / `encode_text`), one row per sample.

- FID: Frechet distance between Gaussians fitted to two sets of motion embeddings (lower is better).
- R-precision: shuffle matched (text, motion) pairs into pools of `pool`; for each text, rank the pool's
  motions by euclidean distance; top-k = share of texts whose own motion is among the k nearest.
- MM-Dist (matching score): mean distance between each text and its own motion embedding.
- Diversity: mean distance between random pairs of motion embeddings (compare with ground truth).
- MultiModality: for each prompt, mean distance between random pairs of its own samples.

Two statistics of token maps (..., R, C) long: `mode_share` (how much of a row its most frequent code holds:
a frozen body part scores 1) and `token_agreement` (share of positions where two maps agree).
"""
from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.stats

from ..skeleton import joint_distances


def _as_2d(x, name: str) -> np.ndarray:
    """numpy float64 (N, D) with a clear error otherwise."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{name} must have shape (N, D), got {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or inf")
    return x


def _rng(rng) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """|mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2)) for two Gaussians N(mu1, S1) and N(mu2, S2).

    Tiny imaginary parts from the matrix square root (numerical noise) are dropped; a singular product
    gets `eps` added to both diagonals first.
    """
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    s1, s2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise ValueError(f"mismatched shapes: mu {mu1.shape}, {mu2.shape}; sigma {s1.shape}, {s2.shape}")
    diff = mu1 - mu2
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all():
        offset = np.eye(s1.shape[0]) * eps
        covmean = scipy.linalg.sqrtm((s1 + offset) @ (s2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"sqrtm gave a large imaginary part {np.abs(covmean.imag).max():.3g}")
        covmean = covmean.real
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def fid(emb_a, emb_b) -> float:
    """Frechet distance between the Gaussians fitted to two embedding sets (N, D) and (M, D)."""
    a, b = _as_2d(emb_a, "emb_a"), _as_2d(emb_b, "emb_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"embedding widths differ: {a.shape[1]} vs {b.shape[1]}")
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"FID needs at least 2 samples per set, got {len(a)} and {len(b)}")
    return frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))


def _pairwise_dist(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Euclidean distances (N, M) between rows of x (N, D) and y (M, D)."""
    sq = (x ** 2).sum(1)[:, None] - 2 * x @ y.T + (y ** 2).sum(1)[None, :]  # (N, M)
    return np.sqrt(np.maximum(sq, 0.0))


def r_precision(text_emb, motion_emb, pool: int = 32, top_k: int = 3, rng=None) -> np.ndarray:
    """Top-1..top_k retrieval accuracy of texts against their motions, in pools of `pool`.

    Row i of text_emb matches row i of motion_emb. The pairs are shuffled and cut into batches of `pool`
    (the remainder is dropped, as in T2M). Chance level for top-k is k / pool. Returns (top_k,).
    """
    t, m = _as_2d(text_emb, "text_emb"), _as_2d(motion_emb, "motion_emb")
    if t.shape != m.shape:
        raise ValueError(f"text_emb {t.shape} and motion_emb {m.shape} must have the same shape")
    if len(t) < pool:
        raise ValueError(f"R-precision needs at least pool={pool} pairs, got {len(t)}")
    if not 1 <= top_k <= pool:
        raise ValueError(f"top_k must be in 1..pool={pool}, got {top_k}")
    order = _rng(rng).permutation(len(t))
    n_batches = len(t) // pool
    hits = np.zeros(top_k)
    for b in range(n_batches):
        idx = order[b * pool:(b + 1) * pool]
        dist = _pairwise_dist(t[idx], m[idx])  # (pool, pool)
        own = np.diagonal(dist)[:, None]
        rank = (dist < own).sum(1)  # how many motions are strictly closer than the right one
        hits += (rank[:, None] < np.arange(1, top_k + 1)[None, :]).sum(0)
    return hits / (n_batches * pool)


def matching_score(text_emb, motion_emb) -> float:
    """MM-Dist: mean euclidean distance between each text embedding and its own motion embedding."""
    t, m = _as_2d(text_emb, "text_emb"), _as_2d(motion_emb, "motion_emb")
    if t.shape != m.shape:
        raise ValueError(f"text_emb {t.shape} and motion_emb {m.shape} must have the same shape")
    return float(np.linalg.norm(t - m, axis=1).mean())


mm_dist = matching_score


def diversity(emb, n_pairs: int = 300, rng=None) -> float:
    """Mean distance between n_pairs random pairs (i, j), i and j drawn independently (n_pairs <= N)."""
    e = _as_2d(emb, "emb")
    if len(e) < 2:
        raise ValueError(f"diversity needs at least 2 samples, got {len(e)}")
    n = min(n_pairs, len(e))
    g = _rng(rng)
    first, second = g.choice(len(e), n, replace=False), g.choice(len(e), n, replace=False)
    return float(np.linalg.norm(e[first] - e[second], axis=1).mean())


def multimodality(emb, n_pairs: int = 10, rng=None) -> float:
    """Mean distance between random pairs of samples of the same prompt; emb is (P prompts, S samples, D)."""
    if hasattr(emb, "detach"):
        emb = emb.detach().cpu().numpy()
    e = np.asarray(emb, dtype=np.float64)
    if e.ndim != 3 or e.shape[1] < 2:
        raise ValueError(f"emb must have shape (prompts, samples >= 2, D), got {e.shape}")
    n = min(n_pairs, e.shape[1])
    g = _rng(rng)
    first, second = g.choice(e.shape[1], n, replace=False), g.choice(e.shape[1], n, replace=False)
    return float(np.linalg.norm(e[:, first] - e[:, second], axis=-1).mean())


def class_accuracy(logits_or_pred, labels) -> float:
    """Share of correct predictions; accepts logits (N, C) (argmax taken) or predicted ids (N,)."""
    if hasattr(logits_or_pred, "detach"):
        logits_or_pred = logits_or_pred.detach().cpu().numpy()
    pred = np.asarray(logits_or_pred)
    pred = pred.argmax(-1) if pred.ndim == 2 else pred
    labels = np.asarray(labels)
    if pred.shape != labels.shape:
        raise ValueError(f"predictions {pred.shape} and labels {labels.shape} must match")
    return float((pred == labels).mean())


def mode_share(ids) -> float:
    """Mean over the token rows of `ids` (..., C) of the share of the row held by its most frequent code."""
    rows = np.asarray(ids.detach().cpu() if hasattr(ids, "detach") else ids).reshape(-1, np.shape(ids)[-1])
    if rows.size == 0 or rows.min() < 0:
        raise ValueError(f"ids must be non-empty, non-negative token ids, got shape {np.shape(ids)}")
    return float(np.mean([np.bincount(r).max() / len(r) for r in rows]))


def token_agreement(ids_a, ids_b) -> float:
    """Share of positions where two token maps of one shape hold the same code."""
    a, b = (np.asarray(x.detach().cpu() if hasattr(x, "detach") else x) for x in (ids_a, ids_b))
    if a.shape != b.shape:
        raise ValueError(f"token maps must have one shape, got {a.shape} and {b.shape}")
    return float((a == b).mean())


def mpjpe(pred_joints, gt_joints, align_root: bool = False) -> float:
    """Mean per-joint position error in millimetres (inputs in metres, same shape (..., J, 3)).

    align_root: subtract each pose's root (joint 0, the pelvis) from both first, so only the pose is scored,
    not where the body stands; the tokenizer MPJPE of MoMask-style code is measured this way.
    """
    p, g = np.asarray(pred_joints, dtype=np.float64), np.asarray(gt_joints, dtype=np.float64)
    return float(joint_distances(p, g, align_root).mean() * 1000.0)


def mean_ci95(values) -> tuple[float, float]:
    """(mean, half-width of the 95 % confidence interval) over replications.

    Uses the Student t distribution: half = t_{0.975, n-1} * std(ddof=1) / sqrt(n). (T2M-style code uses
    1.96 * std / sqrt(n); the t value is wider and more honest for the 5-20 replications used here.)
    One value gives a half-width of 0.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        raise ValueError("mean_ci95 needs at least one value")
    if v.size == 1:
        return float(v[0]), 0.0
    half = scipy.stats.t.ppf(0.975, v.size - 1) * v.std(ddof=1) / np.sqrt(v.size)
    return float(v.mean()), float(half)
