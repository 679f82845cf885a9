"""The command line: files written, help texts, and one clear line for bad input."""
import json
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch

from intermask_lite import cli
from intermask_lite.data.synthetic import load_split
from intermask_lite.motion import Motion


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "intermask_lite", *args], capture_output=True, text=True)


def only_run(out):
    """The one run folder a command wrote into `out`."""
    runs = [p for p in out.iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


@pytest.mark.parametrize("command", ["generate", "react", "train", "evaluate", "build-checkpoints"])
def test_every_subcommand_has_help(command):
    out = run_cli(command, "--help")
    assert out.returncode == 0 and "--preset" in out.stdout and len(out.stdout.splitlines()) > 5


def test_generate_writes_every_format(smoke_artifacts, tmp_path):
    code = cli.main(["generate", "two people shake hands", "--preset", "smoke", "--artifacts-dir",
                     str(smoke_artifacts), "--seconds", "1", "--samples", "2", "--steps", "2", "--out", str(tmp_path)])
    assert code == 0
    run = only_run(tmp_path)
    assert run.name.endswith("-two-people-shake-hands")
    names = sorted(p.name for p in run.iterdir())
    for i in (0, 1):
        for suffix in (".html", ".gif", "_A.bvh", "_B.bvh", ".npz"):
            assert f"sample_{i:02d}{suffix}" in names
    m = Motion.load(run / "sample_00.npz")
    assert m.joints.shape == (2, 20, 22, 3) and m.text == "two people shake hands"
    assert "plotly.js v" in (run / "sample_00.html").read_text(encoding="utf-8")  # plays offline
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "complete" and record["samples_written"] == 2
    assert record["settings"]["sampling"]["steps"] == 2


def test_generate_int8_runs_the_quantised_transformer(smoke_artifacts, tmp_path, monkeypatch):
    from intermask_lite import kit as kit_module
    quantised = []
    real = kit_module.int8_inference
    monkeypatch.setattr(kit_module, "int8_inference", lambda m: quantised.append(m) or real(m))
    code = cli.main(["generate", "two people shake hands", "--preset", "smoke", "--artifacts-dir",
                     str(smoke_artifacts), "--seconds", "1", "--steps", "2", "--formats", "npz", "--int8",
                     "--out", str(tmp_path)])
    assert code == 0 and len(quantised) == 1
    assert Motion.load(only_run(tmp_path) / "sample_00.npz").joints.shape == (2, 20, 22, 3)


def test_anchor_option_sets_the_kits_text_anchor(smoke_artifacts, tmp_path, monkeypatch):
    from intermask_lite.kit import Kit
    seen = []
    real = Kit.text_condition
    monkeypatch.setattr(Kit, "text_condition",
                        lambda kit, texts: seen.append(kit.preset.text.anchor) or real(kit, texts))
    for k in ("3", "0"):
        code = cli.main(["generate", "two people shake hands", "--preset", "smoke", "--artifacts-dir",
                         str(smoke_artifacts), "--seconds", "1", "--steps", "2", "--formats", "npz", "--anchor", k,
                         "--out", str(tmp_path / k)])
        assert code == 0
    assert seen == [3, 0]


def test_react_from_npz_keeps_the_actor(smoke_artifacts, tmp_path):
    actor = Motion.from_clip(load_split("test", 48, 0)[0]).person(0)
    actor.save(tmp_path / "actor.npz")
    code = cli.main(["react", "--actor", str(tmp_path / "actor.npz"), "--text", "the other one waves",
                     "--preset", "smoke", "--artifacts-dir", str(smoke_artifacts), "--steps", "2",
                     "--formats", "npz", "--crop", "--out", str(tmp_path / "out")])
    assert code == 0
    out = Motion.load(only_run(tmp_path / "out") / "sample_00.npz")
    assert out.n_people == 2 and out.n_frames <= actor.n_frames and np.isfinite(out.joints).all()


def test_train_trains_even_where_a_checkpoint_is_shipped(smoke_artifacts, tmp_path, monkeypatch):
    from intermask_lite import checkpoints
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    (shipped / "smoke_vq.pt").write_bytes((smoke_artifacts / "smoke" / "vq_best.pt").read_bytes())
    monkeypatch.setattr(checkpoints, "SHIPPED_DIR", shipped)
    assert checkpoints.checkpoint_path("vq", "smoke", tmp_path / "work") == shipped / "smoke_vq.pt"
    code = cli.main(["train", "vq", "--preset", "smoke", "--artifacts-dir", str(tmp_path / "work"), "--steps", "2"])
    assert code == 0
    ckpt = torch.load(tmp_path / "work" / "smoke" / "vq_last.pt", weights_only=True)
    assert ckpt["step"] == 2


def test_train_transformer_init_from_fine_tunes_a_trained_checkpoint(smoke_artifacts, tmp_path, capsys):
    work = tmp_path / "work" / "smoke"
    work.mkdir(parents=True)
    (work / "vq_best.pt").write_bytes((smoke_artifacts / "smoke" / "vq_best.pt").read_bytes())  # its tokenizer
    start = smoke_artifacts / "smoke" / "transformer_last.pt"
    args = ["train", "transformer", "--preset", "smoke", "--artifacts-dir", str(tmp_path / "work"), "--steps", "2"]
    assert cli.main(args + ["--init-from", str(start)]) == 0
    assert "starting from the weights of" in capsys.readouterr().out
    ckpt = torch.load(work / "transformer_last.pt", weights_only=True)
    assert ckpt["step"] == 2 and ckpt["extra"]["init_from"]["step"] == torch.load(start, weights_only=True)["step"]
    assert cli.main(args + ["--init-from", str(tmp_path / "nope.pt")]) == 2
    assert "--init-from" in (err := capsys.readouterr().err) and "no such checkpoint file" in err
    vq_args = ["train", "vq", "--preset", "smoke", "--artifacts-dir", str(tmp_path / "v"), "--init-from", str(start)]
    assert cli.main(vq_args) == 2 and "is for the transformer" in capsys.readouterr().err


@pytest.mark.parametrize("spread, warned", [(0.04, True), (0.97, False)])
def test_train_vq_warns_when_placement_is_lost(tmp_path, capsys, monkeypatch, spread, warned):
    from intermask_lite.vq import pipeline
    monkeypatch.setattr(pipeline, "root_spread", lambda pred, truth: spread)
    code = cli.main(["train", "vq", "--preset", "smoke", "--artifacts-dir", str(tmp_path), "--steps", "2"])
    assert code == 0 and ("x = 0 basin" in capsys.readouterr().err) == warned


def test_train_set_changes_preset_fields(tmp_path, capsys):
    from intermask_lite.vq.pipeline import load_tokenizer
    args = ["train", "vq", "--preset", "smoke", "--artifacts-dir", str(tmp_path), "--steps", "2"]
    assert cli.main(args + ["--set", "vq.nb_code=24", "vq.w_pos=2"]) == 0
    tok = load_tokenizer(tmp_path / "smoke" / "vq_last.pt")
    assert tok.cfg.nb_code == 24 and tok.cfg.w_pos == 2.0 and tok.quantizer.codebook.shape[0] == 24
    assert cli.main(args + ["--set", "vq.nbcode=24"]) == 2
    assert "section 'vq' has no field 'nbcode'" in capsys.readouterr().err


def test_train_into_a_folder_in_use_says_so(tmp_path, capsys):
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / "smoke").mkdir()
        (tmp_path / "smoke" / "vq.lock").write_text(f"{other.pid} {socket.gethostname()}\n")
        code = cli.main(["train", "vq", "--preset", "smoke", "--artifacts-dir", str(tmp_path), "--steps", "2"])
    finally:
        other.kill()
        other.wait()
    assert code == 1 and f"in use by process {other.pid}" in capsys.readouterr().err
    assert not (tmp_path / "smoke" / "vq_last.pt").exists()


@pytest.mark.parametrize("args, message", [
    (["generate", "hi", "--seconds", "0", "--out", "x"], "--seconds: must be a positive number"),
    (["generate", "hi", "--preset", "huge", "--out", "x"], "invalid choice: 'huge'"),
    (["generate", "hi"], "--out"),
    (["react", "--text", "hi", "--out", "x"], "--actor"),
    (["generate", "hi", "--anchor", "-1", "--out", "x"], "--anchor: must be 0 or a positive integer"),
])
def test_bad_arguments_get_one_clear_line(args, message):
    out = run_cli(*args)
    assert out.returncode == 2 and message in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_missing_files_are_reported_not_traced(smoke_artifacts, tmp_path):
    out = run_cli("react", "--actor", str(tmp_path / "nope.bvh"), "--text", "hi", "--preset", "smoke",
                  "--artifacts-dir", str(smoke_artifacts), "--out", str(tmp_path))
    assert out.returncode != 0 and "nope.bvh" in out.stderr and "Traceback" not in out.stderr
    out = run_cli("generate", "hi", "--preset", "smoke", "--artifacts-dir", str(tmp_path / "empty"),
                  "--out", str(tmp_path))
    assert out.returncode == 2 and "no vq, transformer checkpoint" in out.stderr and "Traceback" not in out.stderr
    out = run_cli("generate", "hi", "--formats", "html,mp4", "--preset", "smoke",
                  "--artifacts-dir", str(smoke_artifacts), "--out", str(tmp_path))
    assert out.returncode != 0 and "mp4" in out.stderr and "Traceback" not in out.stderr


def test_threads_option_sets_torch_threads_and_rejects_nonsense(smoke_artifacts, tmp_path, monkeypatch):
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        code = cli.main(["generate", "two people hug", "--preset", "smoke", "--artifacts-dir", str(smoke_artifacts),
                         "--seconds", "1", "--steps", "1", "--formats", "npz", "--threads", "1",
                         "--out", str(tmp_path)])
        assert code == 0 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    out = run_cli("generate", "hi", "--threads", "0", "--out", str(tmp_path))
    assert out.returncode != 0 and "--threads" in out.stderr and "positive integer" in out.stderr
