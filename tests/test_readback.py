"""The decoder tuning for read-back (vq.readback): tokens unchanged, gradients where they belong, files and errors."""
from dataclasses import replace

import numpy as np
import pytest
import torch

from intermask_lite import checkpoints, ik
from intermask_lite.config import smoke
from intermask_lite.data.features import features_to_grid, joints_to_features
from intermask_lite.data.sources import training_clips
from intermask_lite.utils import load_checkpoint
from intermask_lite.vq.pipeline import load_tokenizer, train_tokenizer
from intermask_lite.vq.readback import TUNED_NAME, readback_loss, readback_share, tune_decoder


@pytest.fixture(scope="module")
def trained(tmp_path_factory, one_thread):
    """A smoke tokenizer trained into a folder, with the preset that tunes it for 4 steps."""
    cfg = smoke()
    cfg = replace(cfg, vq_train=replace(cfg.vq_train, steps=4),
                  vq_tune=replace(cfg.vq_tune, steps=4, batch_size=8, eval_every=2))
    out = tmp_path_factory.mktemp("vq")
    tok, _ = train_tokenizer(cfg, *training_clips(cfg), out_dir=out, device="cpu", progress=False)
    return cfg, out, tok


def test_inverse_kinematics_passes_gradients_to_the_positions():
    rng = np.random.default_rng(0)
    joints = torch.tensor(rng.normal(size=(5, 22, 3)), requires_grad=True)
    local, _ = ik.joints_to_local_rotations(joints)                   # (5, 22, 3, 3)
    local[..., 1:, :, :].sum().backward()
    assert joints.grad is not None and torch.isfinite(joints.grad).all() and joints.grad.abs().sum() > 0


def test_joints_to_grid_matches_the_feature_path_and_is_differentiable(trained):
    _, _, tok = trained
    clip = training_clips(smoke())[0][0]
    joints = torch.tensor(clip.joints[:, :8], dtype=torch.float32, requires_grad=True)  # (2, 8, 22, 3)
    grid = tok.joints_to_grid(joints)                                  # (2, 12, 22, 8)
    raw = features_to_grid(joints_to_features(clip.joints[:, :8].astype(np.float32)))
    expected = (torch.as_tensor(raw) - tok.grid_mean[None, :, :, None]) / tok.grid_std[None, :, :, None]
    assert torch.allclose(grid, expected, atol=1e-4)
    grid.sum().backward()
    assert torch.isfinite(joints.grad).all() and joints.grad.abs().sum() > 0


def test_the_read_back_term_is_small_for_the_tokens_the_motion_encodes_to(trained):
    _, _, tok = trained
    clip = training_clips(smoke())[0][0]
    joints = torch.tensor(clip.joints[:, :16], dtype=torch.float32)   # (2, 16, 22, 3)
    own = tok.encode(tok.joints_to_grid(joints))                       # (2, 5, 4)
    other = (own + 1) % tok.cfg.nb_code
    with torch.no_grad():
        assert float(readback_loss(tok, joints, own)) < float(readback_loss(tok, joints, other))


def test_tuning_trains_the_decoder_alone_so_every_token_stays_the_same(trained):
    cfg, _, tok = trained
    grids = torch.stack([torch.as_tensor(features_to_grid(joints_to_features(c.joints[0, :16].astype(np.float32))))
                         for c in training_clips(cfg)[0][:4]])
    grids = (grids - tok.grid_mean[None, :, :, None]) / tok.grid_std[None, :, :, None]  # (4, 12, 22, 16)
    tuned, hist = tune_decoder(tok, cfg, *training_clips(cfg), device="cpu", progress=False)
    assert torch.equal(tuned.encode(grids), tok.encode(grids))
    assert torch.equal(tuned.quantizer.codebook, tok.quantizer.codebook)
    for name, p in tuned.encoder.state_dict().items():
        assert torch.equal(p, tok.encoder.state_dict()[name]), name
    assert any(not torch.equal(p, q) for p, q in zip(tuned.decoder.parameters(), tok.decoder.parameters()))
    assert len(hist["readback"]) == 4 and len(hist["val_readback"]) == 2
    assert 0.0 <= hist["val_readback"][-1] <= 1.0
    assert 0.0 <= readback_share(tuned, grids) <= 1.0
    assert all(p.requires_grad for p in tuned.parameters()) and not tuned.training


def test_a_tuned_tokenizer_is_written_beside_the_others_and_found_first(trained):
    cfg, out, tok = trained
    base = load_checkpoint(out / "vq_best.pt", kind="vq")
    tuned, _ = tune_decoder(tok, cfg, *training_clips(cfg), base=base, out_dir=out, device="cpu", progress=False)
    ckpt = load_checkpoint(out / TUNED_NAME, kind="vq")
    assert ckpt["extra"]["preset"]["vq_tune"]["steps"] == 4 and "tune" in ckpt["history"]
    again = load_tokenizer(out / TUNED_NAME)
    for name, p in again.state_dict().items():
        assert torch.equal(p, tuned.state_dict()[name]), name
    folder = out.parent
    (folder / cfg.name).mkdir(exist_ok=True)
    for f in out.iterdir():
        (folder / cfg.name / f.name).write_bytes(f.read_bytes())
    assert checkpoints.checkpoint_path("vq", cfg.name, folder).name == TUNED_NAME
    assert checkpoints.unfinished_step("vq", cfg, folder) is None      # trained and tuned: nothing owed
    (folder / cfg.name / TUNED_NAME).unlink()
    assert checkpoints.unfinished_step("vq", cfg, folder) == 4         # the tuning is owed: load_or_train resumes


def test_tuning_refuses_what_it_cannot_do(trained):
    cfg, out, tok = trained
    with pytest.raises(ValueError, match="vq_tune.steps=0: nothing to tune"):
        tune_decoder(tok, smoke(), *training_clips(cfg), device="cpu", progress=False)
    with pytest.raises(ValueError, match="needs base"):
        tune_decoder(tok, cfg, *training_clips(cfg), out_dir=out, device="cpu", progress=False)
    train, val = training_clips(cfg)
    with pytest.raises(ValueError, match="not the ones the tokenizer was trained on"):
        tune_decoder(tok, cfg, train[: len(train) // 2], val, device="cpu", progress=False)


def test_load_or_train_tunes_after_training_when_the_preset_asks(trained, tmp_path):
    cfg, _, _ = trained
    tok = checkpoints.load_or_train("vq", cfg, tmp_path, "cpu", progress=False, shipped=False)
    assert sorted(p.name for p in (tmp_path / cfg.name).glob("*.pt")) == [
        "vq_best.pt", "vq_last.pt", "vq_tune_best.pt", "vq_tune_last.pt", TUNED_NAME]
    again = checkpoints.load_or_train("vq", cfg, tmp_path, "cpu", progress=False, shipped=False)
    for name, p in again.state_dict().items():
        assert torch.equal(p, tok.state_dict()[name]), name
