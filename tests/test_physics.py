"""Physics metrics on hand-built skeletons."""
import numpy as np
import pytest

from intermask_lite import skeleton as S
from intermask_lite.eval import physics as P

FPS = 20.0


def standing_pair(t=40, distance=2.0):
    """A at the origin facing +Z, B `distance` metres ahead facing A: (2, T, 22, 3)."""
    rest = S.rest_pose()  # (22, 3)
    a = np.repeat(rest[None], t, 0)
    b = rest * [-1.0, 1.0, -1.0] + [0.0, 0.0, distance]  # turned 180 degrees about Y
    return np.stack([a, np.repeat(b[None], t, 0)])


def test_segment_distance_known_cases():
    p = lambda *v: np.array(v, dtype=float)
    # parallel segments 1 apart, crossing segments, point to segment, point to point
    assert P.segment_distance(p(0, 0, 0), p(1, 0, 0), p(0, 1, 0), p(1, 1, 0)) == pytest.approx(1.0)
    assert P.segment_distance(p(-1, 0, 0), p(1, 0, 0), p(0, -1, 2), p(0, 1, 2)) == pytest.approx(2.0)
    assert P.segment_distance(p(0, 0, 0), p(0, 0, 0), p(3, -1, 4), p(3, 1, 4)) == pytest.approx(5.0)
    assert P.segment_distance(p(0, 0, 0), p(0, 0, 0), p(0, 3, 4), p(0, 3, 4)) == pytest.approx(5.0)
    # end points beyond the overlap: distance between nearest ends
    assert P.segment_distance(p(0, 0, 0), p(1, 0, 0), p(3, 0, 0), p(5, 0, 0)) == pytest.approx(2.0)


def test_bodies_two_metres_apart_do_not_penetrate():
    out = P.interpenetration(standing_pair(distance=2.0))
    assert out["pen_max_depth"] == 0.0 and out["pen_share"] == 0.0
    assert not out["pen_mask"].any()
    assert out["gap"].min() > 1.0


def test_overlapping_bodies_penetrate():
    joints = standing_pair(distance=2.0)
    joints[1, 10:20] -= [0.0, 0.0, 1.9]  # B steps into A for 10 of 40 frames
    out = P.interpenetration(joints)
    assert out["pen_max_depth"] > 0.1
    assert out["pen_share"] == pytest.approx(0.25)
    assert out["pen_mask"][10:20].all() and not out["pen_mask"][:10].any()


def test_planted_feet_do_not_skate():
    out = P.foot_skating(standing_pair(), FPS)
    assert out["contact_share"] > 0.9
    assert out["skate_speed"] == 0.0 and out["skate_share"] == 0.0


def test_sliding_foot_gives_its_speed():
    joints = standing_pair(t=60)
    speed = 0.5  # m/s along X, the whole body glides
    joints += (np.arange(60) / FPS * speed)[None, :, None, None] * np.array([1.0, 0.0, 0.0])
    out = P.foot_skating(joints, FPS)  # contacts detected (low and slower than 1 m/s)
    assert out["skate_speed"] == pytest.approx(speed, rel=0.05)
    assert out["skate_share"] == 1.0
    given = np.ones((2, 60, 4), dtype=bool)
    assert P.foot_skating(joints, FPS, contacts=given)["skate_speed"] == pytest.approx(speed, rel=0.05)
    with pytest.raises(ValueError, match="contacts must have shape"):
        P.foot_skating(joints, FPS, contacts=np.ones((2, 10, 4), dtype=bool))


def test_floating_body_is_floating():
    joints = standing_pair(t=40)
    assert P.floor_and_floating(joints, FPS)["float_share"] == 0.0
    joints[0] += [0.0, 0.5, 0.0]  # A hovers half a metre up the whole clip
    out = P.floor_and_floating(joints, FPS)
    assert out["float_share"] == pytest.approx(0.5)  # one person of two
    short = standing_pair(t=40)
    short[0, 5:9] += [0.0, 0.5, 0.0]  # a 0.2 s jump is not floating
    assert P.floor_and_floating(short, FPS)["float_share"] == 0.0


def test_floor_penetration_of_a_lowered_body():
    joints = standing_pair(t=40)
    lowest = joints[..., 1].min()
    assert P.floor_and_floating(joints, FPS)["floor_depth"] == 0.0
    joints[1, 20:] -= [0.0, lowest + 0.1, 0.0]  # B sinks so its lowest joint is 10 cm below the floor
    out = P.floor_and_floating(joints, FPS)
    assert out["floor_depth"] == pytest.approx(0.1)
    assert out["floor_share"] == pytest.approx(0.5)


def test_bone_drift_zero_for_rigid_fk_and_positive_when_stretched():
    t = 30
    rng = np.random.default_rng(0)
    rot = S.axis_angle_to_matrix(rng.normal(scale=0.4, size=(2, t, 22, 3)))  # (2, T, 22, 3, 3)
    root = np.zeros((2, t, 3)) + [0.0, 0.97, 0.0]
    joints = S.forward_kinematics(rot, root)
    assert P.bone_drift(joints) < 1e-9
    joints[0, ::2, 21] += [0.05, 0.0, 0.0]  # stretch the right forearm every other frame
    assert P.bone_drift(joints) > 0.05


def test_jerk_zero_for_constant_velocity_and_known_for_cubic():
    joints = standing_pair(t=40)
    tt = np.arange(40) / FPS
    moving = joints + (tt * 0.7)[None, :, None, None] * np.array([0.0, 0.0, 1.0])
    assert P.jerk(moving, FPS) == pytest.approx(0.0, abs=1e-6)
    cubic = joints + (tt ** 3)[None, :, None, None] * np.array([0.0, 0.0, 1.0])  # third derivative = 6
    assert P.jerk(cubic, FPS) == pytest.approx(6.0, rel=1e-6)


def test_contact_distance_for_a_handshake():
    joints = standing_pair(t=20, distance=1.0)
    pairs = [np.linalg.norm(joints[0, :, a] - joints[1, :, b], axis=-1).min() for a in (20, 21) for b in (20, 21)]
    assert P.contact_distance(joints, "handshake") == pytest.approx(min(pairs))
    assert P.contact_distance(joints, "walk_together_unknown") is None
    joints[1, 10, 21] = joints[0, 10, 21] + [0.0, 0.0, 0.05]  # B's hand reaches A's hand at frame 10
    assert P.contact_distance(joints, "handshake") == pytest.approx(0.05)
    touching = P.contact_frames(joints, "handshake")
    assert touching.shape == (20,) and touching.tolist() == [t == 10 for t in range(20)]
    assert P.contact_gaps(joints, "handshake")[10] == pytest.approx(0.05)
    assert P.contact_frames(joints, "walk_together_unknown") is None


def test_physics_report_aggregates_and_explains():
    apart, inside = standing_pair(), standing_pair(distance=0.2)
    rep = P.physics_report([apart, inside], FPS, labels=["handshake", "dance"])
    assert set(rep) == set(P.METRICS)
    assert rep["pen_share"]["value"] == pytest.approx(0.5)
    assert rep["touch_rate"]["value"] == 0.0  # only the handshake counts, and its hands are 2 m apart
    assert all({"value", "unit", "what", "better"} <= set(v) for v in rep.values())
    rows = P.report_rows(rep)
    assert rows[0][0] == "pen_max_depth" and len(rows) == len(P.METRICS)
    no_labels = P.physics_report([apart], FPS)
    assert np.isnan(no_labels["touch_rate"]["value"])


def test_bad_input_errors():
    with pytest.raises(ValueError, match=r"\(2, T, 22, 3\)"):
        P.interpenetration(np.zeros((1, 10, 22, 3)))
    with pytest.raises(ValueError, match="NaN"):
        P.jerk(np.full((2, 10, 22, 3), np.nan), FPS)
    with pytest.raises(ValueError, match="labels"):
        P.physics_report([standing_pair()], FPS, labels=["a", "b"])


def test_plots_shade_penetration_and_draw_one_panel_per_metric():
    import matplotlib
    matplotlib.use("Agg")
    from intermask_lite.viz import eval_plots as V
    joints = standing_pair(distance=2.0)
    joints[1, 10:20] -= [0.0, 0.0, 1.9]
    fig = V.plot_distance(joints, FPS)
    ax = fig.axes[0]
    assert len(ax.lines) == 3 and len(ax.patches) == 1  # two curves + the floor line; one shaded run
    rep = P.physics_report([joints], FPS)
    fig = V.plot_physics_comparison({"gt": rep, "gen": rep}, metrics=["pen_share", "jerk"], ncols=2)
    assert sum(ax.axison for ax in fig.axes) == 2
    with pytest.raises(KeyError, match="unknown metrics"):
        V.plot_physics_comparison({"gt": rep}, metrics=["nope"])
