"""Tokenizer pictures and the token-surgery widget, on a tiny random tokenizer."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from intermask_lite.eval import metrics  # noqa: E402
from intermask_lite.config import VQConfig  # noqa: E402
from intermask_lite.viz import token_plots as tp  # noqa: E402
from intermask_lite.viz.token_widgets import TokenSurgery, token_surgery  # noqa: E402
from intermask_lite.vq.model import MotionTokenizer, root_spread  # noqa: E402

NB_CODE = 16


@pytest.fixture(scope="module")
def tiny():
    """A random tiny tokenizer whose codebook was initialised by one training pass, and a grid (2, 12, 22, 96)."""
    torch.manual_seed(0)
    model = MotionTokenizer(VQConfig(nb_code=NB_CODE, code_dim=8, width=8, depth=1))
    grid = torch.randn(2, 12, 22, 96)
    model.train()
    model(grid)
    return model.eval(), grid


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_token_maps_one_panel_per_person_with_the_ids(tiny):
    model, grid = tiny
    tokens = model.encode(grid)                                        # (2, 5, 24)
    fig = tp.plot_token_maps(tokens, NB_CODE, fps=20)
    heat = [ax for ax in fig.axes if ax.images]
    assert len(heat) == 2
    for p, ax in enumerate(heat):
        np.testing.assert_array_equal(ax.images[0].get_array(), tokens[p].numpy())
    assert [ax.get_title() for ax in heat] == ["person A", "person B"]
    with pytest.raises(ValueError, match=r"\[0, 15\]"):
        tp.plot_token_maps(tokens + NB_CODE, NB_CODE)


def test_codebook_usage_counts_every_token_and_marks_dead_codes():
    tokens = torch.tensor([[[0, 0, 1], [1, 1, 3]]])                    # codes 2 and 4..15 unused
    counts = tp.code_counts(tokens, NB_CODE)
    assert counts.tolist()[:5] == [2, 3, 0, 1, 0] and counts.sum() == 6
    fig = tp.plot_codebook_usage(tokens, NB_CODE)
    bars = fig.axes[0].patches
    assert len(bars) == NB_CODE and [b.get_height() for b in bars][:4] == [2, 3, 0, 1]
    assert "used 3/16" in fig.axes[0].get_title()
    dead_line = fig.axes[0].lines[0]
    assert list(dead_line.get_xdata()) == [2] + list(range(4, NB_CODE))


def test_joint_errors_are_zero_for_a_decoded_grid_and_bars_follow_the_values(tiny):
    model, grid = tiny
    decoded = model.decode(model.encode(grid))                         # a fixed point up to code ties
    err = tp.joint_errors_mm(model, grid)
    assert err.shape == (22,) and (err > 0).all()
    assert tp.joint_errors_mm(model, decoded).mean() < err.mean()
    fig = tp.plot_joint_errors({"2D": np.arange(22.0), "1D": np.ones(22)})
    heights = [b.get_height() for b in fig.axes[0].patches]
    assert heights == list(np.arange(22.0)) + [1.0] * 22
    with pytest.raises(ValueError, match=r"\(22,\)"):
        tp.plot_joint_errors(np.ones(21))


def test_joint_errors_over_clips_average_to_the_library_mpjpe():
    from intermask_lite.data.synthetic import make_clip
    from intermask_lite.eval import evaluate_tokenizer
    from intermask_lite.vq.pipeline import clip_grids

    torch.manual_seed(0)
    model = MotionTokenizer(VQConfig(nb_code=NB_CODE, code_dim=8, width=8, depth=1))
    clips = [make_clip("handshake", np.random.default_rng(i)) for i in range(2)]
    model.train()
    model(clip_grids(model, clips[0]))
    model.eval()
    err = tp.joint_errors_mm(model, clips)
    assert err.shape == (22,)
    scores = evaluate_tokenizer(model, clips)
    assert np.isclose(err.mean(), scores["mpjpe_mm"], rtol=1e-4)
    with torch.no_grad():  # the root-aligned error and the root error, as eval.metrics computes them
        pairs = [(model.grid_to_joints(model.reconstruct(g)), model.grid_to_joints(g))
                 for g in (clip_grids(model, c) for c in clips)]       # (2, T, 22, 3) each
    frames = np.array([r.shape[1] for r, _ in pairs])
    aligned = [metrics.mpjpe(r, t, align_root=True) for r, t in pairs]
    roots = [metrics.mpjpe(r[:, :, :1], t[:, :, :1]) for r, t in pairs]
    assert np.isclose(scores["mpjpe_aligned_mm"], np.average(aligned, weights=frames), rtol=1e-4)
    assert np.isclose(scores["root_error_mm"], np.average(roots, weights=frames), rtol=1e-4)
    spread = root_spread(torch.cat([r[:, :, 0].flatten(0, 1) for r, _ in pairs]),
                         torch.cat([t[:, :, 0].flatten(0, 1) for _, t in pairs]))
    assert np.isclose(scores["root_spread"], spread, rtol=1e-5)
    assert 0 < scores["mpjpe_aligned_mm"] != scores["mpjpe_mm"]
    per_joint = tp.joint_errors_mm(model, clips, align_root=True)     # (22,) mm, the root's own error is 0
    assert per_joint[0] == 0 and np.isclose(per_joint.mean(), scores["mpjpe_aligned_mm"], rtol=1e-4)
    with pytest.raises(ValueError, match="at least one clip"):
        tp.joint_errors_mm(model, [])


def test_class_errors_weight_clips_by_frames_and_bars_sort_by_mean():
    from intermask_lite.data.synthetic import make_clip
    from intermask_lite.eval import evaluate_tokenizer

    torch.manual_seed(0)
    model = MotionTokenizer(VQConfig(nb_code=NB_CODE, code_dim=8, width=8, depth=1)).eval()
    rng = np.random.default_rng(0)
    clips = [make_clip("handshake", rng), make_clip("bow", rng), make_clip("handshake", rng)]
    errors = tp.class_errors_mm(model, clips)
    assert list(errors) == ["handshake", "bow"] and all(v.shape == (2,) for v in errors.values())
    alone = tp.class_errors_mm(model, clips[1:2])["bow"]
    assert np.allclose(errors["bow"], alone)
    frames = np.array([4 * (c.n_frames // 4) for c in clips])
    overall = (errors["handshake"].mean() * (frames[0] + frames[2]) + errors["bow"].mean() * frames[1]) / frames.sum()
    assert np.isclose(overall, evaluate_tokenizer(model, clips)["mpjpe_mm"], rtol=1e-4)
    fig = tp.plot_class_errors({"far": np.array([90.0, 300.0]), "near": np.array([10.0, 20.0])})
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["near", "far"]
    assert [b.get_height() for b in fig.axes[0].patches] == [10.0, 90.0, 20.0, 300.0]
    with pytest.raises(ValueError, match="two values"):
        tp.plot_class_errors({"x": np.ones(3)})
    with pytest.raises(ValueError, match="at least one clip"):
        tp.class_errors_mm(model, [])


def test_receptive_field_shape_and_that_it_is_local_in_the_joint_axis(tiny):
    model, grid = tiny
    infl = tp.row_receptive_field(model, grid[:1])
    assert infl.shape == (22, 5) and (infl >= 0).all()
    # the first joints (pelvis, hips) feed row 0 more than the last ones (wrists), and row 4 the other way
    assert infl[:3, 0].mean() > infl[-3:, 0].mean() and infl[-3:, 4].mean() > infl[:3, 4].mean()
    fig = tp.plot_receptive_field(infl)
    shown = fig.axes[0].images[0].get_array()
    assert shown.shape == (22, 5) and np.allclose(shown.max(axis=0), 1.0)
    assert fig.axes[0].get_yticklabels()[21].get_text().endswith("right_wrist")
    with pytest.raises(ValueError, match="one grid"):
        tp.row_receptive_field(model, grid)


def test_receptive_field_of_the_1d_tokenizer_is_one_row():
    torch.manual_seed(0)
    model = MotionTokenizer(VQConfig(nb_code=NB_CODE, code_dim=8, width=8, depth=1, kind="1d")).eval()
    assert tp.row_receptive_field(model, torch.randn(12, 22, 16)).shape == (22, 1)


def test_training_curves_panels_follow_the_history():
    n = 20
    history = {"step": list(range(n)), "loss": list(np.linspace(2, 1, n)), "perplexity": [5.0] * n,
               "usage": [0.5] * n, "dead_codes": [0.0] * n, "val_step": [9, 19], "val_loss": [1.5, 1.1],
               "val_mpjpe_mm": [80.0, 60.0]}
    fig = tp.plot_training_curves(history)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["loss", "validation MPJPE (mm)", "perplexity (batch)", "codebook usage (batch)",
                      "dead codes reset per step"]
    assert list(fig.axes[1].lines[0].get_ydata()) == [80.0, 60.0]
    del history["val_mpjpe_mm"], history["dead_codes"]
    assert len(tp.plot_training_curves(history).axes) == 3
    with pytest.raises(ValueError, match="loss"):
        tp.plot_training_curves({})


def test_token_surgery_changes_joints_only_near_the_edited_column(tiny):
    model, grid = tiny
    tokens = model.encode(grid)[0]                                     # (5, 24)
    col = 12
    same = token_surgery(model, tokens, 2, col, int(tokens[2, col]))
    assert same["displacement_mm"].max() == 0.0
    new = (int(tokens[2, col]) + 5) % NB_CODE
    res = token_surgery(model, tokens, 2, col, new)
    disp = res["displacement_mm"].max(axis=1)                          # (T,) largest joint move per frame
    assert res["before"].shape == res["after"].shape == (96, 22, 3) and res["tokens"][2, col] == new
    assert disp[4 * col: 4 * col + 4].max() > 0.0                      # the edited moment moved
    assert disp[: 4 * (col - 6)].max() == 0.0 and disp[4 * (col + 7):].max() == 0.0  # far frames did not
    with pytest.raises(ValueError, match="outside"):
        token_surgery(model, tokens, 5, 0, 0)
    with pytest.raises(ValueError, match="code must lie"):
        token_surgery(model, tokens, 0, 0, NB_CODE)


def test_widget_builds_without_a_kernel_and_follows_its_sliders(tiny):
    model, grid = tiny
    tokens = model.encode(grid)[:1]                                    # (1, 5, 24)
    widget = TokenSurgery(model, tokens, fps=20)
    assert widget.figure is not None and "code" in widget.info.value
    assert widget.image.value[:8] == b"\x89PNG\r\n\x1a\n"
    first, first_png = widget.result["displacement_mm"], widget.image.value
    out = widget.set(row=4, col=3, code=(int(tokens[0, 4, 3]) + 1) % NB_CODE)
    assert out is widget.result and widget.row_slider.value == 4 and widget.col_slider.value == 3
    assert not np.array_equal(out["displacement_mm"], first)
    assert out["displacement_mm"][4 * 12:].max() == 0.0                # column 3 cannot reach frame 48
    heat = widget.figure.axes[0].images[0].get_array()
    np.testing.assert_allclose(heat, out["displacement_mm"].T)
    assert widget.image.value != first_png
    with pytest.raises(ValueError, match="column must lie"):
        widget.set(col=99)
    with pytest.raises(ValueError, match="one person"):
        TokenSurgery(model, model.encode(grid))


def test_foot_skating_of_reconstructions_is_measured_on_the_truths_contacts(monkeypatch):
    """A decoder that returns the input exactly slides no more than the truth; one that drifts every joint
    sideways by 5 cm a frame slides its standing feet at about 1 m/s."""
    from intermask_lite.data.synthetic import make_clip
    from intermask_lite.eval import evaluate_tokenizer

    torch.manual_seed(0)
    model = MotionTokenizer(VQConfig(nb_code=NB_CODE, code_dim=8, width=8, depth=1)).eval()
    clips = [make_clip("handshake", np.random.default_rng(i)) for i in range(2)]
    seen = {}
    encode = model.encode

    def remember_and_encode(grid):
        seen["grid"] = grid
        return encode(grid)

    monkeypatch.setattr(model, "encode", remember_and_encode)

    def decode_with_drift(drift):
        def decode(tokens):
            grid = seen.pop("grid").clone()                            # (2, 12, 22, T) normalised
            x_step = drift / model.grid_std[0][None, :, None]          # (1, 22, 1) metres -> normalised x
            grid[:, 0] += x_step * torch.arange(grid.shape[-1])        # every joint moves drift m per frame
            return grid
        return decode

    monkeypatch.setattr(model, "decode", decode_with_drift(0.0))
    exact = evaluate_tokenizer(model, clips)
    assert exact["mpjpe_mm"] < 1e-3
    assert exact["skate_speed"] == pytest.approx(exact["skate_speed_truth"], rel=1e-5)
    assert 0 < exact["skate_speed_truth"] < 0.1
    monkeypatch.setattr(model, "decode", decode_with_drift(0.05))
    drifting = evaluate_tokenizer(model, clips)
    assert drifting["skate_speed_truth"] == pytest.approx(exact["skate_speed_truth"], rel=1e-5)
    assert abs(drifting["skate_speed"] - 0.05 * clips[0].fps) <= exact["skate_speed_truth"] + 1e-4
