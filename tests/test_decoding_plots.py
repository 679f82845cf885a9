"""The decoding replay widget and plots, built from a real Trace of a tiny untrained model (no kernel)."""
import dataclasses

import numpy as np
import pytest
import torch

from intermask_lite.config import TextConfig, TransformerConfig, VQConfig
from intermask_lite.mask_transformer.sampling import Sampling
from intermask_lite.mask_transformer.generate import decode, model_logits_fn
from intermask_lite.mask_transformer.model import InterMTransformer
from intermask_lite.text import build_text_encoder
from intermask_lite.viz.decoding_plots import (DecodeReplay, clip_length, plot_decoding_steps, plot_masked_counts,
                                              token_map_figure)
from intermask_lite.vq.model import MotionTokenizer

K, COLS, STEPS = 16, 6, 4


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    tokenizer = MotionTokenizer(dataclasses.replace(VQConfig(), nb_code=K, code_dim=8, width=8, depth=1)).eval()
    encoder = build_text_encoder(TextConfig(dim=16), ["two people shake hands"])
    model = InterMTransformer(TransformerConfig(latent_dim=16, n_layers=1, n_heads=2, dropout=0.0), K, encoder)
    with torch.no_grad():  # perturb the zero-initialised layers so the logits depend on the input
        for p in model.parameters():
            p.add_(0.1 * torch.randn(p.shape))
    lengths = torch.tensor([COLS, COLS - 2])
    ids, trace = decode(model_logits_fn(model, ["two people shake hands"] * 2), lengths, COLS, K,
                        Sampling(steps=STEPS), trace=True)

    def to_joints(maps):  # (2, 5, C) -> (2, 4C, 22, 3)
        with torch.no_grad():
            return tokenizer.grid_to_joints(tokenizer.decode(maps)).numpy()
    return ids, trace, to_joints


def test_widget_builds_and_follows_the_slider(setup):
    ids, trace, to_joints = setup
    w = DecodeReplay(trace, to_joints, K, fps=20, sample=0, frames=2)
    assert w.step == 1 and w.slider.max == STEPS
    first_tokens, first_skeleton = w.token_image.value, w.skeleton_image.value
    assert first_tokens[:4] == b"\x89PNG" and first_skeleton[:4] == b"\x89PNG"
    assert (w.current_ids == K).any()                              # after step 1 some positions are still masked
    assert w.current_joints.shape == (2, 4 * COLS, 22, 3)
    w.slider.value = STEPS                                         # moving the slider updates everything
    assert w.step == STEPS and torch.equal(w.current_ids, ids[0])
    assert not (w.current_ids == K).any()
    assert w.token_image.value != first_tokens and w.skeleton_image.value != first_skeleton
    np.testing.assert_allclose(w.current_joints, to_joints(ids[0]), atol=1e-6)
    assert f"step {STEPS} / {STEPS}" in w.info.value
    w.show_step(1)
    assert w.slider.value == 1 and w.token_image.value == first_tokens


def test_padded_sample_is_cut_to_its_length(setup):
    _, trace, to_joints = setup
    assert clip_length(trace.ids[-1, 1], K) == COLS - 2 and clip_length(trace.ids[-1, 0], K) == COLS
    w = DecodeReplay(trace, to_joints, K, sample=1, frames=1)
    assert w.current_joints.shape == (2, 4 * (COLS - 2), 22, 3)


def test_bad_arguments_are_explained(setup):
    _, trace, to_joints = setup
    with pytest.raises(IndexError, match="sample 5 out of range"):
        DecodeReplay(trace, to_joints, K, sample=5)
    w = DecodeReplay(trace, to_joints, K, frames=1)
    with pytest.raises(ValueError, match=r"step must lie in 1\.\.4"):
        w.show_step(0)
    with pytest.raises(ValueError, match=r"shape \(2, R, C\)"):
        token_map_figure(torch.zeros(5, COLS, dtype=torch.long), K)
    with pytest.raises(ValueError, match="steps must be"):
        plot_decoding_steps(trace, K, steps=[STEPS])


def test_masked_count_plot_matches_the_trace(setup):
    _, trace, _ = setup
    fig = plot_masked_counts(trace, schedule="cosine", sample=0)
    ax = fig.axes[0]
    markers = [line for line in ax.get_lines() if line.get_marker() == "o"][0]
    counts = markers.get_ydata().tolist()
    assert counts[0] == 2 * 5 * COLS and counts[1:] == trace.n_masked[:, 0].tolist() and counts[-1] == 0
    curve = [line for line in ax.get_lines() if line.get_marker() != "o"][0]
    assert curve.get_ydata()[0] == pytest.approx(2 * 5 * COLS) and curve.get_ydata()[-1] == pytest.approx(0, abs=1e-9)


def test_contact_sheet_has_one_row_per_step(setup):
    _, trace, _ = setup
    fig = plot_decoding_steps(trace, K, steps=[0, STEPS - 1])
    assert len(fig.axes) == 4
    assert "step 1/4, person A" in fig.axes[0].get_title() and "0 masked" in fig.axes[3].get_title()
