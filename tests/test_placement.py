"""Placement: a motion anywhere in the room gives the same tokens and error, and results come back where it
stood; the warning on motion the models do not know; the note on prompts far from the training captions."""
import dataclasses
import json
import warnings

import numpy as np
import pytest
import torch

from intermask_lite import cli, familiarity
from intermask_lite import skeleton as sk
from intermask_lite.data.synthetic import load_split
from intermask_lite.familiarity import UnfamiliarMotionWarning, UnfamiliarPromptWarning
from intermask_lite.motion import Motion
from intermask_lite.placement import FOOT_REST_HEIGHT, find_placement, from_canonical, to_canonical


def move(joints, dx=2.5, dz=-1.0, dy=0.0, degrees=90.0):
    """Turn (..., 22, 3) about +Y by `degrees` around the origin, then shift."""
    turn = np.asarray(sk.rot_y(np.array(np.radians(degrees))))  # (3, 3)
    return (np.asarray(joints, dtype=np.float64) @ turn.T + np.array([dx, dy, dz])).astype(np.float32)


@pytest.fixture(scope="module")
def clip():
    return load_split("test", 48, 0)[0]


def test_a_built_in_clip_is_already_canonical(clip):
    p = find_placement(clip.joints)
    assert np.allclose(p.shift, 0, atol=1e-6) and abs(p.yaw) < 1e-6
    canon, _ = to_canonical(clip.joints)
    np.testing.assert_allclose(canon, clip.joints, atol=1e-6)


@pytest.mark.parametrize("degrees, dy", [(90.0, 0.0), (-135.0, 0.8), (30.0, -0.3)])
def test_moved_clip_comes_back_to_the_canonical_frame_and_back_out(clip, degrees, dy):
    moved = move(clip.joints, degrees=degrees, dy=dy)
    canon, p = to_canonical(moved)
    np.testing.assert_allclose(canon, clip.joints, atol=3e-3)  # the floor is re-set to FOOT_REST_HEIGHT
    assert abs(canon[:, :, sk.FOOT_JOINT_ORDER, 1].min() - clip.joints[:, :, sk.FOOT_JOINT_ORDER, 1].min()) < 3e-3
    assert np.isclose(np.degrees(p.yaw), degrees, atol=1e-3) and np.isclose(p.shift[0], 2.5, atol=1e-4)
    np.testing.assert_allclose(from_canonical(canon, p), moved, atol=1e-5)


def test_floor_and_facing_of_a_lone_person(clip):
    person = move(clip.joints[1:], dx=-4.0, dy=1.2, degrees=200.0)  # (1, T, 22, 3)
    canon, _ = to_canonical(person)
    assert np.isclose(canon[:, :, sk.FOOT_JOINT_ORDER, 1].min(), FOOT_REST_HEIGHT, atol=1e-5)
    np.testing.assert_allclose(canon[0, 0, 0, [0, 2]], 0, atol=1e-5)
    heading = sk.rest_pose()  # the rest pose faces +Z; the canonical first frame faces +Z as well
    assert np.isclose(find_placement(canon).yaw, find_placement(heading[None, None]).yaw, atol=1e-5)


@pytest.mark.parametrize("bad", [np.zeros((2, 10, 21, 3)), np.zeros((10, 22, 3)), np.full((1, 4, 22, 3), np.nan)])
def test_bad_shapes_are_refused(bad):
    with pytest.raises(ValueError, match="joints"):
        to_canonical(bad)


def test_moved_and_turned_clip_tokens_and_error_are_the_same(smoke_kit, clip):
    here = Motion.from_clip(clip)
    there = Motion(move(clip.joints, dy=0.5), fps=clip.fps)
    a, b = smoke_kit.tokenize(here), smoke_kit.tokenize(there)
    assert (a == b).float().mean() > 0.97  # equal but for a rare nearest-code tie at float precision
    ra, rb = smoke_kit.reconstruct(here), smoke_kit.reconstruct(there)
    err_a = familiarity.motion_error_mm(ra.joints, here.joints[:, : ra.n_frames])
    err_b = familiarity.motion_error_mm(rb.joints, there.joints[:, : rb.n_frames])
    assert abs(err_a - err_b) < 0.05 * err_a  # the reconstruction stands where the input stood
    np.testing.assert_allclose(rb.joints, move(ra.joints, dy=0.5), atol=0.02)


def test_the_reaction_moves_with_the_actor(smoke_kit, clip):
    actor = Motion.from_clip(clip).person(0)
    moved = Motion(move(actor.joints, degrees=-90.0), fps=actor.fps)
    here = smoke_kit.react(actor, "the other one waves back", seed=0, steps=3, cleanup=(), crop=True)[0]
    there = smoke_kit.react(moved, "the other one waves back", seed=0, steps=3, cleanup=(), crop=True)[0]
    assert torch.equal(here.tokens, there.tokens)
    np.testing.assert_allclose(there.joints, move(here.joints, degrees=-90.0), atol=1e-4)
    # the given actor through the tokens, where it stands
    actor_back = smoke_kit.reconstruct(moved, cleanup=()).joints[0]
    half = there.n_frames // 2  # away from the cut at max_frames, which the decoder sees
    np.testing.assert_allclose(there.joints[0, :half], actor_back[:half], atol=1e-4)


def test_inpaint_keeps_the_input_frame(smoke_kit, clip):
    motion = Motion(move(clip.joints, dx=-3.0, degrees=45.0), fps=clip.fps)
    out = smoke_kit.inpaint(motion, person="B", rows=[3, 4], seconds=(1.0, 1.6), text="b waves", seed=0, steps=3,
                            crop=True)[0]
    ref = smoke_kit.inpaint(Motion.from_clip(clip), person="B", rows=[3, 4], seconds=(1.0, 1.6), text="b waves",
                            seed=0, steps=3, crop=True)[0]
    np.testing.assert_allclose(out.joints, move(ref.joints, dx=-3.0, degrees=45.0), atol=1e-4)


def _kit_with_reference(kit, reference_mm):
    fresh = dataclasses.replace(kit)  # shares the models, not the cached reference
    fresh._reference_mm = reference_mm
    return fresh


def test_unfamiliar_motion_warns_once_with_the_number(smoke_kit, clip):
    motion = Motion.from_clip(clip)
    error = familiarity.motion_error_mm(smoke_kit.reconstruct(motion).raw_joints, motion.joints)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _kit_with_reference(smoke_kit, error).reconstruct(motion)
        _kit_with_reference(smoke_kit, error / 100).react(motion.person(0), "someone waves", steps=2, crop=True)
        _kit_with_reference(smoke_kit, error / 3).reconstruct(motion)
    notes = [str(w.message) for w in caught if w.category is UnfamiliarMotionWarning]
    assert len(notes) == 2  # the familiar case is silent; each unfamiliar call warns once
    assert f"{error:.0f} mm" in notes[1] and "14 synthetic" in notes[1] and "95th percentile" in notes[1]


def test_reference_is_read_from_the_manifest_when_it_matches(tmp_path, smoke_artifacts):
    from intermask_lite.checkpoints import sha256
    ckpt = tmp_path / "lab_vq.pt"
    ckpt.write_bytes(b"weights")
    manifest = {"lab_vq.pt": {"sha256": sha256(ckpt), familiarity.REFERENCE_KEY: 123.4}}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assert familiarity.recorded_reference(ckpt) == 123.4
    ckpt.write_bytes(b"other weights")  # a file that no longer matches its entry is not trusted
    assert familiarity.recorded_reference(ckpt) is None
    assert familiarity.motion_note(300.0, 100.0) and familiarity.motion_note(150.0, 100.0) is None


def test_cli_prints_the_warning_once(smoke_artifacts, tmp_path, monkeypatch, capsys, clip):
    monkeypatch.setattr(familiarity, "FACTOR", 0.0)  # every motion counts as unfamiliar
    actor = Motion(move(clip.joints[:1], dx=10.0), fps=clip.fps)
    actor.save(tmp_path / "actor.npz")
    code = cli.main(["react", "--actor", str(tmp_path / "actor.npz"), "--text", "the other one waves",
                     "--preset", "smoke", "--artifacts-dir", str(smoke_artifacts), "--steps", "2", "--samples", "2",
                     "--formats", "npz", "--crop", "--name", "r", "--out", str(tmp_path / "out")])
    assert code == 0
    err = capsys.readouterr().err
    assert err.count("warning: this motion reconstructs") == 1 and " mm" in err
    out = Motion.load(tmp_path / "out" / "r" / "sample_00.npz")
    assert out.joints[0, 0, 0, 0] > 7.0  # written where the actor stands, 10 m out (not at the origin)


def test_prompt_note_on_unknown_words(smoke_kit):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        smoke_kit.generate(["two people shake hands", "zorbs quibble flimflam hands"], seconds=1.0, steps=2)
    notes = [str(w.message) for w in caught if w.category is UnfamiliarPromptWarning]
    assert len(notes) == 1 and "zorbs" in notes[0] and "handshake" in notes[0] and "14 synthetic" in notes[0]


def test_the_kit_s_own_floors_are_left_alone(clip):
    from intermask_lite.data.augment import canonicalize
    real_style = canonicalize(clip.joints)  # the real-data loaders' convention: lowest foot joint at y = 0
    assert find_placement(real_style).shift[1] == 0.0 and find_placement(clip.joints).shift[1] == 0.0
    assert np.isclose(find_placement(clip.joints + np.array([0, 0.1, 0])).shift[1], 0.1, atol=3e-3)
