"""One training loop for every model of the kit: `fit`.

fit(model, loss_fn, train_loader, cfg, ...) runs `cfg.steps` optimiser steps of AdamW with a linear warm-up
then step decay, gradient accumulation and clipping, mixed precision on CUDA (bf16 on CPUs that have it, with
`cfg.cpu_bf16`), a tqdm bar, validation every `cfg.eval_every` steps, and best/last checkpoints in `out_dir`
that it resumes from (holding the lock file `out_dir/{kind}.lock` meanwhile, so a second run into the same
folder stops with a clear error), and torch.compile with `cfg.compile`. It is ready for torchrun: when
torch.distributed is initialised with several processes the model is wrapped in DDP (gradients synchronised on
the last micro-step of each accumulation only), the logged losses are means over the processes, and only rank 0
validates, prints and writes checkpoints. Pass a loader from distributed.train_loader (or one with a
DistributedSampler, whose set_epoch is called); see distributed.py for how batch_size and the data order are
shared out.

loss_fn(model, batch, device) -> (loss tensor, dict of floats); val_fn(model, device) -> dict of floats
(its "val_loss", lower is better, picks the best checkpoint). Checkpoints {kind}_last.pt / {kind}_best.pt
hold {"format", "kind", "step", "config", "model", "optimizer", "scheduler", "scaler", "history", "extra",
"data"} and load with utils.load_checkpoint (weights_only=True); "data" is where the data order stands:
{"epoch", "batches" (global micro-batches already drawn from that epoch), "batch_size" (global), "grad_accum",
"world"}, so that a run resumed with another number of processes continues where the old one stopped.

Beside each last checkpoint (so an interrupted run has them too) rank 0 writes the history in plain files
(history.write_history): {kind}_history.csv (one row per optimiser step: step, loss, lr, seconds and each training
term), {kind}_val_history.csv (one row per validation: val_step and each val_* score) and {kind}_loss.png
(history.plot_history: training loss raw and smoothed, validation loss, learning rate). The CSVs are rewritten at every
last checkpoint and cover the steps that checkpoint holds; the picture is redrawn at most as often as keeps
its drawing under PLOT_SHARE of the training time (and always at the end).
"""
from __future__ import annotations

import math
import time
import warnings
from contextlib import nullcontext
from dataclasses import asdict
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from .distributed import is_sharded, mean_over_processes, rank_and_world
from .history import write_history
from .utils import (CHECKPOINT_FORMAT, atomic_torch_save, cpu_has_bf16, get_device, load_checkpoint, load_weights,
                    run_lock, seed_everything)

PLOT_SHARE = 0.02  # at most this share of the training time goes to redrawing {kind}_loss.png


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
    """The model itself, out of a DDP wrapper and/or a torch.compile wrapper."""
    while True:
        if isinstance(model, DistributedDataParallel):
            model = model.module
        elif isinstance(getattr(model, "_orig_mod", None), torch.nn.Module):  # torch.compile's wrapper
            model = model._orig_mod
        else:
            return model


def save_checkpoint(path: Path, kind: str, step: int, model, optimizer, scheduler, scaler, history: dict,
                    cfg, extra: dict | None, data: dict | None = None) -> None:
    """Atomic write of everything needed to rebuild and resume (only called on rank 0)."""
    atomic_torch_save({
        "format": CHECKPOINT_FORMAT, "kind": kind, "step": step, "config": asdict(cfg),
        "model": unwrap(model).state_dict(), "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict() if scaler else {},
        "history": history, "extra": extra or {}, "data": data or {},
    }, path)


def _epoch_seed(seed: int, epoch: int) -> int:
    return seed * 100003 + epoch


def _epoch_batches(loader, epoch: int, seed: int, skip: int, rank: int = 0):
    """Iterate one epoch in a reproducible order (global RNG seeded by seed and epoch), skipping `skip` batches.

    The order is drawn with the first batch, the same on every process; then processes other than rank 0
    reseed, so that their masks and dropout differ from rank 0's (rank 0 keeps the single-process stream).
    """
    if hasattr(loader, "sampler") and hasattr(loader.sampler, "set_epoch"):
        loader.sampler.set_epoch(epoch)
    torch.manual_seed(_epoch_seed(seed, epoch))
    for i, batch in enumerate(loader):
        if i == 0 and rank > 0:
            torch.manual_seed(_epoch_seed(seed, epoch) + (rank << 40))
        if i >= skip:
            yield batch


def _resume_position(ckpt: dict, cfg, per_epoch: int, main: bool) -> tuple[int, int]:
    """(epoch, global micro-batches to skip in it) where a checkpoint's run stopped drawing data.

    Exact when the global batch_size is the one the checkpoint was trained with (whatever the number of
    processes); with another batch_size the same samples are skipped, rounded down to whole batches.
    Checkpoints without a "data" entry (older ones) count step * grad_accum batches from the start.
    """
    data = ckpt.get("data") or {}
    if not data:
        return divmod(ckpt["step"] * cfg.grad_accum, per_epoch)
    epoch, batches = int(data["epoch"]), int(data["batches"])
    old_batch, old_accum = int(data["batch_size"]), int(data["grad_accum"])
    if old_batch != cfg.batch_size:
        batches = batches * old_batch // cfg.batch_size
    if main and old_batch * old_accum != cfg.batch_size * cfg.grad_accum:
        print(f"note: the checkpoint was trained with {old_batch * old_accum} samples per optimiser step "
              f"({old_batch} x {old_accum} accumulated), this run takes {cfg.batch_size * cfg.grad_accum}; the "
              "learning-rate schedule continues in steps")
    more, batches = divmod(batches, per_epoch)
    return epoch + more, batches


def _validate(model, val_fn, device) -> dict:
    model.eval()
    with torch.no_grad():
        out = {k: float(v) for k, v in val_fn(unwrap(model), device).items()}
    model.train()
    return out


def _load_init(model, path, kind: str) -> dict:
    """Load the weights of checkpoint `path` into model; returns where they came from (file, step, minutes)."""
    ckpt = load_checkpoint(path, kind=kind)
    load_weights(model, ckpt["model"], path)
    seconds = (ckpt.get("history") or {}).get("seconds") or [0.0]
    prior = (ckpt.get("extra") or {}).get("init_from") or {}  # a chain of fine-tunes adds up
    return {"file": Path(path).name, "step": int(ckpt.get("step", 0)) + int(prior.get("step", 0)),
            "train_minutes": round(seconds[-1] / 60 + float(prior.get("train_minutes", 0.0)), 1)}


def _log(history: dict, key: str, value: float) -> None:
    history.setdefault(key, []).append(float(value))


def fit(model, loss_fn, train_loader, cfg, *, val_fn=None, out_dir=None, kind="vq", extra=None,
        device="auto", resume=True, progress=True, seed=0, on_step=None, init_from=None) -> dict:
    """Train `model` for cfg.steps optimiser steps (a TrainConfig); returns the history dict of lists.

    history: "step", "loss", "lr", "seconds" (training time so far) and each logged training term per
    step; "threads" (torch's CPU threads) once per session of training; "val_step" and each validation score
    (prefixed "val_" unless it already is) at each validation. With out_dir, each last checkpoint also writes
    {kind}_history.csv, {kind}_val_history.csv and {kind}_loss.png beside it (write_history).
    Resuming from out_dir/{kind}_last.pt continues the step count, optimiser, scheduler and history, and
    replays the data order from where it stopped.
    init_from: a {kind} checkpoint whose weights start a fresh run (a fine-tune: new optimiser, schedule and
    history); a run to resume in out_dir takes precedence. Its step and minutes go into extra["init_from"].
    on_step(model, step): called before each optimiser step, resumed runs included (e.g. to switch a
    mechanism off for the last steps).
    """
    if len(train_loader) == 0:
        raise ValueError("train_loader yields no batches: the dataset is smaller than one batch "
                         "(drop_last=True?) or empty")
    rank, world = rank_and_world()
    main = rank == 0
    device = get_device(device, verbose=main)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())  # torchrun: this process's GPU
    if world > 1 and not is_sharded(train_loader):
        raise ValueError(f"{world} processes need a loader that gives each its share of the data: build it with "
                         "intermask_lite.distributed.train_loader (or a DistributedSampler)")
    seed_everything(seed + rank)
    model.to(device)
    # the fused kernel: one pass over all parameters (on a CPU about 5x faster than the default loop)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.9, 0.99), weight_decay=cfg.weight_decay,
                                  fused=device.type in ("cpu", "cuda"))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, cfg))
    autocast, scaler = amp_setup(device, cfg.amp, cfg.cpu_bf16, verbose=main)
    out = Path(out_dir) if out_dir is not None else None
    with run_lock(out / f"{kind}.lock" if out and main else None, what=f"{out} ({kind} training)"):
        history: dict = {}
        step, best = 0, math.inf
        per_epoch = len(train_loader)                      # global micro-batches per epoch (any world size)
        epoch, drawn = 0, 0                                # epoch, micro-batches drawn from it so far
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
            epoch, drawn = _resume_position(ckpt, cfg, per_epoch, main)
            if (ckpt.get("extra") or {}).get("init_from"):  # a resumed fine-tune still says where it started
                extra = {**(extra or {}), "init_from": ckpt["extra"]["init_from"]}
            if main:
                print(f"resumed {kind} from {last_path} at step {step}")
        elif init_from is not None:
            extra = {**(extra or {}), "init_from": _load_init(model, init_from, kind)}
            if main:
                print(f"{kind}: starting from the weights of {init_from} (step {extra['init_from']['step']})")
        if world > 1:
            model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
        if getattr(cfg, "compile", False):
            model = torch.compile(model)

        plotting = {"seconds": 0.0, "drawn": False, "failed": False}  # time spent drawing {kind}_loss.png

        def checkpoint(name: str) -> None:
            if out and main:
                data = {"epoch": epoch, "batches": drawn, "batch_size": cfg.batch_size, "grad_accum": cfg.grad_accum,
                        "world": world}
                save_checkpoint(out / f"{kind}_{name}.pt", kind, step, model, optimizer, scheduler, scaler,
                                history, cfg, extra, data)
                if name == "last":
                    write_history_files()

        def write_history_files() -> None:
            """The CSVs every time; the picture when drawing it keeps within PLOT_SHARE of this session's time
            (always the first time and at the end). A failure warns once and never stops training: the
            checkpoint is written, its history files are extras that write_history can redraw from it."""
            session = time.perf_counter() - session_start
            plot = not plotting["drawn"] or step >= cfg.steps or plotting["seconds"] <= PLOT_SHARE * session
            t = time.perf_counter()
            try:
                write_history(out, kind, history, plot=plot)
            except Exception as err:  # noqa: BLE001
                if not plotting["failed"]:
                    warnings.warn(f"{kind}: could not write the history files beside the checkpoint ({err})",
                                  RuntimeWarning, stacklevel=2)
                plotting["failed"] = True
            if plot:
                plotting["seconds"] += time.perf_counter() - t
                plotting["drawn"] = True

        def validate() -> None:
            nonlocal best
            if val_fn is None or not main:
                return
            scores = _validate(model, val_fn, device)
            _log(history, "val_step", step)
            for key, value in scores.items():
                _log(history, key if key.startswith("val_") else f"val_{key}", value)
            if scores.get("val_loss", math.inf) < best:
                best = scores["val_loss"]
                checkpoint("best")

        _log(history, "threads", torch.get_num_threads())  # one entry per (resumed) session, for the manifest
        batches = _epoch_batches(train_loader, epoch, seed, drawn, rank)
        bar = tqdm(total=cfg.steps, initial=step, disable=not (progress and main), desc=f"train {kind}")
        model.train()
        running = None
        session_start = time.perf_counter()
        start = session_start - (history["seconds"][-1] if history.get("seconds") else 0.0)
        while step < cfg.steps:
            if on_step is not None:
                on_step(model, step)
            optimizer.zero_grad(set_to_none=True)
            logs: dict = {}
            total = 0.0
            for micro in range(cfg.grad_accum):
                try:
                    batch = next(batches)
                except StopIteration:
                    epoch, drawn = epoch + 1, 0
                    batches = _epoch_batches(train_loader, epoch, seed, 0, rank)
                    batch = next(batches)
                drawn += 1
                # DDP synchronises gradients on the last micro-step only
                sync = nullcontext() if world == 1 or micro == cfg.grad_accum - 1 else model.no_sync()
                with sync:
                    with autocast():
                        loss, terms = loss_fn(model, batch, device)
                    if not torch.isfinite(loss):
                        raise FloatingPointError(f"{kind}: loss is {float(loss.detach())} at step {step}; lower "
                                                 "cfg.lr or check the data for NaNs")
                    scaled = loss / cfg.grad_accum
                    (scaler.scale(scaled) if scaler else scaled).backward()
                total += float(loss.detach()) / cfg.grad_accum
                for key, value in terms.items():
                    logs[key] = logs.get(key, 0.0) + float(value) / cfg.grad_accum
            if world > 1:  # log the means over the processes: the whole global batch
                total, *means = mean_over_processes([total, *logs.values()], device)
                logs = dict(zip(logs, means))
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
        if world > 1:
            dist.barrier()  # every process leaves once rank 0 has written
        return history
