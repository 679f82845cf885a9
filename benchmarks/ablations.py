"""The ablation table: every InterMask variant and the diffusion baseline, trained alike, measured alike.

    python benchmarks/ablations.py --quick --out runs/ablations_quick     # smoke preset, under a minute
    python benchmarks/ablations.py --out runs/ablations                   # lab preset, the default budget
    python benchmarks/ablations.py --steps 300 --vq-steps 800 --out runs/ablations   # a shorter budget

Rows (studies.ablations.VARIANTS): InterMask with 2D tokens (the reference), 1D tokens, without spatio-temporal
attention, without cross-attention, without joint self-attention, independent people (no attention between
them), interaction masking off, step-unroll on; then the InterGen-style diffusion baseline. Each model trains
`--steps` steps on the same clips with the same seed (the tokenizers `--vq-steps`), and is evaluated on the
built-in test split with `--replications` replications (mean ± 95 % interval). Sweeps on the reference model:
decoding steps and guidance scale (quality against the time of one 3-second interaction, batch 1, with 1 and 2
threads), and DDIM steps of the baseline. Writes ablations.md and ablations.json into --out (the JSON after
every row, so a stopped run keeps what it measured; trained models stay in --out/models/ and a rerun resumes).

Default budget (lab): 600 transformer/diffusion steps and 1600 tokenizer steps (a quarter and a half of the
lab's 2400 and 3200), 3 replications: about 60-90 minutes on 2 CPU cores.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from intermask_lite.checkpoints import SHIPPED_DIR
from intermask_lite.config import DECODE_STEPS, GUIDANCE
from intermask_lite.studies.ablations import DIFFUSION, VARIANTS, AblationBench, merge_tables, table_markdown
from intermask_lite.eval.report_io import _plain, environment
from intermask_lite.vq.pipeline import load_tokenizer


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="lab")
    parser.add_argument("--steps", type=int, default=600, help="training steps of every transformer and the diffusion")
    parser.add_argument("--vq-steps", type=int, default=1600, help="training steps of the 2D and the 1D tokenizer")
    parser.add_argument("--replications", type=int, default=3)
    parser.add_argument("--mm-prompts", type=int, default=8, help="prompts sampled repeatedly for MultiModality")
    parser.add_argument("--eval-clips", type=int, default=None, help="test clips evaluated (default: all)")
    parser.add_argument("--steps-sweep", type=int, nargs="*", default=[1, 5, 10, 20])
    parser.add_argument("--guidance-sweep", type=float, nargs="*", default=[1.0, 1.5, 2.0, 3.0])
    parser.add_argument("--diffusion-steps", type=int, nargs="*", default=[10, 50], help="DDIM steps swept")
    parser.add_argument("--tokenizer", default=None,
                        help="a 2D tokenizer checkpoint for every 2D row ('shipped': data/checkpoints/<preset>_vq.pt) "
                             "instead of one trained with --vq-steps")
    parser.add_argument("--only", nargs="*", default=None, help="variant names to run (default: all)")
    parser.add_argument("--no-diffusion", action="store_true")
    parser.add_argument("--threads", type=int, default=None, help="torch threads for training and evaluation")
    parser.add_argument("--timing-threads", type=int, nargs="+", default=[1, 2],
                        help="thread counts the time per interaction is measured with")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/ablations")
    parser.add_argument("--merge", nargs="+", default=None, metavar="JSON",
                        help="no runs: join tables measured with the same settings (e.g. parallel runs with --only)")
    parser.add_argument("--token-rows", default=None, metavar="JSON",
                        help="with --merge: a table whose rows form the 2D-against-1D section")
    parser.add_argument("--note", action="append", default=[], help="with --merge: a note printed under the table")
    parser.add_argument("--quick", action="store_true", help="smoke preset, tiny budget: proves the script runs")
    if parser.parse_known_args(argv)[0].quick:  # smaller defaults; options given still count
        parser.set_defaults(preset="smoke", steps=6, vq_steps=6, replications=2, mm_prompts=2, steps_sweep=[1, 2],
                            guidance_sweep=[1.0, 2.0], diffusion_steps=[2, 5])
    return parser.parse_args(argv)


def merge(args) -> dict:
    """--merge: one table (Markdown and JSON in --out) from the given JSON tables."""
    read = lambda path: json.loads(Path(path).read_text(encoding="utf-8"))  # noqa: E731
    table = merge_tables([read(p) for p in args.merge], read(args.token_rows) if args.token_rows else None)
    table["notes"] = list(args.note)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "ablations.json").write_text(json.dumps(_plain(table), indent=1), encoding="utf-8")
    (out / "ablations.md").write_text(table_markdown(table), encoding="utf-8")
    print(table_markdown(table))
    return table


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.merge:
        return merge(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    bench = AblationBench.build(args.preset, args.steps, args.vq_steps, seed=args.seed, replications=args.replications,
                                mm_prompts=args.mm_prompts, eval_clips=args.eval_clips, out_dir=out,
                                timing_threads=(1,) if args.quick else tuple(args.timing_threads),
                                timing_repeats=1 if args.quick else 3)
    if args.tokenizer:
        path = SHIPPED_DIR / f"{args.preset}_vq.pt" if args.tokenizer == "shipped" else Path(args.tokenizer)
        bench.tokenizers["2d"] = (load_tokenizer(path), 0.0)
        bench.tokenizer_source = path.name
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    table = {"rows": [], "steps_sweep": [], "guidance_sweep": [], "diffusion_steps_sweep": []}

    def save() -> None:
        table.update(settings=bench.settings(), ground_truth=bench.ground_truth, environment=environment("cpu"),
                     seconds=time.perf_counter() - t0, host=f"load average at the start {load:.2f} "
                     f"on {os.cpu_count()} CPUs")
        (out / "ablations.json").write_text(json.dumps(_plain(table), indent=1), encoding="utf-8")
        (out / "ablations.md").write_text(table_markdown(table), encoding="utf-8")

    names = [n for n in VARIANTS if args.only is None or n in args.only]
    reference = next(iter(VARIANTS))
    for name in names:
        print(f"[{(time.perf_counter() - t0) / 60:.1f} min] {name}", flush=True)
        table["rows"].append(bench.run_variant(name, VARIANTS[name]))
        save()
    if not args.no_diffusion:
        print(f"[{(time.perf_counter() - t0) / 60:.1f} min] {DIFFUSION}", flush=True)
        table["rows"].append(bench.run_diffusion())
        save()
    if reference in bench.kits:
        kit, measured = bench.kits[reference], table["rows"][0]

        def sweep_point(steps, guidance) -> dict:
            if (steps, guidance) == (measured["decode_steps"], measured["guidance"]):
                return measured  # the reference row is this setting: measured once
            print(f"[{(time.perf_counter() - t0) / 60:.1f} min] {reference}: {steps} steps, guidance {guidance}",
                  flush=True)
            return bench.run_variant(reference, {}, steps=steps, guidance=guidance, kit=kit)

        for steps in args.steps_sweep:
            table["steps_sweep"].append(sweep_point(steps, GUIDANCE))
            save()
        for guidance in args.guidance_sweep:
            table["guidance_sweep"].append(sweep_point(DECODE_STEPS, guidance))
            save()
    if not args.no_diffusion:
        for steps in args.diffusion_steps:
            print(f"[{(time.perf_counter() - t0) / 60:.1f} min] {DIFFUSION}: {steps} DDIM steps", flush=True)
            table["diffusion_steps_sweep"].append(bench.run_diffusion(steps=steps, kit=bench.kits[DIFFUSION]))
            save()
    save()
    print(table_markdown(table))
    return table


if __name__ == "__main__":
    main()
