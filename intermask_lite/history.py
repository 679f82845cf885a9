"""A fit history in plain files beside its checkpoints: CSV tables and a loss-curve picture.

    steps, vals = history_tables(history)           # {column: list}: one row per step / per validation
    fig = plot_history(history)                     # matplotlib Figure, not attached to pyplot
    write_history(out_dir, "vq", history)           # vq_history.csv, vq_val_history.csv, vq_loss.png

train.fit calls write_history at each last checkpoint; it also redraws the files from any checkpoint's "history".
"""
from __future__ import annotations

# Imported inside functions: matplotlib, when a loss curve is drawn (writing the CSVs, and importing the package,
# never load it).

import csv
import math
from pathlib import Path

from .utils import atomic_write

STEP_COLUMNS = ("step", "loss", "lr", "seconds")  # first columns of {kind}_history.csv, then the training terms


def history_tables(history: dict) -> tuple[dict, dict]:
    """(per-step columns, per-validation columns) of a fit history, each {name: list} of equal lengths.

    Per step: step, loss, lr, seconds, then every other list as long as "step" (the training terms, in the
    order they were first logged). Per validation: val_step, then every val_* list as long as it. "threads"
    (one entry per session) and lists of other lengths stay in the checkpoint only.
    """
    n = len(history.get("step", []))
    steps = {k: history[k] for k in STEP_COLUMNS if k in history}
    steps.update({k: v for k, v in history.items() if k not in steps and k != "threads" and
                  not k.startswith("val_") and isinstance(v, list) and len(v) == n})
    m = len(history.get("val_step", []))
    vals = {"val_step": history["val_step"]} if m else {}
    vals.update({k: v for k, v in history.items() if m and k.startswith("val_") and k != "val_step" and
                 isinstance(v, list) and len(v) == m})
    return steps, vals


def _cell(key: str, value) -> str:
    if key in ("step", "val_step"):
        return str(int(value))
    value = float(value)
    return repr(value) if math.isfinite(value) else ""  # shortest text that reads back exactly; NaN/inf empty


def _write_csv(path: Path, columns: dict) -> None:
    def write(tmp):
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            out = csv.writer(fh)
            out.writerow(list(columns))
            out.writerows([_cell(k, v) for k, v in zip(columns, row)] for row in zip(*columns.values()))
    atomic_write(path, write)


def _smooth(values, span: float) -> list[float]:
    """Exponential moving average with time constant `span` steps, bias-corrected at the start."""
    beta, avg, out = 1.0 - 1.0 / max(span, 1.0), 0.0, []
    for i, v in enumerate(values, 1):
        avg = beta * avg + (1.0 - beta) * v
        out.append(avg / (1.0 - beta ** i) if beta > 0 else v)
    return out


def plot_history(history: dict, title: str = ""):
    """A matplotlib Figure (not attached to pyplot) of a fit history: training loss per step (faint) and smoothed,
    validation loss at each validation, and the learning rate below. The loss axis is logarithmic when the
    losses are positive and span more than a factor of 10."""
    from matplotlib.figure import Figure

    steps, vals = history_tables(history)
    fig = Figure(figsize=(7, 4.2), dpi=100)
    loss_ax, lr_ax = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    x, loss = steps.get("step", []), [v if math.isfinite(v) else math.nan for v in steps.get("loss", [])]
    if loss:
        loss_ax.plot(x, loss, color="#4C72B0", alpha=0.25, lw=0.8, label="training loss")
        loss_ax.plot(x, _smooth(loss, max(len(loss) / 100, 1.0)), color="#4C72B0", lw=1.8,
                     label="training loss (smoothed)")
    if "val_loss" in vals:
        loss_ax.plot(vals["val_step"], vals["val_loss"], "o-", color="#DD8452", lw=1.5, ms=4,
                     label="validation loss")
    shown = [v for v in loss + vals.get("val_loss", []) if math.isfinite(v)]
    if shown and min(shown) > 0 and max(shown) > 10 * min(shown):
        loss_ax.set_yscale("log")
    loss_ax.set_ylabel("loss")
    loss_ax.grid(alpha=0.3)
    if loss or "val_loss" in vals:
        loss_ax.legend(loc="upper right", fontsize=8, framealpha=0.9)
    loss_ax.set_title(title or "training history", fontsize=10)
    if "lr" in steps:
        lr_ax.plot(x, steps["lr"], color="#55A868", lw=1.2)
    lr_ax.set_ylabel("lr")
    lr_ax.set_xlabel("optimiser step")
    lr_ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def write_history(out_dir, kind: str, history: dict, plot: bool = True) -> list[Path]:
    """Write out_dir/{kind}_history.csv, {kind}_val_history.csv (when there were validations) and, with plot,
    {kind}_loss.png, each atomically (a temp file, then a rename); returns the paths written. fit calls it at
    each last checkpoint on rank 0; it also redraws the files from a checkpoint's "history" afterwards."""
    out = Path(out_dir)
    steps, vals = history_tables(history)
    written = [out / f"{kind}_history.csv"]
    _write_csv(written[0], steps)
    if vals:
        written.append(out / f"{kind}_val_history.csv")
        _write_csv(written[-1], vals)
    if plot:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        fig = plot_history(history, title=f"{kind}: {len(steps.get('step', []))} steps")
        FigureCanvasAgg(fig)
        written.append(out / f"{kind}_loss.png")
        atomic_write(written[-1], lambda tmp: fig.savefig(tmp, format="png"))
    return written
