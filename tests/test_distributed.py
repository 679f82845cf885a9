"""Training with several processes: two gloo processes against one, resume across world sizes, accumulation,
the world-size-independent data order, torch.compile, and the data sources of a preset."""
import os
import socket
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.utils.data import DataLoader, TensorDataset

from intermask_lite import cli
from intermask_lite.config import TrainConfig, get_preset, with_overrides
from intermask_lite.data.sources import parse_source, resample_clip, training_clips
from intermask_lite.distributed import GlobalBatchSampler, per_process_batch, train_loader
from intermask_lite.train import fit
from intermask_lite.utils import load_checkpoint

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py

N_SAMPLES, BATCH = 40, 8  # 5 global batches per epoch


def toy_cfg(**kw):
    base = dict(steps=8, batch_size=BATCH, lr=0.05, warmup=2, milestones=(), eval_every=4, amp=False)
    return TrainConfig(**{**base, **kw})


def toy_setup():
    """A small MLP regression without dropout: the loss is a deterministic function of weights and batch."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(N_SAMPLES, 6, generator=g)
    y = torch.sin(x @ torch.randn(6, 2, generator=g))
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 2))

    def loss_fn(m, batch, device):
        xb, yb = (t.to(device) for t in batch)
        loss = torch.nn.functional.mse_loss(m(xb), yb)
        return loss, {"mse": float(loss.detach())}

    return model, loss_fn, TensorDataset(x, y)


def train_toy(cfg, out_dir=None):
    model, loss_fn, data = toy_setup()
    history = fit(model, loss_fn, train_loader(data, cfg), cfg, out_dir=out_dir, kind="toy", device="cpu",
                  progress=False, seed=0)
    return model, history


def _worker(rank, world, port, cfg, out_dirs, result_dir):
    """Train the toy model into each of out_dirs in turn (resuming where one holds a checkpoint)."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        for i, out_dir in enumerate(out_dirs):
            model, history = train_toy(cfg, out_dir)
            torch.save({"model": model.state_dict(), "loss": history["loss"], "step": history["step"]},
                       os.path.join(result_dir, f"run{i}_rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def run_processes(world, cfg, out_dirs, tmp_path):
    """Train the toy model in `world` gloo processes into each of out_dirs; per run, the result of each rank."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    results = tmp_path / "results"
    results.mkdir(exist_ok=True)
    mp.spawn(_worker, args=(world, port, cfg, [str(d) for d in out_dirs], str(results)), nprocs=world, join=True)
    return [[torch.load(results / f"run{i}_rank{r}.pt", weights_only=True) for r in range(world)]
            for i in range(len(out_dirs))]


def assert_same_weights(a: dict, b: dict, atol: float):
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=atol, rtol=0, msg=key)


def test_two_processes_match_one_and_resume_across_world_sizes(tmp_path):
    cfg = toy_cfg()
    single, single_history = train_toy(cfg)
    # one process stops at step 4 (inside epoch 0); two processes resume it and cross into epoch 1
    train_toy(replace(cfg, steps=4), tmp_path / "resume")
    assert load_checkpoint(tmp_path / "resume" / "toy_last.pt")["data"] == {
        "epoch": 0, "batches": 4, "batch_size": BATCH, "grad_accum": 1, "world": 1}

    ranks, resumed = run_processes(2, cfg, [tmp_path / "two", tmp_path / "resume"], tmp_path)
    assert_same_weights(ranks[0]["model"], ranks[1]["model"], atol=0.0)        # DDP keeps the ranks identical
    assert_same_weights(ranks[0]["model"], single.state_dict(), atol=1e-5)     # the same global batches
    np.testing.assert_allclose(ranks[0]["loss"], single_history["loss"], rtol=1e-5)  # logged over both ranks
    written = load_checkpoint(tmp_path / "two" / "toy_last.pt", kind="toy")
    assert written["step"] == 8 and written["data"]["world"] == 2 and written["data"]["batch_size"] == BATCH
    assert not (tmp_path / "two" / "toy.lock").exists()
    assert resumed[0]["step"] == list(range(8))                                # continued at step 4
    assert_same_weights(resumed[0]["model"], single.state_dict(), atol=1e-5)   # as if never interrupted


def test_gradient_accumulation_of_half_batches_equals_one_full_batch():
    full, full_history = train_toy(toy_cfg())
    half, half_history = train_toy(toy_cfg(batch_size=BATCH // 2, grad_accum=2))
    assert len(half_history["loss"]) == 8                                      # optimiser steps, not micro-steps
    assert_same_weights(half.state_dict(), full.state_dict(), atol=1e-6)
    np.testing.assert_allclose(half_history["loss"], full_history["loss"], rtol=1e-5)


def test_resume_with_a_smaller_batch_and_accumulation_skips_the_same_samples(tmp_path):
    cfg = toy_cfg()
    full, _ = train_toy(cfg)
    train_toy(replace(cfg, steps=3), tmp_path)
    resumed, history = train_toy(replace(cfg, batch_size=BATCH // 2, grad_accum=2), tmp_path)
    assert history["step"] == list(range(8))
    assert_same_weights(resumed.state_dict(), full.state_dict(), atol=1e-6)


def test_the_sampler_keeps_the_shuffling_loader_order_and_shares_global_batches():
    data = TensorDataset(torch.arange(23))
    for drop_last in (True, False):
        torch.manual_seed(7)
        shuffled = [b[0].tolist() for b in DataLoader(data, batch_size=4, shuffle=True, drop_last=drop_last)]
        torch.manual_seed(7)
        ours = [b[0].tolist() for b in train_loader(data, TrainConfig(batch_size=4), drop_last=drop_last)]
        assert ours == shuffled and len(ours) == (5 if drop_last else 6)
    shares = []
    for rank, world in ((0, 1), (0, 2), (1, 2)):
        torch.manual_seed(7)
        shares.append(list(GlobalBatchSampler(23, 4, rank=rank, world=world)))
    whole, first, second = shares
    assert len(whole) == 20 and len(first) == len(second) == 10
    for i in range(5):  # each global batch of one process is split between two
        assert sorted(first[2 * i: 2 * i + 2] + second[2 * i: 2 * i + 2]) == sorted(whole[4 * i: 4 * i + 4])


def test_batch_sizes_that_do_not_divide_among_processes_are_refused():
    assert per_process_batch(52, 4) == 13
    with pytest.raises(ValueError, match="batch_size 52 .* must divide among 8 processes"):
        per_process_batch(52, 8)
    with pytest.raises(ValueError, match="rank must lie in 0..1"):
        GlobalBatchSampler(10, 4, rank=2, world=2)
    with pytest.raises(ValueError, match="drop_last=True"):
        GlobalBatchSampler(10, 4, rank=0, world=2, drop_last=False)


def test_compile_flag_wraps_the_model_and_checkpoints_keep_plain_names(tmp_path, monkeypatch):
    calls = []
    real_compile = torch.compile

    def eager_compile(model, **kw):  # the eager backend: dynamo's wrapper without a C++ compiler
        calls.append(model)
        return real_compile(model, backend="eager")

    monkeypatch.setattr(torch, "compile", eager_compile)
    plain, _ = train_toy(toy_cfg(steps=3))
    compiled, _ = train_toy(toy_cfg(steps=3, compile=True), tmp_path)
    assert len(calls) == 1
    saved = load_checkpoint(tmp_path / "toy_last.pt")["model"]
    assert saved.keys() == plain.state_dict().keys()                           # no "_orig_mod." prefix
    assert_same_weights(compiled.state_dict(), plain.state_dict(), atol=1e-6)


# ------------------------------------------------------------------------------------- data sources

def test_data_sources_parse_with_clear_errors():
    assert parse_source("synthetic") == ("synthetic", None)
    kind, folder = parse_source("interhuman:/data/InterHuman")
    assert kind == "interhuman" and str(folder) == "/data/InterHuman"
    with pytest.raises(ValueError, match="unknown data source 'humanml3d:/x'"):
        parse_source("humanml3d:/x")
    with pytest.raises(ValueError, match="names no folder"):
        parse_source("interx")
    with pytest.raises(ValueError, match="takes no folder"):
        parse_source("synthetic:/x")


def test_resampling_a_clip_keeps_the_motion_in_time(tmp_path):
    from features_helpers import smooth_pair

    from intermask_lite.data.clip import Clip
    joints = smooth_pair(41, fps=20.0).astype(np.float32)                    # (2, 41, 22, 3): 2 s
    contacts = np.zeros((2, 41, 4), dtype=bool)
    contacts[:, 20:] = True
    clip = Clip(joints=joints, fps=20.0, captions=["two people sway"], contacts=contacts)
    out = resample_clip(clip, 30)
    assert out.fps == 30 and out.n_frames == 61 and out.seconds == pytest.approx(clip.seconds, rel=0.03)
    np.testing.assert_allclose(out.joints[:, ::3], joints[:, ::2], atol=1e-6)  # frames at the same times
    assert out.contacts.shape == (2, 61, 4) and not out.contacts[:, 29].any() and out.contacts[:, 31].all()
    assert resample_clip(clip, 20) is clip


def test_training_clips_read_an_interhuman_folder_at_the_presets_rate(tmp_path):
    from features_helpers import smooth_pair
    from test_loaders import write_interhuman
    clips = {f"{i}": (smooth_pair(48, seed=i, fps=30.0), [f"caption {i}"]) for i in range(3)}
    write_interhuman(tmp_path, clips, split="train")
    write_interhuman(tmp_path, {"9": clips["0"]}, split="val")
    preset = with_overrides(get_preset("paper"), [f"data.source=interhuman:{tmp_path}"])
    train, val = training_clips(preset)
    assert [c.clip_id for c in train] == ["0", "1", "2"] and [c.clip_id for c in val] == ["9"]
    assert all(c.fps == 30 for c in train + val)
    lab = with_overrides(get_preset("lab"), [f"data.source=interhuman:{tmp_path}"])
    assert {c.fps for c in training_clips(lab)[0]} == {20.0} and training_clips(lab)[0][0].n_frames == 32


def test_paper_preset_has_the_papers_sizes():
    p = get_preset("paper")
    assert (p.vq.width, p.vq.nb_code, p.vq.code_dim) == (512, 1024, 512)
    assert (p.transformer.n_layers, p.transformer.latent_dim, p.transformer.n_heads) == (6, 384, 6)
    assert (p.data.max_frames, p.data.fps) == (300, 30) and p.data.source == "synthetic"


def test_train_command_refuses_an_unknown_data_source(capsys):
    assert cli.main(["train", "vq", "--preset", "smoke", "--data", "somewhere:/x"]) == 2  # bad input
    assert "unknown data source 'somewhere:/x'" in capsys.readouterr().err
