"""The tokenizer's second phase: tune its decoder so that what it decodes reads back to the same tokens.

A decoded motion is read out from its position channels only (`grid_to_joints`); encoding it again derives
velocities and rotations from those positions. Trained for reconstruction alone, the decoder's channels disagree with
each other, and its output encodes back to its own tokens for only about half of them (the test split, before).
Here the encoder and codebook are frozen, so every token map and every transformer trained on them stay valid, and
the decoder alone learns, beside its reconstruction terms, a read-back term:

    ids = encode(grid)                                    # (B, 5, t) the tokens, fixed
    joints = grid_to_joints(decode(ids))                  # (B, T, 22, 3) what a user gets
    z = encoder(joints_to_grid(joints))                   # (B, D, 5, t) read back, differentiably
    loss = reconstruction + w_readback * cross_entropy(-|z - codebook|^2, ids)

readback_loss(tok, joints, ids)            -> the read-back term
tune_decoder(tok, preset, train, val, ...) -> (tuned tokenizer, history); with out_dir it resumes and writes vq_tuned.pt
readback_share(tok, grids)                 -> share of tokens that come back after decode and encode
"""
from __future__ import annotations

import copy
from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F

from .. import config as config_mod
from .. import skeleton
from ..data.clip import training_clip_lists
from ..data.datasets import clip_cache, make_normalizer
from ..distributed import train_loader
from ..train import fit, unwrap
from ..utils import CHECKPOINT_FORMAT, atomic_torch_save
from .losses import reconstruction_losses
from .model import MotionTokenizer
from .pipeline import _fixed_windows, window_dataset

TUNED_NAME = "vq_tuned.pt"  # the tuned tokenizer, a "vq" checkpoint, beside vq_best.pt / vq_last.pt
VAL_WINDOWS = 128


def readback_loss(tok: MotionTokenizer, joints: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the codes that `joints` (B, T, 22, 3) encode to against `ids` (B, R, T/4)."""
    z = tok._latent(tok.joints_to_grid(joints))                        # (B, D, R, t)
    flat = z.permute(0, 2, 3, 1).reshape(-1, z.shape[1]).float()       # (B*R*t, D)
    return F.cross_entropy(-tok.quantizer.distances(flat), ids.reshape(-1))


@torch.no_grad()
def readback_share(tok: MotionTokenizer, grids: torch.Tensor) -> float:
    """Share of the tokens of `grids` (B, 12, 22, T) that decoding, reading out the joints and encoding give back."""
    ids = tok.encode(grids)                                            # (B, R, t)
    again = tok.encode(tok.joints_to_grid(tok.grid_to_joints(tok.decode(ids))))
    return float((again == ids).float().mean())


def _frozen_but_decoder(tok: MotionTokenizer) -> MotionTokenizer:
    """A copy of `tok` whose decoder alone trains (the encoder and codebook, hence the tokens, stay as they are)."""
    tuned = copy.deepcopy(tok).train()
    for p in tuned.parameters():
        p.requires_grad_(False)
    for p in tuned.decoder.parameters():
        p.requires_grad_(True)
    return tuned


def tuning_loss(model, batch, device, cfg) -> tuple[torch.Tensor, dict]:
    """Reconstruction terms through the fixed tokens + cfg.w_readback * read-back, for train.fit."""
    tok = unwrap(model)
    grid = (batch["grid"] if isinstance(batch, dict) else batch).to(device).float()  # (B, 12, 22, W)
    ids = tok.encode(grid)                                             # (B, 5, W/4), no gradient
    recon = tok._decode_latent(tok.quantizer.lookup(ids).permute(0, 3, 1, 2))  # (B, 12, 22, W)
    rec, terms = reconstruction_losses(recon, grid, tok.grid_mean, tok.grid_std, cfg)
    back = readback_loss(tok, tok.grid_to_joints(recon).contiguous(), ids)
    terms["readback"] = float(back.detach())
    return rec + cfg.w_readback * back, terms


def tune_decoder(tokenizer: MotionTokenizer, preset, train_clips, val_clips, *, base: dict | None = None,
                 out_dir=None, device="auto", progress=True, seed=0):
    """Tune a trained tokenizer's decoder for preset.vq_tune.steps; returns (tuned tokenizer, its history).

    train_clips must be those the tokenizer was trained on (its normaliser is fitted on them again, and checked).
    out_dir: an interrupted tuning there (vq_tune_last.pt) resumes, and the result is written as vq_tuned.pt, a "vq"
    checkpoint that `checkpoints.checkpoint_path` prefers to vq_best.pt: `base`, the tokenizer's own checkpoint
    (step, history, extra), written again with the tuned weights, the tuning's settings and its history
    (history["tune"]).
    """
    cfg = config_mod.get_preset(preset)
    tc = cfg.vq_tune
    if tc.steps < 1:
        raise ValueError(f"preset {cfg.name!r} has vq_tune.steps={tc.steps}: nothing to tune (set vq_tune.steps)")
    if out_dir is not None and base is None:
        raise ValueError("tune_decoder with out_dir needs base, the tokenizer's checkpoint, to write vq_tuned.pt")
    clips, val_clips = training_clip_lists(train_clips, val_clips, "tune_decoder")
    cache = clip_cache(clips)
    normalizer = make_normalizer(clips, cache)
    if not torch.allclose(torch.as_tensor(normalizer.grid_mean), tokenizer.grid_mean.cpu(), atol=1e-4):
        raise ValueError("these clips are not the ones the tokenizer was trained on (their feature mean differs from "
                         "its normaliser's): tune it on its own training clips (data.sources.training_clips(preset))")
    train_set = window_dataset(clips, normalizer, cfg, cache)
    loader = train_loader(train_set, tc, drop_last=len(train_set) >= tc.batch_size)
    val_grids = _fixed_windows(window_dataset(val_clips, normalizer, cfg), VAL_WINDOWS, seed) if val_clips else None

    def val_fn(tok, dev):
        """Tuning loss, read-back share and MPJPE through the tokens on fixed validation windows."""
        grids = val_grids.to(dev)                                      # (n, 12, 22, W)
        total = sum(float(tuning_loss(tok, g, dev, cfg.vq)[0]) * len(g) for g in grids.split(tc.batch_size))
        recon = tok.grid_to_joints(tok.reconstruct(grids))
        return {"val_loss": total / len(grids), "val_readback": readback_share(tok, grids),
                "val_mpjpe_mm": float(skeleton.joint_distances(recon, tok.grid_to_joints(grids)).mean()) * 1000}

    model = _frozen_but_decoder(tokenizer)
    history = fit(model, lambda m, b, d: tuning_loss(m, b, d, cfg.vq), loader, tc,
                  val_fn=val_fn if val_grids is not None else None, out_dir=out_dir, kind="vq_tune",
                  device=device, progress=progress, seed=seed)
    for p in model.parameters():
        p.requires_grad_(True)
    model.eval()
    if out_dir is not None:
        stored = dict(base["extra"]["preset"], vq_tune=asdict(tc),
                      vq=dict(base["extra"]["preset"]["vq"], w_readback=cfg.vq.w_readback))
        extra = dict(base["extra"], preset=stored)
        atomic_torch_save({"format": CHECKPOINT_FORMAT, "kind": "vq", "step": base.get("step", 0),
                           "model": model.state_dict(), "history": dict(base.get("history", {}), tune=history),
                           "extra": extra}, Path(out_dir) / TUNED_NAME)
    return model, history

