"""Plots of the masked transformer (token maps, attention reach, curves, accuracy) and the schedule widget."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from intermask_lite.config import smoke  # noqa: E402
from intermask_lite.mask_transformer import TokenIds, build_transformer  # noqa: E402
from intermask_lite.viz import transformer_plots as tp  # noqa: E402
from intermask_lite.viz.transformer_widgets import ScheduleExplorer, masked_inputs  # noqa: E402

NB_CODE = 8
IDS = TokenIds(NB_CODE)


@pytest.fixture
def tokens():
    t = torch.arange(2 * 5 * 6).view(2, 5, 6) % NB_CODE  # (2, 5, 6)
    t[:, :, 5] = IDS.pad  # the last column is padding
    return t


def teardown_function():
    plt.close("all")


def test_sequence_layout_and_colours(tokens):
    seq = tp.sequence_of(tokens, NB_CODE)
    assert seq.shape == (61,) and seq[30] == IDS.sep
    assert list(seq[:6]) == tokens[0, 0].tolist() and list(seq[6:12]) == tokens[0, 1].tolist()  # row by row
    assert list(seq[31:]) == tokens[1].reshape(-1).tolist()
    rgb = tp.token_rgb([IDS.mask, IDS.pad, IDS.sep, 0], NB_CODE)
    assert np.allclose(rgb[:3], [tp.SPECIAL_COLORS[k] for k in ("mask", "pad", "sep")])
    with pytest.raises(ValueError, match="ids must lie in"):
        tp.token_rgb([IDS.sep + 1], NB_CODE)
    with pytest.raises(ValueError, match=r"\(2, 5, T'\)"):
        tp.sequence_of(torch.zeros(5, 6), NB_CODE)


def test_sequence_picture_shows_the_strip(tokens):
    fig = tp.plot_token_sequence(tokens, NB_CODE)
    strip = fig.axes[2].images[0].get_array()
    assert strip.shape == (1, 61, 3)
    assert np.allclose(strip[0, 30], tp.SPECIAL_COLORS["sep"])
    assert np.allclose(strip[0, 5], tp.SPECIAL_COLORS["pad"])  # A row 0, last column


def test_token_maps_outline_marks(tokens):
    marks = torch.zeros(2, 5, 6, dtype=torch.bool)
    marks[1, 2, 3] = marks[0, 0, 0] = True
    fig = tp.plot_token_maps({"clean": tokens, "marked": tokens}, NB_CODE, marks={"marked": marks})
    assert len(fig.axes) == 4
    assert [len(ax.patches) for ax in fig.axes] == [0, 0, 1, 1]


@pytest.mark.parametrize("kind, count", [("self", 60), ("spatial", 5), ("temporal", 6), ("cross", 30)])
def test_attention_reach(kind, count):
    seen = tp.attention_reach(kind, (1, 2, 3), n_cols=6)
    assert seen.shape == (2, 5, 6) and seen.sum() == count and seen[1, 2, 3] == (kind != "cross")
    if kind == "spatial":
        assert seen[1, :, 3].all()
    if kind == "temporal":
        assert seen[1, 2].all()
    if kind == "cross":
        assert seen[0].all() and not seen[1].any()


def test_attention_reach_errors_and_picture():
    with pytest.raises(ValueError, match="unknown attention kind"):
        tp.attention_reach("diagonal", (0, 0, 0), 4)
    with pytest.raises(ValueError, match="query must be"):
        tp.attention_reach("self", (0, 5, 0), 4)
    fig = tp.plot_attention_reach(4, (0, 1, 2))
    assert len(fig.axes) == 4
    spatial = fig.axes[1].images[0].get_array()  # (5, 9): A | gap | B
    assert np.array_equal(spatial[:, 2], np.ones(5)) and np.nansum(spatial) == 5


def test_training_curves_use_history():
    history = {"step": list(range(50)), "loss": list(np.linspace(5, 1, 50)), "acc": list(np.linspace(0, .5, 50)),
               "val_step": [24, 49], "val_loss": [3.0, 1.5], "val_acc": [0.2, 0.4]}
    fig = tp.plot_training_curves(history, smooth=10)
    lines = fig.axes[0].get_lines()
    assert np.allclose(lines[0].get_ydata(), history["loss"]) and len(lines[1].get_ydata()) == 41
    assert np.allclose(fig.axes[1].get_lines()[2].get_ydata(), [0.2, 0.4])
    with pytest.raises(ValueError, match="history lacks"):
        tp.plot_training_curves({"step": [0], "loss": [1.0]})


def test_schedule_curves():
    ax = tp.plot_schedules(r_mark=0.5)
    cosine, linear, sqrt = ax.get_lines()[:3]
    assert cosine.get_ydata()[0] == pytest.approx(1) and cosine.get_ydata()[-1] == pytest.approx(0, abs=1e-6)
    assert linear.get_ydata()[50] == pytest.approx(0.5) and sqrt.get_ydata()[25] == pytest.approx(0.5)


def test_accuracy_by_mask_ratio_is_deterministic_and_counts_masked_only():
    preset = smoke()
    torch.manual_seed(0)
    model = build_transformer(preset, NB_CODE, ["a person waves", "two people hug"]).eval()
    with torch.no_grad():  # a head that always predicts code 3
        model.head.weight.zero_()
        model.head.bias.zero_()
        model.head.bias[3] = 1.0
    tokens = torch.full((4, 2, 5, 6), 3)
    tokens[0, :, :, :3] = 1  # half of clip 0 is a code the model never predicts
    captions = ["a person waves"] * 4
    accs = tp.accuracy_by_mask_ratio(model, tokens, captions, [1.0, 0.5], batch_size=3)
    assert accs[0] == pytest.approx(1 - 30 / 240)
    again = tp.accuracy_by_mask_ratio(model, tokens, captions, [1.0, 0.5], batch_size=3)
    assert np.array_equal(accs, again)
    ax = tp.plot_accuracy_by_ratio([1.0, 0.5], {"model": accs}, reference=0.1)
    assert np.allclose(ax.get_lines()[0].get_ydata(), accs)
    with pytest.raises(ValueError, match="captions"):
        tp.accuracy_by_mask_ratio(model, tokens, captions[:2], [0.5])


def test_masked_inputs_modes(tokens):
    chosen, inputs = masked_inputs(tokens, NB_CODE, "linear", r=0.5)
    assert chosen.sum() == 25 and (inputs[chosen] == IDS.mask).all() and (inputs[~chosen] == tokens[~chosen]).all()
    chosen_more, _ = masked_inputs(tokens, NB_CODE, "linear", r=0.2)
    assert (chosen_more | ~chosen).all() and chosen_more.sum() == 40  # same seed: the set only grows
    chosen_a, inputs_a = masked_inputs(tokens, NB_CODE, "cosine", r=0.0, mode="mask A")
    assert chosen_a[0].sum() == 25 and not chosen_a[1].any() and (inputs_a[1] == tokens[1]).all()
    assert not chosen_a[:, :, 5].any()  # padding is never chosen
    chosen_b, inputs_b = masked_inputs(tokens, NB_CODE, "sqrt", r=0.0, bert=True, seed=1)
    assert chosen_b.sum() == 50 and (inputs_b[~chosen_b] == tokens[~chosen_b]).all()
    assert 0 < (inputs_b == IDS.mask).sum() < 50
    with pytest.raises(ValueError, match="masking mode"):
        masked_inputs(tokens, NB_CODE, "cosine", 0.5, mode="mask C")
    with pytest.raises(ValueError, match="r must lie"):
        masked_inputs(tokens, NB_CODE, "cosine", 1.5)


def test_explorer_constructs_and_updates(tokens):
    explorer = ScheduleExplorer(tokens, NB_CODE, schedule="linear", r=0.5)
    first = explorer.image.value
    assert first[:4] == b"\x89PNG" and int(explorer.chosen.sum()) == 25
    explorer.r.value = 0.0  # the observer redraws
    assert int(explorer.chosen.sum()) == 50 and explorer.image.value != first
    assert "50 of 50" in explorer.info.value
    explorer.mode.value = "mask B"
    assert explorer.chosen[1].sum() == 25 and not explorer.chosen[0].any()
    assert "r ignored" in explorer.info.value


def test_prompt_distance_is_zero_for_one_prompt_and_grows_when_the_text_steers():
    preset = smoke()
    torch.manual_seed(0)
    model = build_transformer(preset, NB_CODE, ["a person waves", "two people hug"]).eval()
    assert tp.prompt_distance(model, "a person waves", "a person waves", n_cols=4) == pytest.approx(0.0, abs=1e-6)
    before = tp.prompt_distance(model, "a person waves", "two people hug", n_cols=4)
    with torch.no_grad():  # give the text vector a say in every modulation
        for name, w in model.named_parameters():
            if "ada" in name or "mod" in name:
                w.normal_(0, 0.5)
    after = tp.prompt_distance(model, "a person waves", "two people hug", n_cols=4)
    assert 0.0 <= before < after <= 1.0
    with pytest.raises(ValueError, match="n_cols"):
        tp.prompt_distance(model, "a", "b", n_cols=0)
