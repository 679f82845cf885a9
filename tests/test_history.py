"""fit's history files beside the checkpoint: {kind}_history.csv, {kind}_val_history.csv, {kind}_loss.png."""
import csv
import subprocess
import sys

import pytest
from PIL import Image

from intermask_lite import history as history_mod
from intermask_lite import train as train_mod
from intermask_lite.train import fit, write_history
from intermask_lite.utils import load_checkpoint

from test_train import cfg, regression_setup

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def test_a_run_writes_its_history_and_loss_curve_beside_the_checkpoint(tmp_path):
    model, loss_fn, val_fn, loader = regression_setup()
    hist = fit(model, loss_fn, loader, cfg(), val_fn=val_fn, out_dir=tmp_path, kind="toy", progress=False)
    header, rows = read_csv(tmp_path / "toy_history.csv")
    assert header == ["step", "loss", "lr", "seconds", "mse"]          # "threads" stays in the checkpoint
    assert len(rows) == 40 and [int(r[0]) for r in rows] == list(range(40))
    for i, key in enumerate(header[1:], 1):                            # the numbers read back exactly
        assert [float(r[i]) for r in rows] == hist[key], key
    header, rows = read_csv(tmp_path / "toy_val_history.csv")
    assert header == ["val_step", "val_loss"] and [int(r[0]) for r in rows] == [10, 20, 30, 40]
    assert [float(r[1]) for r in rows] == hist["val_loss"]
    with Image.open(tmp_path / "toy_loss.png") as im:
        assert im.format == "PNG" and im.size[0] > 300 and im.size[1] > 200
    assert not list(tmp_path.glob("*.tmp"))                            # written through temp files
    assert load_checkpoint(tmp_path / "toy_last.pt", kind="toy")["history"]["step"] == hist["step"]


def test_an_interrupted_run_has_its_files_and_the_resumed_one_covers_every_step_once(tmp_path):
    model, loss_fn, val_fn, loader = regression_setup()
    calls = []

    def interrupted_loss(m, batch, device):                            # dies during step 25
        calls.append(1)
        if len(calls) > 25:
            raise KeyboardInterrupt
        return loss_fn(m, batch, device)

    with pytest.raises(KeyboardInterrupt):
        fit(model, interrupted_loss, loader, cfg(), val_fn=val_fn, out_dir=tmp_path, kind="toy", progress=False)
    _, rows = read_csv(tmp_path / "toy_history.csv")
    assert [int(r[0]) for r in rows] == list(range(20))                # what the step-20 checkpoint holds
    assert (tmp_path / "toy_loss.png").exists()
    model2, *_ = regression_setup()
    hist = fit(model2, loss_fn, loader, cfg(), val_fn=val_fn, out_dir=tmp_path, kind="toy", progress=False)
    _, rows = read_csv(tmp_path / "toy_history.csv")
    assert [int(r[0]) for r in rows] == list(range(40))                # each step once, none of 20-24 twice
    assert [float(r[1]) for r in rows] == hist["loss"]
    _, rows = read_csv(tmp_path / "toy_val_history.csv")
    assert [int(r[0]) for r in rows] == [10, 20, 30, 40]


def test_the_curve_is_redrawn_within_its_time_share_and_always_at_the_end(tmp_path, monkeypatch):
    drawn = []
    real = history_mod.plot_history

    def counting(history, title=""):
        drawn.append(len(history["step"]))
        return real(history, title)

    monkeypatch.setattr(history_mod, "plot_history", counting)
    for share, expected in ((1e9, [10, 20, 30, 40]), (0.0, [10, 40])):  # 0: only the first and the last
        drawn.clear()
        monkeypatch.setattr(train_mod, "PLOT_SHARE", share)
        model, loss_fn, val_fn, loader = regression_setup()
        fit(model, loss_fn, loader, cfg(), val_fn=val_fn, out_dir=tmp_path / str(share), kind="toy", progress=False)
        assert drawn == expected, share
        _, rows = read_csv(tmp_path / str(share) / "toy_history.csv")
        assert len(rows) == 40                                         # the CSVs at every checkpoint all the same


def test_a_picture_that_fails_warns_once_and_training_goes_on(tmp_path, monkeypatch):
    def broken(history, title=""):
        raise RuntimeError("no fonts")

    monkeypatch.setattr(history_mod, "plot_history", broken)
    model, loss_fn, val_fn, loader = regression_setup()
    with pytest.warns(RuntimeWarning, match="could not write the history files.*no fonts") as caught:
        hist = fit(model, loss_fn, loader, cfg(), val_fn=val_fn, out_dir=tmp_path, kind="toy", progress=False)
    assert len([w for w in caught if "history files" in str(w.message)]) == 1
    assert hist["step"][-1] == 39 and (tmp_path / "toy_last.pt").exists()
    assert len(read_csv(tmp_path / "toy_history.csv")[1]) == 40 and not (tmp_path / "toy_loss.png").exists()


def test_a_run_without_out_dir_writes_nothing_and_validation_free_runs_have_no_val_file(tmp_path):
    model, loss_fn, _, loader = regression_setup()
    fit(model, loss_fn, loader, cfg(steps=5), progress=False)
    fit(model, loss_fn, loader, cfg(steps=5), out_dir=tmp_path, kind="plain", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain_best.pt", "plain_history.csv", "plain_last.pt",
                                                          "plain_loss.png"]


def test_the_history_writer_leaves_pyplot_and_the_backend_alone(tmp_path):
    """Drawn with Figure + FigureCanvasAgg: a notebook's pyplot (and its backend) is never touched."""
    script = ("import sys\nfrom intermask_lite.train import write_history\n"
              f"h = {{'step': [0, 1, 2], 'loss': [3.0, 2.0, float('nan')], 'lr': [0.1] * 3, 'seconds': [0.1, 0.2, 0.3],"
              f" 'val_step': [3], 'val_loss': [1.5], 'threads': [1]}}\n"
              f"paths = write_history({str(tmp_path)!r}, 'x', h)\n"
              "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot was imported'\n"
              "print(' '.join(p.name for p in paths))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["x_history.csv", "x_val_history.csv", "x_loss.png"]
    header, rows = read_csv(tmp_path / "x_history.csv")
    assert rows[2] == ["2", "", "0.1", "0.3"]                          # a NaN loss is an empty cell
    with Image.open(tmp_path / "x_loss.png") as im:
        im.verify()


def test_write_history_redraws_from_a_checkpoint(tmp_path):
    model, loss_fn, val_fn, loader = regression_setup()
    fit(model, loss_fn, loader, cfg(steps=10, eval_every=5), val_fn=val_fn, out_dir=tmp_path, kind="toy",
        progress=False)
    history = load_checkpoint(tmp_path / "toy_last.pt", kind="toy")["history"]
    paths = write_history(tmp_path / "again", "toy", history, plot=False)
    assert [p.name for p in paths] == ["toy_history.csv", "toy_val_history.csv"]
    assert (tmp_path / "again" / "toy_history.csv").read_text() == (tmp_path / "toy_history.csv").read_text()
