"""Command line: python -m intermask_lite {generate,react,train,evaluate,build-checkpoints} --help.

Every argument and input file is checked before a model loads: bad input gets one line on stderr and exit code 2,
a failure during the work exit code 1, Ctrl-C exit code 130 (what is written so far stays). generate and react
write each sample as soon as it is made into a fresh run folder (runs.RunFolder).
"""
from __future__ import annotations

# Imported inside functions: the models, data and evaluation, so that --help and a bad option answer before
# torch and the models load (the checks of _check_generation run first).

import argparse
import contextlib
import math
import os
import signal
import sys
import threading
from dataclasses import asdict, replace
import warnings
from contextlib import contextmanager
from pathlib import Path, PureWindowsPath

from . import __version__
from .config import DECODE_STEPS, FRAMES_PER_TOKEN, GUIDANCE
from .utils import FolderInUse

DEFAULT_ARTIFACTS = "artifacts"
MAX_SAMPLES = 10_000  # per run; samples are made CHUNK at a time and written at once, so memory stays flat
CHUNK = 8
BVH_UNITS = ("auto", "m", "cm", "mm", "in", "ft")  # data.bvh.UNIT_CHOICES, without importing it to parse arguments
BAD_INPUT, FAILED, INTERRUPTED = 2, 1, 130


class OneLineParser(argparse.ArgumentParser):
    """Bad arguments get one clear line (and exit code 2), not a usage dump."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = _finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _samples(text: str) -> int:
    value = _positive_int(text)
    if value > MAX_SAMPLES:
        raise argparse.ArgumentTypeError(f"at most {MAX_SAMPLES} per run, got {text}")
    return value


def _positive_int(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _steps_or_matched(text: str) -> int | str:
    return "matched" if text == "matched" else _positive_int(text)


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None


def _non_negative_int(text: str) -> int:
    value = _int(text)
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
    p.add_argument("--seed", type=_non_negative_int, default=0,
                   help="random seed (same seed, same device: same result)")
    _threads(p)
    if sampling:
        p.add_argument("--samples", type=_samples, default=1,
                       help=f"samples per prompt (at most {MAX_SAMPLES}; each is written as soon as it is made)")
        p.add_argument("--steps", type=_positive_int, default=DECODE_STEPS, help="decoding steps")
        p.add_argument("--guidance", type=_finite_float, default=GUIDANCE,
                       help="classifier-free guidance scale (1 = none)")
        p.add_argument("--top-k", type=_finite_float, default=None,
                       help="keep the k best codes (int) or that share (<1)")
        p.add_argument("--temperature", type=_finite_float, default=1.0, help="softmax temperature on the logits")
        p.add_argument("--out", type=Path, required=True,
                       help="folder the run goes into: each run writes a new subfolder of it (see --name)")
        p.add_argument("--name", default=None,
                       help="the run's subfolder (default: date, time and prompt, never one that exists)")
        p.add_argument("--overwrite", action="store_true", help="with --name: replace the samples of that run")
        p.add_argument("--formats", default="html,gif,bvh,npz", help="comma-separated subset of html,gif,bvh,npz")
        _anchor(p)
        p.add_argument("--int8", action="store_true", help="8-bit integer transformer on the CPU (about 1.4x faster "
                       "at the paper's sizes; slightly different motion)")


def invoked_name() -> str:
    """`intermask-lite` when run as the console script, else `python -m intermask_lite` (also when called in Python)."""
    script = PureWindowsPath(sys.argv[0]).stem if sys.argv and sys.argv[0] else ""  # splits at / and at a backslash
    return "intermask-lite" if script.removesuffix("-script") == "intermask-lite" else "python -m intermask_lite"


def build_parser() -> argparse.ArgumentParser:
    ap = OneLineParser(prog=invoked_name(), description="intermask_lite: two-person motion generation")
    ap.add_argument("--version", action="version", version=f"intermask-lite {__version__}")
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
    r.add_argument("--units", default="auto", choices=BVH_UNITS,
                   help="length unit of a BVH actor (default: read from its skeleton)")
    r.add_argument("--crop", action="store_true",
                   help="use the start of an actor longer than the models' longest motion (else an error)")
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
    t.add_argument("--init-from", type=Path, default=None, metavar="CKPT",
                   help="transformer only: start from these weights (e.g. the shipped checkpoint) with a fresh "
                        "optimiser and schedule of --steps steps; a run to resume in the folder takes precedence")
    t.add_argument("--set", nargs="+", default=[], metavar="SECTION.FIELD=VALUE",
                   help="change preset fields, e.g. --set vq.nb_code=1024 vq_train.lr=7e-4 (checkpoints keep the "
                        "config they were trained with)")
    _common(t, sampling=False)

    e = sub.add_parser("evaluate", help="metrics with 95 %% intervals, written as Markdown, JSON and a figure",
                       description="Evaluate the kit on the built-in test split against a ground-truth row.")
    e.add_argument("--replications", type=_positive_int, default=None, help="default: the preset's")
    e.add_argument("--out", type=Path, default=Path("runs/eval"),
                   help="folder for report.md, report.json and report.png")
    e.add_argument("--overwrite", action="store_true", help="replace a report already in --out")
    _anchor(e)
    _common(e, sampling=False)

    b = sub.add_parser("build-checkpoints", help="rebuild the shipped checkpoints and their manifest",
                       description="Train vq, transformer and evaluator for a preset and write them, without "
                                   "optimizer state, to data/checkpoints/<preset>_<kind>.pt plus manifest.json.")
    b.add_argument("--preset", default="lab", choices=["smoke", "lab", "paper"])
    b.add_argument("--device", default="auto")
    b.add_argument("--work-dir", type=Path, default=Path("artifacts"), help="training folder (resumable)")
    _threads(b)

    c = sub.add_parser("study", help="test the paper's claims over several seeds: results/claims.json",
                       description="Train and measure the full model and one variant per claim of the paper, each "
                                   "with several seeds, then the quality-against-speed curve of masked decoding "
                                   "and DDIM; write results/claims.json (rows, verdicts, speed curve). Resumable: "
                                   "each variant and seed is kept in --work-dir as it finishes.")
    c.add_argument("--preset", default="lab", choices=["smoke", "lab", "paper"])
    c.add_argument("--seeds", type=_positive_int, default=3, help="seeds per variant (default 3)")
    c.add_argument("--steps", type=_positive_int, default=1200, help="transformer steps of every variant")
    c.add_argument("--vq-steps", type=_positive_int, default=3200, help="tokenizer steps (2D and 1D alike)")
    c.add_argument("--diffusion-steps", type=_steps_or_matched, default=None,
                   help="the diffusion baseline's training steps, or 'matched': as many as take the full model's "
                        "training time (default: --steps)")
    c.add_argument("--eval-clips", type=_positive_int, default=70, help="test clips per evaluation")
    c.add_argument("--replications", type=_positive_int, default=3, help="evaluation replications per seed")
    c.add_argument("--claim", action="append", default=None, metavar="CLAIM",
                   help="only this claim (repeatable); default: all of studies.claims.CLAIMS")
    c.add_argument("--no-speed-curve", action="store_true", help="skip the quality-against-speed curve")
    c.add_argument("--work-dir", type=Path, default=Path("results/claims_runs"),
                   help="models and per-unit results (resumable)")
    c.add_argument("--out", type=Path, default=Path("results/claims.json"), help="the JSON written at the end")
    _threads(c)

    n = sub.add_parser("notebooks", help="copy the lesson notebooks into a folder (for a course)",
                       description="Copy the lesson notebooks to DEST/notebooks/ and the documents they link to "
                                   "DEST/docs/; the notebooks then keep their trained models in DEST/artifacts/.")
    n.add_argument("--dest", type=Path, required=True, help="the folder to copy into (created if missing)")
    n.add_argument("--force", action="store_true", help="overwrite notebooks already there")
    return ap


def _top_k(value):
    return None if value is None else (int(value) if value >= 1 else value)


def _formats(text: str) -> set[str]:
    from .runs import FORMATS
    formats = {f.strip() for f in text.split(",") if f.strip()}
    bad = formats - set(FORMATS)
    if bad or not formats:
        raise ValueError(f"unknown --formats {sorted(bad) or text!r}; choose from {','.join(FORMATS)}")
    return formats


def _sampling(args):
    """The Sampling of the command's options; its errors speak of the options (--top-k, not Sampling.top_k)."""
    from .mask_transformer.sampling import Sampling
    try:
        return Sampling(steps=args.steps, guidance=args.guidance, top_k=_top_k(args.top_k),
                        temperature=args.temperature, seed=args.seed)
    except ValueError as err:
        message = str(err)
        for field in ("top_k", "steps", "guidance", "temperature", "seed"):
            message = message.replace(f"Sampling.{field}", "--" + field.replace("_", "-"))
        raise ValueError(message) from None


def _actor(args, preset):
    """The react actor, loaded and checked before any model: a Motion at the preset's frame rate."""
    from .motion import Motion
    path = args.actor
    if not path.exists():
        raise FileNotFoundError(f"actor file not found: {path}")
    if path.is_dir():
        raise ValueError(f"--actor {path} is a folder; expected a .bvh file or a Motion .npz")
    actor = Motion.load(path) if path.suffix == ".npz" else Motion.from_bvh(path, fps=preset.data.fps, units=args.units)
    if actor.fps != preset.data.fps:
        actor = actor.resample(preset.data.fps)
    longest = preset.data.max_frames // FRAMES_PER_TOKEN
    if -(-actor.n_frames // FRAMES_PER_TOKEN) > longest and not args.crop:
        raise ValueError(f"the actor in {path} is {actor.seconds:g} s long; the {preset.name} models generate at most "
                         f"{longest * FRAMES_PER_TOKEN / preset.data.fps:g} s: pass --crop to use its start, "
                         "or cut it yourself")
    return actor


def _check_generation(args):
    """Everything a generate/react run needs, checked before any model loads: (sampling, formats, actor)."""
    from .config import get_preset
    from .utils import get_device
    preset = get_preset(args.preset)
    sampling, formats = _sampling(args), _formats(args.formats)
    get_device(args.device)                                            # a clear error for a device not here
    text = args.text.strip()
    if not text:
        raise ValueError("the prompt is empty; describe the interaction, e.g. \"two people shake hands\"")
    actor = _actor(args, preset) if args.command == "react" else None
    if actor is None:
        longest = preset.data.max_frames / preset.data.fps
        if args.seconds > longest:
            raise ValueError(f"--seconds {args.seconds:g}: the {preset.name} models generate at most {longest:g} s")
    return sampling, formats, actor


@contextmanager
def _stop_between_samples():
    """While active, a first Ctrl-C asks to stop after the sample being made (the list it yields turns true), so
    no file is cut half way; a second one stops at once."""
    stop: list[bool] = []

    def on_interrupt(signum, frame):
        if stop:
            raise KeyboardInterrupt
        stop.append(True)
        print("stopping after the current sample (Ctrl-C again to stop at once)", file=sys.stderr, flush=True)

    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


def _make_samples(args, kit, sampling, actor, run, formats) -> int:
    """Generate CHUNK samples at a time and write each at once; Ctrl-C keeps what is written."""
    done = 0
    try:
        with _stop_between_samples() as stop:
            while done < args.samples and not stop:
                n = min(CHUNK, args.samples - done)
                if actor is None:
                    motions = kit.generate([args.text], seconds=args.seconds, samples=n, sampling=sampling,
                                           first_sample=done)
                else:
                    motions = kit.react(actor, args.text, samples=n, sampling=sampling, crop=args.crop,
                                        first_sample=done)
                for m in motions:
                    files = run.write_sample(done, m, formats)
                    print(f"sample {done}: " + ", ".join(str(f) for f in files), flush=True)
                    done += 1
                    if stop:
                        break
                del motions
    except KeyboardInterrupt:
        stop = [True]
    except BaseException:
        run.finish("failed")
        raise
    if done < args.samples:
        run.finish("interrupted")
        print(f"interrupted: {done} of {args.samples} samples are written in {run.path}", file=sys.stderr)
        return INTERRUPTED
    run.finish("complete")
    print(f"{done} samples in {run.path}")
    return 0


@contextmanager
def _warnings_to_stderr():
    """The kit's notes on unfamiliar motion and prompts and on cropped input, each printed once as
    'warning: ...' on stderr."""
    from .familiarity import CroppedInputWarning, UnfamiliarMotionWarning, UnfamiliarPromptWarning
    kinds = (UnfamiliarMotionWarning, UnfamiliarPromptWarning, CroppedInputWarning)
    try:
        with warnings.catch_warnings(record=True) as caught:
            for kind in kinds:
                warnings.simplefilter("always", kind)
            yield
    finally:
        for message in dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, kinds)):
            print(f"warning: {message}", file=sys.stderr)
        for w in caught:  # anything else goes on as usual
            if not issubclass(w.category, kinds):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def run(args) -> int:
    from .kit import load_pretrained
    from .utils import get_device, set_threads

    if args.command == "notebooks":
        from .shipped import copy_notebooks
        written = copy_notebooks(args.dest, args.force)
        print(f"copied {len(written)} files into {args.dest}; open them with: jupyter lab {args.dest / 'notebooks'}")
        return 0
    set_threads(args.threads or "auto")
    if args.command in ("generate", "react"):
        from .runs import RunFolder, slug
        sampling, formats, actor = _check_generation(args)
        settings = {"command": args.command, "text": args.text, "preset": args.preset, "samples": args.samples,
                    "seconds": getattr(args, "seconds", None), "actor": str(getattr(args, "actor", "") or ""),
                    "sampling": asdict(sampling), "formats": sorted(formats), "int8": args.int8}
        run_folder = RunFolder(args.out, args.name, args.overwrite, settings, default_name=slug(args.text))
        print(f"writing into {run_folder.path}")
        kit = _with_anchor(load_pretrained(args.preset, args.artifacts_dir, args.device, evaluator=False,
                                           int8=args.int8), args.anchor)
        run_folder.record["settings"]["checkpoints"] = {k: str(p) for k, p in (kit.paths or {}).items() if p}
        with _warnings_to_stderr():
            return _make_samples(args, kit, sampling, actor, run_folder, formats)
    if args.command == "train":
        return _train(args)
    if args.command == "study":
        from .studies.claims import CLAIMS, ClaimStudy
        study = ClaimStudy(args.preset, args.work_dir, seeds=args.seeds, steps=args.steps, vq_steps=args.vq_steps,
                           diffusion_steps=args.diffusion_steps, eval_clips=args.eval_clips,
                           replications=args.replications, claims=tuple(args.claim or CLAIMS),
                           speed_curve=not args.no_speed_curve)
        rows = study.run(args.out)
        for row in rows:
            if row.get("decides"):
                print(f"{row['claim']}: {row['verdict']} ({row['metric']}, {row['n_seeds']} seeds)")
        print(f"wrote {args.out}")
        return 0
    if args.command == "evaluate":
        from .eval.report import evaluate, write_report
        from .runs import check_parent
        get_device(args.device)
        if (args.out / "report.md").exists() and not args.overwrite:
            raise ValueError(f"{args.out / 'report.md'} exists; choose another --out, or pass --overwrite")
        check_parent(args.out)
        kit = _with_anchor(load_pretrained(args.preset, args.artifacts_dir, args.device), args.anchor)
        report = evaluate(kit, replications=args.replications, seed=args.seed)
        md, js = write_report(report, args.out)
        print(md.read_text())
        print(f"written: {md}, {js} and {md.with_name('report.png')}")
        return 0
    if args.command == "build-checkpoints":
        from .checkpoints import build_shipped
        get_device(args.device)
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
    from .utils import get_device
    get_device(args.device)
    if args.init_from is not None and not args.init_from.is_file():
        raise FileNotFoundError(f"--init-from {args.init_from}: no such checkpoint file")
    init_from_env(args.device)
    finished = False
    try:
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sys.stdout if is_main() else sink):
            load_or_train(args.what, preset, args.artifacts_dir, args.device, shipped=False, seed=args.seed,
                          progress=is_main(), init_from=args.init_from)
            print(f"checkpoints in {Path(args.artifacts_dir) / preset.name}")
        finished = True
    finally:
        shutdown(wait=finished)  # after an error, leave without waiting for the others
    return 0


def main(argv=None) -> int:
    """Run a command; bad input -> one line and exit 2, a folder in use -> 1, Ctrl-C -> 130, never a traceback."""
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except (FileNotFoundError, FileExistsError, NotADirectoryError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return BAD_INPUT
    except FolderInUse as err:
        print(f"error: {err}", file=sys.stderr)
        return FAILED
    except KeyboardInterrupt:
        resume = " (training resumes from its last checkpoint when run again)" if args.command == "train" else ""
        print(f"interrupted{resume}", file=sys.stderr)
        return INTERRUPTED
