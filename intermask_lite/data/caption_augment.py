"""Synonym rewriting of training captions, so that a text-conditioned model learns more than the templates' words.

    rewrite_caption("someone pushes the other person", rng)      # e.g. "a woman shoves the companion"
    with_rewrites([["two people hug each other"]], n=2, seed=0)  # each caption list gains 2 rewrites per caption
    training_captions(clips, rewrites=3, seed=0)                 # what the transformer and the baseline train on

Each phrase of SYNONYMS found in a caption (whole words, longest phrase first) is replaced, with probability
`p`, by one of its alternatives. The table is plain English usage (people, the built-in interactions' verbs,
manner words), no evaluation sentence copied into it; a caption without any listed phrase stays as it is.
Rewrites keep 'left'/'right', so mirroring a clip and its caption still agree.
"""
from __future__ import annotations

import re

import numpy as np

# phrase -> alternatives; inflected forms are separate keys, so a rewrite stays grammatical
SYNONYMS = {
    # people
    "one person": ["a man", "a woman", "one individual", "somebody", "one of them", "the first figure"],
    "someone": ["a man", "a woman", "somebody", "an individual", "one of the pair"],
    "a person": ["a man", "a woman", "an individual", "somebody", "a figure"],
    "the first person": ["the first individual", "the first figure", "the man", "the woman", "the leader"],
    "the other person": ["the other individual", "the partner", "the companion", "the second figure", "the friend"],
    "the other": ["the partner", "the companion", "the other one", "the friend"],
    "their partner": ["their companion", "their friend", "the partner", "the other individual"],
    "the second person": ["the second individual", "the second figure", "the companion", "the partner"],
    "two people": ["the pair", "the duo", "two friends", "a couple", "both individuals", "two figures"],
    "the two people": ["the pair", "the duo", "both of them", "the couple", "both individuals"],
    "a pair of people": ["a pair", "a duo", "two individuals", "a couple", "two figures"],
    "two persons": ["two individuals", "the two friends", "both people", "the pair"],
    "each other": ["one another"],
    # interactions
    "shake hands": ["clasp hands", "grip hands", "exchange a handshake"],
    "shakes hands": ["clasps hands", "grips hands", "exchanges a handshake"],
    "shakes it": ["grips it", "clasps it", "grasps it"],
    "handshake": ["hand shake", "greeting grip"],
    "high five": ["palm slap", "hand slap", "high-five"],
    "high-fives it": ["slaps it", "smacks it", "claps it"],
    "slap hands": ["smack palms", "clap palms", "slap palms"],
    "waves": ["signals", "gestures", "waves a hand"],
    "wave": ["signal", "gesture", "wave a hand"],
    "hug": ["embrace", "squeeze", "cuddle"],
    "hugs": ["embraces", "squeezes", "cuddles"],
    "embrace": ["hug", "squeeze", "hold each other"],
    "bow": ["bend forward", "bow down", "bend at the waist"],
    "bows": ["bends forward", "bows down", "bends at the waist"],
    "pushes": ["shoves", "thrusts", "knocks back", "drives back"],
    "shoves": ["pushes", "thrusts", "knocks back"],
    "stumbles": ["staggers", "reels", "totters"],
    "staggers": ["stumbles", "reels", "totters"],
    "punches": ["strikes", "jabs", "hits", "swings"],
    "a punch": ["a jab", "a blow", "a strike", "a hook"],
    "a fist": ["a punch", "a blow", "a hook"],
    "dodge": ["evade", "escape", "slip"],
    "avoid": ["evade", "escape", "dodge"],
    "misses": ["fails to hit", "does not connect", "hits nothing"],
    "pulls": ["tugs", "drags", "yanks", "hauls", "tows"],
    "drags": ["pulls", "hauls", "tows", "yanks"],
    "tugs": ["pulls", "yanks", "drags"],
    "leads": ["guides", "steers", "draws"],
    "follows": ["trails", "tails", "goes after", "walks behind"],
    "walks": ["strolls", "strides", "steps", "goes"],
    "walk": ["stroll", "stride", "step", "go"],
    "past": ["by", "beyond"],
    "approaches": ["nears", "comes up to", "closes in on", "moves towards"],
    "approach": ["near", "come up to", "close in on", "move towards"],
    "dance": ["twirl", "spin", "whirl"],
    "spin around": ["twirl around", "rotate", "whirl around"],
    "pats": ["taps", "touches", "claps"],
    "taps": ["pats", "touches"],
    "chases": ["pursues", "hunts", "runs down", "goes after"],
    "runs after": ["pursues", "races after", "sprints after"],
    "runs away": ["flees", "escapes", "races off"],
    # manner and sequencing
    "quickly": ["fast", "rapidly", "swiftly"],
    "slowly": ["unhurriedly", "leisurely", "gradually"],
    "gently": ["softly", "lightly", "tenderly"],
    "then": ["next", "later", "and next"],
}
_PATTERN = re.compile(r"\b(" + "|".join(re.escape(k) for k in sorted(SYNONYMS, key=len, reverse=True)) + r")\b")


def rewrite_caption(text: str, rng: np.random.Generator, p: float = 0.5) -> str:
    """`text` with each listed phrase replaced by a random alternative with probability p (p in [0, 1])."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must lie in [0, 1], got {p}")

    def swap(match: re.Match) -> str:
        options = SYNONYMS[match.group(1)]
        return options[int(rng.integers(len(options)))] if rng.random() < p else match.group(1)

    return _PATTERN.sub(swap, text)


def with_rewrites(caption_lists: list[list[str]], n: int, seed: int = 0, p: float = 0.5) -> list[list[str]]:
    """Each clip's captions followed by up to n distinct rewrites of each (n = 0: unchanged copies)."""
    if n < 0:
        raise ValueError(f"n must be >= 0 rewrites per caption, got {n}")
    rng = np.random.default_rng(seed)
    out = []
    for captions in caption_lists:
        extended = list(captions)
        for text in captions:
            for _ in range(n):
                new = rewrite_caption(text, rng, p)
                if new not in extended:
                    extended.append(new)
        out.append(extended)
    return out


def training_captions(clips, rewrites: int, seed: int = 0) -> list[list[str]]:
    """Each clip's captions followed by `rewrites` synonym rewrites of each (TextConfig.rewrites; 0: as they are)."""
    return with_rewrites([list(clip.captions) for clip in clips], rewrites, seed=seed)
