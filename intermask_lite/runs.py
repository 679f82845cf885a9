"""One output folder per CLI run: made fresh, written one sample at a time, atomically, with a run.json.

`RunFolder(parent, name)` makes `parent/<name>` (default name: time and prompt, with -2, -3, ... when taken, so
two runs never share a folder). A named folder that exists is refused unless `overwrite`. `write_sample` writes
each file to a hidden temp folder first and then renames it into place, so a file is either whole or absent,
even when the run is stopped half way; `run.json` records the settings and, after every sample, what is written
and whether the run is complete, interrupted or failed.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

from .utils import atomic_write

FORMATS = ("html", "gif", "bvh", "npz")
RECORD = "run.json"
_OURS = re.compile(r"^(sample_\d+(_[AB])?\.(html|gif|bvh|npz)|run\.json)$")  # what overwrite may replace


def slug(text: str, limit: int = 40) -> str:
    """A folder-name-safe short form of a prompt: 'Two people shake hands!' -> 'two-people-shake-hands'."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    return "-".join(words)[:limit].strip("-") or "run"


def check_parent(parent: Path) -> Path:
    """The folder runs go into: made if missing; a clear ValueError when it is a file or cannot be written."""
    parent = Path(parent)
    if parent.exists() and not parent.is_dir():
        raise ValueError(f"--out {parent} is a file; expected a folder (runs are written into subfolders of it)")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"--out {parent}: cannot create the folder ({err.strerror or err})") from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"--out {parent}: the folder is not writable")
    return parent


class RunFolder:
    """The folder of one run and its record; see the module docstring."""

    def __init__(self, parent, name: str | None = None, overwrite: bool = False, settings: dict | None = None,
                 default_name: str = "run"):
        parent = check_parent(parent)
        if name is not None:
            if not name or name in (".", "..") or Path(name).name != name:
                raise ValueError(f"--name {name!r}: expected a plain folder name (no '/', not '.' or '..')")
            self.path = parent / name
            if self.path.exists():
                if not overwrite:
                    raise ValueError(f"{self.path} exists; choose another --name, or pass --overwrite to replace "
                                     "its samples")
                if not self.path.is_dir():
                    raise ValueError(f"{self.path} is a file; expected a run folder")
                for old in self.path.iterdir():                        # only files a run writes
                    if _OURS.match(old.name):
                        old.unlink()
            self.path.mkdir(exist_ok=True)
        else:
            stem = f"{time.strftime('%Y%m%d-%H%M%S')}-{default_name}"
            for k in range(1, 10_000):
                self.path = parent / (stem if k == 1 else f"{stem}-{k}")
                try:
                    self.path.mkdir()                                  # atomic: two runs never get one folder
                    break
                except FileExistsError:
                    continue
        self.record = {"settings": settings or {}, "status": "running", "samples_written": 0, "files": []}
        self._save_record()

    def write_sample(self, index: int, motion, formats) -> list[Path]:
        """Write `motion` as sample `index` in each of `formats`; every file appears whole or not at all."""
        stem = f"sample_{index:02d}"
        partial = self.path / f".partial_{stem}"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir()
        try:
            made = []
            if "html" in formats:
                motion.to_html(partial / f"{stem}.html")
                made.append(partial / f"{stem}.html")
            if "gif" in formats:
                made.append(motion.to_gif(partial / f"{stem}.gif"))
            if "bvh" in formats:
                made.extend(motion.to_bvh(partial / f"{stem}.bvh"))
            if "npz" in formats:
                made.append(motion.save(partial / f"{stem}.npz"))
            final = []
            for f in made:
                os.replace(f, self.path / f.name)
                final.append(self.path / f.name)
        finally:
            shutil.rmtree(partial, ignore_errors=True)
        self.record["samples_written"] += 1
        self.record["files"] += [f.name for f in final]
        self._save_record()
        return final

    def finish(self, status: str) -> None:
        """Mark the run "complete", "interrupted" or "failed" in run.json."""
        self.record["status"] = status
        self._save_record()

    def _save_record(self) -> None:
        text = json.dumps(self.record, indent=2, default=str) + "\n"
        atomic_write(self.path / RECORD, lambda tmp: tmp.write_text(text, encoding="utf-8"))
