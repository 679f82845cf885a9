"""The shipped checkpoints: build them (stripped of optimizer state) and verify them against the manifest."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .utils import atomic_torch_save, load_checkpoint

SHIPPED_DIR = Path(__file__).resolve().parent.parent / "data" / "checkpoints"
KEEP = ("format", "kind", "step", "model", "history", "extra")  # shipped: no optimizer state


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def ship(src: Path, kind: str, preset: str, dest_dir: Path = SHIPPED_DIR) -> Path:
    """Copy a trained checkpoint into dest_dir as <preset>_<kind>.pt without optimizer state; update the manifest."""
    ckpt = load_checkpoint(src, kind=kind)
    dest = dest_dir / f"{preset}_{kind}.pt"
    atomic_torch_save({k: ckpt[k] for k in KEEP if k in ckpt}, dest)
    manifest_path = dest_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    manifest[dest.name] = {"sha256": sha256(dest), "bytes": dest.stat().st_size, "preset": preset, "kind": kind,
                           "step": int(ckpt.get("step", 0))}
    tmp = manifest_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    tmp.replace(manifest_path)
    return dest


def verify(dest_dir: Path = SHIPPED_DIR) -> dict:
    """Check every manifest entry's sha256; returns the manifest or raises naming the bad file."""
    manifest_path = dest_dir / "manifest.json"
    if not manifest_path.exists():
        raise FileNotFoundError(f"no manifest at {manifest_path}")
    manifest = json.loads(manifest_path.read_text())
    for name, entry in manifest.items():
        path = dest_dir / name
        if not path.exists():
            raise FileNotFoundError(f"{path} is listed in the manifest but missing")
        if sha256(path) != entry["sha256"]:
            raise ValueError(f"{path}: sha256 differs from the manifest; rebuild with `make checkpoints`")
    return manifest


def build_shipped(preset: str = "lab", work_dir: Path = Path("artifacts"), device: str = "auto") -> dict:
    """Train (or resume) the whole chain for `preset` in work_dir and ship the best checkpoints."""
    from .config import get_preset
    from .kit import checkpoint_path, load_or_train

    cfg = get_preset(preset)
    tok = load_or_train("vq", cfg, work_dir, device, shipped=False)
    load_or_train("transformer", cfg, work_dir, device, tokenizer=tok, shipped=False)
    load_or_train("evaluator", cfg, work_dir, device, shipped=False)
    for kind in ("vq", "transformer", "evaluator"):
        src = checkpoint_path(kind, preset, work_dir, shipped=False)
        if src is None:
            raise FileNotFoundError(f"no trained {kind} checkpoint in {work_dir / preset}")
        print(f"shipped {ship(src, kind, preset)}")
    from .familiarity import record_reference
    reference = record_reference(SHIPPED_DIR / f"{preset}_vq.pt", tok, cfg)  # what Kit's unfamiliar-motion warning compares to
    print(f"test-split reconstruction error, 95th percentile: {reference:.1f} mm (kept in the manifest)")
    return verify()
