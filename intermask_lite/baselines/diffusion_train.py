"""Training, loading and generating with the diffusion baseline (baselines.diffusion).

    model, history = train_diffusion("lab", train_clips, val_clips, out_dir="artifacts/lab")
    kit = DiffusionKit(preset, model, evaluator)           # what eval.evaluate needs of a generator
    motions = kit.generate(["two people shake hands"], seconds=3, samples=2, seed=0)
    report = iml.eval.evaluate(kit, test_clips, replications=3)  # generated row only (no tokens, no reaction)

Training goes through the kit's one loop (train.fit) with the same TrainConfig as the transformer
(preset.transformer_train), so both models see the same data, steps, batch size and learning-rate schedule.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from ..config import FRAMES_PER_TOKEN, Preset, get_preset, seconds_to_columns
from ..data.caption_augment import training_captions
from ..data.features import velocities
from ..distributed import train_loader
from ..motion import Motion
from ..text import build_text_encoder
from ..train import fit
from ..utils import load_checkpoint, load_weights, seed_everything
from .diffusion import N_MOTION, DiffusionConfig, DuetDenoiser, ddim_sample, diffusion_config


def motion_features(joints: np.ndarray) -> np.ndarray:
    """Joints (2, T, 22, 3) -> per-person features (2, T, 132): positions, then frame-to-frame velocities."""
    joints = np.asarray(joints, dtype=np.float32)
    return np.concatenate([joints.reshape(*joints.shape[:2], 66), velocities(joints).reshape(*joints.shape[:2], 66)],
                          -1)


def _clip_joints(clip, fps: float, max_frames: int) -> np.ndarray:
    joints = clip.joints if abs(clip.fps - fps) < 1e-6 else Motion(clip.joints, fps=clip.fps).resample(fps).joints
    return np.asarray(joints[:, :max_frames], dtype=np.float32)  # (2, T, 22, 3)


class DiffusionClips(Dataset):
    """Normalised features (2, max_frames, 132) zero-padded, the valid frames, and one caption per item."""

    def __init__(self, clips, mean: torch.Tensor, std: torch.Tensor, fps: float, max_frames: int, captions=None):
        """captions: a caption list per clip (default: each clip's own)."""
        if not clips:
            raise ValueError("DiffusionClips got no clips")
        captions = [list(clip.captions) for clip in clips] if captions is None else captions
        self.items = []
        for clip, texts in zip(clips, captions):
            feats = (torch.from_numpy(motion_features(_clip_joints(clip, fps, max_frames))) - mean) / std  # (2, T, 132)
            padded = torch.zeros(2, max_frames, N_MOTION)
            padded[:, : feats.shape[1]] = feats
            self.items.append((padded, feats.shape[1], texts))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        feats, length, captions = self.items[i]
        caption = captions[int(torch.randint(len(captions), ()))]
        return {"motion": feats, "valid": torch.arange(feats.shape[1]) < length, "caption": caption}


def diffusion_loss(model, batch, device, generator: torch.Generator | None = None):
    """Masked MSE of the denoiser's prediction (x0 or eps) at a uniform random step; (loss, {})."""
    core = getattr(model, "module", model)
    cfg = core.cfg
    x0, valid = batch["motion"].to(device), batch["valid"].to(device)  # (B, 2, T, 132), (B, T)
    B = x0.shape[0]
    t = torch.randint(cfg.timesteps, (B,), generator=generator).to(device)  # (B,)
    noise = torch.randn(x0.shape, generator=generator).to(device)
    ab = core.alpha_bar[t][:, None, None, None]  # (B, 1, 1, 1)
    x_t = ab.sqrt() * x0 + (1 - ab).sqrt() * noise
    dropped = torch.rand(B, generator=generator) < cfg.text_drop_prob
    texts = [None if d else c for d, c in zip(dropped.tolist(), batch["caption"])]
    pred = model(x_t, t, core.encode_text(texts), valid)  # (B, 2, T, 132)
    target = x0 if cfg.prediction == "x0" else noise
    weight = valid[:, None, :, None].to(pred.dtype)  # (B, 1, T, 1)
    loss = (F.mse_loss(pred.float(), target, reduction="none") * weight).sum() / (weight.sum() * 2 * N_MOTION)
    return loss, {}


def _val_fn(dataset: DiffusionClips, batch_size: int, seed: int = 0):
    """val_fn(model, device): the loss on fixed steps and noise (the same every time), first captions."""
    def val_fn(model, device):
        generator = torch.Generator().manual_seed(seed)
        total, n = 0.0, 0
        for start in range(0, len(dataset), batch_size):
            items = [dataset.items[i] for i in range(start, min(start + batch_size, len(dataset)))]
            batch = {"motion": torch.stack([f for f, _, _ in items]),
                     "valid": torch.stack([torch.arange(f.shape[1]) < n_ for f, n_, _ in items]),
                     "caption": [caps[0] for _, _, caps in items]}
            loss, _ = diffusion_loss(model, batch, device, generator)
            total, n = total + float(loss) * len(items), n + len(items)
        return {"val_loss": total / max(n, 1)}
    return val_fn


def build_diffusion(preset: Preset, config: DiffusionConfig, captions=None, vocab=None) -> DuetDenoiser:
    """A fresh denoiser with the preset's text encoder (scratch vocabulary from `captions` or `vocab`)."""
    return DuetDenoiser(config, build_text_encoder(preset.text, captions, vocab=vocab))


def train_diffusion(preset, train_clips, val_clips, *, out_dir=None, device="auto", progress=True, seed=0,
                    config: DiffusionConfig | None = None, train=None):
    """Train the diffusion baseline with train.fit; returns (model in eval mode, history).

    preset: a Preset or its name (its data.fps / max_frames, text encoder, and transformer_train as the
    training budget unless `train`, a TrainConfig, is given); config: the denoiser's size (default
    diffusion_config(preset.name)). The normaliser (mean/std of the 132 features over train_clips) is kept
    on the model (`model.motion_mean`, `model.motion_std`) and in the checkpoint out_dir/diffusion_{last,best}.pt.
    """
    preset = get_preset(preset)
    config = config or diffusion_config(preset.name)
    tcfg = train or preset.transformer_train
    seed_everything(seed)
    fps, max_frames = preset.data.fps, preset.data.max_frames
    feats = np.concatenate([motion_features(_clip_joints(c, fps, max_frames)).reshape(-1, N_MOTION)
                            for c in train_clips])  # (N frames x 2, 132)
    mean = torch.from_numpy(feats.mean(0))
    std = torch.from_numpy(feats.std(0)).clamp(min=1e-4)
    captions = training_captions(train_clips, preset.text.rewrites, seed)  # with the transformer's rewrites
    train_set = DiffusionClips(train_clips, mean, std, fps, max_frames, captions)
    model = build_diffusion(preset, config, [c for texts in captions for c in texts])
    model.motion_mean, model.motion_std = mean, std
    loader = train_loader(train_set, tcfg, drop_last=len(train_set) >= tcfg.batch_size)  # this process's share
    val_fn = _val_fn(DiffusionClips(val_clips, mean, std, fps, max_frames), tcfg.batch_size) if val_clips else None
    extra = {"preset": preset.to_dict(), "diffusion": asdict(config), "vocab": model.text_encoder.vocab,
             "mean": mean.tolist(), "std": std.tolist()}
    history = fit(model, diffusion_loss, loader, tcfg, val_fn=val_fn, out_dir=out_dir, kind="diffusion", extra=extra,
                  device=device, progress=progress, seed=seed)
    return model.eval(), history


def load_diffusion(path) -> tuple[DuetDenoiser, Preset]:
    """(model in eval mode, its preset) from a checkpoint written by train_diffusion."""
    ckpt = load_checkpoint(path, kind="diffusion")
    extra = ckpt.get("extra") or {}
    missing = {"preset", "diffusion", "vocab", "mean", "std"} - set(extra)
    if missing:
        raise ValueError(f"{path} lacks {sorted(missing)} in its 'extra' entry; retrain with train_diffusion")
    preset = Preset.from_dict(extra["preset"])
    model = build_diffusion(preset, DiffusionConfig(**extra["diffusion"]), vocab=extra["vocab"])
    load_weights(model, ckpt["model"], path)
    model.motion_mean, model.motion_std = torch.tensor(extra["mean"]), torch.tensor(extra["std"])
    return model.eval(), preset


@torch.no_grad()
def generate_joints(model: DuetDenoiser, texts, n_frames, seed: int = 0, steps: int | None = None,
                    guidance: float | None = None, eta: float = 0.0) -> list[np.ndarray]:
    """Joints (2, n_frames[i], 22, 3) for each caption: DDIM from seeded noise, positions read back."""
    if any(not str(t).strip() for t in texts):
        raise ValueError("every prompt needs some text; got an empty one")
    generator = torch.Generator().manual_seed(int(seed))
    x = ddim_sample(model, list(texts), n_frames, steps, guidance, eta, generator).cpu()  # (B, 2, T, 132)
    feats = x * model.motion_std + model.motion_mean
    return [feats[b, :, :n, :66].reshape(2, n, 22, 3).numpy() for b, n in enumerate(n_frames)]


@dataclass
class DiffusionKit:
    """The diffusion baseline behind the interface eval.evaluate uses: preset, evaluator, fps, device and
    generate_joints(texts, n_frames, seed, steps, guidance) (steps: DDIM steps)."""

    preset: Preset
    model: DuetDenoiser
    evaluator: torch.nn.Module | None = None
    device: torch.device = torch.device("cpu")
    paths: dict | None = None

    @property
    def fps(self) -> int:
        return self.preset.data.fps

    def generate_joints(self, texts, n_frames, seed: int = 0, steps: int | None = None,
                        guidance: float | None = None):
        return generate_joints(self.model, texts, n_frames, seed, steps, guidance)

    def generate(self, texts, seconds: float = 3.0, samples: int = 1, seed: int = 0, steps: int | None = None,
                 guidance: float | None = None) -> list[Motion]:
        """Two people from text, `samples` Motions per prompt (prompt-major), like Kit.generate."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        frames = FRAMES_PER_TOKEN * seconds_to_columns(seconds, self.fps)  # as long as Kit.generate's motion
        if not texts or samples < 1 or not 1 <= frames <= self.preset.data.max_frames:
            raise ValueError(f"need prompts, samples >= 1 and 1..{self.preset.data.max_frames} frames; got "
                             f"{len(texts)} prompts, samples={samples}, {frames} frames ({seconds} s)")
        batch = [t for t in texts for _ in range(samples)]
        joints = self.generate_joints(batch, [frames] * len(batch), seed, steps, guidance)
        return [Motion(j, fps=self.fps, text=t) for j, t in zip(joints, batch)]


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
