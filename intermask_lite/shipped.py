"""Where the files shipped with the kit live, and `copy_notebooks` for a course folder.

A wheel carries them inside the package, under `intermask_lite/shipped/<name>/` (setup.py copies them in when the
wheel is built); a source checkout or an editable install finds them in the repository (`SOURCE_FOLDERS`).
"""
from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

# name -> folder in the repository; setup.py copies the same folders (SHIPPED there) into the wheel
SOURCE_FOLDERS = {"checkpoints": "data/checkpoints", "notebooks": "notebooks", "docs": "docs"}
REPO_ROOT = Path(__file__).resolve().parent.parent


def shipped_dir(name: str) -> Path:
    """The folder of shipped `name` ("checkpoints", "notebooks" or "docs"): in the installed package, else the
    checkout."""
    if name not in SOURCE_FOLDERS:
        raise ValueError(f"unknown shipped folder {name!r}; expected one of {sorted(SOURCE_FOLDERS)}")
    packaged = Path(str(resources.files("intermask_lite"))) / "shipped" / name
    return packaged if packaged.is_dir() else REPO_ROOT / SOURCE_FOLDERS[name]


def copy_notebooks(dest, force: bool = False) -> list[Path]:
    """Copy the lesson notebooks to `dest/notebooks/` and the documents they link to `dest/docs/`; returns the
    files written. The notebooks keep their artifacts in `dest/artifacts/` (their `artifacts_dir` is "../artifacts").

    A file that is already there is kept (FileExistsError naming it) unless `force`: a student's edited notebook
    is never overwritten by accident."""
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise NotADirectoryError(f"--dest {dest} is a file; expected a folder (it is created if missing)")
    pairs = [(src, dest / folder / src.name) for folder in ("notebooks", "docs")
             for src in sorted(shipped_dir(folder).iterdir()) if src.is_file() and not src.name.startswith(".")]
    clash = [str(target) for _, target in pairs if target.exists()]
    if clash and not force:
        raise FileExistsError(f"{len(clash)} file(s) already there, e.g. {clash[0]}; nothing was copied "
                              "(pass force=True, or --force, to overwrite them)")
    for src, target in pairs:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)
    return [target for _, target in pairs]
