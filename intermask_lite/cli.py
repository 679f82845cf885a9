"""Command line: python -m intermask_lite {generate,react,train,evaluate,build-checkpoints} --help."""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
from dataclasses import replace
import warnings
from contextlib import contextmanager
from pathlib import Path

from .config import DECODE_STEPS, GUIDANCE
from .utils import FolderInUse

DEFAULT_ARTIFACTS = "artifacts"


class OneLineParser(argparse.ArgumentParser):
    """Bad arguments get one clear line (and exit code 2), not a usage dump."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or a positive integer, got {text}")
    return value


def _threads(p: argparse.ArgumentParser) -> None:
    p.add_argument("--threads", type=_positive_int, default=None,
                   help="CPU threads for torch (default: 1 on hosts with 2 cores or fewer, else torch's default)")


def _anchor(p: argparse.ArgumentParser) -> None:
    p.add_argument("--anchor", type=_non_negative_int, default=None, metavar="K",
                   help="pull each prompt's text vector onto its K nearest training captions' (default: the preset's, "
                        "lab 8; 0 = the raw vector)")


def _common(p: argparse.ArgumentParser, sampling: bool = True) -> None:
    p.add_argument("--preset", default="lab", choices=["smoke", "lab", "paper"], help="model sizes (default lab)")
    p.add_argument("--artifacts-dir", default=DEFAULT_ARTIFACTS,
                   help="where trained checkpoints live (<dir>/<preset>/); the shipped ones are the fallback")
    p.add_argument("--device", default="auto", help="auto (cuda, mps, cpu), cpu, cuda, ...")
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed, same device: same result)")
    _threads(p)
    if sampling:
        p.add_argument("--samples", type=_positive_int, default=1, help="samples per prompt")
        p.add_argument("--steps", type=_positive_int, default=DECODE_STEPS, help="decoding steps")
        p.add_argument("--guidance", type=float, default=GUIDANCE, help="classifier-free guidance scale (1 = none)")
        p.add_argument("--top-k", type=float, default=None, help="keep the k best codes (int) or that share (<1)")
        p.add_argument("--temperature", type=float, default=1.0, help="softmax temperature on the logits")
        p.add_argument("--out", type=Path, required=True, help="folder for HTML, GIF, BVH and npz per sample")
        p.add_argument("--formats", default="html,gif,bvh,npz", help="comma-separated subset of html,gif,bvh,npz")
        _anchor(p)
        p.add_argument("--int8", action="store_true", help="8-bit integer transformer on the CPU (about 1.4x faster "
                       "at the paper's sizes; slightly different motion)")


def build_parser() -> argparse.ArgumentParser:
    ap = OneLineParser(prog="python -m intermask_lite", description="intermask_lite: two-person motion generation")
    sub = ap.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    g = sub.add_parser("generate", help="two people from a text prompt",
                       description="Generate two-person interactions from text and write one file set per sample.")
    g.add_argument("text", help='the prompt, e.g. "two people shake hands"')
    g.add_argument("--seconds", type=_positive_float, default=3.0, help="length in seconds (default 3)")
    _common(g)

    r = sub.add_parser("react", help="person B reacting to a given person A",
                       description="Keep the actor's tokens fixed and generate the partner's reaction.")
    r.add_argument("--actor", type=Path, required=True, help="the actor: a .bvh file or a Motion .npz")
    r.add_argument("--text", required=True, help="what happens, e.g. 'the other person ducks under the punch'")
    _common(r)

    t = sub.add_parser("train", help="train a model of the chain",
                       description="Train the tokenizer, then the transformer, then the evaluator, into "
                                   "<artifacts-dir>/<preset>/ (best and last checkpoints; resumes from last). "
                                   "Several processes: torchrun --nproc_per_node=N -m intermask_lite train ... "
                                   "(the preset's batch_size is then shared among them).")
    t.add_argument("what", choices=["vq", "transformer", "evaluator"])
    t.add_argument("--steps", type=_positive_int, default=None, help="override the preset's step count")
    t.add_argument("--data", default=None, metavar="SOURCE",
                   help="training clips: synthetic (default), interhuman:<folder> or interx:<folder>")
    t.add_argument("--compile", action="store_true", help="wrap the model in torch.compile")
    t.add_argument("--set", nargs="+", default=[], metavar="SECTION.FIELD=VALUE",
                   help="change preset fields, e.g. --set vq.nb_code=1024 vq_train.lr=7e-4 (checkpoints keep the "
                        "config they were trained with)")
    _common(t, sampling=False)

    e = sub.add_parser("evaluate", help="metrics with 95 %% intervals, written as Markdown and JSON",
                       description="Evaluate the kit on the built-in test split against a ground-truth row.")
    e.add_argument("--replications", type=_positive_int, default=None, help="default: the preset's")
    e.add_argument("--out", type=Path, default=Path("runs/eval"), help="folder for report.md and report.json")
    _anchor(e)
    _common(e, sampling=False)

    b = sub.add_parser("build-checkpoints", help="rebuild the shipped checkpoints and their manifest",
                       description="Train vq, transformer and evaluator for a preset and write them, without "
                                   "optimizer state, to data/checkpoints/<preset>_<kind>.pt plus manifest.json.")
    b.add_argument("--preset", default="lab", choices=["smoke", "lab", "paper"])
    b.add_argument("--device", default="auto")
    b.add_argument("--work-dir", type=Path, default=Path("artifacts"), help="training folder (resumable)")
    _threads(b)
    return ap


def _write_motion(m, out: Path, stem: str, formats: set[str]) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    files = []
    if "html" in formats:
        m.to_html(out / f"{stem}.html")
        files.append(out / f"{stem}.html")
    if "gif" in formats:
        files.append(m.to_gif(out / f"{stem}.gif"))
    if "bvh" in formats:
        files.extend(m.to_bvh(out / f"{stem}.bvh"))
    if "npz" in formats:
        files.append(m.save(out / f"{stem}.npz"))
    return files


def _top_k(value):
    return None if value is None else (int(value) if value >= 1 else value)


def _sampling_kwargs(args) -> dict:
    return dict(samples=args.samples, seed=args.seed, steps=args.steps, guidance=args.guidance,
                top_k=_top_k(args.top_k), temperature=args.temperature)


def _formats(text: str) -> set[str]:
    formats = {f.strip() for f in text.split(",") if f.strip()}
    bad = formats - {"html", "gif", "bvh", "npz"}
    if bad or not formats:
        raise SystemExit(f"error: unknown --formats {sorted(bad) or text!r}; choose from html,gif,bvh,npz")
    return formats


@contextmanager
def _warnings_to_stderr():
    """The kit's notes on unfamiliar motion and prompts, each printed once as 'warning: ...' on stderr."""
    from .familiarity import UnfamiliarMotionWarning, UnfamiliarPromptWarning
    kinds = (UnfamiliarMotionWarning, UnfamiliarPromptWarning)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UnfamiliarMotionWarning)
            warnings.simplefilter("always", UnfamiliarPromptWarning)
            yield
    finally:
        for message in dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, kinds)):
            print(f"warning: {message}", file=sys.stderr)
        for w in caught:  # anything else goes on as usual
            if not issubclass(w.category, kinds):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def run(args) -> int:
    from .kit import load_pretrained
    from .utils import set_threads

    set_threads(args.threads or "auto")
    if args.command in ("generate", "react"):
        formats = _formats(args.formats)
        kit = _with_anchor(load_pretrained(args.preset, args.artifacts_dir, args.device, evaluator=False,
                                           int8=args.int8), args.anchor)
        with _warnings_to_stderr():
            if args.command == "generate":
                motions = kit.generate([args.text], seconds=args.seconds, **_sampling_kwargs(args))
            else:
                from .motion import Motion
                if not args.actor.exists():
                    raise SystemExit(f"error: actor file not found: {args.actor}")
                actor = Motion.load(args.actor) if args.actor.suffix == ".npz" else args.actor
                motions = kit.react(actor, args.text, **_sampling_kwargs(args))
        for i, m in enumerate(motions):
            files = _write_motion(m, args.out, f"sample_{i:02d}", formats)
            print(f"sample {i}: " + ", ".join(str(f) for f in files))
        return 0
    if args.command == "train":
        return _train(args)
    if args.command == "evaluate":
        from .eval.report import evaluate, write_report
        kit = _with_anchor(load_pretrained(args.preset, args.artifacts_dir, args.device), args.anchor)
        report = evaluate(kit, replications=args.replications, seed=args.seed)
        md, js = write_report(report, args.out)
        print(md.read_text())
        print(f"written: {md} and {js}")
        return 0
    if args.command == "build-checkpoints":
        from .checkpoints import build_shipped
        build_shipped(args.preset, args.work_dir, args.device)
        return 0
    raise AssertionError(args.command)


def _with_anchor(kit, k: int | None):
    """The kit with preset.text.anchor set to k (None keeps the preset's)."""
    if k is not None:
        kit.preset.text.anchor = k
    return kit


def _train(args) -> int:
    """`train`: one process, or one of several started by torchrun (rank 0 alone prints and writes)."""
    from .config import get_preset, with_overrides
    from .data.sources import parse_source
    from .distributed import init_from_env, is_main, shutdown
    from .checkpoints import TRAIN_SECTION, load_or_train
    section = TRAIN_SECTION[args.what]
    extra = [f"{section}.steps={args.steps}"] if args.steps else []
    extra += [f"{section}.compile=True"] if args.compile else []
    preset = with_overrides(get_preset(args.preset), args.set + extra)
    if args.data is not None:
        parse_source(args.data)                                       # a clear error before anything starts
        preset = replace(preset, data=replace(preset.data, source=args.data))
    init_from_env(args.device)
    finished = False
    try:
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sys.stdout if is_main() else sink):
            load_or_train(args.what, preset, args.artifacts_dir, args.device, shipped=False, seed=args.seed,
                          progress=is_main())
            print(f"checkpoints in {Path(args.artifacts_dir) / preset.name}")
        finished = True
    finally:
        shutdown(wait=finished)  # after an error, leave without waiting for the others
    return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except (FileNotFoundError, ValueError, FolderInUse) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
