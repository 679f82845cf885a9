"""Inter-M: symmetry, padding, null text, ablation switches, learning, determinism, masking tools."""
import dataclasses
import math

import pytest
import torch

from intermask_lite.config import TextConfig, TransformerConfig, TransformerStudyConfig, get_preset, smoke
from intermask_lite.mask_transformer.model import InterMTransformer, forward_with_guidance
from intermask_lite.mask_transformer.sampling import draw, sampling_probs
from intermask_lite.mask_transformer.tools import (TokenIds, bert_corrupt, get_schedule, pad_tokens,
                                                   random_mask_by_ratio, schedule_time, top_k_filter)
from intermask_lite.mask_transformer.training import (build_transformer, load_transformer, masked_token_loss,
                                                      unroll_fill)
from intermask_lite.text import build_text_encoder
from intermask_lite.utils import CHECKPOINT_FORMAT, atomic_torch_save, seed_everything

K = 16  # codebook size
CAPTIONS = ["two people shake hands", "one pushes the other", "they hug"]
BASE = TransformerConfig(latent_dim=32, n_layers=2, n_heads=2, ff_mult=2, dropout=0.0)
STUDY_FIELDS = {f.name for f in dataclasses.fields(TransformerStudyConfig)}


def _model(seed=0, **switches):
    """A tiny model whose zero-initialised adaLN layers are perturbed, so every path is active."""
    torch.manual_seed(seed)
    enc = build_text_encoder(TextConfig(dim=32), CAPTIONS)
    study = {k: switches.pop(k) for k in list(switches) if k in STUDY_FIELDS}  # the ablation study's switches
    model = InterMTransformer(dataclasses.replace(BASE, **switches), K, enc, study=TransformerStudyConfig(**study))
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=gen))
    return model.eval()


def _ids(B=2, T=6, seed=0):
    return torch.randint(0, K, (B, 2, 5, T), generator=torch.Generator().manual_seed(seed))


def test_logits_shape_and_bad_ids():
    model = _model()
    assert model(_ids(), CAPTIONS[:2]).shape == (2, 2, 5, 6, K)
    with pytest.raises(ValueError, match="long tensor"):
        model(torch.zeros(2, 5, 6, dtype=torch.long), CAPTIONS[:2])
    with pytest.raises(ValueError, match="codes 0"):
        model(_ids() + K + 2, CAPTIONS[:2])
    with pytest.raises(ValueError, match="texts for a batch"):
        model(_ids(), CAPTIONS)


@pytest.mark.parametrize("switches", [{}, {"independent": True}, {"spatial": False, "cross": False}])
def test_swapping_people_swaps_logits(switches):
    model, ids = _model(**switches), _ids()
    ids[0, 0, :, 2] = K  # some MASK tokens too
    out = model(ids, CAPTIONS[:2])
    swapped = model(ids.flip(1), CAPTIONS[:2])
    assert torch.allclose(swapped.flip(1), out, atol=1e-5)
    assert not torch.allclose(out[:, 0], out[:, 1], atol=1e-3)  # and the people do differ


def test_padding_never_changes_real_logits():
    model, ids = _model(), _ids(B=2, T=8)
    lengths = torch.tensor([5, 3])
    padded = pad_tokens(ids, lengths, TokenIds(K))
    out = model(padded, CAPTIONS[:2])
    for b, n in enumerate(lengths.tolist()):
        alone = model(ids[b : b + 1, :, :, :n], CAPTIONS[b : b + 1])  # the same clip with no padding at all
        assert torch.allclose(out[b : b + 1, :, :, :n], alone, atol=1e-5)


def test_dropped_text_uses_null_condition():
    model, ids = _model(), _ids(B=1)
    null = model(ids, [None])
    assert torch.allclose(null, model(ids, model.text_encoder.null[None]), atol=1e-6)
    assert not torch.allclose(null, model(ids, CAPTIONS[:1]), atol=1e-4)


def test_guidance_one_is_conditional_and_zero_is_unconditional():
    model, ids = _model(), _ids()
    cond, uncond = model(ids, CAPTIONS[:2]), model(ids, [None, None])
    assert torch.equal(forward_with_guidance(model, ids, CAPTIONS[:2], 1.0), cond)
    assert torch.allclose(forward_with_guidance(model, ids, CAPTIONS[:2], 0.0), uncond, atol=1e-5)
    guided = forward_with_guidance(model, ids, CAPTIONS[:2], 3.0)
    assert torch.allclose(guided, uncond + 3 * (cond - uncond), atol=1e-4)


def _n_params(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("switch, removed", [
    ({"spatial": False}, ["spatial"]),
    ({"temporal": False}, ["temporal"]),
    ({"spatial": False, "temporal": False}, ["spatial", "temporal", "st_norm"]),
    ({"cross": False}, ["cross", "cross_norm"]),
    ({"independent": True}, ["cross", "cross_norm"]),
])
def test_ablation_switch_removes_its_attention(switch, removed):
    full, ablated = _model(), _model(**switch)
    block = full.blocks[0]
    expected = sum(_n_params(getattr(block, name)) for name in removed) * BASE.n_layers
    assert _n_params(full) - _n_params(ablated) == expected
    ablated.load_state_dict(full.state_dict(), strict=False)  # same weights where both have them
    ids = _ids()
    assert not torch.allclose(full(ids, CAPTIONS[:2]), ablated(ids, CAPTIONS[:2]), atol=1e-4)


@pytest.mark.parametrize("independent", [True, False])
def test_independent_people_do_not_see_each_other(independent):
    model, ids = _model(independent=independent), _ids()
    other = ids.clone()
    other[:, 1] = (ids[:, 1] + 1) % K  # change every token of B
    a_before, a_after = model(ids, CAPTIONS[:2])[:, 0], model(other, CAPTIONS[:2])[:, 0]
    assert torch.allclose(a_before, a_after, atol=1e-6) == independent



@pytest.mark.parametrize("unroll_mode", ["schedule", "random_share"])
def test_training_lowers_the_loss(one_thread, unroll_mode):
    seed_everything(0)
    model = InterMTransformer(BASE, K, build_text_encoder(TextConfig(dim=32), CAPTIONS)).train()
    tokens = pad_tokens(_ids(B=3, T=4), torch.tensor([4, 3, 4]), TokenIds(K))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(100):
        loss, stats = masked_token_loss(model, tokens, CAPTIONS, BASE, gen, unroll=True, unroll_mode=unroll_mode)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(stats["loss"])
    assert math.isfinite(losses[-1])
    assert sum(losses[-10:]) / 10 < 0.6 * sum(losses[:10]) / 10


@pytest.mark.parametrize("name", ["cosine", "linear", "sqrt"])
def test_schedule_time_inverts_the_schedule(name):
    r = torch.linspace(0, 1, 11)
    torch.testing.assert_close(schedule_time(name, get_schedule(name)(r)), r, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="unknown masking schedule 'cubic'"):
        schedule_time("cubic", r)


def test_paper_unroll_fills_the_most_confident_hidden_predictions_one_step_later():
    valid = torch.ones(1, 2, 5, 4, dtype=torch.bool)                   # 40 positions
    hidden = torch.zeros_like(valid)
    hidden.view(-1)[:20] = True                                        # half shown as MASK: cosine time 2/3
    confidence = torch.rand(1, 2, 5, 4, generator=torch.Generator().manual_seed(0))  # (1, 2, 5, 4)
    confidence[~hidden] = 0.0                                          # shown positions: least confident, never filled
    logits = torch.stack([confidence * 10, torch.zeros_like(confidence)], -1)  # (1, 2, 5, 4, 2) max prob rises with it
    fill = unroll_fill(logits, hidden, valid, "cosine")
    # one of 20 steps later: cos((2/3 + 1/21) * pi / 2) = 0.434 of 40 positions stay masked: 17, so 3 are filled
    assert int(fill.sum()) == 3 and not (fill & ~hidden).any()
    top3 = confidence[hidden].topk(3).values
    assert torch.equal(confidence[fill].sort().values, top3.sort().values)


def test_unknown_unroll_mode_is_refused():
    model = InterMTransformer(BASE, K, build_text_encoder(TextConfig(dim=32), CAPTIONS))
    with pytest.raises(ValueError, match="unknown unroll_mode 'argmax'.*schedule.*random_share"):
        masked_token_loss(model, _ids(B=2, T=4), CAPTIONS[:2], BASE, unroll=True, unroll_mode="argmax")


def test_same_seed_same_model():
    def build():
        seed_everything(3)
        return build_transformer(smoke(), K, CAPTIONS)
    a, b = build(), build()
    assert a.text_encoder.vocab == b.text_encoder.vocab
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(p, q), name


def test_checkpoint_round_trip_and_mismatch(tmp_path):
    preset = smoke()
    model = build_transformer(preset, K, CAPTIONS).eval()
    extra = {"preset": preset.to_dict(), "nb_code": K, "vocab": model.text_encoder.vocab}
    ckpt = {"format": CHECKPOINT_FORMAT, "kind": "transformer", "step": 0, "model": model.state_dict(), "extra": extra}
    atomic_torch_save(ckpt, tmp_path / "t.pt")
    loaded, text_encoder = load_transformer(tmp_path / "t.pt")
    ids = _ids(B=1)
    assert torch.equal(loaded(ids, CAPTIONS[:1]), model(ids, CAPTIONS[:1]))
    assert text_encoder is loaded.text_encoder
    extra["preset"]["transformer"]["latent_dim"] = 64
    atomic_torch_save(ckpt, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="another version of the code"):
        load_transformer(tmp_path / "other.pt")


# ---------------------------------------------------------------- tools
@pytest.mark.parametrize("name", ["cosine", "linear", "sqrt"])
def test_schedules_monotone_with_end_points(name):
    r = torch.linspace(0, 1, 101)
    ratio = get_schedule(name)(r)
    assert float(ratio[0]) == pytest.approx(1.0) and float(ratio[-1]) == pytest.approx(0.0, abs=1e-6)
    assert torch.all(ratio[1:] <= ratio[:-1])
    with pytest.raises(ValueError, match="unknown masking schedule"):
        get_schedule("exp")


def test_token_ids_follow_the_codebook():
    ids = TokenIds(256)
    assert (ids.mask, ids.pad, ids.sep, ids.vocab_size) == (256, 257, 258, 259)


def test_random_mask_counts_span_both_people():
    valid = pad_tokens(torch.zeros(4, 2, 5, 10, dtype=torch.long), torch.tensor([10, 10, 4, 1]), TokenIds(K)) == 0
    chosen = random_mask_by_ratio(valid, torch.tensor([0.5, 0.0, 1.0, 0.3]), torch.Generator().manual_seed(0))
    assert chosen.flatten(1).sum(1).tolist() == [50, 1, 40, 3]  # ceil(ratio * valid), at least one
    assert not (chosen & ~valid).any()
    many = random_mask_by_ratio(valid[:1].expand(500, -1, -1, -1), torch.full((500,), 0.5))
    share_a = many[:, 0].sum() / many.sum()
    assert 0.45 < float(share_a) < 0.55  # positions are drawn over both maps jointly


def test_bert_corruption_proportions():
    ids = TokenIds(1000)
    tokens = torch.randint(0, 1000, (200_000,), generator=torch.Generator().manual_seed(0))
    chosen = torch.rand(200_000, generator=torch.Generator().manual_seed(1)) < 0.5
    out = bert_corrupt(tokens, chosen, ids, torch.Generator().manual_seed(2))
    assert torch.equal(out[~chosen], tokens[~chosen])
    picked, orig = out[chosen], tokens[chosen]
    n = picked.numel()
    masked = (picked == ids.mask).sum() / n
    kept = (picked == orig).sum() / n  # includes the ~0.1 % random codes that hit the original
    random_code = ((picked != ids.mask) & (picked != orig)).sum() / n
    assert abs(float(masked) - 0.8) < 0.01 and abs(float(kept) - 0.1) < 0.01 and abs(float(random_code) - 0.1) < 0.01
    assert int(picked[picked != ids.mask].max()) < 1000  # random codes are codes, never special tokens


def test_top_k_and_sampling():
    logits = torch.tensor([[0.0, 3.0, 1.0, 2.0]])
    assert torch.isinf(top_k_filter(logits, 2)).tolist() == [[True, False, True, False]]
    assert torch.equal(top_k_filter(logits, None), logits)
    assert draw(sampling_probs(logits, 0.0), torch.tensor([0.999])).tolist() == [1]  # greedy: the argmax
    big = logits.expand(4000, -1)
    u = torch.rand(4000, generator=torch.Generator().manual_seed(0))
    draws = draw(sampling_probs(big, 1.0, top_k=2), u)
    assert set(draws.tolist()) == {1, 3}
    assert abs(float((draws == 1).float().mean()) - math.e / (math.e + 1)) < 0.03
    assert torch.equal(draws, draw(sampling_probs(big, 1.0, top_k=2), u.clone()))
    assert draw(sampling_probs(logits, 1.0, top_k=2), torch.tensor([0.0])).tolist() == [1]  # never a filtered code


def test_loss_rejects_special_tokens_as_targets():
    model = _model()
    with pytest.raises(ValueError, match="never MASK"):
        masked_token_loss(model, torch.full((1, 2, 5, 4), K), CAPTIONS[:1], BASE)


def test_train_transformer_end_to_end(tmp_path, one_thread):
    from intermask_lite.data.synthetic import make_dataset, split_dataset
    from intermask_lite.mask_transformer.training import train_transformer
    from intermask_lite.vq.model import MotionTokenizer
    preset = smoke()
    splits = split_dataset(make_dataset(preset.data.n_clips, 0, cache=False, progress=False))
    tokenizer = MotionTokenizer(preset.vq)
    model, history = train_transformer(preset, splits["train"], splits["val"], tokenizer=tokenizer, out_dir=tmp_path,
                                       device="cpu", progress=False)
    assert len(history["loss"]) == preset.transformer_train.steps and "acc" in history
    loaded, _ = load_transformer(tmp_path / "transformer_last.pt")
    ids = _ids(B=1, T=preset.data.max_frames // 4) % preset.vq.nb_code
    assert torch.equal(loaded(ids, ["two people hug"]), model(ids, ["two people hug"]))


def test_caption_rewrites_reach_the_text_encoder(tmp_path, one_thread):
    """text.rewrites adds synonym rewrites to the training captions (the scratch vocabulary shows them)."""
    from dataclasses import replace
    from intermask_lite.data.synthetic import make_dataset, split_dataset
    from intermask_lite.mask_transformer.training import train_transformer
    from intermask_lite.text import build_vocab
    from intermask_lite.vq.model import MotionTokenizer
    base = smoke()
    splits = split_dataset(make_dataset(base.data.n_clips, 0, cache=False, progress=False))
    own_words = set(build_vocab([c for clip in splits["train"] for c in clip.captions]))
    preset = replace(base, text=replace(base.text, rewrites=3),
                     transformer_train=replace(base.transformer_train, steps=1))
    model, _ = train_transformer(preset, splits["train"], splits["val"], tokenizer=MotionTokenizer(preset.vq),
                                 out_dir=tmp_path, device="cpu", progress=False)
    assert set(model.text_encoder.vocab) > own_words  # new words only from the rewrites
    plain, _ = train_transformer(replace(preset, text=base.text), splits["train"], splits["val"],
                                 tokenizer=MotionTokenizer(preset.vq), out_dir=tmp_path / "plain", device="cpu",
                                 progress=False)
    assert set(plain.text_encoder.vocab) == own_words


def test_ff_width_sets_the_feed_forward_width():
    wide, narrow = _model(), _model(ff_width=48)
    assert wide.blocks[0].ff1[0].out_features == BASE.ff_mult * BASE.latent_dim == 64
    assert narrow.blocks[0].ff1[0].out_features == narrow.blocks[0].ff2[0].out_features == 48
    assert get_preset("paper").transformer.ff_width == 1024  # as the official paper code


def test_int8_inference_is_a_close_copy():
    from intermask_lite.mask_transformer.int8 import int8_inference
    model = _model().eval()
    fast = int8_inference(model)
    ids = _ids(B=2, T=6)
    with torch.no_grad():
        ref, out = model(ids, CAPTIONS[:2]), fast(ids, CAPTIONS[:2])  # (2, 2, 5, 6, K)
    assert out.shape == ref.shape
    assert float((out - ref).abs().mean()) < 0.05 * float(ref.std())  # 8-bit weights: a small, bounded change
    assert float((out.argmax(-1) == ref.argmax(-1)).float().mean()) > 0.9
    assert not torch.equal(out, ref)  # it really runs other kernels
    assert type(model.blocks[0].ff1[0]) is torch.nn.Linear  # the float model is untouched
    assert not any(p.requires_grad for p in fast.parameters())
    with pytest.raises(TypeError, match="expects an InterMTransformer"):
        int8_inference(torch.nn.Linear(3, 3))


def test_cpu_dropout_keeps_the_share_and_the_mean():
    from intermask_lite.mask_transformer.attention import Dropout
    drop = Dropout(0.2).train()
    x = torch.ones(1000, 1000, requires_grad=True)
    torch.manual_seed(0)
    y = drop(x)
    kept = y != 0
    assert abs(float(kept.float().mean()) - 0.8) < 0.002  # Bernoulli(0.8) over a million elements
    assert torch.allclose(y[kept], torch.full_like(y[kept], 1.25))  # inverted dropout: the mean is kept
    y.sum().backward()
    assert torch.equal(x.grad, y.detach())  # gradient flows through kept elements only, scaled alike
    torch.manual_seed(0)
    assert torch.equal(drop(x), y)  # the global seed decides the mask
    rows = kept.float().mean(1)  # no structure from splitting one draw into four: every row near 0.8
    assert float(rows.min()) > 0.74 and float(rows.max()) < 0.86
    assert torch.equal(drop.eval()(x), x) and torch.equal(Dropout(0.0).train()(x), x)
    assert float(Dropout(1.0).train()(x).abs().sum()) == 0.0


def test_mirror_trains_on_every_clip_and_its_mirror_image(tmp_path, one_thread, monkeypatch):
    """transformer_train.mirror doubles the training token maps (mirrored captions included); validation keeps
    the clips as they are."""
    from dataclasses import replace
    from intermask_lite.data.synthetic import make_dataset, split_dataset
    from intermask_lite.mask_transformer import training
    from intermask_lite.vq.model import MotionTokenizer
    base = smoke()
    splits = split_dataset(make_dataset(base.data.n_clips, 0, cache=False, progress=False))
    seen = []
    real = training.tokenize_clips
    monkeypatch.setattr(training, "tokenize_clips",
                        lambda clips, *a, **k: seen.append(list(clips)) or real(clips, *a, **k))
    preset = replace(base, transformer_train=replace(base.transformer_train, steps=1, mirror=True))
    training.train_transformer(preset, splits["train"], splits["val"], tokenizer=MotionTokenizer(preset.vq),
                               out_dir=tmp_path, device="cpu", progress=False)
    train, n = seen[0], len(splits["train"])
    assert len(train) == 2 * n and [len(v) for v in seen[1:]] == [len(splits["val"])] * bool(splits["val"])
    assert [c.clip_id for c in train[n:]] == [f"{c.clip_id}~mirrored" for c in splits["train"]]
