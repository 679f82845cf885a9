"""The public kit on smoke models: generate, react, inpaint, reconstruct, checkpoint lookup and errors."""
import numpy as np
import pytest
import torch

from intermask_lite.data.synthetic import load_split
from intermask_lite.checkpoints import checkpoint_path
from intermask_lite.familiarity import CroppedInputWarning
from intermask_lite import skeleton
from intermask_lite.kit import load_pretrained
from intermask_lite.mask_transformer.sampling import Sampling, row_seed
from intermask_lite.motion import Motion


@pytest.fixture(scope="module")
def clip():
    return load_split("test", 48, 0)[0]


def test_generate_shapes_order_and_tokens(smoke_kit):
    ms = smoke_kit.generate(["two people shake hands", "someone waves"], seconds=1.0, samples=2, seed=0, steps=3)
    assert [m.text for m in ms] == ["two people shake hands"] * 2 + ["someone waves"] * 2  # prompt-major
    for m in ms:
        assert m.joints.shape == (2, 20, 22, 3) and m.fps == 20  # 1 s = 5 token columns = 20 frames
        assert m.tokens.shape == (2, 5, 5) and int(m.tokens.max()) < smoke_kit.nb_code
        np.testing.assert_allclose(m.raw_joints, smoke_kit.detokenize(m.tokens), atol=1e-6)


def test_the_kits_own_output_is_read_back_in_the_frame_its_tokens_were_made_in(smoke_kit):
    """tokenize/reconstruct of a generated Motion use its token_frame; finding the frame again from the decoded
    pose would turn it a little (a plain copy of the joints shows that the found frame differs)."""
    from intermask_lite.placement import find_placement
    m = smoke_kit.generate("two people shake hands", seconds=1.0, seed=0, steps=3, cleanup=())[0]
    assert smoke_kit._placed(m)[1] == m.token_frame and m.token_frame.yaw == 0.0
    assert find_placement(m.joints) != m.token_frame                  # what a plain Motion(m.joints) would get
    own = smoke_kit._encode(np.asarray(m.joints))                     # (2, 5, 5) in the models' frame
    assert torch.equal(smoke_kit.tokenize(m), own)
    plain = Motion(m.joints, fps=m.fps)
    assert smoke_kit._placed(plain)[1] == find_placement(m.joints)


def test_generate_is_seeded(smoke_kit):
    a = smoke_kit.generate("two people hug", seconds=1.0, seed=1, steps=3)[0]
    b = smoke_kit.generate("two people hug", seconds=1.0, seed=1, steps=3)[0]
    c = smoke_kit.generate("two people hug", seconds=1.0, seed=2, steps=3)[0]
    assert torch.equal(a.tokens, b.tokens) and np.array_equal(a.joints, b.joints)
    assert not torch.equal(a.tokens, c.tokens)


def test_generate_rejects_bad_input(smoke_kit):
    with pytest.raises(ValueError, match="empty"):
        smoke_kit.generate(["  "], seconds=1.0)
    with pytest.raises(ValueError, match="token columns"):
        smoke_kit.generate(["two people hug"], seconds=100.0)
    with pytest.raises(ValueError, match="samples"):
        smoke_kit.generate(["two people hug"], samples=0)


def test_decode_tokens_takes_one_length_per_prompt(smoke_kit):
    ids = smoke_kit.decode_tokens(["two people hug", "someone waves"], [3, 5], n_cols=5, sampling=Sampling(steps=3))
    assert ids.shape == (2, 2, 5, 5)                                   # (B, people, rows, columns)
    assert int(ids[0, ..., :3].max()) < smoke_kit.nb_code and int(ids[1].max()) < smoke_kit.nb_code
    assert (ids[0, ..., 3:] == smoke_kit.nb_code + 1).all()            # past its length: PAD
    alone = smoke_kit.decode_tokens(["someone waves"], [5], n_cols=5, sampling=Sampling(steps=3),
                                    row_seeds=[row_seed(0, 1, 0)])[0]
    assert torch.equal(alone, ids[1])                                  # a row does not depend on its batch
    first = smoke_kit.decode_tokens(["two people hug"], [5], n_cols=5, sampling=Sampling(steps=3))[0]
    assert torch.equal(first, smoke_kit.generate("two people hug", seconds=1.0, seed=0, steps=3)[0].tokens)


def test_a_sample_depends_only_on_seed_prompt_and_sample_index(smoke_kit):
    one = smoke_kit.generate(["two people hug"], seconds=1.0, samples=1, seed=4, steps=3)
    two = smoke_kit.generate(["two people hug", "someone waves"], seconds=1.0, samples=2, seed=4, steps=3)
    assert torch.equal(one[0].tokens, two[0].tokens)
    assert not torch.equal(two[0].tokens, two[1].tokens)


def test_cleanup_is_switchable_and_keeps_the_raw_output(smoke_kit):
    raw = smoke_kit.generate("two people hug", seconds=1.0, seed=0, steps=3, cleanup=())[0]
    cleaned = smoke_kit.generate("two people hug", seconds=1.0, seed=0, steps=3)[0]
    np.testing.assert_allclose(raw.joints, raw.raw_joints)
    np.testing.assert_allclose(cleaned.raw_joints, raw.joints)
    assert not np.allclose(cleaned.joints, raw.joints)
    drift = np.ptp(skeleton.bone_lengths(cleaned.joints[0]), axis=0).max()  # one skeleton: constant bones
    assert drift < 1e-4
    with pytest.raises(ValueError, match="unknown cleanup stage"):
        smoke_kit.generate("two people hug", seconds=1.0, cleanup=["smooth"])


def test_react_keeps_the_actor(smoke_kit, clip):
    actor = Motion.from_clip(clip)
    ms = smoke_kit.react(actor.person(0), "the other one waves back", samples=2, seed=0, steps=3, crop=True)
    ids_a = smoke_kit.tokenize(actor.person(0))[0]                    # (5, C)
    for m in ms:
        cols = m.tokens.shape[-1]
        assert torch.equal(m.tokens[0], ids_a[:, :cols])
    assert not torch.equal(ms[0].tokens[1], ms[1].tokens[1])  # two different reactions


def test_long_input_is_cut_only_when_asked_and_then_with_a_warning(smoke_kit, clip):
    actor = Motion.from_clip(clip).person(0)                           # longer than the smoke models' 3 s
    limit = smoke_kit.max_columns
    assert actor.n_frames > 4 * limit
    with pytest.raises(ValueError, match=r"the actor is 3\.4 s long.*at most 3 s: pass crop=True"):
        smoke_kit.react(actor, "someone waves", steps=2)
    with pytest.warns(CroppedInputWarning, match="kept its first 3 s"):
        m = smoke_kit.react(actor, "someone waves", steps=2, crop=True)[0]
    assert m.tokens.shape[-1] == limit and m.n_frames == 4 * limit
    with pytest.raises(ValueError, match="the motion is .* pass crop=True"):
        smoke_kit.inpaint(Motion.from_clip(clip), person="B", rows=[3], steps=2)


def test_reconstruct_keeps_every_frame(smoke_kit, clip):
    motion = Motion(clip.joints[:, :43], fps=clip.fps)                 # not a whole number of 4-frame tokens
    assert smoke_kit.reconstruct(motion).n_frames == 43
    assert smoke_kit.tokenize(motion).shape[-1] == 11                  # the last token: the last frame held


def test_samples_in_chunks_equal_samples_at_once(smoke_kit):
    whole = smoke_kit.generate("two people wave", seconds=1.0, samples=3, seed=4, steps=2, cleanup=())
    tail = smoke_kit.generate("two people wave", seconds=1.0, samples=2, seed=4, steps=2, cleanup=(), first_sample=1)
    for a, b in zip(whole[1:], tail):
        assert torch.equal(a.tokens, b.tokens)
    with pytest.raises(ValueError, match="first_sample must be an integer >= 0"):
        smoke_kit.generate("two people wave", seconds=1.0, first_sample=-1)


def decoder_reach(kit, cols=20, col=10) -> int:
    """How many frames a change of one token column moves the decoded joints, on either side."""
    ids = torch.randint(0, kit.nb_code, (1, 5, cols), generator=torch.Generator().manual_seed(0))
    changed = ids.clone()
    changed[..., col] = (changed[..., col] + 1) % kit.nb_code
    diff = np.abs(kit.detokenize(changed) - kit.detokenize(ids)).max(axis=(0, 2, 3))  # (T,)
    frames = np.nonzero(diff > 1e-6)[0]
    return int(max(4 * col - frames.min(), frames.max() - (4 * col + 3)))


def test_inpaint_keeps_everything_outside_its_region(smoke_kit, clip):
    motion = Motion.from_clip(clip)
    ids = smoke_kit.tokenize(motion)                                  # (2, 5, C)
    out = smoke_kit.inpaint(motion, person="B", rows=[3, 4], seconds=(1.0, 1.6), text="b waves", seed=0, steps=3,
                            crop=True)[0]
    cols = out.tokens.shape[-1]
    region = torch.zeros_like(out.tokens, dtype=torch.bool)
    region[1, 3:5, 5:8] = True                                        # B, arm rows, 1.0-1.6 s = columns 5..7
    assert torch.equal(out.tokens[~region], ids[..., :cols][~region])
    assert not torch.equal(out.tokens[region], ids[..., :cols][region])
    # joints: identical to the untouched reconstruction outside the edit window and the decoder's reach
    reach = decoder_reach(smoke_kit)
    base = smoke_kit.detokenize(ids[..., :cols])
    moved = np.abs(out.raw_joints - base).max(axis=(0, 2, 3))        # (T,) the decoder output
    far = np.r_[0:max(0, 20 - reach), min(len(moved), 32 + reach):len(moved)]
    assert far.size > 0 and moved[far].max() < 1e-5
    assert moved[20:32].max() > 1e-4


def test_inpaint_rejects_one_person(smoke_kit, clip):
    with pytest.raises(ValueError, match="two-person"):
        smoke_kit.inpaint(Motion.from_clip(clip).person(0), person="B", rows=[3])


def test_reconstruct_one_and_two_people(smoke_kit, clip):
    motion = Motion.from_clip(clip)
    r2 = smoke_kit.reconstruct(motion)
    r1 = smoke_kit.reconstruct(motion.person(1))
    n = motion.n_frames                                               # every frame comes back
    assert r2.joints.shape == (2, n, 22, 3) and r1.joints.shape == (1, n, 22, 3)
    swapped = smoke_kit.reconstruct(motion.swap())  # B first: the frame is B's, as for B alone
    np.testing.assert_allclose(r1.raw_joints[0], swapped.raw_joints[0], atol=1e-5)  # each person is tokenized alone
    assert "reconstructed" in r2.text


def test_checkpoint_lookup_and_missing_checkpoint_error(smoke_artifacts, tmp_path):
    assert checkpoint_path("vq", "smoke", smoke_artifacts) == smoke_artifacts / "smoke" / "vq_best.pt"
    with pytest.raises(ValueError, match="unknown checkpoint kind"):
        checkpoint_path("gan", "smoke", smoke_artifacts)
    with pytest.raises(FileNotFoundError, match="train vq --preset smoke"):
        load_pretrained("smoke", artifacts_dir=tmp_path)


def test_checkpoint_from_another_config_gets_a_clear_error(smoke_artifacts, tmp_path):
    from intermask_lite.utils import atomic_torch_save, load_checkpoint
    from intermask_lite.vq.pipeline import load_tokenizer
    ckpt = load_checkpoint(smoke_artifacts / "smoke" / "vq_best.pt", kind="vq")
    ckpt["extra"]["preset"]["vq"]["width"] *= 2  # the stored config no longer fits the weights
    atomic_torch_save(ckpt, tmp_path / "vq.pt")
    with pytest.raises(ValueError, match="another version|do not fit"):
        load_tokenizer(tmp_path / "vq.pt")


def test_an_interrupted_run_is_found_for_resuming(tmp_path):
    from intermask_lite.config import smoke
    from intermask_lite.checkpoints import unfinished_step
    from intermask_lite.utils import CHECKPOINT_FORMAT, atomic_torch_save
    preset = smoke()
    assert unfinished_step("vq", preset, tmp_path) is None  # nothing there
    for step, expected in [(2, 2), (preset.vq_train.steps, None)]:
        atomic_torch_save({"format": CHECKPOINT_FORMAT, "kind": "vq", "step": step}, tmp_path / "smoke" / "vq_last.pt")
        assert unfinished_step("vq", preset, tmp_path) == expected
    # a shorter run by choice (--steps 2, its own config says 2) is finished when only loading it
    atomic_torch_save({"format": CHECKPOINT_FORMAT, "kind": "vq", "step": 2, "config": {"steps": 2}},
                      tmp_path / "smoke" / "vq_last.pt")
    assert unfinished_step("vq", preset, tmp_path, train=False) is None
    assert unfinished_step("vq", preset, tmp_path) == 2                 # training would go on to the preset's


def test_generate_and_inpaint_share_one_seconds_to_columns(smoke_kit):
    from intermask_lite.config import seconds_to_columns
    m = smoke_kit.generate("two people hug", seconds=2.5, seed=0, steps=2)[0]
    assert m.tokens.shape[-1] == seconds_to_columns(2.5, smoke_kit.fps) == 13


def test_text_anchor_is_the_presets_and_zero_gives_the_raw_vectors(smoke_kit):
    """kit.text_condition: preset.text.anchor = 0 gives the encoder's own vectors, k > 0 vectors pulled nearer
    the training captions'."""
    prompts = ["b waves", "a completely unheard of sentence about dancing robots"]
    before = smoke_kit.preset.text.anchor
    try:
        smoke_kit.preset.text.anchor = 0
        raw = smoke_kit.text_condition(prompts)
        assert torch.allclose(raw, smoke_kit.transformer.text_encoder.eval()(prompts)[2])
        smoke_kit.preset.text.anchor = 4
        anchored = smoke_kit.text_condition(prompts)
        assert anchored.shape == raw.shape
        bank = smoke_kit._anchor.bank
        assert torch.cdist(anchored, bank).min(1).values.max() < torch.cdist(raw, bank).min(1).values.max()
    finally:
        smoke_kit.preset.text.anchor = before
