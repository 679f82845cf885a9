"""The cleanup stages on hand-built motions: one skeleton, planted feet held, bodies pushed apart, errors."""
import numpy as np
import pytest

from intermask_lite import cleanup
from intermask_lite import skeleton as sk
from intermask_lite.eval import physics

from helpers_motion import pair_joints

FPS = 20


def bent_standing(n_frames: int, x: float = 0.0, z: float = 0.0) -> np.ndarray:
    """A person standing still with slightly bent knees, feet on the floor: (T, 22, 3)."""
    offsets = sk.REST_OFFSETS.copy()
    for knee, ankle in ((4, 7), (5, 8)):
        offsets[knee, 2] += 0.08                                       # knees forward: legs can reach a little
        offsets[ankle, 2] -= 0.08
    pose = sk.rest_pose(offsets)                                       # (22, 3)
    pose[:, 1] -= pose[[7, 10, 8, 11], 1].min() - 0.02                 # lowest foot joint 2 cm above the floor
    pose[:, 0] += x
    pose[:, 2] += z
    return np.repeat(pose[None], n_frames, axis=0)


def test_skeleton_fit_gives_constant_bones_at_the_median_length():
    rng = np.random.default_rng(0)
    truth = pair_joints(40, FPS)                                       # (2, T, 22, 3) constant bones
    noisy = truth + rng.normal(0, 0.01, truth.shape)                   # bones now stretch frame to frame
    fitted = cleanup.clean(noisy, FPS, ["skeleton_fit"])
    for p in range(2):
        lengths = sk.bone_lengths(fitted[p])                           # (T, 21)
        assert np.ptp(lengths, axis=0).max() < 1e-5
        np.testing.assert_allclose(lengths[0], np.median(sk.bone_lengths(noisy[p]), axis=0), atol=1e-5)
    assert np.linalg.norm(fitted - truth, axis=-1).mean() < np.linalg.norm(noisy - truth, axis=-1).mean()


def test_skeleton_fit_keeps_the_feet_on_the_floor():
    person = bent_standing(20)                                         # feet 2 cm above the floor
    stretched = person.copy()
    stretched[:, 1:, 1] += 0.05 * np.sin(np.linspace(0, 3, 20))[:, None]  # decoded bones stretch and shrink
    fitted = cleanup.fit_skeleton(stretched)
    feet = list(sk.FOOT_JOINT_ORDER)
    np.testing.assert_allclose(fitted[:, feet, 1].min(-1), stretched[:, feet, 1].min(-1), atol=0.01)
    assert fitted[:, feet, 1].min() > 0.0                              # not sunk into the floor


def test_foot_lock_holds_a_jittering_planted_foot_and_keeps_the_bones():
    rng = np.random.default_rng(1)
    person = bent_standing(30)
    jitter = np.zeros_like(person)
    jitter[:, [7, 10], 0] = rng.normal(0, 0.01, (30, 2))              # left ankle and toe slide a centimetre
    jitter[:, [7, 10], 2] = rng.normal(0, 0.01, (30, 2))
    sliding = person + jitter
    locked = cleanup.lock_feet(sliding, FPS)
    assert cleanup.planted_joints(sliding, FPS)[:, :2].all()          # low and slow: planted throughout
    assert np.ptp(locked[:, 7, [0, 2]], axis=0).max() < 2e-3          # the ankle stands still (IK reaches it)
    assert np.ptp(locked[:, 10, [0, 2]], axis=0).max() < 2e-3
    before, after = sk.bone_lengths(sliding[0]), sk.bone_lengths(locked)  # (21,), (T, 21)
    for bone in (3, 6, 9):                                             # hip-knee, knee-ankle, ankle-toe (left)
        np.testing.assert_allclose(after[:, bone], before[bone], atol=1e-6)
    np.testing.assert_allclose(locked[:, 8], sliding[:, 8], atol=1e-9)  # the still right foot stays where it is


def test_a_lifted_foot_is_not_locked():
    person = bent_standing(30)
    person[:, [7, 10], 1] += 0.3                                       # left foot in the air
    person[:, [7, 10], 2] += np.linspace(0, 0.4, 30)[:, None]          # and moving
    assert not cleanup.planted_joints(person, FPS)[:, :2].any()
    np.testing.assert_array_equal(cleanup.lock_feet(person, FPS)[:, 7], person[:, 7])


def test_push_apart_separates_overlapping_bodies_and_leaves_apart_ones_alone():
    pair = np.stack([bent_standing(12), bent_standing(12, z=0.15)])   # 15 cm apart: bodies overlap
    depth = -physics.capsule_gaps(pair).min()
    assert depth > 0.1
    pushed = cleanup.push_apart(pair)
    assert -physics.capsule_gaps(pushed).min() < cleanup.PEN_TOL + 0.01
    np.testing.assert_allclose(pushed[..., 1], pair[..., 1])           # only horizontal moves
    np.testing.assert_allclose(pushed.mean(0), pair.mean(0), atol=1e-9)  # both move, half each
    apart = np.stack([bent_standing(12), bent_standing(12, z=1.5)])
    np.testing.assert_array_equal(cleanup.push_apart(apart), apart)


def test_push_apart_moves_an_arm_out_of_the_partner_not_the_bodies():
    # 0.5 m apart, facing along z: bodies clear, but A's right hand pushes into B's chest
    pair = np.stack([bent_standing(12), bent_standing(12, z=0.5)])
    pair[0, :, 19] = pair[1, :, 6] + np.array([0.05, 0.0, -0.3])       # elbow in front of B
    pair[0, :, 21] = pair[1, :, 6] + np.array([0.0, 0.0, -0.05])       # wrist inside B's torso
    gaps = physics.capsule_gaps(pair)
    arm = [i for i, c in enumerate(physics.CAPSULES) if c[0] == "r_forearm"][0]
    assert -gaps[:, arm].min() > 0.1                                   # the forearm overlaps B deeply
    body = np.ix_(range(12), cleanup.BODY_CAPSULES, cleanup.BODY_CAPSULES)
    assert gaps[body].min() > 0                                        # the bodies themselves do not
    np.testing.assert_array_equal(cleanup.push_bodies_apart(pair), pair)  # so nobody is moved
    pushed = cleanup.push_apart(pair)
    assert -physics.capsule_gaps(pushed).min() < cleanup.PEN_TOL + 0.01  # the arm is out of B
    moved = np.flatnonzero(np.abs(pushed - pair).max(axis=(1, 3))[0] > 0)  # joints of A that moved
    assert set(moved) <= {19, 21}                                      # elbow and wrist only; B untouched
    np.testing.assert_array_equal(pushed[1], pair[1])
    before, after = sk.bone_lengths(pair[0]), sk.bone_lengths(pushed[0])  # (T, 21)
    np.testing.assert_allclose(after, before, atol=1e-9)               # the arm keeps its bone lengths
    hand_to_spine = np.linalg.norm(pushed[0, :, 21, None] - pushed[1, :, [3, 6, 9]].transpose(1, 0, 2), axis=-1)
    assert hand_to_spine.min(axis=1).max() < physics.CONTACT_SPECS["hug"][2]  # the hand still touches B


def test_feet_stay_planted_when_the_bodies_are_pushed_apart():
    # B stands still and leans into A more and more: the push grows frame by frame and moves the feet along
    pair = np.stack([bent_standing(30), bent_standing(30, z=0.4)])
    upper = [3, 6, 9] + list(range(12, 22))                            # spine, neck, head, arms
    pair[1, :, upper, 2] -= np.linspace(0.0, 0.4, 30)[None, :]        # (13, T): leaning towards A
    feet = list(sk.FOOT_JOINT_ORDER)
    pushed_only = cleanup.clean(pair, FPS, ["skeleton_fit", "push_apart"])
    assert np.ptp(pushed_only[:, :, feet][..., [0, 2]], axis=1).max() > 0.02  # the push slides the standing feet
    cleaned = cleanup.clean(pair, FPS)
    assert -physics.capsule_gaps(cleaned).min() < cleanup.PEN_TOL + 0.01
    assert np.ptp(cleaned[:, :, feet][..., [0, 2]], axis=1).max() < 2e-3  # locked after the push: they hold


def test_stage_names_order_and_the_raw_copy():
    assert cleanup.check_stages(None) == cleanup.STAGES == cleanup.check_stages("all")
    assert cleanup.check_stages(["foot_lock", "skeleton_fit", "push_apart"]) == cleanup.STAGES  # run order
    assert cleanup.STAGES.index("push_apart") < cleanup.STAGES.index("foot_lock")  # pushing moves the feet
    assert cleanup.check_stages("foot_lock") == ("foot_lock",)
    with pytest.raises(ValueError, match="unknown cleanup stage.*'smooth'.*skeleton_fit"):
        cleanup.check_stages(["smooth"])
    pair = pair_joints(16, FPS)
    raw = cleanup.clean(pair, FPS, ())
    assert raw.dtype == np.float32 and raw is not pair
    np.testing.assert_array_equal(raw, pair)
    assert cleanup.clean(pair[:1], FPS).shape == (1, 16, 22, 3)      # one person: no push, no error


def test_clean_rejects_bad_input():
    with pytest.raises(ValueError, match=r"\(P, T, 22, 3\)"):
        cleanup.clean(np.zeros((16, 22, 3)), FPS)
    bad = pair_joints(8, FPS)
    bad[0, 3, 5, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        cleanup.clean(bad, FPS)
    with pytest.raises(ValueError, match="fps"):
        cleanup.clean(pair_joints(8, FPS), 0)


def test_stage_report_lists_every_stage():
    rows = cleanup.stage_report(pair_joints(24, FPS), FPS)
    assert [r["after"] for r in rows] == ["raw", *cleanup.STAGES]
    assert rows[1]["bone_drift"] < 1e-4
