"""One table for a preset: training step time and peak memory, generation latency and throughput, and the
evaluation metrics (iml.eval.evaluate against ground truth).

    python benchmarks/run_benchmarks.py --preset lab --quick            # about two minutes on a CPU
    python benchmarks/run_benchmarks.py --preset lab --device cuda --out runs/bench.md

Training steps use random weights and the preset's batch (tokenizer: real windows of the built-in data;
transformer: random token maps, as in bench_transformer.py). Generation and evaluation use the trained
models of `--artifacts-dir/<preset>/` (else the shipped ones; `--train-if-missing` trains them).
Peak memory is torch.cuda.max_memory_allocated on a GPU and the process's peak RSS on a CPU (a running
maximum: each row includes what the rows above it used).
"""
from __future__ import annotations

import argparse
import resource
import statistics
import time
from pathlib import Path

import torch
from bench_generate import time_decode  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

from intermask_lite.config import get_preset
from intermask_lite.train import amp_setup
from intermask_lite.utils import get_device, seed_everything

PROMPT = "two people shake hands"


def peak_memory(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.max_memory_allocated(device) / 2**20:.0f} MiB GPU"
    return f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB RSS"  # Linux: kilobytes


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_training(model, loss_of_batch, batches, lr: float, amp: bool, device: torch.device, warmup: int = 2,
                  cpu_bf16: bool = False):
    """(median wall seconds, mean CPU seconds of all threads, precision) of one optimisation step (forward,
    backward, AdamW) over the given batches, after `warmup` steps, with the mixed precision train.fit would use;
    precision names it ("bf16 autocast", "fp16 autocast" or "float32"). CPU time is robust to a busy machine."""
    model.to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    autocast, scaler = amp_setup(device, amp, cpu_bf16)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times, cpu_times = [], []
    for i, batch in enumerate(batches):
        _sync(device)
        start, cpu_start = time.perf_counter(), time.process_time()
        optimizer.zero_grad(set_to_none=True)
        with autocast():
            loss = loss_of_batch(model, batch)
            precision = autocast_precision(device)
        (scaler.scale(loss) if scaler else loss).backward()
        if scaler:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        _sync(device)
        if i >= warmup:
            times.append(time.perf_counter() - start)
            cpu_times.append(time.process_time() - cpu_start)
    return statistics.median(times), statistics.mean(cpu_times), precision


def autocast_precision(device: torch.device) -> str:
    """The precision autocast computes in where this is called: "bf16 autocast", "fp16 autocast" or "float32"."""
    if not torch.is_autocast_enabled(device.type):
        return "float32"
    names = {torch.bfloat16: "bf16", torch.float16: "fp16"}
    return f"{names.get(torch.get_autocast_dtype(device.type), 'other')} autocast"


def tokenizer_step(preset, device, n_steps: int) -> tuple[float, str, str]:
    """(seconds per training step, peak memory, precision) of the preset's tokenizer."""
    from intermask_lite.data.datasets import clip_cache, make_normalizer
    from intermask_lite.data.synthetic import load_split
    from intermask_lite.vq.model import MotionTokenizer
    from intermask_lite.vq.pipeline import vq_loss, window_dataset
    clips = load_split("train", preset.data.n_clips, preset.data.seed)[:64]
    cache = clip_cache(clips)
    normalizer = make_normalizer(clips, cache)
    windows = window_dataset(clips, normalizer, preset, cache)
    batch = preset.vq_train.batch_size
    idx = torch.randint(0, len(windows), (n_steps + 2, batch))
    batches = [torch.stack([windows[int(i)] for i in row]) for row in idx]  # each (B, 12, 22, W)
    seconds, _, precision = time_training(MotionTokenizer(preset.vq, normalizer),
                                          lambda m, b: vq_loss(m, b, device)[0], batches, preset.vq_train.lr,
                                          preset.vq_train.amp, device, cpu_bf16=preset.vq_train.cpu_bf16)
    return seconds, peak_memory(device), precision


def transformer_setup(preset, device, n_batches: int):
    """(model, loss_of_batch, batches) for timing Inter-M training: random token maps of the preset's shape
    (batch, 2 people, 5 rows, max_frames/4 columns, random lengths) stand in for the tokenised dataset."""
    from intermask_lite.mask_transformer.tools import TokenIds, pad_tokens
    from intermask_lite.mask_transformer.training import build_transformer, masked_token_loss
    nb_code, batch, n_cols = preset.vq.nb_code, preset.transformer_train.batch_size, preset.data.max_frames // 4
    captions = ["two people shake hands", "one person pushes the other", "they hug each other"]
    model = build_transformer(preset, nb_code, captions)  # minilm: the captions' frozen features cached, as in training
    texts = [captions[i % 3] for i in range(batch)]
    batches = []
    for _ in range(n_batches):
        lengths = torch.randint(n_cols // 2, n_cols + 1, (batch,))
        ids = pad_tokens(torch.randint(0, nb_code, (batch, 2, 5, n_cols)), lengths, TokenIds(nb_code))
        batches.append(ids.to(device))  # (B, 2, 5, C)
    return model, (lambda m, b: masked_token_loss(m, b, texts, preset.transformer)[0]), batches


def transformer_step(preset, device, n_steps: int) -> tuple[float, str, str]:
    """(seconds per training step, peak memory, precision) of the preset's Inter-M transformer."""
    model, loss_of_batch, batches = transformer_setup(preset, device, n_steps + 2)
    seconds, _, precision = time_training(model, loss_of_batch, batches, preset.transformer_train.lr,
                                          preset.transformer_train.amp, device)
    return seconds, peak_memory(device), precision


def generation(kit, repeats: int, steps: int = 20, guidance: float = 2.0) -> dict:
    """Latency of one 3-second interaction (batch 1, end to end and decode only) and throughput at batch 32."""
    latencies = []
    for r in range(repeats + 1):  # the first run warms up
        _sync(kit.device)
        start = time.perf_counter()
        kit.generate([PROMPT], seconds=3.0, seed=r, steps=steps, guidance=guidance)
        _sync(kit.device)
        latencies.append(time.perf_counter() - start)
    n_cols = int(round(3.0 * kit.fps / 4))  # token columns of 3 seconds
    decode_1, _ = time_decode(kit.transformer, kit.nb_code, n_cols, 1, steps, guidance, repeats, kit.device)
    decode_32, in_model = time_decode(kit.transformer, kit.nb_code, n_cols, 32, steps, guidance, max(1, repeats // 2),
                                      kit.device)
    start = time.perf_counter()
    kit.generate([PROMPT] * 32, seconds=3.0, seed=0, steps=steps, guidance=guidance)
    _sync(kit.device)
    batch_32 = time.perf_counter() - start
    return {"latency": statistics.median(latencies[1:]), "decode_1": decode_1, "decode_32": decode_32,
            "model_share": in_model / decode_32, "throughput": 32 / batch_32}


def paraphrase_row(report: dict) -> tuple[str, str]:
    """Generated class accuracy from template captions and from held-out paraphrases, side by side."""
    gen, para = (report["rows"].get(name, {}).get("class_acc") for name in ("generated", "generated (paraphrases)"))
    if not gen or not para:
        return ("class accuracy, template captions / held-out paraphrases", "not measured")
    share = report.get("paraphrase_share")
    return ("class accuracy, template captions / held-out paraphrases (target: paraphrases >= 0.9 x templates)",
            f"{gen['mean']:.3f} / {para['mean']:.3f} ({share:.2f} x)" if share is not None else
            f"{gen['mean']:.3f} / {para['mean']:.3f}")


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="lab", choices=["smoke", "lab", "paper"])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--artifacts-dir", default="artifacts")
    parser.add_argument("--quick", action="store_true", help="fewer steps, runs, replications and samples")
    parser.add_argument("--train-if-missing", action="store_true", help="train the preset's models if absent")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (default 1: the machine is shared)")
    parser.add_argument("--out", type=Path, default=None, help="also write the Markdown table to this file")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    seed_everything(0)
    from intermask_lite.data.synthetic import load_split
    from intermask_lite.eval.report import evaluate
    from intermask_lite.eval.report_io import to_markdown
    from intermask_lite.kit import load_pretrained

    preset, device = get_preset(args.preset), get_device(args.device)
    n_steps, repeats = (5, 3) if args.quick else (20, 7)
    rows = [("preset", preset.name), ("device", torch.cuda.get_device_name(device) if device.type == "cuda"
                                      else f"{device} ({args.threads} threads)")]
    tok_s, tok_mem, tok_precision = tokenizer_step(preset, device, n_steps)
    rows += [(f"tokenizer train step (batch {preset.vq_train.batch_size}, {preset.data.window} frames, "
              f"{tok_precision})",
              f"{tok_s * 1000:.0f} ms"), ("tokenizer peak memory", tok_mem)]
    tr_s, tr_mem, tr_precision = transformer_step(preset, device, n_steps)
    rows += [(f"transformer train step (batch {preset.transformer_train.batch_size}, "
              f"{preset.data.max_frames // 4} columns, {tr_precision})", f"{tr_s * 1000:.0f} ms"),
             ("transformer peak memory", tr_mem)]

    kit = load_pretrained(preset.name, args.artifacts_dir, str(device), train_if_missing=args.train_if_missing)
    gen = generation(kit, repeats)
    rows += [("generate 3 s, batch 1, 20 steps, guidance 2 (median, end to end)", f"{gen['latency'] * 1000:.0f} ms"),
             ("  decoding only, batch 1", f"{gen['decode_1'] * 1000:.0f} ms"),
             ("throughput, batch 32 (end to end)", f"{gen['throughput']:.1f} samples/s"),
             ("  decoding only, batch 32 (share in the model)",
              f"{gen['decode_32'] * 1000:.0f} ms ({100 * gen['model_share']:.0f} %)")]

    clips = load_split("test", preset.data.n_clips, preset.data.seed)
    clips = clips[::3] if args.quick else clips  # quick: every third test clip (the split is class-balanced)
    t0 = time.perf_counter()
    report = evaluate(kit, clips, replications=2 if args.quick else None, mm_prompts=8 if args.quick else None,
                      progress=False)
    rows.append((f"evaluation wall time ({len(clips)} test clips)", f"{time.perf_counter() - t0:.0f} s"))
    rows.append(paraphrase_row(report))
    table = "\n".join(["# Benchmarks", "", "| measurement | value |", "|---|---|"]
                      + [f"| {name} | {value} |" for name, value in rows])
    text = table + "\n\n" + to_markdown(report).replace("# Evaluation", "## Evaluation", 1)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
        print(f"written: {args.out}")
    return text


if __name__ == "__main__":
    main()
