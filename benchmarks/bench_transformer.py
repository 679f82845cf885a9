"""Inter-M training speed: step time, tokens/s, peak memory and the projected time of a full training run.

    python benchmarks/bench_transformer.py --preset lab --threads 2      # target: lab training <= 15 min
    python benchmarks/bench_transformer.py --preset paper --device cuda  # AMP (bf16/fp16) on a GPU

Random token maps of the preset's shape (batch, 2 people, 5 rows, max_frames/4 columns, random lengths)
stand in for the tokenised dataset, so the numbers measure the model and loss alone.
"""
from __future__ import annotations

import argparse
import resource
import time

import torch

from intermask_lite.config import get_preset
from intermask_lite.mask_transformer.tools import TokenIds, pad_tokens
from intermask_lite.mask_transformer.training import build_transformer, masked_token_loss
from intermask_lite.train import amp_setup
from intermask_lite.utils import get_device, seed_everything

TARGET_MINUTES = {"lab": 15.0}  # lab training on 2 CPU cores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="lab")
    parser.add_argument("--steps", type=int, default=20, help="timed steps (after 3 warm-up steps)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    seed_everything(0)
    preset = get_preset(args.preset)
    device = get_device(args.device)
    nb_code, batch = preset.vq.nb_code, preset.transformer_train.batch_size
    n_cols = preset.data.max_frames // 4
    captions = ["two people shake hands", "one person pushes the other", "they hug each other"]
    if preset.text.encoder == "minilm":
        preset.text.encoder = "scratch"  # the frozen encoder's features are cached during training anyway
    model = build_transformer(preset, nb_code, captions).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=preset.transformer_train.lr)
    autocast, scaler = amp_setup(device, preset.transformer_train.amp)
    lengths = torch.randint(n_cols // 2, n_cols + 1, (batch,))
    tokens = pad_tokens(torch.randint(0, nb_code, (batch, 2, 5, n_cols)), lengths, TokenIds(nb_code)).to(device)
    texts = [captions[i % 3] for i in range(batch)]

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with autocast():
            loss, _ = masked_token_loss(model, tokens, texts, preset.transformer)
        (scaler.scale(loss) if scaler else loss).backward()
        if scaler:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()

    for _ in range(3):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0, cpu0 = time.perf_counter(), time.process_time()
    for _ in range(args.steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    dt = (time.perf_counter() - t0) / args.steps
    cpu_dt = (time.process_time() - cpu0) / args.steps  # CPU seconds of all threads: robust to a busy machine
    real_tokens = int(2 * 5 * lengths.sum())
    if device.type == "cuda":
        peak = f"{torch.cuda.max_memory_allocated() / 2**20:.0f} MiB (GPU)"
    else:
        peak = f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB (process RSS)"
    total_min = dt * preset.transformer_train.steps / 60
    n_params = sum(p.numel() for p in model.parameters())
    rows = [("preset", args.preset), ("device", f"{device} ({args.threads} threads)" if device.type == "cpu" else
                                      torch.cuda.get_device_name(device) if device.type == "cuda" else str(device)),
            ("AMP", "on" if device.type == "cuda" and preset.transformer_train.amp else "off"),
            ("parameters", f"{n_params / 1e6:.2f} M"), ("batch x columns", f"{batch} x {n_cols}"),
            ("unroll", str(preset.transformer.unroll)), ("step time", f"{dt * 1000:.0f} ms wall, {cpu_dt * 1000:.0f} ms CPU"),
            ("tokens/s", f"{real_tokens / dt:,.0f}"), ("peak memory", peak),
            ("full training", f"{preset.transformer_train.steps} steps ~ {total_min:.1f} min")]
    target = TARGET_MINUTES.get(args.preset)
    if target is not None:
        rows.append(("target", f"<= {target:.0f} min: {'met' if total_min <= target else 'NOT met'}"))
    for name, value in rows:
        print(f"{name:<16} {value}")


if __name__ == "__main__":
    main()
