"""Speed of iterative masked decoding with a randomly initialised Inter-M transformer.

Prints, per preset and batch size: seconds per decode, the share spent in the model (logits_fn, with
classifier-free guidance) versus decoding itself (sampling, ranking, re-masking on the CPU), and samples/s.

    python benchmarks/bench_generate.py --presets smoke,lab --batches 1,8,32 --steps 10
    python benchmarks/bench_generate.py --presets lab,paper --device cuda --compare-cpu
"""
from __future__ import annotations

import argparse
import dataclasses
import time

import torch

from intermask_lite.config import get_preset
from intermask_lite.mask_transformer.sampling import Sampling
from intermask_lite.mask_transformer.generate import decode, model_logits_fn
from intermask_lite.mask_transformer.model import InterMTransformer
from intermask_lite.text import build_text_encoder
from intermask_lite.utils import get_device

CAPTIONS = ["two people shake hands", "one person pushes the other away", "they hug and step back"]


def build_model(preset_name: str, device: torch.device) -> tuple[InterMTransformer, int, int]:
    """Random-weight transformer of the preset (scratch text encoder: text is encoded once per decode)."""
    cfg = get_preset(preset_name)
    text_cfg = dataclasses.replace(cfg.text, encoder="scratch")
    model = InterMTransformer(cfg.transformer, cfg.vq.nb_code, build_text_encoder(text_cfg, CAPTIONS))
    return model.to(device), cfg.vq.nb_code, cfg.data.max_frames // 4


def time_decode(model, nb_code, n_cols, batch, steps, guidance, repeats, device):
    """Median seconds of one decode and of the model calls inside it."""
    captions = [CAPTIONS[i % len(CAPTIONS)] for i in range(batch)]
    inner = model_logits_fn(model, captions)
    model_seconds = []

    def timed_logits_fn(ids, scale):
        start = time.perf_counter()
        logits = inner(ids, scale)
        if device.type == "cuda":
            torch.cuda.synchronize()
        model_seconds[-1] += time.perf_counter() - start
        return logits

    totals = []
    for r in range(repeats + 1):  # the first run warms up
        model_seconds.append(0.0)
        start = time.perf_counter()
        decode(timed_logits_fn, torch.full((batch,), n_cols), n_cols, nb_code,
               Sampling(steps=steps, guidance=guidance, seed=r))
        totals.append(time.perf_counter() - start)
    total = sorted(totals[1:])[repeats // 2]
    in_model = sorted(model_seconds[1:])[repeats // 2]
    return total, in_model


def cpu_agreement(preset_name: str, device: torch.device, batch: int, steps: int, guidance: float) -> float:
    """Share of tokens that the same weights and seed pick on `device` and on the CPU."""
    torch.manual_seed(0)
    model, nb_code, n_cols = build_model(preset_name, torch.device("cpu"))
    captions = [CAPTIONS[i % len(CAPTIONS)] for i in range(batch)]
    runs = []
    for run_device in (torch.device("cpu"), device):
        model.to(run_device)
        runs.append(decode(model_logits_fn(model, captions), torch.full((batch,), n_cols), n_cols, nb_code,
                           Sampling(steps=steps, guidance=guidance)))
    return (runs[0] == runs[1]).float().mean().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="smoke,lab")
    parser.add_argument("--batches", default="1,8,32")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--cond-scale", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--compare-cpu", action="store_true", help="also report CPU/device token agreement")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = get_device(args.device)
    torch.manual_seed(0)

    print(f"device {device}, threads {args.threads}, steps {args.steps}, guidance {args.guidance}")
    print(f"{'preset':<8}{'K':>6}{'cols':>6}{'batch':>7}{'s/decode':>10}{'model %':>9}{'decode ms':>11}"
          f"{'samples/s':>11}")
    for preset_name in args.presets.split(","):
        model, nb_code, n_cols = build_model(preset_name, device)
        for batch in (int(b) for b in args.batches.split(",")):
            total, in_model = time_decode(model, nb_code, n_cols, batch, args.steps, args.guidance,
                                          args.repeats, device)
            print(f"{preset_name:<8}{nb_code:>6}{n_cols:>6}{batch:>7}{total:>10.3f}{100 * in_model / total:>9.1f}"
                  f"{1000 * (total - in_model):>11.1f}{batch / total:>11.1f}")
        if args.compare_cpu and device.type != "cpu":
            share = cpu_agreement(preset_name, device, 4, args.steps, args.guidance)
            print(f"{preset_name:<8}tokens identical on CPU and {device.type} (batch 4, same seed): "
                  f"{100 * share:.1f} %")


if __name__ == "__main__":
    main()
