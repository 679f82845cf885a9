"""Checkpoints of the chain: find them, load them or train them, and ship them.

`checkpoint_path` looks in `artifacts_dir/<preset>/` (what the notebooks and `python -m intermask_lite train`
write), then in the shipped `<preset>_*.pt` (SHIPPED_DIR: inside the installed package, or data/checkpoints/ of
the checkout); `load_or_train` loads what it finds, resumes an interrupted run or trains a fresh one, so each
notebook runs on its own; `build_shipped`, `ship` and `verify`
make the shipped checkpoints (without optimizer state) and check them against their manifest.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from . import config as config_mod
from .data.sources import training_clips
from .evaluator import load_evaluator, train_evaluator
from .familiarity import record_reference
from .mask_transformer.training import load_transformer, train_transformer
from .shipped import shipped_dir
from .utils import atomic_torch_save, file_sha256, get_device, load_checkpoint
from .vq.pipeline import load_tokenizer, placement_warning, train_tokenizer
from .vq.readback import TUNED_NAME, tune_decoder

SHIPPED_DIR = shipped_dir("checkpoints")  # in the installed package, else data/checkpoints/ of the checkout
KEEP = ("format", "kind", "step", "model", "history", "extra")  # shipped: no optimizer state


KINDS = ("vq", "transformer", "evaluator")
def checkpoint_path(kind: str, preset: str, artifacts_dir=None, shipped: bool = True) -> Path | None:
    """The checkpoint of `kind` to load for `preset`, or None: artifacts first, then (if `shipped`) the shipped one."""
    if kind not in KINDS:
        raise ValueError(f"unknown checkpoint kind {kind!r}; expected one of {KINDS}")
    if artifacts_dir is not None:
        names = (TUNED_NAME,) if kind == "vq" else ()                  # a tokenizer whose decoder was tuned comes first
        for name in names + (f"{kind}_best.pt", f"{kind}_last.pt"):
            path = Path(artifacts_dir) / preset / name
            if path.exists():
                return path
    path = SHIPPED_DIR / f"{preset}_{kind}.pt"
    return path if shipped and path.exists() else None


def _loader(kind: str):
    if kind == "vq":
        return load_tokenizer
    if kind == "transformer":
        return lambda path: load_transformer(path)[0]
    return load_evaluator


TRAIN_SECTION = {"vq": "vq_train", "transformer": "transformer_train", "evaluator": "evaluator_train"}


def unfinished_step(kind: str, preset, artifacts_dir, train: bool = True) -> int | None:
    """The step of an unfinished run in artifacts_dir/<preset>/, else None. Unfinished: its last checkpoint is
    short of the preset's step count (training would go on to it) or, with train=False (only loading), of the
    steps the run itself was started with (it was interrupted; a shorter run by choice, `--steps`, is finished)."""
    if artifacts_dir is None:
        return None
    last = Path(artifacts_dir) / preset.name / f"{kind}_last.pt"
    if not last.exists():
        return None
    ckpt = load_checkpoint(last, kind=kind)
    step, goal = int(ckpt.get("step", 0)), getattr(preset, TRAIN_SECTION[kind]).steps
    if not train:
        goal = int((ckpt.get("config") or {}).get("steps", goal))
    if step < goal or (kind == "vq" and _tuning_owed(preset, last.parent)):
        return step
    return None


def _tuning_owed(preset, folder: Path) -> bool:
    """The preset tunes its tokenizer's decoder (vq_tune.steps) and `folder` holds no tuned tokenizer yet."""
    return preset.vq_tune.steps > 0 and not (folder / TUNED_NAME).exists()


def load_or_train(kind: str, preset, artifacts_dir=None, device="auto", tokenizer=None, progress=True,
                  shipped: bool = True, seed: int = 0, train: bool = True, init_from=None):
    """Load `kind` ("vq", "transformer", "evaluator") for `preset`, training it into artifacts_dir if absent.

    shipped=False ignores the shipped checkpoints (to train or rebuild them); seed seeds any training.
    An interrupted run in artifacts_dir is resumed from its last checkpoint. train=False never trains: an
    interrupted run is loaded as it stands (with a note), and nothing found is a FileNotFoundError. The
    transformer needs the tokenizer it was trained with: pass `tokenizer` (else it is loaded the same way).
    init_from: a transformer checkpoint whose weights start the training (a fine-tune; train.fit).
    Returns the model in eval mode on `device`.
    """
    if init_from is not None and kind != "transformer":
        raise ValueError(f"init_from (a fine-tune) is for the transformer, not {kind!r}")
    preset = config_mod.get_preset(preset)
    dev = get_device(device)
    path = checkpoint_path(kind, preset.name, artifacts_dir, shipped)
    resume_at = unfinished_step(kind, preset, artifacts_dir, train)
    steps, whose = getattr(preset, TRAIN_SECTION[kind]).steps, "the preset's"
    if resume_at is not None and not train:                            # only loading: the run's own goal
        last = load_checkpoint(Path(artifacts_dir) / preset.name / f"{kind}_last.pt", kind=kind)
        steps, whose = int((last.get("config") or {}).get("steps", steps)), "its"
    what = ("its decoder tuning (vq_tune) is still to do" if resume_at == steps
            else f"step {resume_at} of {whose} {steps}")
    if resume_at is not None and not train:
        print(f"{kind}: note: {path} is an unfinished run ({what}); using it as it stands "
              f"(`python -m intermask_lite train {kind} --preset {preset.name}` resumes it)", file=sys.stderr)
    if resume_at is not None and train:
        print(f"{kind}: resuming the interrupted run ({what})")
    elif path is not None:
        print(f"{kind}: loading {path}")
        if path.parent == SHIPPED_DIR:
            verify_file(path)                                          # the shipped weights, as shipped
        return _loader(kind)(path).to(dev).eval()
    if not train:
        raise FileNotFoundError(f"no {kind} checkpoint for preset {preset.name!r} in "
                                f"{artifacts_dir or '(no artifacts_dir)'} or {SHIPPED_DIR}")
    out_dir = None if artifacts_dir is None else Path(artifacts_dir) / preset.name
    if resume_at is None:
        print(f"{kind}: no checkpoint for preset {preset.name!r}; training one"
              + (f" into {out_dir}" if out_dir else ""))
    if kind == "vq":
        model, history = train_tokenizer(preset, *training_clips(preset), out_dir=out_dir, device=device,
                                         progress=progress, seed=seed)
        warning = placement_warning(history)
        if warning:
            print(warning, file=sys.stderr)
        if preset.vq_tune.steps > 0:
            print(f"vq: tuning the decoder for read-back ({preset.vq_tune.steps} steps)")
            base = None
            if out_dir is not None:                                    # tune the best tokenizer, as written
                src = checkpoint_path("vq", preset.name, artifacts_dir, shipped=False)
                base, model = load_checkpoint(src, kind="vq"), _loader("vq")(src)
            model, _ = tune_decoder(model, preset, *training_clips(preset), base=base, out_dir=out_dir,
                                    device=device, progress=progress, seed=seed)
    elif kind == "transformer":
        tokenizer = tokenizer or load_or_train("vq", preset, artifacts_dir, device, progress=progress,
                                               shipped=shipped, seed=seed)
        model, _ = train_transformer(preset, *training_clips(preset), tokenizer=tokenizer, out_dir=out_dir,
                                     device=device, progress=progress, seed=seed, init_from=init_from)
    else:
        model, _ = train_evaluator(preset, *training_clips(preset), out_dir=out_dir, device=device,
                                   progress=progress, seed=seed)
    return model.to(dev).eval()


def sha256(path: Path) -> str:
    """sha256 hex digest of a checkpoint file (utils.file_sha256)."""
    return file_sha256(path)


def training_record(ckpt: dict, kind: str) -> dict:
    """How a checkpoint was trained, for the manifest: minutes, CPU threads per session, the train settings."""
    history = ckpt.get("history", {})
    record = {"train_minutes": round(history["seconds"][-1] / 60, 1)} if history.get("seconds") else {}
    if history.get("threads"):
        record["train_threads"] = sorted({int(t) for t in history["threads"]})
    preset = (ckpt.get("extra") or {}).get("preset")
    if preset:
        section = preset.get(TRAIN_SECTION[kind], {})
        record["train_settings"] = {k: section[k] for k in ("steps", "batch_size", "lr", "cpu_bf16") if k in section}
    start = (ckpt.get("extra") or {}).get("init_from")
    if start:                                                          # a fine-tune: its minutes include the start's
        record["init_from"] = start
        record["train_minutes"] = round(record.get("train_minutes", 0.0) + start["train_minutes"], 1)
    tune = history.get("tune")
    if kind == "vq" and tune and tune.get("seconds"):                  # the decoder tuning (vq.readback)
        record["tune_minutes"] = round(tune["seconds"][-1] / 60, 1)
        if preset and preset.get("vq_tune"):
            record["tune_settings"] = {k: preset["vq_tune"][k] for k in ("steps", "batch_size", "lr")}
    return record


def ship(src: Path, kind: str, preset: str, dest_dir: Path = SHIPPED_DIR) -> Path:
    """Copy a trained checkpoint into dest_dir as <preset>_<kind>.pt without optimizer state; update the manifest."""
    ckpt = load_checkpoint(src, kind=kind)
    dest = dest_dir / f"{preset}_{kind}.pt"
    atomic_torch_save({k: ckpt[k] for k in KEEP if k in ckpt}, dest)
    manifest_path = dest_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    manifest[dest.name] = {"sha256": sha256(dest), "bytes": dest.stat().st_size, "preset": preset, "kind": kind,
                           "step": int(ckpt.get("step", 0)), **training_record(ckpt, kind)}
    tmp = manifest_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    tmp.replace(manifest_path)
    return dest


def _manifest(dest_dir: Path) -> dict:
    manifest_path = dest_dir / "manifest.json"
    if not manifest_path.exists():
        raise FileNotFoundError(f"no manifest at {manifest_path}")
    try:
        return json.loads(manifest_path.read_text())
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"{manifest_path} is not valid JSON ({err}); restore it from the repository") from None


def verify_file(path: Path) -> None:
    """Check one shipped checkpoint against its manifest entry; raises naming the file and how to rebuild."""
    path = Path(path)
    entry = _manifest(path.parent).get(path.name)
    if entry is None:
        raise ValueError(f"{path} is not listed in {path.parent / 'manifest.json'}: it was renamed or added by hand; "
                         "restore the shipped files, or rebuild them with `make checkpoints`")
    if sha256(path) != entry["sha256"]:
        raise ValueError(f"{path}: sha256 differs from the manifest (the file was changed or damaged); restore it "
                         "from the repository, or rebuild the shipped checkpoints with `make checkpoints`")


def verify(dest_dir: Path = SHIPPED_DIR) -> dict:
    """Check every manifest entry's sha256; returns the manifest or raises naming the bad file."""
    manifest = _manifest(dest_dir)
    for name in manifest:
        path = dest_dir / name
        if not path.exists():
            raise FileNotFoundError(f"{path} is listed in the manifest but missing")
        verify_file(path)
    return manifest


def build_shipped(preset: str = "lab", work_dir: Path = Path("artifacts"), device: str = "auto") -> dict:
    """Train (or resume) the whole chain for `preset` in work_dir and ship the best checkpoints."""
    cfg = config_mod.get_preset(preset)
    tok = load_or_train("vq", cfg, work_dir, device, shipped=False)
    load_or_train("transformer", cfg, work_dir, device, tokenizer=tok, shipped=False)
    load_or_train("evaluator", cfg, work_dir, device, shipped=False)
    for kind in ("vq", "transformer", "evaluator"):
        src = checkpoint_path(kind, preset, work_dir, shipped=False)
        if src is None:
            raise FileNotFoundError(f"no trained {kind} checkpoint in {work_dir / preset}")
        print(f"shipped {ship(src, kind, preset)}")
    # what Kit's unfamiliar-motion warning compares to
    reference = record_reference(SHIPPED_DIR / f"{preset}_vq.pt", tok, cfg)
    print(f"test-split reconstruction error, 95th percentile: {reference:.1f} mm (kept in the manifest)")
    return verify()
