"""The tokenizer: shapes, length rule, quantizer behaviour, gradients, overfitting, 1D variant."""
import math

import pytest
import torch

from intermask_lite.config import TokenizerStudyConfig, VQConfig
from intermask_lite.vq.losses import foot_contact, reconstruction_losses
from intermask_lite.vq.model import MotionTokenizer, grid_stats, pad_to_multiple, root_spread
from intermask_lite.vq.quantizer import EMAQuantizer

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py

TINY = dict(nb_code=16, code_dim=8, width=16, depth=1)



def tiny(kind="2d", **study):
    """A tiny tokenizer; keyword arguments are TokenizerStudyConfig switches."""
    torch.manual_seed(0)
    return MotionTokenizer(VQConfig(kind=kind, **TINY), study=TokenizerStudyConfig(**study))


@pytest.mark.parametrize("length", [16, 32, 60])
def test_shapes_2d(length):
    model = tiny()
    grid = torch.randn(3, 12, 22, length)
    recon, commit, stats = model(grid)
    assert recon.shape == grid.shape and commit.ndim == 0
    tokens = model.encode(grid)
    assert tokens.shape == (3, 5, length // 4) and tokens.dtype == torch.long
    assert model.decode(tokens).shape == grid.shape
    assert model.grid_to_joints(grid).shape == (3, length, 22, 3)
    assert {"perplexity", "usage", "dead_codes"} <= set(stats)


@pytest.mark.parametrize("length", [16, 60])
def test_shapes_1d(length):
    model = tiny("1d")
    grid = torch.randn(2, 12, 22, length)
    tokens = model.encode(grid)
    assert tokens.shape == (2, 1, length // 4)
    assert model.decode(tokens).shape == grid.shape
    assert model(grid)[0].shape == grid.shape


def test_one_encoder_and_one_decoder_class_build_both_tokenizers():
    from intermask_lite.vq.encdec import Decoder, Encoder
    grid = torch.randn(2, 12, 22, 32)                                  # (B, 12, 22, T)
    for kind, dims, rows in (("2d", 2, 5), ("1d", 1, 1)):
        model = tiny(kind).eval()
        assert type(model.encoder) is Encoder and type(model.decoder) is Decoder
        assert model.encoder.dims == model.decoder.dims == dims
        with torch.no_grad():
            z = model._latent(grid)                                    # (B, D, rows, T/4)
            assert z.shape == (2, TINY["code_dim"], rows, 32 // 4)
            assert model._decode_latent(z).shape == grid.shape
    with pytest.raises(ValueError, match="dims must be 1 or 2"):
        Encoder(12, 16, 8, 1, 3, dims=3)


def reference_forward(state: dict, cfg, grid: torch.Tensor) -> torch.Tensor:
    """The 2D tokenizer written out layer by layer from its state dict: grid (B, 12, 22, T) -> (B, 12, 22, T)."""
    import torch.nn.functional as F

    from intermask_lite.vq import encdec

    def conv(name, x, stride=1, padding=1, dilation=1):
        return F.conv2d(x, state[name + ".weight"], state[name + ".bias"], stride, padding, dilation)

    def res(prefix, x, dilations):
        for i, d in enumerate(dilations):
            h = F.relu(conv(f"{prefix}.{i}.conv1", F.relu(x), padding=d, dilation=d))
            x = x + conv(f"{prefix}.{i}.conv2", h, padding=0)
        return x

    dilations = [cfg.dilation_growth ** i for i in range(cfg.depth)]
    x = grid.contiguous(memory_format=encdec.conv_layout(grid))
    x = F.relu(conv("encoder.net.0", x))                               # (B, W, 22, T)
    x = res("encoder.net.3", conv("encoder.net.2", x, stride=2), dilations)  # (B, W, 11, T/2)
    x = res("encoder.net.5", conv("encoder.net.4", x, stride=2), dilations)  # (B, W, 5, T/4)
    z = conv("encoder.net.6", x)                                       # (B, D, 5, T/4)
    b, d, r, t = z.shape
    quantizer = EMAQuantizer(cfg.nb_code, cfg.code_dim)
    quantizer.codebook.copy_(state["quantizer.codebook"])
    codes = quantizer.assign(z.permute(0, 2, 3, 1).reshape(-1, d), stochastic=False)  # (B*5*T/4,)
    x = quantizer.lookup(codes).reshape(b, r, t, d).permute(0, 3, 1, 2)  # (B, D, 5, T/4)
    x = F.relu(conv("decoder.net.0", x.contiguous(memory_format=encdec.conv_layout(x))))
    for i, joints in ((2, 11), (3, 22)):                               # joints 5 -> 11 -> 22, time x2 each
        x = res(f"decoder.net.{i}.res", x, dilations[::-1])
        x = conv(f"decoder.net.{i}.conv", F.interpolate(x, size=(joints, x.shape[-1] * 2), mode="nearest"))
    return conv("decoder.net.6", F.relu(conv("decoder.net.4", x)))     # (B, 12, 22, T)


def test_the_shipped_tokenizer_reconstructs_as_its_layers_written_out():
    from intermask_lite.vq.pipeline import load_tokenizer
    tok = load_tokenizer("data/checkpoints/lab_vq.pt").eval()
    grid = torch.randn(2, 12, 22, 64, generator=torch.Generator().manual_seed(0))  # (B, 12, 22, T)
    with torch.no_grad():
        recon = tok.reconstruct(grid)                                  # (B, 12, 22, T)
        assert torch.equal(recon, reference_forward(tok.state_dict(), tok.cfg, grid))
        tokens = tok.encode(grid)                                      # (B, 5, T/4)
    # the tokens are those of the tokenizer before its decoder was tuned for read-back (vq.readback freezes the encoder)
    assert tokens[0, :, 0].tolist() == [170, 384, 147, 465, 511] and int(tokens.sum()) == 40441
    expected = torch.tensor([[-0.1462171, -0.1529035], [-0.2323078, -0.2630143], [0.0010007, -0.0133577]])
    assert torch.allclose(recon[0, :3, 0, :2], expected, atol=1e-4)   # the layouts differ by up to ~1e-5


def test_the_convolution_layout_is_a_setting_and_both_layouts_compute_the_same(monkeypatch):
    from intermask_lite.vq import encdec
    grid = torch.randn(2, 12, 22, 32)
    monkeypatch.delenv("INTERMASK_CONV_LAYOUT", raising=False)
    assert encdec.conv_layout(grid) == torch.channels_last             # the default
    monkeypatch.setenv("INTERMASK_CONV_LAYOUT", "standard")
    assert encdec.conv_layout(grid) == torch.contiguous_format
    monkeypatch.setenv("INTERMASK_CONV_LAYOUT", "nhwc")
    with pytest.raises(ValueError, match="INTERMASK_CONV_LAYOUT='nhwc'; expected one of"):
        encdec.conv_layout(grid)
    monkeypatch.setenv("INTERMASK_CONV_LAYOUT", "standard")
    model = tiny().eval()
    with torch.no_grad():
        plain_latent, plain_ids, plain_recon = model._latent(grid), model.encode(grid), model.reconstruct(grid)
        monkeypatch.setattr(encdec, "conv_layout", lambda x: torch.channels_last)
        assert torch.allclose(model._latent(grid), plain_latent, atol=1e-5)
        assert torch.equal(model.encode(grid), plain_ids)
        assert torch.allclose(model.reconstruct(grid), plain_recon, atol=1e-5)


def test_chain_joint_order_is_the_plain_network_on_a_re_laid_grid():
    from intermask_lite.skeleton import CHAIN_ORDER
    plain, chains = tiny().eval(), tiny(joint_order="chains").eval()   # same seed: the same weights
    back = [CHAIN_ORDER.index(j) for j in range(22)]
    grid = torch.randn(2, 12, 22, 16)
    with torch.no_grad():
        assert torch.equal(chains.encode(grid), plain.encode(grid[:, :, CHAIN_ORDER]))
        tokens = chains.encode(grid)
        assert torch.equal(chains.decode(tokens), plain.decode(tokens)[:, :, back])  # outputs in skeleton order
        recon, _, _ = chains(grid)
        assert recon.shape == grid.shape
    with pytest.raises(ValueError, match="joint_order must be one of"):
        tiny(joint_order="alphabetical")
    with pytest.raises(ValueError, match="2D tokenizer"):
        tiny("1d", joint_order="chains")


@pytest.mark.parametrize("preset", ["smoke", "lab", "paper"])
def test_1d_and_2d_parameter_counts_agree_within_10_percent(preset):
    from dataclasses import replace
    from intermask_lite.config import get_preset
    cfg = get_preset(preset).vq
    with torch.device("meta"):  # the paper's 41 M parameters: shapes only
        n2 = MotionTokenizer(replace(cfg, kind="2d")).n_params()
        n1 = MotionTokenizer(replace(cfg, kind="1d")).n_params()
    assert abs(n1 / n2 - 1) < 0.1, (n1, n2)
    with torch.device("meta"):  # an explicit width_1d overrides the matched one
        assert MotionTokenizer(replace(cfg, kind="1d", width_1d=8)).n_params() < n1


def test_length_not_multiple_of_4_errors_clearly():
    model = tiny()
    with pytest.raises(ValueError, match=r"T=30 must be a positive multiple of 4"):
        model.encode(torch.randn(1, 12, 22, 30))
    with pytest.raises(ValueError, match=r"\(B, 12, 22, T\)"):
        model(torch.randn(1, 22, 12, 32))
    padded, length = pad_to_multiple(torch.randn(1, 12, 22, 30))
    assert padded.shape[-1] == 32 and length == 30
    assert torch.equal(padded[..., 30], padded[..., 29])
    assert model.encode(padded).shape == (1, 5, 8)


def test_decode_rejects_bad_tokens():
    model = tiny()
    with pytest.raises(ValueError, match=r"\[0, 15\]"):
        model.decode(torch.full((1, 5, 4), 16))
    with pytest.raises(ValueError, match=r"\(B, 5, T/4\)"):
        model.decode(torch.zeros(1, 4, 4, dtype=torch.long))


def test_indices_valid_and_straight_through_gradient_reaches_encoder():
    model = tiny()
    grid = torch.randn(2, 12, 22, 16)
    tokens = model.encode(grid)
    assert tokens.min() >= 0 and tokens.max() < 16
    recon, commit, _ = model(grid)
    recon.pow(2).mean().backward()  # the decoder's loss only, no commitment term
    first = model.encoder.net[0].weight.grad
    assert first is not None and first.abs().sum() > 0


def test_ema_moves_used_codes_and_leaves_unused_ones():
    q = EMAQuantizer(nb_code=4, code_dim=2, mu=0.5)
    q.train()
    q.codebook.copy_(torch.tensor([[0.0, 0.0], [10.0, 10.0], [-10.0, 10.0], [10.0, -10.0]]))
    q.code_count.fill_(5.0)  # alive for a few steps
    q.code_sum.copy_(q.codebook * 5.0)  # consistent state: codebook = code_sum / code_count
    q.initialised.fill_(True)
    before = q.codebook.clone()
    x = torch.tensor([[1.0, 1.0], [1.0, 1.0], [9.0, 9.0]])  # codes 0 and 1 used
    _, codes, _, _ = q(x)
    assert codes.tolist() == [0, 0, 1]
    assert not torch.allclose(q.codebook[0], before[0]) and not torch.allclose(q.codebook[1], before[1])
    assert torch.equal(q.codebook[2:], before[2:])
    # code 0: (0.5 * 5 * [0, 0] + 0.5 * [2, 2]) / (0.5 * 5 + 0.5 * 2)
    assert torch.allclose(q.codebook[0], torch.tensor([1.0, 1.0]) / 3.5)


def test_dead_codes_are_reset_to_encoder_outputs():
    q = EMAQuantizer(nb_code=4, code_dim=2, mu=0.9)
    q.train()
    q.codebook.copy_(torch.tensor([[0.0, 0.0], [100.0, 100.0], [-100.0, 100.0], [100.0, -100.0]]))
    q.code_sum.copy_(q.codebook * 0.5)
    q.code_count.fill_(0.5)  # every code below the dead threshold of 1
    q.initialised.fill_(True)
    x = torch.randn(64, 2) * 0.1
    _, _, _, stats = q(x)
    assert stats["dead_codes"] >= 3
    for k in range(1, 4):  # the far-away codes now sit on encoder outputs
        assert (x - q.codebook[k]).norm(dim=-1).min() < 1e-5


def test_dead_codes_stay_when_resets_are_off():
    q = EMAQuantizer(nb_code=4, code_dim=2, mu=0.9)
    q.train()
    q.codebook.copy_(torch.tensor([[0.0, 0.0], [100.0, 100.0], [-100.0, 100.0], [100.0, -100.0]]))
    q.code_sum.copy_(q.codebook * 0.5)
    q.code_count.fill_(0.5)
    q.initialised.fill_(True)
    q.reset_dead = False
    _, codes, _, stats = q(torch.randn(64, 2) * 0.1)
    assert stats["dead_codes"] == 0 and set(codes.tolist()) == {0}
    assert torch.allclose(q.codebook[1:], torch.tensor([[100.0, 100.0], [-100.0, 100.0], [100.0, -100.0]]))


def test_training_resets_dead_codes_only_for_the_first_reset_until_of_the_steps():
    from dataclasses import replace

    from intermask_lite.config import smoke
    from intermask_lite.data.sources import training_clips
    from intermask_lite.vq.pipeline import train_tokenizer
    cfg = smoke()  # 320 token positions per batch for 256 codes: unused codes die at every step
    cfg = replace(cfg, vq=replace(cfg.vq, nb_code=256, reset_until=0.5), vq_train=replace(cfg.vq_train, steps=6))
    model, hist = train_tokenizer(cfg, *training_clips(cfg), device="cpu", progress=False)
    assert min(hist["dead_codes"][:3]) > 0 and hist["dead_codes"][3:] == [0.0, 0.0, 0.0]
    assert model.quantizer.reset_dead  # the returned model resets again if trained further
    with pytest.raises(ValueError, match="reset_until is a share of the training steps"):
        MotionTokenizer(VQConfig(reset_until=1.5))


def test_the_foot_term_counts_from_foot_from_of_the_steps_on():
    from dataclasses import replace

    from intermask_lite.config import smoke
    from intermask_lite.data.sources import training_clips
    from intermask_lite.vq.pipeline import train_tokenizer
    cfg = smoke()
    cfg = replace(cfg, vq=replace(cfg.vq, w_foot=50.0), vq_study=replace(cfg.vq_study, foot_from=0.5),
                  vq_train=replace(cfg.vq_train, steps=6))
    _, hist = train_tokenizer(cfg, *training_clips(cfg), device="cpu", progress=False)
    w = cfg.vq
    assert min(hist["foot"]) > 0                                       # the term is measured at every step
    for step, loss in enumerate(hist["loss"]):
        others = sum(getattr(w, f"w_{k}") * hist[k][step] for k in ("feat", "pos", "vel", "bone", "geo"))
        others += w.w_commit * hist["commit"][step]
        foot = w.w_foot * hist["foot"][step] if step >= 3 else 0.0
        assert loss == pytest.approx(others + foot, rel=1e-4), step
    with pytest.raises(ValueError, match="foot_from is a share of the training steps"):
        MotionTokenizer(VQConfig(), study=TokenizerStudyConfig(foot_from=-0.1))


def test_root_spread_tells_kept_from_collapsed_placement():
    torch.manual_seed(0)
    truth = torch.randn(50, 3) * torch.tensor([2.0, 0.1, 1.0])        # (N, 3) roots spread on the floor
    assert root_spread(truth, truth) == pytest.approx(1.0)
    assert root_spread(truth * torch.tensor([1.0, 1.0, 0.5]), truth) == pytest.approx(0.5)  # the worse axis
    collapsed = truth * torch.tensor([0.0, 1.0, 1.0])                  # every root at x = 0
    assert root_spread(collapsed, truth) == 0.0
    standing = torch.zeros(50, 3)                                      # no spread to keep
    assert math.isnan(root_spread(truth, standing))
    with pytest.raises(ValueError, match="root position tensors"):
        root_spread(truth, truth[:10])


def test_placement_warning_reads_the_last_validation_root_spread():
    from intermask_lite.vq.pipeline import placement_warning
    warning = placement_warning({"val_root_spread": [0.9, 0.04]})
    assert "kept 0.04 of the true spread" in warning and "x = 0 basin" in warning and "another seed" in warning
    assert placement_warning({"val_root_spread": [0.04, 0.9]}) is None        # climbed out: fine
    assert placement_warning({"val_root_spread": [float("nan")]}) is None     # nothing to keep
    assert placement_warning({"loss": [1.0]}) is None                         # never validated


def test_training_records_the_validation_root_spread(monkeypatch):
    from dataclasses import replace

    from intermask_lite.config import smoke
    from intermask_lite.data.sources import training_clips
    from intermask_lite.vq import pipeline
    cfg = smoke()
    cfg = replace(cfg, vq_train=replace(cfg.vq_train, steps=4, eval_every=2))
    seen = []
    monkeypatch.setattr(pipeline, "root_spread", lambda pred, truth: seen.append(pred.shape) or 0.04)
    _, hist = pipeline.train_tokenizer(cfg, *training_clips(cfg), device="cpu", progress=False)
    assert hist["val_root_spread"] == [0.04, 0.04]
    assert seen[0][1:] == (cfg.data.window, 3)                          # roots (windows, frames, xyz)


def test_stochastic_assignment_in_training_nearest_in_eval():
    q = EMAQuantizer(nb_code=8, code_dim=4, mu=0.99, gumbel_temp=50.0)
    torch.manual_seed(0)
    q.codebook.copy_(torch.randn(8, 4))
    q.initialised.fill_(True)
    x = torch.randn(200, 4)
    nearest = q.assign(x, stochastic=False)
    assert torch.equal(nearest, q.distances(x).argmin(-1))
    sampled = q.assign(x, stochastic=True)
    assert (sampled != nearest).any()  # high temperature: some picks differ from the nearest code
    q.eval()
    _, codes, _, _ = q(x)
    assert torch.equal(codes, nearest)


def test_overfitting_one_batch_reduces_loss_tenfold():
    torch.manual_seed(0)
    cfg = VQConfig(nb_code=16, code_dim=16, width=32, depth=1, gumbel_temp=0.0)
    model = MotionTokenizer(cfg)
    grid = torch.randn(1, 12, 22, 8) * 0.5
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)

    def loss_now():
        recon, commit, _ = model(grid)
        return reconstruction_losses(recon, grid, model.grid_mean, model.grid_std, cfg)[0] + cfg.w_commit * commit

    first = float(loss_now().detach())
    for _ in range(300):
        opt.zero_grad()
        loss = loss_now()
        loss.backward()
        opt.step()
    last = float(loss.detach())
    assert last < first / 10, (first, last)


def test_losses_zero_on_identical_grids_and_contact_detection():
    cfg = VQConfig()
    grid = torch.randn(2, 12, 22, 8)
    mean, std = torch.zeros(12, 22), torch.ones(12, 22)
    total, terms = reconstruction_losses(grid, grid, mean, std, cfg)
    assert terms["feat"] == 0 and terms["pos"] == 0 and terms["bone"] == 0
    assert terms["geo"] < 1e-2  # acos clamp leaves a tiny angle
    joints = torch.zeros(1, 3, 22, 3)
    joints[:, :, :, 1] = 1.0                 # everything high ...
    joints[:, :, [7, 10], 1] = 0.0           # ... but the left foot on the floor, still
    contact = foot_contact(joints)
    assert contact.shape == (1, 2, 4)
    assert contact[..., :2].all() and not contact[..., 2:].any()


def test_losses_keep_float32_and_finite_gradients_under_bf16_autocast():
    gt = torch.randn(2, 12, 22, 16)
    pred = gt.clone().requires_grad_()   # exact rotations: in bf16 the acos clamp would round to 1 (gradient inf)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        total, terms = reconstruction_losses(pred, gt, torch.zeros(12, 22), torch.ones(12, 22), VQConfig())
    total.backward()
    assert total.dtype == torch.float32 and terms["geo"] < 1e-2
    assert torch.isfinite(pred.grad).all()


def test_grid_stats_from_feature_normaliser_state():
    mean, std = torch.arange(262.0), torch.full((262,), 2.0)
    gm, gs = grid_stats({"mean": mean, "std": std})
    assert gm.shape == (12, 22) and gm[0, 0] == 0 and gm[0, 1] == 3  # joint 1's x position = feature 3
    assert gs[6, 0] == 1.0                   # the empty root rotation slot is not divided by zero
    with pytest.raises(ValueError, match="mean"):
        grid_stats({"avg": mean})


def test_train_tokenizer_same_seed_same_weights_whatever_ran_before():
    from intermask_lite.config import smoke
    from intermask_lite.data.sources import training_clips
    from intermask_lite.vq.pipeline import train_tokenizer
    cfg = smoke()
    weights = []
    for seed, earlier in ((0, 1), (0, 2), (1, 1)):
        torch.manual_seed(earlier)                 # the global random state left by whatever ran before
        model, _ = train_tokenizer(cfg, *training_clips(cfg), device="cpu", progress=False, seed=seed)
        weights.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert torch.equal(weights[0], weights[1]) and not torch.equal(weights[0], weights[2])


def test_same_seed_same_weights():
    a, b = tiny(), tiny()
    for pa, pb in zip(a.state_dict().values(), b.state_dict().values()):
        assert torch.equal(pa, pb)


def test_without_the_codebook_the_network_is_a_plain_autoencoder():
    model = tiny(quantize=False).eval()
    grid = torch.randn(2, 12, 22, 16)
    recon, commit, stats = model(grid)
    assert torch.equal(recon, model.decoder(model.encoder(grid)))      # nothing between encoder and decoder
    assert float(commit) == 0.0 and stats == {}
    assert torch.equal(model.reconstruct(grid), recon)
    assert not bool(model.quantizer.initialised)                     # the codebook never ran
    with pytest.raises(ValueError, match="quantize=False.*no tokens"):
        model.encode(grid)
    with pytest.raises(ValueError, match="quantize=False.*no tokens"):
        model.decode(torch.zeros(2, 5, 4, dtype=torch.long))
    coded = tiny()                                                    # the same weights, with the codebook
    coded(grid)                                                       # the first training batch fills it
    assert not torch.equal(coded.eval().reconstruct(grid), coded.decoder(coded.encoder(grid)))


def test_a_tokenizer_without_codebook_trains_and_evaluates():
    from dataclasses import replace

    from intermask_lite.config import smoke
    from intermask_lite.data.synthetic import load_split
    from intermask_lite.eval import evaluate_tokenizer
    from intermask_lite.data.sources import training_clips
    from intermask_lite.vq.pipeline import train_tokenizer
    cfg = smoke()
    cfg = replace(cfg, vq_study=replace(cfg.vq_study, quantize=False))
    model, hist = train_tokenizer(cfg, *training_clips(cfg), device="cpu", progress=False)
    assert "perplexity" not in hist and hist["commit"] == [0.0] * len(hist["loss"])
    assert not bool(model.quantizer.initialised)
    scores = evaluate_tokenizer(model, load_split("test", cfg.data.n_clips, cfg.data.seed)[:3])
    assert math.isfinite(scores["mpjpe_mm"]) and scores["mpjpe_mm"] > 0
    assert all(math.isnan(scores[k]) for k in ("usage", "perplexity", "dead_codes"))
