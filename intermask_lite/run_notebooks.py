"""Execute every notebook in order with papermill: `python -m intermask_lite.run_notebooks --out runs/X`.

`make run` calls this with a dated folder. Each notebook gets its `parameters` cell overridden with the
preset, device, seed, threads and artifacts folder given here; executed copies land in the output folder,
and a table of the seconds each notebook took is printed at the end (the lab target: 15 minutes in all).

Cells whose first line is `# NBVAL_CHECK_OUTPUT` keep their output in the repository: `make test` runs
`pytest --nbval-lax` over the notebooks in smoke mode and compares those cells' output with it.
`--refresh-checked` runs the notebooks in smoke mode and writes those outputs back into the notebooks;
`--strip-outputs` clears all other outputs (the pre-commit hook).
"""
from __future__ import annotations

# Imported inside functions: papermill, when notebooks are run (the timing table needs none of it).

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from .shipped import shipped_dir

NOTEBOOK_DIR = shipped_dir("notebooks")  # in the installed package, else notebooks/ of the checkout


def notebook_paths(folder: Path = NOTEBOOK_DIR) -> list[Path]:
    """The numbered notebooks, in lesson order."""
    return sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))


TARGET_MINUTES = 15  # `make run` in lab mode on a 2-core CPU
CHECK_MARK = "# NBVAL_CHECK_OUTPUT"  # first line of a cell whose committed output nbval compares


def is_checked(cell: dict) -> bool:
    """A code cell whose output is committed and compared by `pytest --nbval-lax`."""
    return cell["cell_type"] == "code" and "".join(cell["source"]).startswith(CHECK_MARK)


def _printed(outputs: list) -> list:
    """The stream (printed) outputs among a cell's outputs: what nbval compares."""
    return [o for o in outputs if o.get("output_type") == "stream"]


def _notebook_text(nb: dict) -> str:
    """A notebook as the repository stores it (JSON, indent 1, UTF-8 kept)."""
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def copy_checked_outputs(executed: Path, source: Path) -> int:
    """Write the text outputs of `executed`'s checked cells into the same cells of `source`; returns their number.

    Both notebooks must have the same cells (papermill's injected-parameters cell aside)."""
    ran = [c for c in json.loads(executed.read_text())["cells"] if "injected-parameters" not in
           c.get("metadata", {}).get("tags", [])]
    nb = json.loads(source.read_text())
    if len(ran) != len(nb["cells"]):
        raise ValueError(f"{executed} has {len(ran)} cells, {source} {len(nb['cells'])}: run the current notebook")
    n = 0
    for cell, done in zip(nb["cells"], ran):
        if is_checked(cell):
            cell["outputs"] = _printed(done.get("outputs", []))
            cell["execution_count"] = done.get("execution_count") or 1  # nbval skips a cell marked unrun
            n += 1
    source.write_text(_notebook_text(nb))
    return n


def strip_outputs(path: Path) -> bool:
    """Clear the outputs and execution counts of `path`'s code cells, except the checked ones (and their stream
    output: nbval compares it); returns whether the file changed. The pre-commit hook runs this on every notebook."""
    text = path.read_text()
    nb = json.loads(text)
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        if is_checked(cell):
            cell["outputs"] = _printed(cell.get("outputs", []))
        else:
            cell["outputs"], cell["execution_count"] = [], None
    stripped = _notebook_text(nb)
    if stripped != text:
        path.write_text(stripped)
    return stripped != text


def run_all(out: Path, preset: str = "lab", smoke: bool = False, device: str = "auto", seed: int = 0,
            artifacts_dir: Path | None = None, only: list[str] | None = None, threads="auto") -> list[Path]:
    """Run the notebooks in order; returns the executed copies. Stops at the first failure.

    threads: torch CPU threads inside each notebook ("auto": 1 on hosts with 2 cores or fewer)."""
    import papermill as pm

    out.mkdir(parents=True, exist_ok=True)
    artifacts_dir = Path(artifacts_dir or "artifacts").resolve()                   # default: ./artifacts
    paths = [p for p in notebook_paths() if not only or any(p.name.startswith(o) for o in only)]
    if not paths:
        raise SystemExit(f"no notebooks matched {only!r} in {NOTEBOOK_DIR}")
    done, seconds = [], {}
    for i, path in enumerate(paths, 1):
        t0 = time.time()
        print(f"[{i}/{len(paths)}] {path.name} ...", flush=True)
        target = out / path.name
        pm.execute_notebook(str(path), str(target), cwd=str(path.parent), kernel_name="python3",
                            progress_bar=False,
                            parameters=dict(preset=preset, smoke=smoke, device=device, seed=seed,
                                            threads=threads, artifacts_dir=str(artifacts_dir)))
        seconds[path.name] = time.time() - t0
        print(f"[{i}/{len(paths)}] {path.name} done in {seconds[path.name]:.0f} s -> {target}", flush=True)
        done.append(target)
    print(timing_table(seconds, threads, preset if not smoke else "smoke"))
    print(f"all {len(done)} notebooks executed; open them in {out.resolve()}")
    return done


def timing_table(seconds: dict, threads, preset: str) -> str:
    """The seconds each notebook took, and the total against the lab target, as a small text table."""
    total = sum(seconds.values())
    lines = [f"\n{'notebook':<48} {'seconds':>8}", *(f"{name:<48} {s:>8.0f}" for name, s in seconds.items()),
             f"{'total (threads=' + str(threads) + ', preset ' + preset + ')':<48} {total:>8.0f}"]
    if preset == "lab":
        verdict = "met" if total <= TARGET_MINUTES * 60 else "MISSED"
        lines.append(f"target: all notebooks in at most {TARGET_MINUTES} min: {verdict} ({total / 60:.1f} min)")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, help="folder for the executed notebooks (required unless --strip-outputs)")
    ap.add_argument("--preset", default="lab", choices=["smoke", "lab", "paper"])
    ap.add_argument("--smoke", action="store_true", help="smoke mode: seconds per notebook, meaningless results")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--artifacts-dir", type=Path, default=None, help="where notebooks save and load models")
    ap.add_argument("--only", nargs="*", help="notebook name prefixes, e.g. 00 02")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch CPU threads in each notebook (default: 1 on hosts with 2 cores or fewer)")
    ap.add_argument("--refresh-checked", action="store_true",
                    help=f"run in smoke mode and write the output of each '{CHECK_MARK}' cell into the notebooks")
    ap.add_argument("--strip-outputs", nargs="+", type=Path, metavar="NOTEBOOK",
                    help=f"clear these notebooks' outputs, keeping those of '{CHECK_MARK}' cells (a pre-commit hook)")
    args = ap.parse_args(argv)
    if args.strip_outputs:
        changed = [p for p in args.strip_outputs if strip_outputs(p)]
        for p in changed:
            print(f"{p}: outputs stripped")
        return 1 if changed else 0                                     # pre-commit: a changed file fails the hook
    if args.out is None:
        ap.error("--out is required (the folder for the executed notebooks)")
    if args.threads is not None and args.threads < 1:
        ap.error(f"--threads must be a positive integer, got {args.threads}")
    if args.refresh_checked:
        with tempfile.TemporaryDirectory() as tmp:
            done = run_all(args.out, "smoke", True, "cpu", args.seed, Path(tmp), args.only, args.threads or "auto")
        for path in done:
            print(f"{path.name}: {copy_checked_outputs(path, NOTEBOOK_DIR / path.name)} checked cell(s) refreshed")
        return 0
    run_all(args.out, args.preset, args.smoke, args.device, args.seed, args.artifacts_dir, args.only,
            args.threads or "auto")
    return 0


if __name__ == "__main__":
    sys.exit(main())
