"""Train and reload the tokenizer in one call each (eval.evaluate_tokenizer measures it).

train_tokenizer(preset)      -> (MotionTokenizer, history): fits the normaliser, trains with train.fit
clip_grids(model, clip)      -> both people of a clip as normalised grids, ready for the tokenizer
load_tokenizer(path)         -> MotionTokenizer rebuilt from the config stored in the checkpoint
placement_warning(history)   -> a sentence when the last validation lost where people stand, else None
"""
from __future__ import annotations

from dataclasses import asdict, replace

import torch

from .. import config as config_mod
from .. import skeleton
from ..data.clip import training_clip_lists
from ..data.datasets import VQWindowDataset, clip_cache, make_normalizer
from ..data.features import clip_features, features_to_grid
from ..distributed import train_loader
from ..train import fit, unwrap
from ..utils import load_checkpoint, load_weights, seed_everything
from .losses import reconstruction_losses
from .model import MotionTokenizer, root_spread

VAL_WINDOWS = 256  # validation windows drawn once, with a fixed seed
PLACEMENT_KEPT = 0.5  # root spread at or above which a tokenizer counts as keeping where people stand


def _grid_of(batch) -> torch.Tensor:
    """A VQ batch is a (B, 12, 22, W) tensor or a dict holding one under "grid"."""
    return batch["grid"] if isinstance(batch, dict) else batch


def vq_loss(model, batch, device, cfg=None) -> tuple[torch.Tensor, dict]:
    """The tokenizer's training loss for train.fit: reconstruction terms + w_commit * commitment.

    cfg: the VQConfig whose loss weights count (default: the model's own)."""
    grid = _grid_of(batch).to(device).float()                         # (B, 12, 22, W)
    tok = unwrap(model)
    cfg = cfg or tok.cfg
    recon, commit, stats = model(grid)
    rec, terms = reconstruction_losses(recon, grid, tok.grid_mean, tok.grid_std, cfg)
    terms.update(commit=float(commit.detach()), **stats)
    return rec + cfg.w_commit * commit, terms


def clip_grids(model: MotionTokenizer, clip) -> torch.Tensor:
    """Both people of a clip as normalised grids (2, 12, 22, T'), T' the length floored to a multiple of 4."""
    raw = torch.as_tensor(features_to_grid(clip_features(clip)), dtype=torch.float32)  # (2, 12, 22, T)
    length = raw.shape[-1] - raw.shape[-1] % 4
    if length == 0:
        raise ValueError(f"clip {clip.clip_id!r} has {raw.shape[-1]} frames; the tokenizer needs at least 4")
    mean, std = model.grid_mean.cpu()[None, :, :, None], model.grid_std.cpu()[None, :, :, None]
    return (raw[..., :length] - mean) / std


def _fixed_windows(dataset, n: int, seed: int) -> torch.Tensor:
    """n windows of a dataset, drawn without disturbing the global random state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        idx = torch.randperm(len(dataset))[:n].tolist()
        return torch.stack([_grid_of(dataset[i]) for i in idx])        # (n, 12, 22, W)


def window_dataset(clips, normalizer, cfg, cache=None):
    """The tokenizer's training windows of `clips` as the preset `cfg` (a config.Preset) asks for them.

    cache: datasets.clip_cache(clips), when already computed."""
    context = cfg.data.max_frames if cfg.data.vq_clip_frame else None
    return VQWindowDataset(clips, normalizer, cfg.data.window, context=context, cache=cache,
                           short_clips=cfg.vq_study.short_clips)


def train_tokenizer(preset, train_clips, val_clips, *, out_dir=None, device="auto", progress=True, seed=0,
                    kind=None):
    """Train a tokenizer on `train_clips`, validating on `val_clips`; returns (model at the last step, history).

    preset: name or config.Preset (data.sources.training_clips(preset) gives the built-in clips).
    val_clips: may be empty (no validation). kind: "2d" or "1d" overrides preset.vq.kind.
    out_dir: where vq_last.pt / vq_best.pt go (an interrupted run there resumes).
    """
    seed_everything(seed)                                              # the weights' initialisation too
    cfg = config_mod.get_preset(preset)
    if kind is not None:
        cfg = replace(cfg, vq=replace(cfg.vq, kind=kind))
    clips, val_clips = training_clip_lists(train_clips, val_clips, "train_tokenizer")
    cache = clip_cache(clips)                                          # inverse kinematics, once
    normalizer = make_normalizer(clips, cache)
    train_set = window_dataset(clips, normalizer, cfg, cache)
    tc = cfg.vq_train
    loader = train_loader(train_set, tc, drop_last=len(train_set) >= tc.batch_size)  # this process's share
    val_grids = _fixed_windows(window_dataset(val_clips, normalizer, cfg), VAL_WINDOWS, seed) if val_clips else None
    model = MotionTokenizer(cfg.vq, normalizer, cfg.vq_study)

    def val_fn(tok, dev):
        """Training loss (sampling off), MPJPE and root spread through the tokens, on the fixed windows."""
        total = sum(float(vq_loss(tok, chunk, dev)[0]) * len(chunk) for chunk in val_grids.split(tc.batch_size))
        grids = val_grids.to(dev)                                      # (n, 12, 22, W)
        recon, truth = tok.grid_to_joints(tok.reconstruct(grids)), tok.grid_to_joints(grids)  # (n, W, 22, 3) each
        return {"val_loss": total / len(val_grids),
                "val_mpjpe_mm": float(skeleton.joint_distances(recon, truth).mean()) * 1000.0,
                "val_root_spread": root_spread(recon[..., 0, :], truth[..., 0, :])}

    reset_steps, foot_steps = round(cfg.vq.reset_until * tc.steps), round(cfg.vq_study.foot_from * tc.steps)
    step_weights = cfg.vq                                              # the loss weights of the current step

    def schedule(tok, step):
        """Dead codes are reset for the first reset_until of the steps, then the codebook only follows its EMA;
        the foot term counts from foot_from of the steps on (validation always counts it)."""
        nonlocal step_weights
        unwrap(tok).quantizer.reset_dead = step < reset_steps
        step_weights = cfg.vq if step >= foot_steps else replace(cfg.vq, w_foot=0.0)

    def train_loss(tok, batch, dev):
        return vq_loss(tok, batch, dev, step_weights)

    extra = {"preset": cfg.to_dict(), "normalizer": normalizer.state_dict()}
    history = fit(model, train_loss, loader, tc, val_fn=val_fn if val_clips else None, out_dir=out_dir, kind="vq",
                  extra=extra, device=device, progress=progress, seed=seed, on_step=schedule)
    model.quantizer.reset_dead = True                                  # the switch back at its default
    return model.eval(), history


def placement_warning(history: dict) -> str | None:
    """A warning when the last validation root spread of a train_tokenizer history is under PLACEMENT_KEPT.

    Such a tokenizer puts people on one line: the run was too short to learn placement, or it ended in the
    x = 0 basin (docs/tokenizer_study.md), which another seed usually avoids. None when placement is kept or was
    never measured.
    """
    spreads = history.get("val_root_spread", [])
    if not spreads or not spreads[-1] < PLACEMENT_KEPT:               # none, kept, or nan (no spread to keep)
        return None
    return (f"warning: the tokenizer kept {spreads[-1]:.2f} of the true spread in where people stand (root spread "
            f"at the last validation; {PLACEMENT_KEPT} or more counts as kept): the run was too short, or it ended in "
            "the x = 0 basin (docs/tokenizer_study.md); train again with another seed before building on it")


def load_tokenizer(path, cfg=None, device="cpu") -> MotionTokenizer:
    """Rebuild a tokenizer from a vq checkpoint; `cfg` (a VQConfig), if given, must match the stored one."""
    ckpt = load_checkpoint(path, kind="vq")
    if "preset" not in ckpt.get("extra", {}):
        raise ValueError(f"{path} carries no preset config (extra['preset']); it was not written by train_tokenizer")
    stored_preset = config_mod.Preset.from_dict(ckpt["extra"]["preset"])
    stored = stored_preset.vq
    if cfg is not None and asdict(cfg) != asdict(stored):
        diff = {k: (v, asdict(stored)[k]) for k, v in asdict(cfg).items() if asdict(stored)[k] != v}
        raise ValueError(f"{path} was trained with another tokenizer config; differing fields "
                         f"(given, stored): {diff}")
    model = MotionTokenizer(stored, ckpt["extra"].get("normalizer"), stored_preset.vq_study)
    load_weights(model, ckpt["model"], path)
    return model.to(device).eval()


__all__ = ["train_tokenizer", "window_dataset", "load_tokenizer", "placement_warning", "vq_loss",
           "clip_grids"]
