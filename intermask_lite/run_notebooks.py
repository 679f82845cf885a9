"""Execute every notebook in order with papermill: `python -m intermask_lite.run_notebooks --out runs/X`.

`make run` calls this with a dated folder. Each notebook gets its `parameters` cell overridden with the
preset, device, seed and artifacts folder given here; executed copies land in the output folder.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"


def notebook_paths(folder: Path = NOTEBOOK_DIR) -> list[Path]:
    """The numbered notebooks, in lesson order."""
    return sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))


def run_all(out: Path, preset: str = "lab", smoke: bool = False, device: str = "auto", seed: int = 0,
            artifacts_dir: Path | None = None, only: list[str] | None = None) -> list[Path]:
    """Run the notebooks in order; returns the executed copies. Stops at the first failure."""
    import papermill as pm

    out.mkdir(parents=True, exist_ok=True)
    artifacts_dir = (artifacts_dir or NOTEBOOK_DIR.parent / "artifacts").resolve()
    paths = [p for p in notebook_paths() if not only or any(p.name.startswith(o) for o in only)]
    if not paths:
        raise SystemExit(f"no notebooks matched {only!r} in {NOTEBOOK_DIR}")
    done = []
    for i, path in enumerate(paths, 1):
        t0 = time.time()
        print(f"[{i}/{len(paths)}] {path.name} ...", flush=True)
        target = out / path.name
        pm.execute_notebook(str(path), str(target), cwd=str(path.parent), kernel_name="python3",
                            progress_bar=False,
                            parameters=dict(preset=preset, smoke=smoke, device=device, seed=seed,
                                            artifacts_dir=str(artifacts_dir)))
        print(f"[{i}/{len(paths)}] {path.name} done in {time.time() - t0:.0f} s -> {target}", flush=True)
        done.append(target)
    print(f"\nall {len(done)} notebooks executed; open them in {out.resolve()}")
    return done


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="folder for the executed notebooks")
    ap.add_argument("--preset", default="lab", choices=["smoke", "lab", "paper"])
    ap.add_argument("--smoke", action="store_true", help="smoke mode: seconds per notebook, meaningless results")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--artifacts-dir", type=Path, default=None, help="where notebooks save and load models")
    ap.add_argument("--only", nargs="*", help="notebook name prefixes, e.g. 00 02")
    args = ap.parse_args(argv)
    run_all(args.out, args.preset, args.smoke, args.device, args.seed, args.artifacts_dir, args.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
