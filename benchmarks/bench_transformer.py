"""Inter-M training speed: step time, tokens/s, peak memory and the projected time of a full training run.

    python benchmarks/bench_transformer.py --preset lab --threads 2      # target: lab training <= 15 min
    python benchmarks/bench_transformer.py --preset paper --device cuda  # AMP (bf16/fp16) on a GPU

Random token maps of the preset's shape (batch, 2 people, 5 rows, max_frames/4 columns, random lengths)
stand in for the tokenised dataset, so the numbers measure the model and loss alone.
"""
from __future__ import annotations

import argparse

import torch
from run_benchmarks import peak_memory, time_training, transformer_setup  # noqa: E402  (benchmarks/ is on sys.path)

from intermask_lite.config import get_preset
from intermask_lite.mask_transformer.tools import TokenIds
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
    batch, n_cols = preset.transformer_train.batch_size, preset.data.max_frames // 4
    model, loss_of_batch, batches = transformer_setup(preset, device, args.steps + 3)
    dt, cpu_dt, precision = time_training(model, loss_of_batch, batches, preset.transformer_train.lr,
                                          preset.transformer_train.amp, device, warmup=3)
    pad = TokenIds(preset.vq.nb_code).pad
    real_tokens = sum(int((b != pad).sum()) for b in batches) / len(batches)  # per step
    total_min = dt * preset.transformer_train.steps / 60
    n_params = sum(p.numel() for p in model.parameters())
    rows = [("preset", args.preset), ("device", f"{device} ({args.threads} threads)" if device.type == "cpu" else
                                      torch.cuda.get_device_name(device) if device.type == "cuda" else str(device)),
            ("precision", precision),
            ("parameters", f"{n_params / 1e6:.2f} M"), ("batch x columns", f"{batch} x {n_cols}"),
            ("unroll", str(preset.transformer_study.unroll)),
            ("step time", f"{dt * 1000:.0f} ms wall (median), {cpu_dt * 1000:.0f} ms CPU (mean)"),
            ("tokens/s", f"{real_tokens / dt:,.0f}"), ("peak memory", peak_memory(device)),
            ("full training", f"{preset.transformer_train.steps} steps ~ {total_min:.1f} min")]
    target = TARGET_MINUTES.get(args.preset)
    if target is not None:
        rows.append(("target", f"<= {target:.0f} min: {'met' if total_min <= target else 'NOT met'}"))
    for name, value in rows:
        print(f"{name:<16} {value}")


if __name__ == "__main__":
    main()
