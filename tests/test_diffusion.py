"""The InterGen-style diffusion baseline: noise schedule, DDIM step, guidance, determinism, training, size."""
import math

import numpy as np
import pytest
import torch

from intermask_lite.baselines.diffusion import (DiffusionConfig, alpha_bars, ddim_sample, ddim_step, ddim_timesteps,
                                                diffusion_config, guided_prediction)
from intermask_lite.baselines.diffusion_train import (DiffusionKit, build_diffusion, generate_joints, load_diffusion,
                                                      motion_features, train_diffusion)
from intermask_lite.config import lab, smoke
from intermask_lite.data.synthetic import make_dataset, split_dataset

CAPTIONS = ["two people shake hands", "one person pushes the other", "they hug"]


@pytest.fixture(scope="module")
def clips():
    return make_dataset(smoke().data.n_clips, 0, progress=False)


def random_model(seed=0, **overrides):
    """A smoke denoiser with every weight random (adaLN-Zero gates start at 0, which would hide the blocks)."""
    torch.manual_seed(seed)
    model = build_diffusion(smoke(), DiffusionConfig(latent_dim=32, n_layers=1, n_heads=2, timesteps=100,
                                                     **overrides), CAPTIONS)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.2)
    return model.eval()


@pytest.mark.parametrize("schedule", ["cosine", "linear"])
def test_alpha_bar_runs_from_one_to_zero_monotonically(schedule):
    ab = alpha_bars(1000, schedule)
    assert ab.shape == (1000,)
    assert ab[0] > 0.999 and ab[-1] < 1e-3
    assert (ab[1:] < ab[:-1]).all()


def test_cosine_alpha_bar_known_value_and_errors():
    s = 0.008
    f = lambda t: math.cos((t / 1000 + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    assert float(alpha_bars(1000)[499]) == pytest.approx(f(500) / f(0), rel=1e-9)
    with pytest.raises(ValueError, match="noise schedule"):
        alpha_bars(100, "quadratic")
    with pytest.raises(ValueError, match="timesteps"):
        alpha_bars(1)


def test_ddim_timesteps():
    assert ddim_timesteps(1000, 4) == [999, 666, 333, 0]
    assert ddim_timesteps(10, 1) == [0]
    with pytest.raises(ValueError, match="DDIM steps"):
        ddim_timesteps(10, 11)


def test_ddim_step_hand_computed():
    # x_t = 1, eps = 0.5, alpha_bar_t = 0.25, alpha_bar_prev = 0.64
    x_t, eps = torch.tensor([1.0]), torch.tensor([0.5])
    x0 = (1 - math.sqrt(0.75) * 0.5) / 0.5                        # 1.1339746
    out = ddim_step(x_t, torch.tensor([x0]), eps, 0.25, 0.64)
    assert float(out) == pytest.approx(0.8 * 1.1339746 + 0.6 * 0.5, abs=1e-6)   # 1.2071797
    # eta = 1, z = 1: sigma = sqrt(0.36 / 0.75) * sqrt(1 - 0.25 / 0.64) = 0.5408327
    noisy = ddim_step(x_t, torch.tensor([x0]), eps, 0.25, 0.64, eta=1.0, noise=torch.tensor([1.0]))
    assert float(noisy) == pytest.approx(0.8 * 1.1339746 + math.sqrt(0.36 - 0.5408327 ** 2) * 0.5 + 0.5408327,
                                         abs=1e-6)
    assert torch.equal(ddim_step(x_t, torch.tensor([x0]), eps, 0.25, 1.0), torch.tensor([x0]))  # the last step
    with pytest.raises(ValueError, match="noise"):
        ddim_step(x_t, torch.tensor([x0]), eps, 0.25, 0.64, eta=1.0)


def test_guidance_one_is_the_conditional_pass_and_zero_the_unconditional():
    model = random_model()
    x = torch.randn(2, 2, 12, 132)
    t, valid = torch.tensor([5, 50]), torch.ones(2, 12, dtype=torch.bool)
    pooled = model.encode_text(CAPTIONS[:2])
    with torch.no_grad():
        cond = model(x, t, pooled, valid)
        uncond = model(x, t, model.encode_text([None, None]), valid)
        assert torch.equal(guided_prediction(model, x, t, pooled, valid, 1.0), cond)
        assert torch.allclose(guided_prediction(model, x, t, pooled, valid, 0.0), uncond, atol=1e-5)
        assert torch.allclose(guided_prediction(model, x, t, pooled, valid, 3.0), uncond + 3 * (cond - uncond),
                              atol=1e-4)
        assert not torch.allclose(cond, uncond)  # the text matters, so the checks above could fail


@pytest.mark.parametrize("prediction", ["x0", "eps"])
def test_ddim_sampling_is_deterministic_with_a_seed(prediction):
    model = random_model(prediction=prediction)
    run = lambda seed: ddim_sample(model, CAPTIONS[:2], [12, 8], steps=4, guidance=2.0,  # noqa: E731
                                   generator=torch.Generator().manual_seed(seed))
    a, b, c = run(0), run(0), run(1)
    assert a.shape == (2, 2, 12, 132) and torch.isfinite(a).all()
    assert torch.equal(a, b) and not torch.allclose(a, c)
    assert (a[1, :, 8:] == 0).all() and (a[1, :, :8] != 0).any()  # frames past the second length stay zero


def test_both_people_share_weights_so_swapping_them_swaps_the_prediction():
    model = random_model()
    x, t, valid = torch.randn(1, 2, 10, 132), torch.tensor([30]), torch.ones(1, 10, dtype=torch.bool)
    with torch.no_grad():
        out = model(x, t, CAPTIONS[:1], valid)
        swapped = model(x.flip(1), t, CAPTIONS[:1], valid)
    assert torch.allclose(out.flip(1), swapped, atol=1e-5)


def test_motion_features_are_positions_then_velocities():
    joints = np.random.default_rng(0).normal(size=(2, 5, 22, 3)).astype(np.float32)
    feats = motion_features(joints)
    assert feats.shape == (2, 5, 132)
    assert np.allclose(feats[..., :66].reshape(2, 5, 22, 3), joints)
    assert np.allclose(feats[:, 0, 66:].reshape(2, 22, 3), joints[:, 1] - joints[:, 0])


def test_train_a_few_steps_save_reload_and_generate(clips, tmp_path):
    train = split_dataset(clips)["train"]
    model, history = train_diffusion("smoke", train, train[:4], out_dir=tmp_path, progress=False)
    assert len(history["loss"]) == smoke().transformer_train.steps and np.isfinite(history["loss"]).all()
    assert "val_loss" in history
    again, preset = load_diffusion(tmp_path / "diffusion_last.pt")
    assert preset.name == "smoke"
    first = generate_joints(model, ["two people shake hands"], [16], seed=3)
    assert first[0].shape == (2, 16, 22, 3)
    assert np.allclose(first[0], generate_joints(again, ["two people shake hands"], [16], seed=3)[0], atol=1e-5)
    motions = DiffusionKit(preset, again).generate(["a hug", "a push"], seconds=1.0, samples=2, seed=0)
    assert len(motions) == 4 and motions[0].joints.shape == (2, 20, 22, 3) and motions[2].text == "a push"
    with pytest.raises(ValueError, match="frames"):
        DiffusionKit(preset, again).generate("a hug", seconds=100.0)


def test_lab_diffusion_size_is_comparable_to_the_lab_transformer():
    from intermask_lite.mask_transformer.training import build_transformer
    captions = [c for clip in make_dataset(48, 0, progress=False) for c in clip.captions]
    diffusion = build_diffusion(lab(), diffusion_config("lab"), captions)
    transformer = build_transformer(lab(), lab().vq.nb_code, captions)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert abs(count(diffusion) / count(transformer) - 1) < 0.05
    with pytest.raises(ValueError, match="preset"):
        diffusion_config("huge")
