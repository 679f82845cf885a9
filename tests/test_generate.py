"""Iterative masked decoding, checked with fake logits functions (no model needed)."""
import math

import pytest
import torch

from intermask_lite.config import seconds_to_columns
from intermask_lite.mask_transformer.generate import Trace, decode, inpaint_masks, reaction_masks
from intermask_lite.mask_transformer.sampling import Sampling, row_seed, sampling_probs
from intermask_lite.mask_transformer.tools import get_schedule

K, R, C = 16, 5, 6
MASK, PAD = K, K + 1


def fixed_logits_fn(logits):
    """The same logits (B, 2, R, C, K) at every step, whatever the ids."""
    return lambda ids, scale: logits


def fresh_logits_fn(seed=0, scale=1.0):
    """New random logits at every call, so a re-sampled position would almost surely change."""
    g = torch.Generator().manual_seed(seed)

    def fn(ids, guidance):
        return scale * torch.randn(ids.shape + (K,), generator=g)
    return fn


def random_codes(shape, seed=0):
    return torch.randint(0, K, shape, generator=torch.Generator().manual_seed(seed))


def gen(seed):
    return torch.Generator().manual_seed(seed)


def dec(logits_fn, lengths, n_cols, nb_code, fixed=None, fixed_mask=None, trace=False, row_seeds=None, **settings):
    """decode() with its Sampling built from keyword settings (steps=, seed=, temperature=, ...)."""
    return decode(logits_fn, lengths, n_cols, nb_code, Sampling(**settings), fixed=fixed, fixed_mask=fixed_mask,
                  trace=trace, row_seeds=row_seeds)


def test_no_mask_left_and_pad_exactly_beyond_length():
    lengths = torch.tensor([3, 6, 1])
    ids = dec(fresh_logits_fn(), lengths, C, K, steps=5, seed=0)
    assert ids.shape == (3, 2, R, C) and ids.dtype == torch.long
    cols = torch.arange(C)[None, None, None, :]
    inside = cols < lengths[:, None, None, None]                      # (B, 1, 1, C)
    assert (ids[inside.expand_as(ids)] < K).all()                    # only codes inside: no MASK, no PAD
    assert (ids[~inside.expand_as(ids)] == PAD).all()


@pytest.mark.parametrize("schedule", ["cosine", "linear", "sqrt"])
@pytest.mark.parametrize("steps", [1, 4, 7])
def test_masked_count_follows_schedule(schedule, steps):
    lengths = torch.tensor([6, 4])
    ids, tr = dec(fresh_logits_fn(1), lengths, C, K, steps=steps, schedule=schedule, seed=1, trace=True)
    assert isinstance(tr, Trace) and tr.ids.shape == (steps, 2, 2, R, C)
    n_free = 2 * R * lengths                                          # (B,)
    curve = get_schedule(schedule)
    for s in range(steps):
        expected = [0 if s == steps - 1 else math.floor(float(curve(torch.tensor((s + 1) / steps, dtype=torch.float64)))
                                                        * int(n)) for n in n_free]
        assert tr.n_masked[s].tolist() == expected
        assert (tr.ids[s] == MASK).flatten(1).sum(1).tolist() == expected
    assert tr.masked[0].flatten(1).sum(1).tolist() == n_free.tolist()  # everything free starts masked
    assert torch.equal(tr.ids[-1], ids)


def test_decided_tokens_are_never_remasked_or_changed():
    _, tr = dec(fresh_logits_fn(2), torch.tensor([6, 5]), C, K, steps=6, seed=2, trace=True)
    for s in range(5):
        assert not (tr.masked[s + 1] & ~tr.masked[s]).any()            # masked sets only shrink
        decided = tr.ids[s] != MASK
        for later in range(s + 1, 6):
            assert torch.equal(tr.ids[later][decided], tr.ids[s][decided])
    # a position is only sampled while masked: the trace's confidences are nan elsewhere
    assert torch.isnan(tr.confidence[~tr.masked]).all() and not torch.isnan(tr.confidence[tr.masked]).any()


def test_reaction_never_changes_person_a():
    ids_a = random_codes((2, R, C), seed=3)
    fixed, fixed_mask = reaction_masks(ids_a)
    seen = []

    def fn(ids, scale):
        seen.append(ids.clone())
        return torch.randn(ids.shape + (K,))
    ids = dec(fn, torch.tensor([C, C]), C, K, steps=4, fixed=fixed, fixed_mask=fixed_mask, seed=3)
    assert torch.equal(ids[:, 0], ids_a)
    assert all(torch.equal(x[:, 0], ids_a) for x in seen)             # the model always sees A complete
    assert (seen[0][:, 1] == MASK).all() and (ids[:, 1] < K).all()


def test_reaction_pads_person_a_beyond_length():
    ids_a = random_codes((1, R, C), seed=4)
    fixed, fixed_mask = reaction_masks(ids_a)
    ids = dec(fresh_logits_fn(4), torch.tensor([4]), C, K, steps=3, fixed=fixed, fixed_mask=fixed_mask,
                 seed=4)
    assert torch.equal(ids[:, 0, :, :4], ids_a[:, :, :4]) and (ids[:, :, :, 4:] == PAD).all()


def test_inpainting_keeps_everything_outside_region():
    original = random_codes((2, 2, R, C), seed=5) % (K - 1)           # codes 0..K-2
    fixed, fixed_mask = inpaint_masks(original, person="B", rows=[3, 4], cols=(2, 5))
    assert fixed_mask.sum() == 2 * (2 * R * C - 2 * 3)
    logits = torch.zeros(2, 2, R, C, K)
    logits[..., K - 1] = 20.0                                         # the model wants code K-1 everywhere
    ids = dec(fixed_logits_fn(logits), torch.tensor([C, C]), C, K, steps=3, fixed=fixed,
                 fixed_mask=fixed_mask, seed=5)
    assert torch.equal(ids[fixed_mask], original[fixed_mask])
    assert (ids[:, 1, 3:5, 2:5] == K - 1).all()                       # the region was regenerated


def test_inpaint_masks_regions_and_errors():
    ids = random_codes((1, 2, R, C))
    _, both = inpaint_masks(ids, person="both", rows=None, cols=(0, 1))
    assert (~both).sum() == 2 * R and (~both[..., 0]).all()
    _, a_only = inpaint_masks(ids, person="A", rows=[0])
    assert (~a_only).sum() == C and (~a_only[:, 0, 0]).all()
    with pytest.raises(ValueError, match="person"):
        inpaint_masks(ids, person="C")
    with pytest.raises(ValueError, match="rows"):
        inpaint_masks(ids, rows=[5])
    with pytest.raises(ValueError, match="cols"):
        inpaint_masks(ids, cols=(3, 3))


def test_guidance_is_passed_through():
    scales = []

    def fn(ids, scale):
        scales.append(scale)
        return torch.randn(ids.shape + (K,))
    dec(fn, torch.tensor([C]), C, K, steps=5, guidance=3.5, seed=0)
    assert scales == [3.5] * 5


@pytest.mark.parametrize("temperature", [0.0, 1e-8])
def test_temperature_near_zero_is_argmax(temperature):
    logits = torch.randn(2, 2, R, C, K, generator=gen(6))
    ids = dec(fixed_logits_fn(logits), torch.tensor([C, C]), C, K, steps=4, temperature=temperature,
                 seed=6)
    assert torch.equal(ids, logits.argmax(-1))


def test_temperature_raises_entropy():
    logits = torch.randn(200, K, generator=gen(7)) * 3

    def entropy(t):
        p = sampling_probs(logits, temperature=t)
        return -(p * p.clamp_min(1e-30).log()).sum(-1).mean()
    assert entropy(0.0) == 0 and entropy(0.5) < entropy(1.0) < entropy(2.0) < math.log(K)
    # the same through decode's trace: step 0 samples every position in both runs
    big = torch.randn(1, 2, R, C, K, generator=gen(8)) * 3
    traced = [dec(fixed_logits_fn(big), torch.tensor([C]), C, K, steps=2, temperature=t, seed=8,
                     trace=True)[1] for t in (0.5, 2.0)]
    assert traced[0].entropy[0].mean() < traced[1].entropy[0].mean()


def test_temperature_changes_samples():
    logits = torch.randn(4, 2, R, C, K, generator=gen(9))
    hot = dec(fixed_logits_fn(logits), torch.full((4,), C), C, K, steps=3, temperature=5.0, seed=9)
    cold = dec(fixed_logits_fn(logits), torch.full((4,), C), C, K, steps=3, temperature=0.05, seed=9)
    argmax = logits.argmax(-1)
    assert (hot == argmax).float().mean() < (cold == argmax).float().mean()


def test_top_k():
    logits = torch.randn(3, 2, R, C, K, generator=gen(10))
    lengths = torch.full((3,), C)
    for top_k in (1, 1 / K):
        ids = dec(fixed_logits_fn(logits), lengths, C, K, steps=3, top_k=top_k, temperature=1.0, seed=1)
        assert torch.equal(ids, logits.argmax(-1))
    ids = dec(fixed_logits_fn(logits), lengths, C, K, steps=3, top_k=3, temperature=10.0, seed=1)
    top3 = logits.topk(3, dim=-1).indices                             # (B, 2, R, C, 3)
    assert (top3 == ids[..., None]).any(-1).all()
    assert not torch.equal(ids, logits.argmax(-1))
    for bad in (0, K + 1, 1.5, True, "3"):
        with pytest.raises((ValueError, TypeError), match="top_k"):
            dec(fixed_logits_fn(logits), lengths, C, K, top_k=bad)


def test_seed_reproducibility():
    logits = torch.randn(2, 2, R, C, K, generator=gen(11)) * 0.1
    run = [dec(fixed_logits_fn(logits), torch.tensor([C, 4]), C, K, steps=4, seed=s) for s in (0, 0, 1)]
    assert torch.equal(run[0], run[1])
    assert not torch.equal(run[0], run[2])


def test_ranking_is_joint_over_both_people():
    logits = torch.zeros(1, 2, R, C, K)                               # B: flat, confidence 1/K
    logits[:, 0, ..., 0] = 30.0                                       # A: code 0, confidence ~1
    _, tr = dec(fixed_logits_fn(logits), torch.tensor([C]), C, K, steps=4, schedule="linear",
                seed=12, confidence_noise=0.0, trace=True)
    n_free = 2 * R * C
    decided = [(tr.ids[s] != MASK) for s in range(4)]
    assert decided[0].sum() == n_free // 4 and decided[0][:, 1].sum() == 0  # only A decided after step 0
    assert decided[1][:, 0].all() and decided[1][:, 1].sum() == 0          # all of A before any of B
    assert (tr.ids[1][:, 0] == 0).all()


def test_bad_inputs_raise_clear_errors():
    fn = fresh_logits_fn()
    with pytest.raises(ValueError, match="lengths"):
        dec(fn, torch.tensor([C + 1]), C, K)
    with pytest.raises(ValueError, match="fixed_mask"):
        dec(fn, torch.tensor([C]), C, K, fixed=torch.zeros(1, 2, R, C, dtype=torch.long))
    with pytest.raises(ValueError, match="expected"):
        dec(lambda ids, s: torch.zeros(ids.shape + (K + 3,)), torch.tensor([C]), C, K)
    with pytest.raises(ValueError, match="schedule"):
        dec(fn, torch.tensor([C]), C, K, schedule="exp")
    with pytest.raises(ValueError, match="temperature"):
        dec(fn, torch.tensor([C]), C, K, temperature=-1.0)
    with pytest.raises(ValueError, match="NaN"):
        dec(lambda ids, s: torch.full(ids.shape + (K,), float("nan")), torch.tensor([C]), C, K)
    fixed, fixed_mask = reaction_masks(torch.full((1, R, C), K))      # MASK is not a code to keep
    with pytest.raises(ValueError, match="fixed ids"):
        dec(fn, torch.tensor([C]), C, K, fixed=fixed, fixed_mask=fixed_mask)


def test_a_row_does_not_depend_on_the_rest_of_the_batch():
    logits = torch.randn(3, 2, R, C, K, generator=gen(13))
    seeds = [row_seed(5, b, 0) for b in range(3)]
    batch = dec(fixed_logits_fn(logits), torch.full((3,), C), C, K, steps=4, row_seeds=seeds)
    for b in range(3):
        alone = dec(fixed_logits_fn(logits[b:b + 1]), torch.tensor([C]), C, K, steps=4, row_seeds=[seeds[b]])
        assert torch.equal(alone[0], batch[b])
    assert row_seed(5, 0, 1) != row_seed(5, 1, 0) != row_seed(6, 0, 0)


def test_confidence_noise_changes_which_positions_are_kept_first():
    logits = torch.randn(1, 2, R, C, K, generator=gen(14)) * 2
    plain = dec(fixed_logits_fn(logits), torch.tensor([C]), C, K, steps=4, seed=3, confidence_noise=0.0,
                trace=True)[1]
    noisy = dec(fixed_logits_fn(logits), torch.tensor([C]), C, K, steps=4, seed=3, confidence_noise=5.0,
                trace=True)[1]
    assert torch.equal(plain.sampled[0], noisy.sampled[0])             # the same draws at step 0 ...
    assert not torch.equal(plain.masked[1], noisy.masked[1])           # ... but other positions re-masked


@pytest.mark.parametrize("field, value", [("temperature", float("nan")), ("guidance", float("inf")),
                                          ("guidance", -1.0), ("steps", 0), ("steps", 2.5), ("seed", -1),
                                          ("confidence_noise", -0.1), ("top_k", 0), ("top_k", 1.5),
                                          ("schedule", "exp"), ("temperature", "hot")])
def test_sampling_rejects_bad_values_naming_the_field(field, value):
    with pytest.raises(ValueError, match=f"Sampling.{field}"):
        Sampling(**{field: value})
    with pytest.raises(TypeError, match="unknown sampling setting"):
        Sampling().updated(temprature=1.0)
    assert Sampling().updated(steps=None, guidance=3.0) == Sampling(guidance=3.0)


def test_seconds_to_columns_rounds_half_up_everywhere():
    assert seconds_to_columns(3.0, 20) == 15
    assert seconds_to_columns(1.0, 30) == 8                           # 7.5 columns round up
    assert seconds_to_columns(2.5, 20) == 13                          # 12.5 too (Python's round() gives 12)
    assert seconds_to_columns(0.0, 20) == 0
    with pytest.raises(ValueError, match="fps"):
        seconds_to_columns(1.0, 0)


def test_decodes_with_a_tiny_real_model():
    from intermask_lite.config import TextConfig, TransformerConfig
    from intermask_lite.mask_transformer.generate import model_logits_fn
    from intermask_lite.mask_transformer.model import InterMTransformer
    from intermask_lite.text import build_text_encoder

    torch.manual_seed(0)
    captions = ["two people shake hands", "one person pushes the other"]
    text_encoder = build_text_encoder(TextConfig(dim=32, max_words=8), captions)
    model = InterMTransformer(TransformerConfig(latent_dim=32, n_layers=1, n_heads=2), K, text_encoder)
    model.train()
    lengths = torch.tensor([C, 3])
    fn = model_logits_fn(model, captions)
    runs = [dec(fn, lengths, C, K, steps=4, guidance=2.0, seed=s) for s in (0, 0, 1)]
    assert model.training                                             # the mode is restored
    ids = runs[0]
    assert (ids[1, :, :, 3:] == PAD).all() and (ids[0] < K).all() and (ids[1, :, :, :3] < K).all()
    assert torch.equal(runs[0], runs[1]) and not torch.equal(runs[0], runs[2])
    fixed, fixed_mask = reaction_masks(ids[:, 0])
    reacted = dec(fn, lengths, C, K, steps=3, fixed=fixed, fixed_mask=fixed_mask, seed=2)
    assert torch.equal(reacted[:, 0], ids[:, 0])
