"""Plausibility, determinism, caching and splits of the built-in procedural dataset."""
import numpy as np
import pytest

from intermask_lite import skeleton as sk
from intermask_lite.data import synthetic
from intermask_lite.data.synthetic import captions
from intermask_lite.data.synthetic import movement as synth_motion
from intermask_lite.data.synthetic.stage import Stage

PER_CLASS = 3


@pytest.fixture(scope="module")
def clips():
    return {label: [synthetic.make_clip(label, 100 + k, f"{label}{k}") for k in range(PER_CLASS)]
            for label in synthetic.CLASSES}


def _all(clips):
    return [c for group in clips.values() for c in group]


def _segment_distance(p1, q1, p2, q2):
    """Closest distance (T,) between segments p1-q1 and p2-q2, by dense sampling of both."""
    u = np.linspace(0.0, 1.0, 41)
    a = p1[:, None] + u[None, :, None] * (q1 - p1)[:, None]  # (T, 41, 3)
    b = p2[:, None] + u[None, :, None] * (q2 - p2)[:, None]
    return np.linalg.norm(a[:, :, None] - b[:, None, :], axis=-1).min(axis=(1, 2))


def test_classes_and_api():
    assert len(synthetic.CLASSES) >= 14 and len(set(synthetic.CLASSES)) == len(synthetic.CLASSES)
    assert set(synthetic.HELD_OUT_PARAPHRASES) == set(synthetic.CLASSES)
    with pytest.raises(KeyError, match="unknown interaction class"):
        synthetic.make_clip("tango", 0)


def test_shapes_lengths_and_params(clips):
    for clip in _all(clips):
        n = clip.n_frames
        assert clip.joints.shape == (2, n, 22, 3) and clip.joints.dtype == np.float32
        assert n % 4 == 0 and 2.0 <= clip.seconds <= 6.0 and clip.fps == 20
        assert clip.contacts.shape == (2, n, 4) and clip.contacts.dtype == bool
        assert all(isinstance(v, (float, int, str, bool)) for v in clip.params.values()), clip.params
        assert len(clip.captions) >= 3 and len(set(clip.captions)) == len(clip.captions)


def test_bone_lengths_constant_and_above_floor(clips):
    for clip in _all(clips):
        bones = sk.bone_lengths(clip.joints.astype(np.float64))  # (2, T, 21)
        assert np.abs(bones - bones[:, :1]).max() < 1e-5, clip.label
        assert clip.joints[..., 1].min() > -0.01, clip.label


def test_planted_feet_do_not_slide(clips):
    for clip in _all(clips):
        feet = clip.joints[:, :, sk.FOOT_JOINT_ORDER][..., [0, 2]].astype(np.float64)  # (2, T, 4, 2)
        speed = np.linalg.norm(np.diff(feet, axis=1), axis=-1) * clip.fps  # (2, T-1, 4)
        planted = clip.contacts[:, 1:] & clip.contacts[:, :-1]
        assert planted.mean() > 0.3, clip.label
        assert speed[planted].mean() < 0.05, clip.label


def test_feet_really_step_when_walking(clips):
    for clip in clips["pass_by"] + clips["chase"]:
        lifted = ~clip.contacts
        assert lifted.any(axis=1).all(), "walking people lift every foot"
        assert (clip.joints[:, :, 7, 1].max(axis=1) > 0.12).all()


def test_torsos_do_not_interpenetrate(clips):
    for clip in _all(clips):
        j = clip.joints.astype(np.float64)
        dist = _segment_distance(j[0, :, 0], j[0, :, 12], j[1, :, 0], j[1, :, 12])  # (T,)
        free = np.ones(clip.n_frames, dtype=bool)
        if clip.params["contact_start"] >= 0:
            free[clip.params["contact_start"]:clip.params["contact_end"]] = False
        assert dist[free].min() > 2 * 0.12, (clip.label, dist[free].min())


def _acting(clip):
    """(actor index, receiver index) after the role swap."""
    return (0, 1) if clip.params["initiator"] == "A" else (1, 0)


def test_contact_classes_touch(clips):
    for clip in clips["handshake"]:
        wrist = 21 if clip.params["hand"] == "right" else 20
        s, e = clip.params["contact_start"], clip.params["contact_end"]
        assert e - s >= 5
        assert np.linalg.norm(clip.joints[0, s:e, wrist] - clip.joints[1, s:e, wrist], axis=-1).max() < 0.08
    for clip in clips["high_five"]:
        a, r = _acting(clip)
        wa = 21 if clip.params["hand"] == "right" else 20
        s, e = clip.params["contact_start"], clip.params["contact_end"]
        assert e > s
        clap = clip.joints[a, s:e, wa] - clip.joints[r, s:e, 41 - wa]
        assert np.linalg.norm(clap, axis=-1).max() < 0.10
        assert clip.joints[a, s, wa, 1] > clip.joints[a, s, 15, 1] - 0.1, "a high five is high"


def test_push_victim_stumbles_back_and_duck_goes_down(clips):
    for clip in clips["push"]:
        a, r = _acting(clip)
        away = clip.joints[r, -1, 0, [0, 2]] - clip.joints[r, 0, 0, [0, 2]]
        towards = clip.joints[r, 0, 0, [0, 2]] - clip.joints[a, 0, 0, [0, 2]]
        assert (away @ towards) / np.linalg.norm(towards) > 0.4
    for seed in range(40):
        duck = synthetic.make_clip("punch_dodge", seed)
        if duck.params["dodge"] == "duck":
            break
    _, r = _acting(duck)
    assert duck.joints[r, :, 15, 1].min() < duck.joints[r, 0, 15, 1] - 0.25


def test_a_starts_at_origin_facing_z(clips):
    for clip in _all(clips):
        pelvis = clip.joints[0, 0, 0]
        assert abs(pelvis[0]) < 1e-5 and abs(pelvis[2]) < 1e-5
        across = clip.joints[0, 0, 1] - clip.joints[0, 0, 2]  # right hip -> left hip
        forward = np.cross(across, [0.0, 1.0, 0.0])
        assert forward[2] / np.linalg.norm(forward) > 0.999


def test_roles_swap_and_handedness_vary():
    params = [synthetic.make_clip("wave", seed).params for seed in range(30)]
    assert {p["initiator"] for p in params} == {"A", "B"}
    assert {p["hand"] for p in params} == {"left", "right"}


def test_determinism():
    a = synthetic.make_clip("push", 7)
    b = synthetic.make_clip("push", np.random.default_rng(7))
    assert np.array_equal(a.joints, b.joints) and a.captions == b.captions and a.params == b.params
    assert not np.array_equal(a.joints[:, :40], synthetic.make_clip("push", 8).joints[:, :40])


def test_captions_and_held_out_paraphrases(clips):
    for label, group in clips.items():
        assert len(captions.HELD_OUT_PARAPHRASES[label]) >= 3
        for text in captions.HELD_OUT_PARAPHRASES[label]:
            assert not captions.templates_can_produce(label, text), text
        for clip in group:
            for text in clip.captions:
                assert captions.templates_can_produce(label, text), text
                assert text not in captions.HELD_OUT_PARAPHRASES[label]
    hands = [c.params["hand"] for c in clips["punch_dodge"]]
    mentions = " ".join(t for c in clips["punch_dodge"] for t in c.captions)
    assert any(f"{h} hand" in mentions for h in hands) or len(hands) < 3


def test_cache_round_trip_and_balanced_splits(tmp_path):
    clips = synthetic.make_dataset(n_clips=56, seed=3, cache=True, cache_dir=tmp_path, progress=False)
    files = list(tmp_path.glob("*.npz"))
    assert len(files) == 1 and "seed3" in files[0].name and "n56" in files[0].name
    again = synthetic.make_dataset(n_clips=56, seed=3, cache=True, cache_dir=tmp_path, progress=False)
    assert [c.clip_id for c in again] == [c.clip_id for c in clips]
    for x, y in zip(clips, again):
        assert np.array_equal(x.joints, y.joints) and np.array_equal(x.contacts, y.contacts)
        assert x.captions == y.captions and x.params == y.params and x.label == y.label
    assert [c.label for c in clips[:14]] == synthetic.CLASSES
    splits = synthetic.split_dataset(clips, (0.5, 0.25, 0.25), seed=0)
    for name, part in splits.items():
        counts = {label: sum(c.label == label for c in part) for label in synthetic.CLASSES}
        assert len(set(counts.values())) == 1, (name, counts)
    assert sum(len(p) for p in splits.values()) == 56
    with pytest.raises(ValueError, match="fractions"):
        synthetic.split_dataset(clips, (0.5, 0.5, 0.5))


def test_building_blocks():
    u = np.linspace(-0.5, 1.5, 201)
    m = synth_motion.min_jerk(u)
    assert m[0] == 0 and m[-1] == 1 and np.all(np.diff(m) >= 0)
    t = np.arange(60) / 20
    st = Stage("follow", np.random.default_rng(0))
    st.t = t
    plan = st.plan(0, 0.0, st.key([0.2, 2.5], [0.0, 1.5]), 0.0)
    joints, feet = synth_motion.pose_person(plan, 20)
    assert joints.shape == (60, 22, 3) and (~feet.planted).any()
    # the torso FK matches the skeleton's FK
    rot = synth_motion.rot_y(np.linspace(0, 1, 5))[:, None].repeat(22, 1)  # (5, 22, 3, 3)
    root = np.ones((5, 3))
    ours = synth_motion.torso_forward_kinematics(rot, root, sk.REST_OFFSETS)
    ref = np.array(sk.forward_kinematics(rot, root, sk.REST_OFFSETS))
    idx = [0] + synth_motion.TORSO_JOINTS
    assert np.allclose(ours[:, idx], ref[:, idx])
