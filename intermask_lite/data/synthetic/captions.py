"""Captions of the built-in interactions: templates with synonyms, manner and sequencing, plus held-out
paraphrases that the templates never produce (for testing text generalisation)."""
from __future__ import annotations

import re
import string

import numpy as np

SLOTS = {
    "a": ["one person", "someone", "a person", "the first person"],
    "b": ["the other person", "the other", "their partner", "the second person"],
    "two": ["two people", "the two people", "a pair of people", "two persons"],
    "then": ["then", "and then", "after that", "afterwards"],
}
MANNER = {"fast": ["quickly", "briskly", "energetically"], "slow": ["slowly", "calmly", "gently"], "normal": ["", "casually"]}
HAND = ["with the {side} hand", "with their {side} hand", "using the {side} hand", "with his {side} hand"]
DODGE = {
    "duck": ["ducks under it", "ducks down to avoid it", "crouches under the blow"],
    "lean_back": ["leans back to dodge it", "leans away from the blow", "pulls the head back to avoid it"],
    "sidestep": ["steps to the side to dodge it", "sidesteps the blow", "moves aside to avoid it"],
}

# (required params or None, template). {hand} follows params["hand"]; {hand2} follows params["receiver_hand"].
TEMPLATES = {
    "handshake": [(None, "{two} shake hands"), (None, "{a} reaches out {hand} and {b} shakes it"),
                  (None, "{two} {manner} greet each other with a handshake"),
                  (None, "{a} offers a handshake {hand} {then} {b} takes it"),
                  ({"approach": "both"}, "{two} walk up to each other and shake hands"),
                  ({"approach": "actor"}, "{a} walks over to {b} and shakes hands {hand}")],
    "high_five": [(None, "{two} give each other a high five"), (None, "{a} raises a hand and {b} high-fives it"),
                  (None, "{a} {manner} gives {b} a high five {hand}"),
                  (None, "{two} slap hands above their heads"), (None, "{a} lifts {hand} high {then} {b} claps it")],
    "wave": [(None, "{a} waves {hand} and {b} waves back"), (None, "{two} wave at each other"),
             (None, "{a} {manner} waves at {b} {then} {b} waves back {hand2}"),
             (None, "{a} raises a hand to greet {b} from a distance and gets a wave back"),
             (None, "{a} waves {hand} {then} {b} turns and waves back")],
    "hug": [(None, "{two} hug each other"), (None, "{two} walk towards each other and embrace"),
            (None, "{a} {manner} hugs {b}"), (None, "{a} wraps both arms around {b} {then} they let go"),
            (None, "{two} come together for a hug {then} step back")],
    "bow": [(None, "{two} bow to each other"), (None, "{a} bows {then} {b} bows back"),
            (None, "{a} {manner} bows to {b} who returns the bow"),
            (None, "{a} bends forward in a bow and {b} answers with a bow")],
    "push": [(None, "{a} pushes {b} who stumbles backwards"), (None, "{a} {manner} shoves {b} away"),
             ({"hands": "both"}, "{a} pushes {b} in the chest with both hands"),
             ({"hands": "one"}, "{a} pushes {b} {hand}"),
             (None, "{a} walks up and pushes {b} {then} {b} staggers back"),
             (None, "{a} shoves {b} and {b} stumbles back a few steps")],
    "punch_dodge": [(None, "{a} throws a punch and {b} {dodge}"), (None, "{a} {manner} punches at {b} {hand} but {b} {dodge}"),
                    (None, "{a} swings a fist at {b} who {dodge}"), (None, "{a} throws a punch {hand} and misses"),
                    (None, "{a} raises the fists and punches {then} {b} {dodge}")],
    "pull": [(None, "{a} pulls {b} by the hand"), (None, "{a} takes the hand of {b} and pulls them along"),
             (None, "{a} grabs {b} {hand} {then} drags {b} away"),
             (None, "{a} {manner} leads {b} away by the hand"), (None, "{a} holds hands with {b} and tugs them forward")],
    "follow": [(None, "{a} walks and {b} follows behind"), (None, "{b} follows {a}"),
               (None, "{a} {manner} walks ahead while {b} follows"), (None, "{a} leads the way and {b} walks after them"),
               ({"looks_back": 1.0}, "{a} walks ahead and looks back at {b} who follows")],
    "pass_by": [(None, "{two} walk towards each other and pass by"), (None, "{two} walk past each other"),
                (None, "{a} {manner} walks past {b}"), (None, "{two} cross paths and keep walking"),
                (None, "{a} and {b} approach from opposite directions {then} pass each other")],
    "approach": [(None, "{a} walks up to {b}"), (None, "{a} approaches {b} and stops in front of them"),
                 (None, "{a} {manner} walks over to {b} {then} they face each other"),
                 ({"approach": "both"}, "{two} walk towards each other and meet"),
                 ({"approach": "both"}, "{two} approach each other {then} stop face to face"),
                 ({"approach": "actor"}, "{a} walks towards {b} who turns to face them")],
    "circle_dance": [(None, "{two} hold hands and spin around in a circle"), (None, "{two} dance in a circle holding hands"),
                     (None, "{a} takes both hands of {b} {then} they turn around together"),
                     (None, "{two} {manner} circle around each other holding hands")],
    "pat_shoulder": [(None, "{a} pats {b} on the shoulder"), (None, "{a} pats the shoulder of {b} {hand}"),
                     (None, "{a} {manner} taps {b} on the shoulder"),
                     ({"position": "behind"}, "{a} walks up behind {b} and pats the shoulder {then} {b} turns around"),
                     ({"position": "front"}, "{a} walks up to {b} and pats the shoulder {hand}")],
    "chase": [(None, "{a} chases {b}"), (None, "{a} runs after {b}"), (None, "{b} runs away and {a} chases them"),
              (None, "{a} {manner} chases {b} and catches up"), (None, "{a} runs after {b} {then} tags them on the back")],
}

HELD_OUT_PARAPHRASES = {
    "handshake": ["two individuals clasp palms and pump them up and down",
                  "the pair seal the deal with a firm shake", "both partners grip hands in a formal greeting"],
    "high_five": ["the duo smack their palms together overhead", "a celebratory palm slap between two friends",
                  "both raise an arm and clap palms in the air"],
    "wave": ["a friendly hand wave is returned from across the room", "both figures greet one another by waving from afar",
             "the first individual signals hello with a raised arm and is answered likewise"],
    "hug": ["the pair share a warm embrace", "both individuals wrap their arms around one another",
            "two friends squeeze each other tightly"],
    "bow": ["the pair exchange respectful bows", "both individuals bend at the waist toward one another",
            "a polite bow is given and returned"],
    "push": ["one individual thrusts the other backwards", "a forceful shove sends the partner reeling",
             "the first figure knocks the second back with a push"],
    "punch_dodge": ["a jab is thrown but the target evades it", "the attacker strikes and the defender slips the blow",
                    "one fighter swings while the other avoids getting hit"],
    "pull": ["one individual tows the partner along by the wrist", "the first figure yanks the second forward",
             "someone hauls a companion along by the arm"],
    "follow": ["one individual trails the other at a distance", "the second figure tails the first",
               "a person keeps walking behind a companion"],
    "pass_by": ["the two pedestrians go by one another", "walking in opposite directions they brush past",
                "both individuals stroll past each other without stopping"],
    "approach": ["one individual closes the distance to the other", "the pair converge and halt face to face",
                 "a person strolls up to a companion and halts"],
    "circle_dance": ["the duo twirl around together with joined hands", "holding on to each other they rotate in a ring",
                     "a pair of dancers revolve around their shared centre"],
    "pat_shoulder": ["one individual gives the other a friendly tap on the arm", "a reassuring pat lands on the partner",
                     "the first figure touches the companion's shoulder lightly a few times"],
    "chase": ["one individual pursues the other at a run", "a runner is hunted down by a companion",
              "the pair race along as one tries to catch the other"],
}


def _slot_options(params: dict | None) -> dict:
    """Words each slot may take: for the given params, or every possibility when params is None."""
    options = dict(SLOTS)
    sides = ["left", "right"] if params is None else [params.get("hand", "right")]
    sides2 = ["left", "right"] if params is None else [params.get("receiver_hand", "right")]
    options["hand"] = [h.format(side=s) for s in sides for h in HAND]
    options["hand2"] = [h.format(side=s) for s in sides2 for h in HAND]
    if params is None:
        options["manner"] = sorted({m for ms in MANNER.values() for m in ms})
        options["dodge"] = [d for ds in DODGE.values() for d in ds]
    else:
        tempo = params.get("tempo", 1.0)
        options["manner"] = MANNER["fast" if tempo > 1.1 else "slow" if tempo < 0.92 else "normal"]
        options["dodge"] = DODGE.get(params.get("dodge", "duck"), DODGE["duck"])
    return options


def _tidy(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def make_captions(label: str, params: dict, rng: np.random.Generator, n: int = 3) -> list[str]:
    """n (or as many as the templates allow, at least 3) distinct captions for a clip of class `label`."""
    if label not in TEMPLATES:
        raise KeyError(f"no caption templates for label {label!r}; expected one of {sorted(TEMPLATES)}")
    usable = [tpl for need, tpl in TEMPLATES[label] if need is None or all(params.get(k) == v for k, v in need.items())]
    options = _slot_options(params)
    chosen = rng.permutation(len(usable))[:max(n, 3)]
    captions = []
    for i in chosen:
        fill = {name: options[name][int(rng.integers(len(options[name])))] for name in options}
        captions.append(_tidy(usable[i].format(**fill)))
    return captions


def template_pattern(template: str) -> re.Pattern:
    """A regex matching every caption a template can produce (any slot filling)."""
    options = _slot_options(None)
    parts = []
    for literal, field, _, _ in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if field is not None:
            parts.append("(?:" + "|".join(re.escape(o) for o in options[field]) + ")")
    return re.compile("".join(parts))


def templates_can_produce(label: str, text: str) -> bool:
    """Whether some template of `label` can produce `text` (whitespace-normalised)."""
    squeezed = _tidy(text)
    for _, tpl in TEMPLATES[label]:
        if template_pattern(tpl).fullmatch(squeezed) or template_pattern(tpl.replace("{manner} ", "")).fullmatch(squeezed):
            return True
    return False

# A second set of unseen sentences for choosing text settings (augmentation, encoder), so that
# HELD_OUT_PARAPHRASES stays a final test. Like those, the templates never produce them.
DEV_PARAPHRASES = {
    "handshake": ["they greet each other by shaking hands firmly", "a man extends his hand and the woman grasps it"],
    "high_five": ["two teammates celebrate by slapping raised hands", "a man holds up his palm and his friend smacks it"],
    "wave": ["a man waves hello across the street and the woman waves in return",
             "both people lift an arm and wave in greeting"],
    "hug": ["two old friends embrace warmly", "a woman throws her arms around a man"],
    "bow": ["two martial artists bow before the match", "a man bows politely and the woman bows in return"],
    "push": ["a man shoves a woman hard and she stumbles", "somebody pushes a friend away roughly"],
    "punch_dodge": ["a boxer swings at his opponent who ducks out of the way",
                    "one man tries to hit another but misses as he dodges"],
    "pull": ["a mother drags her child along by the hand", "a man grabs a woman's hand and tugs her toward him"],
    "follow": ["a child walks behind a parent", "a man trails behind a woman as she walks"],
    "pass_by": ["two strangers walk past each other on the street", "a man and a woman cross paths without stopping"],
    "approach": ["a man walks toward a woman and stops in front of her",
                 "two people come closer until they stand face to face"],
    "circle_dance": ["two children hold hands and twirl around", "a couple spins in a circle holding both hands"],
    "pat_shoulder": ["a coach pats his player on the shoulder", "a man taps his friend's shoulder to get attention"],
    "chase": ["a police officer chases a thief", "one man sprints after another who flees"],
}
