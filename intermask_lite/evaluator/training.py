"""Training and checking the text-motion evaluator: `train_evaluator` and `retrieval_scores`.

    model, history = train_evaluator("lab", *training_clips(lab()), out_dir="artifacts/evaluator")
    retrieval_scores(model, test_clips)   # {"top1", "top2", "top3", "mm_dist", "class_acc", "chance_top3"}

Training uses the kit's one loop (train.fit, kind="evaluator"), so checkpoints land in
out_dir/evaluator_best.pt and evaluator_last.pt and resume like every other model.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
from torch.utils.data import Dataset

from ..config import get_preset
from ..data.clip import training_clip_lists
from ..data.synthetic import CLASSES
from ..distributed import train_loader
from ..eval import metrics
from ..text import build_vocab
from ..train import fit
from ..utils import seed_everything
from .model import (N_EVAL_FEATURES, Evaluator, embed_joints, embed_texts, evaluator_loss, motion_features,
                    perturb_joints)


class EvaluatorDataset(Dataset):
    """(features (max_frames, 2, 132) raw and zero-padded, length, random caption, class index) per clip.

    Clips longer than max_frames give a random window when `random_crop`, else their first frames. With
    `noise_prob` > 0 that share of items is perturbed by evaluator.perturb_joints (a few centimetres).
    """

    def __init__(self, clips, classes: list[str], max_frames: int, random_crop: bool = True,
                 noise_prob: float = 0.0):
        if not clips:
            raise ValueError("EvaluatorDataset needs at least one clip")
        if not 0.0 <= noise_prob <= 1.0:
            raise ValueError(f"noise_prob must lie in [0, 1], got {noise_prob}")
        self.joints = [np.asarray(c.joints, dtype=np.float32) for c in clips]  # each (2, T, 22, 3)
        self.captions = [list(c.captions) for c in clips]
        index = {name: i for i, name in enumerate(classes)}
        self.labels = [index.get(c.label, -1) for c in clips]
        self.max_frames, self.random_crop, self.noise_prob = max_frames, random_crop, noise_prob

    def __len__(self) -> int:
        return len(self.joints)

    def __getitem__(self, i: int) -> dict:
        j = self.joints[i]
        start = 0
        if j.shape[1] > self.max_frames and self.random_crop:
            start = int(torch.randint(0, j.shape[1] - self.max_frames + 1, ()))
        j = j[:, start:start + self.max_frames]
        if self.noise_prob and float(torch.rand(())) < self.noise_prob:
            j = perturb_joints(j, np.random.default_rng(int(torch.randint(0, 2**31, ()))))
        window = motion_features(j)  # (T, 2, 132)
        padded = np.zeros((self.max_frames, 2, window.shape[-1]), dtype=np.float32)
        padded[: len(window)] = window
        caption = self.captions[i][int(torch.randint(0, len(self.captions[i]), ()))]
        return {"features": torch.from_numpy(padded), "length": len(window), "caption": caption,
                "label": self.labels[i]}


def feature_stats(clips) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std (132,) of the evaluator features over every frame and person; std floored at 1e-3."""
    rows = np.concatenate([motion_features(c.joints).reshape(-1, N_EVAL_FEATURES) for c in clips])
    return rows.mean(0), np.maximum(rows.std(0), 1e-3)


def class_names(clips) -> list[str]:
    """The labels found in `clips`: in the built-in CLASSES order when all are built-in classes, else sorted."""
    labels = {c.label for c in clips if c.label}
    return [c for c in CLASSES if c in labels] if labels <= set(CLASSES) else sorted(labels)


def train_evaluator(preset, train_clips, val_clips, *, out_dir=None, device="auto", progress: bool = True,
                    seed: int = 0):
    """Train the evaluator; returns (model on CPU in eval mode, history).

    preset: a Preset or its name (data.sources.training_clips(preset) gives the built-in clips). val_clips:
    validation clips (fewer than 3: no validation). Its classes are the labels of `train_clips` (class_names).
    """
    seed_everything(seed)                                              # the weights' initialisation too
    preset = get_preset(preset)
    clips, val_clips = training_clip_lists(train_clips, val_clips, "train_evaluator")
    classes = class_names(clips)
    fps = clips[0].fps
    if any(abs(c.fps - fps) > 1e-6 for c in list(clips) + list(val_clips)):
        raise ValueError("all clips must share one frame rate; resample them first")
    all_captions = [t for c in clips for t in c.captions]
    model = Evaluator(preset.eval, classes, build_vocab(all_captions), preset.text.max_words, fps)
    train_set = EvaluatorDataset(clips, classes, preset.data.max_frames, noise_prob=preset.eval.noise_prob)
    model.set_normalizer(*feature_stats(clips))
    cfg = preset.evaluator_train
    loader = train_loader(train_set, replace(cfg, batch_size=min(cfg.batch_size, len(train_set))))

    def val_fn(m, dev):
        return retrieval_scores(m, val_clips, max_frames=preset.data.max_frames, seed=seed,
                                pool=min(preset.eval.pools[0], len(val_clips)), with_loss=True)

    history = fit(model, evaluator_loss, loader, cfg, val_fn=val_fn if len(val_clips) >= 3 else None, out_dir=out_dir,
                  kind="evaluator", extra=model.extra_state(), device=device, progress=progress, seed=seed)
    return model.cpu().eval(), history


@torch.no_grad()
def retrieval_scores(model: Evaluator, clips, max_frames: int | None = None, pool: int = 32, seed: int = 0,
                     with_loss: bool = False) -> dict:
    """R-precision top-1..3 (first caption of each clip), MM-Dist, class accuracy and the chance level.

    with_loss adds "val_loss": the InfoNCE loss over pools of `pool` pairs (lower is better).
    """
    if len(clips) < pool:
        raise ValueError(f"retrieval_scores needs at least pool={pool} clips, got {len(clips)}")
    motion = embed_joints(model, [c.joints for c in clips], clips[0].fps, max_frames=max_frames)  # (N, D)
    text = embed_texts(model, [c.captions[0] for c in clips])  # (N, D)
    top = metrics.r_precision(text, motion, pool=pool, top_k=3, rng=seed)
    out = {"top1": top[0], "top2": top[1], "top3": top[2], "chance_top3": 3 / pool,
           "mm_dist": metrics.matching_score(text, motion)}
    accuracy = model.class_accuracy(motion, [c.label for c in clips])
    if accuracy is not None:
        out["class_acc"] = accuracy
    if with_loss:
        n = len(clips) // pool * pool
        t, m = torch.from_numpy(text[:n]), torch.from_numpy(motion[:n])
        losses = [float(model.contrastive_loss(t[s:s + pool].to(model.device), m[s:s + pool].to(model.device)))
                  for s in range(0, n, pool)]
        out["val_loss"] = float(np.mean(losses))
    return {k: float(v) for k, v in out.items()}
