"""Writing an evaluation report (eval.report.evaluate) as Markdown, JSON and a figure, plus what identifies a run.

    md_path, json_path = write_report(report, "runs/eval")     # also runs/eval/report.png (figure=True)
    print(to_markdown(report))
    fig = plot_report(report)                                   # the figure alone: one panel per metric

A report names the evaluator it was measured with (sha256 of its checkpoint file): numbers are only
comparable under the same evaluator. The environment fingerprint records versions, device and commit.
"""
from __future__ import annotations

# Imported inside functions: matplotlib, when the report's figure is drawn (reading or writing the Markdown
# and JSON never loads it).

import hashlib
import json
import math
import platform
import subprocess
from pathlib import Path

import numpy as np
import torch

from ..evaluator import evaluator_checksum
from ..utils import atomic_write

# column label and better direction of each metric key (R-precision keys are "top{k}@{pool}")
LABELS = {"fid": "FID ↓", "mm_dist": "MM Dist ↓", "diversity": "Diversity →GT", "multimodality": "MModality ↑",
          "class_acc": "Class acc ↑", "mpjpe_mm": "MPJPE mm ↓",
          "mpjpe_aligned_mm": "MPJPE root-aligned mm ↓"}


def evaluator_id(kit) -> dict:
    """{"evaluator_checksum", "evaluator_file"}: sha256 of the checkpoint the kit's evaluator came from.

    An evaluator that was never saved (kit.paths has no file) is identified by a sha256 of its weights,
    prefixed "weights:".
    """
    path = (getattr(kit, "paths", None) or {}).get("evaluator")
    if path is not None and Path(path).exists():
        return {"evaluator_checksum": evaluator_checksum(path), "evaluator_file": Path(path).name}
    digest = hashlib.sha256()
    for name, tensor in sorted(kit.evaluator.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return {"evaluator_checksum": "weights:" + digest.hexdigest(), "evaluator_file": None}


def _git_commit() -> str | None:
    """Commit of the checkout the package runs from (with '+dirty' for local changes), or None."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True,
                                timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def environment(device) -> dict:
    """Versions, device, platform and git commit: enough to tell two runs apart."""
    device = torch.device(device)
    env = {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
           "device": str(device), "platform": platform.platform(), "torch_threads": torch.get_num_threads(),
           "git_commit": _git_commit()}
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
    return env


def metric_label(key: str) -> str:
    """Column header of a metric key, e.g. 'top1@32' -> 'R@1 (32) ↑'."""
    if key.startswith("top"):
        k, pool = key[3:].split("@")
        return f"R@{k} ({pool}) ↑"
    return LABELS.get(key, key)


def _cell(stat) -> str:
    if stat is None:
        return "n/a"
    digits = 1 if abs(stat["mean"]) >= 100 else 3
    mean = round(stat["mean"], digits) + 0.0  # no "-0.000" for a tiny negative FID
    return f"{mean:.{digits}f} ± {stat['ci']:.{digits}f}"


def _number(value) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.4g}"


def to_markdown(report: dict) -> str:
    """The report as Markdown: a header naming the run, the metric table (mean ± 95 % CI), the physics table."""
    keys, rows, env = report["metrics"], report["rows"], report["environment"]
    seeds = ", ".join(str(s) for s in report["seeds"])
    half = report.get("gt_half_fid")
    lines = [
        f"# Evaluation: preset `{report['preset']}`", "",
        f"- evaluator checksum (sha256): `{report['evaluator_checksum']}`"
        + (f" ({report['evaluator_file']})" if report.get("evaluator_file") else ""),
        f"- replications: {report['replications']} (seeds {seeds}); cells are mean ± half-width of the 95 % "
        "interval (Student t)",
        f"- test clips: {report['n_clips']}; R-precision pools: {', '.join(map(str, report['pools'])) or 'none'}; "
        f"MultiModality: {report['mm_prompts']} prompts x {report['mm_samples']} samples",
        f"- decoding: {report['steps']} steps, guidance scale {report['guidance']}"
        + (f", prompts anchored to their {report['text_anchor']} nearest training captions (text.anchor)"
           if report.get("text_anchor") else ""),
        f"- environment: python {env['python']}, torch {env['torch']}, numpy {env['numpy']}, device "
        f"{env.get('gpu', env['device'])}, {env['platform']}, commit {env['git_commit'] or 'unknown'}",
    ]
    if half is not None:
        lines.append(f"- sampling-noise floor of FID (two random halves of the GT set): {_cell(half)}")
    lines += ["", "| row | " + " | ".join(metric_label(k) for k in keys) + " |",
              "|---|" + "---|" * len(keys)]
    lines += [f"| {name} | " + " | ".join(_cell(stats[k]) for k in keys) + " |" for name, stats in rows.items()]
    lines += ["", "FID is against the ground-truth test motions; the ground-truth row's FID compares the set "
              "with itself (~0, a sanity check). Diversity should be close to the ground truth's."]
    lines += [f"- note: {note}" for note in report.get("notes", [])]
    physics = report.get("physics") or {}
    if physics:
        names = list(physics)
        first = physics[names[0]]
        lines += ["", "## Physics", "", "| metric | unit | better | " + " | ".join(names) + " |",
                  "|---|---|---|" + "---|" * len(names)]
        lines += [f"| {k} | {v['unit']} | {v['better']} | " + " | ".join(_number(physics[n][k]["value"])
                                                                       for n in names) + " |"
                  for k, v in first.items()]
    return "\n".join(lines) + "\n"


def _plain(value):
    """JSON-safe copy: numpy scalars to Python numbers, NaN and inf to None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


GT_COLOR, ROW_COLOR = "#222222", "#4C72B0"


def plot_report(report: dict, ncols: int = 4):
    """The metric table as a matplotlib Figure (not attached to pyplot): one panel per metric (FID, R@k, MM Dist,
    Diversity, MModality, class accuracy, MPJPE), each row's mean as a dot with its 95 % interval as error bars.
    The ground-truth row is drawn in black with a dotted line at its mean (the target; for FID the set against
    itself, ~0), and the FID panel shades the sampling-noise floor (FID between two halves of the GT set)."""
    from matplotlib.figure import Figure

    rows, names = report["rows"], list(report["rows"])
    keys = [k for k in report["metrics"] if any((rows[n].get(k) or {}).get("mean") is not None for n in names)]
    if not keys:
        raise ValueError("plot_report: the report has no metric with a value")
    ncols = max(1, min(ncols, len(keys)))
    nrows = -(-len(keys) // ncols)
    fig = Figure(figsize=(3.2 * ncols, (0.32 * len(names) + 1.0) * nrows + 0.5), dpi=100)
    axes = fig.subplots(nrows, ncols, sharey=True, squeeze=False)
    y = np.arange(len(names))[::-1]                             # the first row on top, as in the table
    for ax, key in zip(axes.flat, keys):
        for yi, name in zip(y, names):
            stat = rows[name].get(key)
            if not stat or stat.get("mean") is None or not math.isfinite(stat["mean"]):  # (JSON: NaN -> None)
                ax.annotate("n/a", (0.5, yi), xycoords=("axes fraction", "data"), ha="center", va="center",
                            fontsize=7, color="#999999")
                continue
            gt = name == "ground truth"
            ax.errorbar(stat["mean"], yi, xerr=stat.get("ci") or 0.0, fmt="D" if gt else "o", ms=5, capsize=3, lw=1.2,
                        color=GT_COLOR if gt else ROW_COLOR)
            if gt:
                ax.axvline(stat["mean"], color=GT_COLOR, lw=0.8, ls=":")
        half = report.get("gt_half_fid")
        if key == "fid" and half:
            ax.axvspan(0.0, half["mean"], color="#DD8452", alpha=0.2, lw=0, label="noise floor")
            ax.legend(loc="lower right", fontsize=7, framealpha=0.9)
        ax.set_title(metric_label(key), fontsize=9)
        ax.margins(x=0.15)
        ax.grid(axis="x", alpha=0.3)
        ax.tick_params(labelsize=7)
    axes[0, 0].set_yticks(y, names)
    for ax in axes[:, 0]:
        ax.tick_params(axis="y", labelsize=8)
    axes[0, 0].set_ylim(-0.6, len(names) - 0.4)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    fig.suptitle(f"preset {report['preset']}: mean and 95 % interval over {report['replications']} "
                 "replication(s); black = ground truth", fontsize=10)
    fig.tight_layout()
    return fig


def write_report_figure(report: dict, path) -> Path:
    """plot_report(report) saved as a PNG at `path` (atomically); returns the path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = plot_report(report)
    FigureCanvasAgg(fig)
    path = Path(path)
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))
    return path


def write_report(report: dict, out_dir, figure: bool = True) -> tuple[Path, Path]:
    """Write out_dir/report.md and out_dir/report.json, and with `figure` out_dir/report.png (plot_report);
    returns (md_path, json_path)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    md_path, json_path = out / "report.md", out / "report.json"
    md_path.write_text(to_markdown(report), encoding="utf-8")
    json_path.write_text(json.dumps(_plain(report), indent=1, allow_nan=False), encoding="utf-8")
    if figure:
        write_report_figure(report, out / "report.png")
    return md_path, json_path
