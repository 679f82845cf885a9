"""Synonym rewrites of training captions (data.caption_augment) and the dev paraphrases."""
import numpy as np
import pytest

from intermask_lite.data.caption_augment import SYNONYMS, rewrite_caption, with_rewrites
from intermask_lite.data.synthetic import captions

TEXT = "someone pushes the other person with the left hand then walks away"


def test_rewrite_probability_bounds():
    rng = np.random.default_rng(0)
    assert rewrite_caption(TEXT, rng, p=0.0) == TEXT
    changed = rewrite_caption(TEXT, np.random.default_rng(0), p=1.0)
    words = changed.split()
    assert "someone" not in words and "pushes" not in words and "walks" not in words, changed  # no alternative has them
    assert not changed.startswith("someone") and changed != TEXT
    assert "left hand" in changed  # sides survive, so mirrored captions still match mirrored motion
    with pytest.raises(ValueError, match=r"p must lie in \[0, 1\]"):
        rewrite_caption(TEXT, rng, p=1.5)


def test_longest_phrase_wins_and_whole_words_only():
    rng = np.random.default_rng(1)
    out = rewrite_caption("the other person waves", rng, p=1.0)
    assert out.split()[-1] in {w.split()[-1] for w in SYNONYMS["waves"]}
    assert not out.startswith("the partner person")  # "the other person" replaced whole, not "the other" inside it
    assert rewrite_caption("showcase", rng, p=1.0) == "showcase"  # "shove"-like keys never match inside words


def test_no_alternative_names_a_side():
    for alternatives in SYNONYMS.values():
        assert not any(side in alt.split() for alt in alternatives for side in ("left", "right"))


def test_with_rewrites_keeps_originals_first_and_is_deterministic():
    lists = [["two people hug each other", "someone hugs their partner"], ["one person bows then the other bows"]]
    out = with_rewrites(lists, n=3, seed=0)
    assert out == with_rewrites(lists, n=3, seed=0)
    assert out != with_rewrites(lists, n=3, seed=1)
    for original, extended in zip(lists, out):
        assert extended[: len(original)] == original
        assert len(set(extended)) == len(extended) <= len(original) * 4
        assert len(extended) > len(original)
    assert with_rewrites(lists, n=0) == lists
    with pytest.raises(ValueError, match="n must be >= 0"):
        with_rewrites(lists, n=-1)


def test_dev_paraphrases_are_unseen_and_apart_from_the_test_set():
    assert set(captions.DEV_PARAPHRASES) == set(captions.TEMPLATES)
    for label, texts in captions.DEV_PARAPHRASES.items():
        for text in texts:
            assert not captions.templates_can_produce(label, text), text
            assert text not in captions.HELD_OUT_PARAPHRASES[label]


def test_training_captions_are_each_clips_own_plus_rewrites():
    from types import SimpleNamespace
    from intermask_lite.data.caption_augment import training_captions
    clips = [SimpleNamespace(captions=("two people hug each other",)), SimpleNamespace(captions=("someone bows",))]
    assert training_captions(clips, 0) == [["two people hug each other"], ["someone bows"]]
    extended = training_captions(clips, 3, seed=0)
    assert [caps[0] for caps in extended] == ["two people hug each other", "someone bows"] and len(extended[0]) > 1
