"""Fault injection on the command line and the checkpoints: bad values for every option, damaged checkpoints,
a save killed half way, two runs at once, Ctrl-C. Each case ends in one clear line (exit code 2 for bad input),
no traceback, and nothing written is lost or half written. Malformed BVH files: test_bvh_faults.py; corrupt
caches and data folders: test_data_faults.py."""
import json
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from intermask_lite import checkpoints, cli
from intermask_lite.data.synthetic import load_split
from intermask_lite.motion import Motion
from intermask_lite.utils import atomic_torch_save, load_checkpoint

PROMPT = "two people shake hands"


def cli_line(capsys, args) -> tuple[int, str, str]:
    """Run the CLI in this process: (exit code, stdout, stderr)."""
    try:
        code = cli.main(args)
    except SystemExit as stop:                                         # argparse's own errors
        code = stop.code
    out = capsys.readouterr()
    return code, out.out, out.err


def smoke_args(artifacts, out, *extra) -> list[str]:
    return ["generate", PROMPT, "--preset", "smoke", "--artifacts-dir", str(artifacts), "--seconds", "1",
            "--steps", "2", "--formats", "npz", "--out", str(out), *extra]


@pytest.mark.parametrize("extra, message", [
    (["--temperature", "nan"], "--temperature: must be a finite number"),
    (["--temperature", "inf"], "--temperature: must be a finite number"),
    (["--temperature", "-1"], "--temperature must be a finite number in [0, 100]"),
    (["--temperature", "hot"], "--temperature: must be a number"),
    (["--guidance", "inf"], "--guidance: must be a finite number"),
    (["--guidance", "-1"], "--guidance must be a finite number in [0, 100]"),
    (["--top-k", "nan"], "--top-k: must be a finite number"),
    (["--top-k", "-3"], "--top-k as a share of the codes must lie in (0, 1]"),
    (["--top-k", "0"], "--top-k as a share of the codes must lie in (0, 1]"),
    (["--seconds", "inf"], "--seconds: must be a finite number"),
    (["--seconds", "-2"], "--seconds: must be a positive number"),
    (["--seconds", "100"], "--seconds 100: the smoke models generate at most 3 s"),
    (["--steps", "0"], "--steps: must be a positive integer"),
    (["--steps", "5000"], "--steps must lie in 1..1000, got 5000"),
    (["--samples", "0"], "--samples: must be a positive integer"),
    (["--samples", "10001"], "--samples: at most 10000 per run"),
    (["--seed", "-1"], "--seed: must be 0 or a positive integer"),
    (["--seed", "x"], "--seed: must be an integer"),
    (["--threads", "0"], "--threads: must be a positive integer"),
    (["--device", "cuda:7"], "CUDA GPU"),
    (["--device", "toaster"], "is not a device name"),
    (["--formats", "mp4"], "unknown --formats ['mp4']"),
    (["--anchor", "-1"], "--anchor: must be 0 or a positive integer"),
    (["--name", "../elsewhere"], "--name '../elsewhere': expected a plain folder name"),
])
def test_bad_generate_options_are_refused_before_any_model_loads(smoke_artifacts, tmp_path, capsys, extra, message):
    code, out, err = cli_line(capsys, smoke_args(smoke_artifacts, tmp_path / "out", *extra))
    assert code == 2 and message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "loading" not in out                                        # no model was loaded
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_the_cli_offers_the_bvh_reader_s_units():
    from intermask_lite.data.bvh import UNIT_CHOICES
    assert cli.BVH_UNITS == UNIT_CHOICES


def test_an_empty_prompt_and_an_out_that_is_a_file(smoke_artifacts, tmp_path, capsys):
    args = smoke_args(smoke_artifacts, tmp_path / "out")
    args[1] = "   "
    code, _, err = cli_line(capsys, args)
    assert code == 2 and "the prompt is empty" in err
    (tmp_path / "file").write_text("x")
    code, _, err = cli_line(capsys, smoke_args(smoke_artifacts, tmp_path / "file"))
    assert code == 2 and "is a file; expected a folder" in err
    assert (tmp_path / "file").read_text() == "x"


def test_an_out_folder_that_cannot_be_written_is_refused_before_any_work(smoke_artifacts, tmp_path, capsys,
                                                                        monkeypatch):
    import os
    monkeypatch.setattr(os, "access", lambda path, mode: False)       # as for a read-only folder (root ignores modes)
    code, out, err = cli_line(capsys, smoke_args(smoke_artifacts, tmp_path / "ro"))
    assert code == 2 and "the folder is not writable" in err and "loading" not in out


@pytest.mark.parametrize("assignment, message", [
    ("vq.nb_code=-5", "expected a finite number >= 0, got -5"),
    ("vq.nb_code=0", "counts something and must be at least 1"),
    ("vq_train.lr=1e999", "expected a finite number >= 0"),
    ("vq.nb_code=lots", "the field holds int values"),
    ("vq.colour=3", "section 'vq' has no field 'colour'"),
])
def test_bad_training_settings_are_refused_before_training(tmp_path, capsys, assignment, message):
    code, _, err = cli_line(capsys, ["train", "vq", "--preset", "smoke", "--artifacts-dir", str(tmp_path),
                                     "--set", assignment])
    assert code == 2 and message in err and not (tmp_path / "smoke").exists()


def test_a_run_never_overwrites_without_being_asked(smoke_artifacts, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli_line(capsys, smoke_args(smoke_artifacts, out, "--name", "mine"))[0] == 0
    first = (out / "mine" / "sample_00.npz").read_bytes()
    code, _, err = cli_line(capsys, smoke_args(smoke_artifacts, out, "--name", "mine", "--seed", "5"))
    assert code == 2 and "exists; choose another --name, or pass --overwrite" in err
    assert (out / "mine" / "sample_00.npz").read_bytes() == first
    (out / "mine" / "notes.txt").write_text("mine")                    # not a run's file: kept
    assert cli_line(capsys, smoke_args(smoke_artifacts, out, "--name", "mine", "--seed", "5", "--overwrite"))[0] == 0
    assert (out / "mine" / "sample_00.npz").read_bytes() != first
    assert (out / "mine" / "notes.txt").read_text() == "mine"
    assert cli_line(capsys, smoke_args(smoke_artifacts, out))[0] == 0  # no --name: a new folder each time
    assert cli_line(capsys, smoke_args(smoke_artifacts, out))[0] == 0
    assert len([p for p in out.iterdir() if p.is_dir()]) == 3


def test_evaluate_keeps_an_existing_report(tmp_path, capsys):
    (tmp_path / "report.md").write_text("earlier")
    code, out, err = cli_line(capsys, ["evaluate", "--preset", "smoke", "--out", str(tmp_path)])
    assert code == 2 and "report.md exists" in err and "loading" not in out
    assert (tmp_path / "report.md").read_text() == "earlier"


def test_samples_do_not_depend_on_how_many_are_made_at_once(smoke_artifacts, tmp_path, capsys, monkeypatch):
    assert cli_line(capsys, smoke_args(smoke_artifacts, tmp_path, "--samples", "3", "--name", "eight"))[0] == 0
    monkeypatch.setattr(cli, "CHUNK", 2)
    assert cli_line(capsys, smoke_args(smoke_artifacts, tmp_path, "--samples", "3", "--name", "two"))[0] == 0
    assert cli_line(capsys, smoke_args(smoke_artifacts, tmp_path, "--samples", "1", "--name", "one"))[0] == 0
    for i in range(3):
        a, b = (Motion.load(tmp_path / run / f"sample_{i:02d}.npz").joints for run in ("eight", "two"))
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(Motion.load(tmp_path / "one" / "sample_00.npz").joints,
                                  Motion.load(tmp_path / "eight" / "sample_00.npz").joints)


def test_a_long_actor_is_cut_only_with_crop(smoke_artifacts, tmp_path, capsys):
    actor = Motion.from_clip(load_split("test", 48, 0)[0]).person(0)    # 3.4 s; the smoke models make 3 s
    actor.save(tmp_path / "actor.npz")
    args = ["react", "--actor", str(tmp_path / "actor.npz"), "--text", "the other one waves", "--preset", "smoke",
            "--artifacts-dir", str(smoke_artifacts), "--steps", "2", "--formats", "npz", "--out", str(tmp_path / "o")]
    code, out, err = cli_line(capsys, args)
    assert code == 2 and "3.4 s long; the smoke models generate at most 3 s: pass --crop" in err
    assert "loading" not in out
    code, _, err = cli_line(capsys, args + ["--crop"])
    assert code == 0 and "warning: the actor is 3.4 s long: kept its first 3 s" in err


# ---------------------------------------------------------------- checkpoints

def shipped_copy(tmp_path, monkeypatch):
    """The shipped checkpoints and manifest copied to tmp_path/shipped, which the kit then reads."""
    folder = tmp_path / "shipped"
    shutil.copytree(checkpoints.SHIPPED_DIR, folder)
    monkeypatch.setattr(checkpoints, "SHIPPED_DIR", folder)
    return folder


def lab_generate(tmp_path):
    return ["generate", PROMPT, "--seconds", "1", "--steps", "1", "--formats", "npz",
            "--artifacts-dir", str(tmp_path / "no_artifacts"), "--out", str(tmp_path / "out")]


def test_a_tampered_shipped_checkpoint_is_named_at_load(tmp_path, monkeypatch, capsys):
    folder = shipped_copy(tmp_path, monkeypatch)
    weights = bytearray((folder / "lab_transformer.pt").read_bytes())
    weights[-100] ^= 0xFF                                              # one byte of the weights changed
    (folder / "lab_transformer.pt").write_bytes(bytes(weights))
    code, _, err = cli_line(capsys, lab_generate(tmp_path))
    assert code == 2 and "lab_transformer.pt: sha256 differs from the manifest" in err and "make checkpoints" in err


def test_a_renamed_shipped_checkpoint_is_named_at_load(tmp_path, monkeypatch, capsys):
    folder = shipped_copy(tmp_path, monkeypatch)
    shutil.copy(folder / "lab_evaluator.pt", folder / "lab_transformer.pt")  # another file under a shipped name
    code, _, err = cli_line(capsys, lab_generate(tmp_path))
    assert code == 2 and "lab_transformer.pt: sha256 differs" in err


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "folder"])
def test_a_damaged_trained_checkpoint_is_named(smoke_artifacts, tmp_path, capsys, damage):
    work = tmp_path / "work"
    shutil.copytree(smoke_artifacts, work)
    target = work / "smoke" / "transformer_best.pt"
    (work / "smoke" / "transformer_last.pt").unlink(missing_ok=True)
    if damage == "truncated":
        target.write_bytes(target.read_bytes()[:5000])
    elif damage == "garbage":
        target.write_bytes(np.random.default_rng(0).bytes(3000))
    elif damage == "empty":
        target.write_bytes(b"")
    else:
        target.unlink()
        target.mkdir()
    code, _, err = cli_line(capsys, smoke_args(work, tmp_path / "out"))
    assert code == 2 and "transformer_best.pt" in err and "Traceback" not in err, err
    assert "folder" in err if damage == "folder" else "truncated, damaged or another kind of file" in err


def test_a_save_killed_half_way_leaves_the_old_file_whole_and_no_temp(tmp_path):
    target = tmp_path / "ckpt.pt"
    atomic_torch_save({"format": 1, "x": torch.zeros(3)}, target)
    script = (f"import torch\nfrom intermask_lite.utils import atomic_torch_save\n"
              f"while True:\n    atomic_torch_save({{'x': torch.randn(4_000_000)}}, {str(target)!r})\n")
    saver = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.time() + 60
    while not list(tmp_path.glob("ckpt.pt.*.tmp")) and time.time() < deadline:
        time.sleep(0.01)                                               # until a save is under way
    saver.kill()                                                       # SIGKILL: no cleanup can run
    saver.wait()
    assert torch.load(target, weights_only=True)["x"].numel() in (3, 4_000_000)  # the file is whole, old or new
    if list(tmp_path.glob("*.tmp")):                                   # the kill left a temp file ...
        atomic_torch_save({"x": torch.ones(2)}, target)                # ... which the next save clears
    assert not list(tmp_path.glob("*.tmp"))


def test_generating_never_starts_training(smoke_artifacts, tmp_path, capsys):
    work = tmp_path / "work"
    shutil.copytree(smoke_artifacts, work)
    (work / "smoke" / "transformer_best.pt").unlink()
    last = work / "smoke" / "transformer_last.pt"
    ckpt = torch.load(last, weights_only=True)
    ckpt["step"] = 1                                                   # an interrupted run: step 1 of 6
    torch.save(ckpt, last)
    code, out, err = cli_line(capsys, smoke_args(work, tmp_path / "out"))
    assert code == 0 and "unfinished run (step 1 of its 6); using it as it stands" in err
    assert "resum" not in out and torch.load(last, weights_only=True)["step"] == 1  # not trained on


def test_a_checkpoint_of_another_kind_is_named(smoke_artifacts):
    with pytest.raises(ValueError, match="holds a 'vq' checkpoint, expected 'transformer'"):
        load_checkpoint(smoke_artifacts / "smoke" / "vq_best.pt", kind="transformer")


# ---------------------------------------------------------------- runs at once, Ctrl-C

def spawn(args):
    return subprocess.Popen([sys.executable, "-m", "intermask_lite", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_two_runs_into_one_folder_at_once_keep_their_own_samples(smoke_artifacts, tmp_path):
    runs = [spawn(smoke_args(smoke_artifacts, tmp_path, "--samples", "2", "--seed", str(s))) for s in (1, 2)]
    for r in runs:
        _, err = r.communicate(timeout=300)
        assert r.returncode == 0, err
    folders = sorted(p for p in tmp_path.iterdir() if p.is_dir())
    assert len(folders) == 2                                           # one folder each, never shared
    seeds = {json.loads((f / "run.json").read_text())["settings"]["sampling"]["seed"] for f in folders}
    assert seeds == {1, 2}
    for f in folders:
        assert sorted(p.name for p in f.iterdir()) == ["run.json", "sample_00.npz", "sample_01.npz"]


def test_ctrl_c_keeps_the_samples_already_written(smoke_artifacts, tmp_path):
    run = spawn(smoke_args(smoke_artifacts, tmp_path, "--samples", "2000", "--name", "long", "--formats", "npz,gif"))
    deadline = time.time() + 300
    while not (tmp_path / "long" / "sample_01.gif").exists() and time.time() < deadline:
        time.sleep(0.05)
    run.send_signal(signal.SIGINT)                                     # stops after the sample being made
    _, err = run.communicate(timeout=120)
    assert run.returncode == 130 and "interrupted:" in err and "Traceback" not in err, err
    assert "stopping after the current sample" in err
    record = json.loads((tmp_path / "long" / "run.json").read_text())
    assert record["status"] == "interrupted" and 2 <= record["samples_written"] < 2000
    for i in range(record["samples_written"]):                        # every written sample is whole
        assert Motion.load(tmp_path / "long" / f"sample_{i:02d}.npz").n_people == 2
    assert not [p for p in (tmp_path / "long").iterdir() if p.name.startswith(".")]  # no partial files left
