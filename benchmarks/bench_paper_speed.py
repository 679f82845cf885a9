"""Paper-preset speed on a CPU next to the official InterMask code: one training step and one generation.

    python benchmarks/bench_paper_speed.py                    # 1 and 2 threads, float32
    python benchmarks/bench_paper_speed.py --threads 2 --repeats 5 --precision float32,bf16

What is timed, with the paper preset's transformer (6 blocks, width 384, 6 heads, 1024 codes) and random weights:
- training step: batch 4, 22 token columns per person (88 frames), so the joint sequence holds 2 x 5 x 22 + 1 = 221
  tokens as in the official measurement; masking, step-unroll second pass, backward, clipping and an AdamW step;
- generation: 90 frames (22 token columns) for one prompt, 20 decoding steps with classifier-free guidance, then the
  paper-sized tokenizer turns the tokens into motion (timed separately and in the total).
The text encoder is the scratch one at the paper's width (the MiniLM weights are an optional package; a frozen
encoder's features do not change the transformer's cost). "bf16" rows run under torch.autocast("cpu", bfloat16),
as TrainConfig.cpu_bf16 trains (and as a user may wrap Kit.generate); they are skipped on CPUs without native bf16.

The official numbers are not measured by this script: they are the ones quoted in the project's issue
(official code, 2 threads, torch 2.13, same kind of CPU): training step 2.37 s, generation 3.54 s.
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

from contextlib import nullcontext

import torch

from intermask_lite.config import GUIDANCE, get_preset
from intermask_lite.mask_transformer.generate import decode, model_logits_fn
from intermask_lite.mask_transformer.tools import TokenIds
from intermask_lite.mask_transformer.training import build_transformer, masked_token_loss
from intermask_lite.utils import cpu_has_bf16
from intermask_lite.utils import seed_everything

OFFICIAL = {"training step": 2.37, "generation": 3.54}  # seconds, 2 threads, quoted in the issue
OFFICIAL_THREADS = 2
CAPTIONS = ["two people shake hands", "one person pushes the other away", "they hug and step back",
            "the two bow to each other"]
BATCH, COLUMNS, FRAMES, STEPS = 4, 22, 90, 20


def paper_models():
    """(transformer, tokenizer) of the paper preset with random weights, scratch text encoder at width 384."""
    from intermask_lite.vq.model import MotionTokenizer
    preset = get_preset("paper")
    preset = dataclasses.replace(preset, text=dataclasses.replace(preset.text, encoder="scratch"),
                                 transformer=dataclasses.replace(preset.transformer, unroll=True))
    seed_everything(0)
    transformer = build_transformer(preset, preset.vq.nb_code, CAPTIONS)
    tokenizer = MotionTokenizer(preset.vq).eval()
    return preset, transformer, tokenizer


def time_training_step(preset, model, repeats: int) -> float:
    """Median seconds of one training step (forward with unroll, backward, clip, AdamW)."""
    nb_code = preset.vq.nb_code
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-4)
    gen = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, nb_code, (BATCH, 2, 5, COLUMNS), generator=gen)  # (B, 2, 5, C): 221 in the sequence
    times = []
    for _ in range(repeats + 1):  # the first step warms up
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss, _ = masked_token_loss(model, tokens, CAPTIONS[:BATCH], preset.transformer, gen)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def time_generation(preset, model, tokenizer, repeats: int) -> tuple[float, float]:
    """Median seconds of (token decoding, tokens to motion) for one 90-frame interaction."""
    nb_code = preset.vq.nb_code
    n_cols = FRAMES // 4
    decoding, to_motion = [], []
    for r in range(repeats + 1):
        start = time.perf_counter()
        logits_fn = model_logits_fn(model, CAPTIONS[:1])
        ids = decode(logits_fn, [n_cols], n_cols, nb_code, steps=STEPS, guidance=GUIDANCE,
                     generator=torch.Generator().manual_seed(r))                 # (1, 2, 5, C)
        middle = time.perf_counter()
        with torch.inference_mode():
            grids = tokenizer.decode(ids[0].clamp_max(nb_code - 1))               # (2, 12, 22, 4C)
            tokenizer.grid_to_joints(grids)                                       # (2, 4C, 22, 3)
        end = time.perf_counter()
        decoding.append(middle - start)
        to_motion.append(end - middle)
    return statistics.median(decoding[1:]), statistics.median(to_motion[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", default="1,2", help="comma-separated torch thread counts (default 1,2)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repetitions after one warm-up (median)")
    parser.add_argument("--precision", default="float32", help="comma-separated: float32, bf16 (default float32)")
    args = parser.parse_args()
    precisions = [p.strip() for p in args.precision.split(",")]
    if "bf16" in precisions and not cpu_has_bf16():
        print("this CPU has no native bf16: the bf16 rows are skipped")
        precisions.remove("bf16")
    preset, transformer, tokenizer = paper_models()
    n_params = sum(p.numel() for p in transformer.parameters())
    pad = TokenIds(preset.vq.nb_code)
    print(f"paper preset on the CPU: transformer {n_params / 1e6:.1f} M parameters "
          f"(vocabulary {pad.vocab_size}), batch {BATCH} x {2 * 5 * COLUMNS + 1} tokens with step-unroll; "
          f"generation of {FRAMES} frames, {STEPS} steps, guidance {GUIDANCE}")
    rows = []
    for threads in [int(t) for t in args.threads.split(",")]:
        torch.set_num_threads(threads)
        for precision in precisions:
            autocast = torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else nullcontext()
            with autocast:
                step = time_training_step(preset, transformer, args.repeats)
                decoding, to_motion = time_generation(preset, transformer, tokenizer, args.repeats)
            rows.append((threads, precision, step, decoding, to_motion))
            print(f"threads {threads}, {precision}: training step {step:.2f} s, generation {decoding:.2f} + "
                  f"{to_motion:.2f} s", flush=True)
    print()
    print("| what | threads | precision | this kit (s) | official (s, quoted) | speed-up |")
    print("| --- | --- | --- | --- | --- | --- |")
    for threads, precision, step, decoding, to_motion in rows:
        official = threads == OFFICIAL_THREADS
        for what, ours in (("training step", step), ("generation", decoding + to_motion)):
            theirs = OFFICIAL[what] if official else None
            extra = f" (tokens {decoding:.2f} + motion {to_motion:.2f})" if what == "generation" else ""
            print(f"| {what} | {threads} | {precision} | {ours:.2f}{extra} | {f'{theirs:.2f}' if theirs else '-'} | "
                  f"{f'{theirs / ours:.1f}x' if theirs else '-'} |")
    print("\nofficial: the numbers quoted in the issue (official code, 2 threads, torch 2.13), not measured here; "
          "targets: training step 1.5x faster, generation 2x faster")


if __name__ == "__main__":
    main()
