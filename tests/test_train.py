"""The shared training loop: schedule, checkpoints, resume, determinism, errors."""
import os
import socket
import subprocess
import sys
import time

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from intermask_lite.config import TrainConfig, VQConfig
from intermask_lite import train as train_mod
from intermask_lite.train import amp_setup, fit, lr_factor
from intermask_lite.utils import load_checkpoint
from intermask_lite.vq.model import MotionTokenizer
from intermask_lite.vq.pipeline import vq_loss

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py



def regression_setup(seed=0):
    torch.manual_seed(seed)
    x = torch.randn(64, 4)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
    loader = DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True)
    model = torch.nn.Linear(4, 1)

    def loss_fn(m, batch, device):
        xb, yb = (t.to(device) for t in batch)
        loss = torch.nn.functional.mse_loss(m(xb), yb)
        return loss, {"mse": float(loss.detach())}

    def val_fn(m, device):
        return {"val_loss": float(torch.nn.functional.mse_loss(m(x.to(device)), y.to(device)))}

    return model, loss_fn, val_fn, loader


def cfg(**kw):
    base = dict(steps=40, lr=0.2, warmup=5, milestones=(0.5, 0.75), gamma=0.5, eval_every=10, amp=False)
    return TrainConfig(**{**base, **kw})


def test_lr_schedule_warmup_then_steps():
    c = cfg(steps=100, warmup=10, milestones=(0.5, 0.8), gamma=0.1)
    assert lr_factor(0, c) == pytest.approx(1 / 11)
    assert lr_factor(9, c) == pytest.approx(10 / 11)
    assert lr_factor(10, c) == 1.0 and lr_factor(49, c) == 1.0
    assert lr_factor(50, c) == pytest.approx(0.1) and lr_factor(80, c) == pytest.approx(0.01)


def test_cpu_bf16_autocasts_where_the_cpu_has_bf16_and_falls_back_to_float32(monkeypatch, capsys):
    cpu = torch.device("cpu")
    autocast, scaler = amp_setup(cpu, enabled=True, cpu_bf16=False)
    with autocast():
        assert not torch.is_autocast_enabled("cpu")                     # float32 unless asked
    monkeypatch.setattr(train_mod, "cpu_has_bf16", lambda: True)
    autocast, scaler = amp_setup(cpu, enabled=True, cpu_bf16=True, verbose=True)
    assert "bf16 autocast" in capsys.readouterr().out
    with autocast():
        assert torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16
    assert scaler is None
    monkeypatch.setattr(train_mod, "cpu_has_bf16", lambda: False)
    autocast, _ = amp_setup(cpu, enabled=True, cpu_bf16=True, verbose=True)
    with autocast():
        assert not torch.is_autocast_enabled("cpu")
    assert "no native bf16" in capsys.readouterr().out


def test_fit_learns_and_returns_history(tmp_path):
    model, loss_fn, val_fn, loader = regression_setup()
    hist = fit(model, loss_fn, loader, cfg(), val_fn=val_fn, out_dir=tmp_path, kind="toy", progress=False)
    assert len(hist["loss"]) == 40 and len(hist["lr"]) == 40 and len(hist["mse"]) == 40
    assert hist["val_step"] == [10, 20, 30, 40]
    assert hist["val_loss"][-1] < hist["val_loss"][0] / 5
    assert (tmp_path / "toy_last.pt").exists() and (tmp_path / "toy_best.pt").exists()
    best = load_checkpoint(tmp_path / "toy_best.pt", kind="toy")
    assert set(best) >= {"format", "kind", "step", "config", "model", "optimizer", "scheduler", "history", "extra"}


def test_checkpoint_exact_and_resume_continues(tmp_path):
    model, loss_fn, val_fn, loader = regression_setup()
    calls = []

    def interrupted_loss(m, batch, device):  # dies during step 25, after the step-20 checkpoint
        calls.append(1)
        if len(calls) > 25:
            raise KeyboardInterrupt
        return loss_fn(m, batch, device)

    with pytest.raises(KeyboardInterrupt):
        fit(model, interrupted_loss, loader, cfg(), val_fn=val_fn, out_dir=tmp_path, kind="toy",
            progress=False, extra={"note": "hello"})
    assert not (tmp_path / "toy.lock").exists()  # released on the way out
    ckpt = load_checkpoint(tmp_path / "toy_last.pt", kind="toy")
    assert ckpt["step"] == 20 and ckpt["extra"] == {"note": "hello"} and ckpt["config"]["steps"] == 40
    restored, *_ = regression_setup(seed=1)
    restored.load_state_dict(ckpt["model"])  # save/load is exact
    assert torch.equal(restored.weight, torch.as_tensor(ckpt["model"]["weight"]))
    # resuming continues from step 20 and ends where one uninterrupted run ends
    model2, *_ = regression_setup()
    seen = []
    hist = fit(model2, loss_fn, loader, cfg(), val_fn=val_fn, out_dir=tmp_path, kind="toy", progress=False,
               on_step=lambda m, step: seen.append((m is model2, step)))
    assert seen == [(True, step) for step in range(20, 40)]  # on_step sees the resumed steps only, in order
    assert hist["step"][0] == 0 and hist["step"][20] == 20 and hist["step"][-1] == 39
    assert len(hist["loss"]) == 40 and hist["val_step"] == [10, 20, 30, 40]
    model3, loss_fn3, val_fn3, loader3 = regression_setup()
    fit(model3, loss_fn3, loader3, cfg(), val_fn=val_fn3, out_dir=tmp_path / "straight", kind="toy",
        progress=False)
    for key, value in model3.state_dict().items():
        assert torch.allclose(model2.state_dict()[key], value, atol=1e-6)


def test_init_from_starts_a_fresh_run_from_trained_weights_and_records_where(tmp_path):
    model, loss_fn, val_fn, loader = regression_setup()
    first = fit(model, loss_fn, loader, cfg(), val_fn=val_fn, out_dir=tmp_path / "a", kind="toy", progress=False)
    start, *_ = regression_setup(seed=3)                                 # other initial weights
    hist = fit(start, loss_fn, loader, cfg(steps=10, eval_every=5), val_fn=val_fn, out_dir=tmp_path / "b",
               kind="toy", progress=False, init_from=tmp_path / "a" / "toy_last.pt")
    assert hist["step"] == list(range(10))                                # a fresh schedule and history
    assert hist["val_loss"][0] < first["val_loss"][0] / 5                 # it started from the trained weights
    ckpt = load_checkpoint(tmp_path / "b" / "toy_last.pt", kind="toy")
    assert ckpt["extra"]["init_from"]["file"] == "toy_last.pt" and ckpt["extra"]["init_from"]["step"] == 40
    assert ckpt["optimizer"]["state"]                                     # an optimiser of its own, saved
    # a second fine-tune of the fine-tune adds up the steps of both
    again, *_ = regression_setup(seed=4)
    fit(again, loss_fn, loader, cfg(steps=5), out_dir=tmp_path / "c", kind="toy", progress=False,
        init_from=tmp_path / "b" / "toy_last.pt")
    assert load_checkpoint(tmp_path / "c" / "toy_last.pt", kind="toy")["extra"]["init_from"]["step"] == 50
    with pytest.raises(ValueError, match="holds a 'toy' checkpoint, expected 'other'"):
        fit(again, loss_fn, loader, cfg(steps=5), out_dir=tmp_path / "d", kind="other", progress=False,
            init_from=tmp_path / "b" / "toy_last.pt")
    wide = torch.nn.Linear(4, 2)
    with pytest.raises(ValueError, match="do not fit"):                    # another shape
        fit(wide, loss_fn, loader, cfg(steps=5), out_dir=tmp_path / "e", kind="toy", progress=False,
            init_from=tmp_path / "b" / "toy_last.pt")


def test_a_folder_in_training_is_locked_and_a_stale_lock_is_taken_over(tmp_path):
    model, loss_fn, val_fn, loader = regression_setup()
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / "toy.lock").write_text(f"{other.pid} {socket.gethostname()}\n")
        with pytest.raises(RuntimeError, match=f"in use by process {other.pid} on"):
            fit(model, loss_fn, loader, cfg(), out_dir=tmp_path, kind="toy", progress=False)
        assert not (tmp_path / "toy_last.pt").exists()  # nothing written while the other run holds it
    finally:
        other.kill()
        other.wait()
    hist = fit(model, loss_fn, loader, cfg(), out_dir=tmp_path, kind="toy", progress=False)  # holder gone: stale
    assert hist["step"][-1] == 39 and not (tmp_path / "toy.lock").exists()


def test_an_empty_lock_counts_while_new_and_is_stale_when_old(tmp_path):
    from intermask_lite.utils import FolderInUse, run_lock
    lock = tmp_path / "toy.lock"
    lock.write_text("")                                                # another process between open and write
    with pytest.raises(FolderInUse, match="a process that is starting"):
        with run_lock(lock):
            pass
    os.utime(lock, (time.time() - 60, time.time() - 60))              # a crash left it empty a minute ago
    with run_lock(lock):
        assert lock.read_text().split()[0] == str(os.getpid())
    assert not lock.exists()


def test_same_seed_same_weights_different_seed_differs():
    runs = []
    for seed in (0, 0, 1):
        model, loss_fn, _, loader = regression_setup()
        fit(model, loss_fn, loader, cfg(steps=15), progress=False, seed=seed)
        runs.append(model.weight.detach().clone())
    assert torch.equal(runs[0], runs[1]) and not torch.equal(runs[0], runs[2])


def test_grad_accumulation_and_kind_mismatch(tmp_path):
    model, loss_fn, _, loader = regression_setup()
    hist = fit(model, loss_fn, loader, cfg(steps=6, grad_accum=3), out_dir=tmp_path, kind="a", progress=False)
    assert len(hist["loss"]) == 6
    with pytest.raises(ValueError, match="expected 'b'"):
        load_checkpoint(tmp_path / "a_last.pt", kind="b")


def test_nan_loss_raises_clearly():
    model, _, _, loader = regression_setup()

    def bad_loss(m, batch, device):
        return m(batch[0].to(device)).sum() * float("nan"), {}

    with pytest.raises(FloatingPointError, match="loss is nan at step 0"):
        fit(model, bad_loss, loader, cfg(steps=3), progress=False)


def test_empty_loader_errors():
    model, loss_fn, _, _ = regression_setup()
    empty = DataLoader(TensorDataset(torch.randn(3, 4), torch.randn(3, 1)), batch_size=8, drop_last=True)
    with pytest.raises(ValueError, match="no batches"):
        fit(model, loss_fn, empty, cfg(steps=3), progress=False)


@pytest.mark.parametrize("cpu_bf16", [False, True])
def test_tokenizer_trains_with_fit(tmp_path, cpu_bf16):
    torch.manual_seed(0)
    model = MotionTokenizer(VQConfig(nb_code=16, code_dim=8, width=16, depth=1))
    grids = torch.randn(16, 12, 22, 16)
    loader = DataLoader(grids, batch_size=4, shuffle=True)
    hist = fit(model, vq_loss, loader, cfg(steps=8, lr=1e-3, warmup=2, eval_every=4, cpu_bf16=cpu_bf16),
               out_dir=tmp_path, kind="vq", progress=False)  # bf16 where the CPU has it, else float32
    assert {"feat", "pos", "vel", "bone", "geo", "foot", "commit", "perplexity", "usage"} <= set(hist)
    assert hist["loss"][-1] < hist["loss"][0]


def test_every_trainer_keeps_one_contract():
    """train_*(preset, train_clips, val_clips, *, out_dir, device, progress, seed) -> (model, history)."""
    import inspect

    from intermask_lite.evaluator import train_evaluator
    from intermask_lite.mask_transformer.training import train_transformer
    from intermask_lite.vq.pipeline import train_tokenizer
    for trainer in (train_tokenizer, train_transformer, train_evaluator):
        params = inspect.signature(trainer).parameters
        assert list(params)[:3] == ["preset", "train_clips", "val_clips"], trainer.__name__
        assert all(params[k].kind is inspect.Parameter.KEYWORD_ONLY for k in ("out_dir", "device", "progress", "seed"))
        kwargs = {"tokenizer": None} if trainer is train_transformer else {}
        with pytest.raises(ValueError, match=f"{trainer.__name__} needs training clips"):
            trainer("smoke", [], [], **kwargs)
