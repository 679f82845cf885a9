"""One training loop for every model of the kit: `fit`.

fit(model, loss_fn, train_loader, cfg, ...) runs `cfg.steps` optimiser steps of AdamW with a linear warm-up
then step decay, gradient accumulation and clipping, mixed precision on CUDA (bf16 on CPUs that have it, with
`cfg.cpu_bf16`), a tqdm bar, validation every `cfg.eval_every` steps, and best/last checkpoints in `out_dir`
that it resumes from (holding the lock file `out_dir/{kind}.lock` meanwhile, so a second run into the same
folder stops with a clear error). It is ready for torchrun: when torch.distributed is initialised with several
processes the model is wrapped in DDP, and only rank 0 prints and writes checkpoints (pass a DataLoader with a
DistributedSampler; its set_epoch is called).

loss_fn(model, batch, device) -> (loss tensor, dict of floats); val_fn(model, device) -> dict of floats
(its "val_loss", lower is better, picks the best checkpoint). Checkpoints {kind}_last.pt / {kind}_best.pt
hold {"format", "kind", "step", "config", "model", "optimizer", "scheduler", "scaler", "history", "extra"}
and load with utils.load_checkpoint (weights_only=True).
"""
from __future__ import annotations

import math
import time
from contextlib import nullcontext
from dataclasses import asdict
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from .utils import (CHECKPOINT_FORMAT, atomic_torch_save, cpu_has_bf16, get_device, load_checkpoint, run_lock,
                    seed_everything)


def rank_and_world() -> tuple[int, int]:
    """(rank, world size): (0, 1) unless torch.distributed is initialised."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def lr_factor(step: int, cfg) -> float:
    """Linear warm-up over cfg.warmup steps, then times cfg.gamma at each milestone (fractions of steps)."""
    if step < cfg.warmup:
        return (step + 1) / (cfg.warmup + 1)
    passed = sum(step >= int(m * cfg.steps) for m in cfg.milestones)
    return cfg.gamma ** passed


def amp_setup(device: torch.device, enabled: bool, cpu_bf16: bool = False, verbose: bool = False):
    """(autocast context factory, GradScaler or None).

    CUDA (`enabled`): bf16 where supported, else fp16 with a scaler. CPU (`cpu_bf16`): bf16 where the CPU has
    it natively, else float32; verbose says which.
    """
    if device.type == "cpu" and cpu_bf16:
        native = cpu_has_bf16()
        if verbose:
            print("cpu_bf16: " + ("training under bf16 autocast" if native else
                                  "this CPU has no native bf16 instructions; training in float32"))
        if native:
            return (lambda: torch.autocast("cpu", dtype=torch.bfloat16)), None
    if not enabled or device.type != "cuda":
        return nullcontext, None
    if torch.cuda.is_bf16_supported():
        return (lambda: torch.autocast("cuda", dtype=torch.bfloat16)), None
    return (lambda: torch.autocast("cuda", dtype=torch.float16)), torch.amp.GradScaler("cuda")


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if isinstance(model, DistributedDataParallel) else model


def save_checkpoint(path: Path, kind: str, step: int, model, optimizer, scheduler, scaler, history: dict,
                    cfg, extra: dict | None) -> None:
    """Atomic write of everything needed to rebuild and resume (only called on rank 0)."""
    atomic_torch_save({
        "format": CHECKPOINT_FORMAT, "kind": kind, "step": step, "config": asdict(cfg),
        "model": unwrap(model).state_dict(), "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict() if scaler else {},
        "history": history, "extra": extra or {},
    }, path)


def _epoch_batches(loader, epoch: int, seed: int, skip: int):
    """Iterate one epoch in a reproducible order (global RNG seeded by epoch), skipping `skip` batches."""
    if hasattr(loader, "sampler") and hasattr(loader.sampler, "set_epoch"):
        loader.sampler.set_epoch(epoch)
    torch.manual_seed(seed * 100003 + epoch)
    for i, batch in enumerate(loader):
        if i >= skip:
            yield batch


def _validate(model, val_fn, device) -> dict:
    model.eval()
    with torch.no_grad():
        out = {k: float(v) for k, v in val_fn(unwrap(model), device).items()}
    model.train()
    return out


def _log(history: dict, key: str, value: float) -> None:
    history.setdefault(key, []).append(float(value))


def fit(model, loss_fn, train_loader, cfg, *, val_fn=None, out_dir=None, kind="vq", extra=None,
        device="auto", resume=True, progress=True, seed=0, on_step=None) -> dict:
    """Train `model` for cfg.steps optimiser steps (a TrainConfig); returns the history dict of lists.

    history: "step", "loss", "lr", "seconds" (training time so far) and each logged training term per
    step; "val_step" and each validation score (prefixed "val_" unless it already is) at each validation.
    Resuming from out_dir/{kind}_last.pt continues the step count, optimiser, scheduler and history, and
    replays the data order from where it stopped.
    on_step(model, step): called before each optimiser step, resumed runs included (e.g. to switch a
    mechanism off for the last steps).
    """
    if len(train_loader) == 0:
        raise ValueError("train_loader yields no batches: the dataset is smaller than one batch "
                         "(drop_last=True?) or empty")
    rank, world = rank_and_world()
    main = rank == 0
    device = get_device(device, verbose=main)
    seed_everything(seed + rank)
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.9, 0.99),
                                  weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, cfg))
    autocast, scaler = amp_setup(device, cfg.amp, cfg.cpu_bf16, verbose=main)
    out = Path(out_dir) if out_dir is not None else None
    with run_lock(out / f"{kind}.lock" if out and main else None, what=f"{out} ({kind} training)"):
        history: dict = {}
        step, best = 0, math.inf
        last_path = out / f"{kind}_last.pt" if out else None
        if out and resume and last_path.exists():
            ckpt = load_checkpoint(last_path, kind=kind)
            model.load_state_dict(ckpt["model"])
            optimizer.load_state_dict(ckpt["optimizer"])
            scheduler.load_state_dict(ckpt["scheduler"])
            if scaler and ckpt["scaler"]:
                scaler.load_state_dict(ckpt["scaler"])
            step, history = ckpt["step"], ckpt["history"]
            best = min(history.get("val_loss", [math.inf]))
            if main:
                print(f"resumed {kind} from {last_path} at step {step}")
        if world > 1:
            model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

        def checkpoint(name: str) -> None:
            if out and main:
                save_checkpoint(out / f"{kind}_{name}.pt", kind, step, model, optimizer, scheduler, scaler,
                                history, cfg, extra)

        def validate() -> None:
            nonlocal best
            if val_fn is None:
                return
            scores = _validate(model, val_fn, device)
            _log(history, "val_step", step)
            for key, value in scores.items():
                _log(history, key if key.startswith("val_") else f"val_{key}", value)
            if scores.get("val_loss", math.inf) < best:
                best = scores["val_loss"]
                checkpoint("best")

        per_epoch = len(train_loader)
        micro = step * cfg.grad_accum                      # micro-batches consumed so far
        epoch, skip = divmod(micro, per_epoch)
        batches = _epoch_batches(train_loader, epoch, seed, skip)
        bar = tqdm(total=cfg.steps, initial=step, disable=not (progress and main), desc=f"train {kind}")
        model.train()
        running = None
        start = time.perf_counter() - (history["seconds"][-1] if history.get("seconds") else 0.0)
        while step < cfg.steps:
            if on_step is not None:
                on_step(model, step)
            optimizer.zero_grad(set_to_none=True)
            logs: dict = {}
            total = 0.0
            for _ in range(cfg.grad_accum):
                try:
                    batch = next(batches)
                except StopIteration:
                    epoch += 1
                    batches = _epoch_batches(train_loader, epoch, seed, 0)
                    batch = next(batches)
                with autocast():
                    loss, terms = loss_fn(model, batch, device)
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"{kind}: loss is {float(loss.detach())} at step {step}; lower cfg.lr or "
                                             f"check the data for NaNs")
                scaled = loss / cfg.grad_accum
                (scaler.scale(scaled) if scaler else scaled).backward()
                total += float(loss.detach()) / cfg.grad_accum
                for key, value in terms.items():
                    logs[key] = logs.get(key, 0.0) + float(value) / cfg.grad_accum
            if scaler:
                scaler.unscale_(optimizer)
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            if scaler:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            _log(history, "step", step)
            _log(history, "lr", optimizer.param_groups[0]["lr"])
            _log(history, "loss", total)
            _log(history, "seconds", time.perf_counter() - start)
            for key, value in logs.items():
                _log(history, key, value)
            scheduler.step()
            step += 1
            running = total if running is None else 0.95 * running + 0.05 * total
            bar.update(1)
            bar.set_postfix(loss=f"{running:.4f}")
            if step % cfg.eval_every == 0 or step == cfg.steps:
                validate()
                checkpoint("last")
        bar.close()
        if out and main and not (out / f"{kind}_best.pt").exists():
            checkpoint("best")  # without validation (or never improving), best = last
        return history
