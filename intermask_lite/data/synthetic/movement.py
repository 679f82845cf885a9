"""Building blocks of the procedural interactions: smooth signals, a footstep planner and IK posing.

Everything is vectorised over time. A person is driven by a `BodyPlan` (root path on the floor, facing,
lean, crouch, head turn); `plan_footsteps` turns the root path into planted / swinging feet; `pose_torso`
runs forward kinematics for the spine, head and shoulders and two-bone IK for the legs; `attach_arms`
places the arms by IK on hand targets (for example a point on the partner's body). Bone lengths are exact:
the torso comes from `skeleton.forward_kinematics`, limbs from `skeleton.two_bone_ik`, and the toe is the
ankle plus its rest offset turned by the foot's yaw.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ... import skeleton as sk

LEFT, RIGHT = 0, 1  # index of the left / right limb in (T, 2, ...) foot and hand arrays


# ---------------------------------------------------------------- smooth signals

def min_jerk(u):
    """Minimum-jerk profile 10u^3 - 15u^4 + 6u^5 of u clipped to [0, 1]: 0 -> 1, zero speed and acceleration at
    both ends."""
    u = np.clip(u, 0.0, 1.0)
    return u ** 3 * (10.0 - 15.0 * u + 6.0 * u * u)


def ramp(t, t0, t1):
    """Min-jerk step from 0 (before t0) to 1 (after t1)."""
    return min_jerk((np.asarray(t) - t0) / max(t1 - t0, 1e-6))


def hold(t, up0, up1, down0, down1):
    """Smooth 0 -> 1 over [up0, up1], 1 until down0, back to 0 over [down0, down1]."""
    return ramp(t, up0, up1) - ramp(t, down0, down1)


def window(t, t0, t1, rise):
    """Smooth 0 -> 1 -> 0 window: up over [t0, t0 + rise], down over [t1 - rise, t1]."""
    return ramp(t, t0, t0 + rise) - ramp(t, t1 - rise, t1)


def keyframes(t, times, values):
    """Piecewise min-jerk interpolation through (times[k], values[k]); holds outside the keys.

    t: (T,) seconds; times: K increasing key times; values: (K,) or (K, D). Returns (T,) or (T, D).
    """
    values = np.asarray(values, dtype=np.float64)
    if len(times) != len(values) or any(b < a for a, b in zip(times[:-1], times[1:])):
        raise ValueError(f"keyframes needs increasing times matching values, got {times} and {len(values)} values")
    out = np.broadcast_to(values[0], (len(t),) + values.shape[1:]).copy()
    for k in range(len(times) - 1):
        w = ramp(t, times[k], times[k + 1])  # (T,)
        out += w.reshape(w.shape + (1,) * (values.ndim - 1)) * (values[k + 1] - values[k])
    return out


def soft_clip(x, limit):
    """Smoothly limit |x| to `limit` (tanh)."""
    return limit * np.tanh(np.asarray(x) / limit)


def wrap_angle(a):
    """Angle(s) wrapped to [-pi, pi)."""
    return (np.asarray(a) + np.pi) % (2 * np.pi) - np.pi


def heading(vec_xz):
    """Yaw (radians) that faces along a floor direction (..., 2) = (x, z); yaw 0 faces +Z."""
    v = np.asarray(vec_xz, dtype=np.float64)
    return np.arctan2(v[..., 0], v[..., 1])


def forward_xz(yaw):
    """Floor direction (..., 2) faced at yaw."""
    return np.stack([np.sin(yaw), np.cos(yaw)], axis=-1)


def rot_x(a):
    """(...,) -> (..., 3, 3) rotation about X (positive tilts +Y towards +Z: a forward lean)."""
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return np.stack([o, z, z, z, c, -s, z, s, c], -1).reshape(np.shape(a) + (3, 3))


def rot_y(a):
    """(...,) -> (..., 3, 3) rotation about the vertical axis (same convention as skeleton.rot_y)."""
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return np.stack([c, z, s, z, o, z, -s, z, c], -1).reshape(np.shape(a) + (3, 3))


def rot_z(a):
    """(...,) -> (..., 3, 3) rotation about Z (positive tilts +Y towards -X: a lean to the right)."""
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return np.stack([c, -s, z, s, c, z, z, z, o], -1).reshape(np.shape(a) + (3, 3))


def speed_profile_path(t, t0, t1, distance, accel_time):
    """Distance covered (T,) along a path at constant cruise speed with min-jerk speed-up and slow-down."""
    accel_time = min(accel_time, 0.5 * (t1 - t0))
    speed = ramp(t, t0, t0 + accel_time) - ramp(t, t1 - accel_time, t1)  # (T,) in [0, 1]
    dt = np.diff(t, prepend=t[0])
    covered = np.cumsum(0.5 * (speed + np.concatenate([speed[:1], speed[:-1]])) * dt)  # trapezoid rule
    return covered * (distance / max(covered[-1], 1e-9))


# ---------------------------------------------------------------- plans

@dataclass
class BodyPlan:
    """What drives one person. Every array is (T,) except root_xz (T, 2); angles in radians.

    root_xz: pelvis position on the floor; yaw: facing (0 = +Z); pitch: forward lean of the spine; roll: sideways
    lean (positive to the person's right); twist: spine turn; crouch: metres the pelvis drops (knees bend);
    neck_yaw / neck_pitch: extra head turn / nod on top of looking at the partner; scale: body size
    (1 = 1.75 m); step_time: seconds per footstep; lift: swing height of the ankle; arm_swing: arm swing gain.
    """

    root_xz: np.ndarray
    yaw: np.ndarray
    scale: float = 1.0
    pitch: np.ndarray | None = None
    roll: np.ndarray | None = None
    twist: np.ndarray | None = None
    crouch: np.ndarray | None = None
    neck_yaw: np.ndarray | None = None
    neck_pitch: np.ndarray | None = None
    step_time: float = 0.42
    lift: float = 0.08
    arm_swing: float = 0.5
    stance_width: float = 0.1

    def __post_init__(self):
        self.root_xz = np.asarray(self.root_xz, dtype=np.float64)
        n = len(self.root_xz)
        if self.root_xz.shape != (n, 2) or np.shape(self.yaw) != (n,):
            raise ValueError(f"BodyPlan: root_xz must be (T, 2) and yaw (T,), got {self.root_xz.shape}, "
                             f"{np.shape(self.yaw)}")
        for name in ("pitch", "roll", "twist", "crouch", "neck_yaw", "neck_pitch"):
            value = getattr(self, name)
            setattr(self, name, np.zeros(n) if value is None else np.broadcast_to(value, (n,)).astype(np.float64))


@dataclass
class FootPlan:
    """Footsteps: ankles (T, 2, 3) ankle targets [left, right]; yaw (T, 2) foot facing; planted (T, 2) bool."""

    ankles: np.ndarray
    yaw: np.ndarray
    planted: np.ndarray


def plan_footsteps(plan: BodyPlan, fps: float, trigger: float = 0.06, turn_trigger: float = 0.35,
                   max_stride: float = 0.75) -> FootPlan:
    """Place footsteps under a root path.

    Each foot rests at a nominal spot beside the root. A planted foot stays exactly still until the body has
    moved (`trigger` metres) or turned (`turn_trigger` radians) away from it, judged half a step ahead; then it
    swings (min-jerk along the floor, a smooth lift) to where the body will be half a step after landing.
    One foot swings at a time, alternating when both need to move; at speed the steps get shorter in time so
    that a foot travels at most `max_stride` (x body scale) per swing.
    """
    s = plan.scale
    n = len(plan.root_xz)
    side = np.array([1.0, -1.0]) * plan.stance_width * s  # left foot at +X of the body
    across = np.stack([np.cos(plan.yaw), -np.sin(plan.yaw)], -1)  # (T, 2) the body's +X on the floor
    nominal = plan.root_xz[:, None, :] + side[None, :, None] * across[:, None, :]  # (T, 2, 2)
    dur = max(3, int(round(plan.step_time * fps)))
    lead = dur // 2
    ankle_h = sk.rest_pose(sk.scaled_offsets(s))[7, 1]
    pos, fyaw = nominal[0].copy(), np.array([plan.yaw[0], plan.yaw[0]])
    steps = []  # (foot, start frame, end frame, from xz, to xz, from yaw, to yaw)
    t, last = 0, 1
    while t < n - 1:
        look = np.minimum(np.arange(t, n) + lead, n - 1)
        err = (np.linalg.norm(nominal[look] - pos[None], axis=-1) / (trigger * s)
               + np.abs(wrap_angle(plan.yaw[look][:, None] - fyaw[None])) / turn_trigger)  # (n - t, 2)
        need = (err > 1.0).any(-1)
        if not need.any():
            break
        k = int(np.argmax(need))
        foot = 1 - last if err[k, 1 - last] > 1.0 else last
        start = t + k
        ahead = np.linalg.norm(plan.root_xz[min(start + dur, n - 1)] - plan.root_xz[start]) * fps / dur  # m/s
        # faster: shorter steps
        end = start + int(np.clip(round(max_stride * s * fps / (2.0 * max(ahead, 1e-6))), 3, dur))
        land = nominal[min(end + lead, n - 1), foot]
        land_yaw = fyaw[foot] + wrap_angle(plan.yaw[min(end, n - 1)] - fyaw[foot])
        steps.append((foot, start, end, pos[foot].copy(), land.copy(), fyaw[foot], land_yaw))
        pos[foot], fyaw[foot], last, t = land, land_yaw, foot, end
    ankles = np.empty((n, 2, 3))
    ankles[:, :, [0, 2]] = nominal[0][None]
    ankles[:, :, 1] = ankle_h
    yaw = np.full((n, 2), plan.yaw[0])
    planted = np.ones((n, 2), dtype=bool)
    frames = np.arange(n)
    for foot, start, end, p0, p1, y0, y1 in steps:
        u = np.clip((frames[start:] - start) / (end - start), 0.0, 1.0)  # (n - start,)
        w = min_jerk(u)
        ankles[start:, foot, 0] = p0[0] + (p1[0] - p0[0]) * w
        ankles[start:, foot, 2] = p0[1] + (p1[1] - p0[1]) * w
        ankles[start:, foot, 1] = ankle_h + plan.lift * s * 16.0 * u ** 2 * (1.0 - u) ** 2
        yaw[start:, foot] = y0 + (y1 - y0) * w
        planted[start + 1:end, foot] = False
    return FootPlan(ankles, yaw, planted)


# ---------------------------------------------------------------- posing

def _pelvis_height(plan: BodyPlan, feet: FootPlan, offsets) -> np.ndarray:
    """Pelvis height (T,): the plan's (crouched) height, smoothly lowered wherever a leg could not reach its foot."""
    l_up, l_low = np.linalg.norm(offsets[4]), np.linalg.norm(offsets[7])
    reach = 0.995 * (l_up + l_low)
    rest_y = offsets[0, 1]
    wanted = rest_y - 0.015 * plan.scale - plan.crouch  # (T,) knees slightly soft
    heights = [wanted]
    for foot, hip in ((LEFT, 1), (RIGHT, 2)):
        hip_xz = plan.root_xz + (rot_y(plan.yaw) @ offsets[hip])[:, [0, 2]]  # (T, 2)
        flat = np.linalg.norm(feet.ankles[:, foot, [0, 2]] - hip_xz, axis=-1)  # (T,)
        heights.append(feet.ankles[:, foot, 1] + np.sqrt(np.maximum(reach ** 2 - flat ** 2, 1e-4)) - offsets[hip, 1])
    sharp = 150.0
    h = np.stack(heights, -1)  # (T, 3)
    lo = h.min(-1, keepdims=True)
    return lo[:, 0] - np.log(np.exp(-sharp * (h - lo)).sum(-1)) / sharp  # smooth minimum, never above the min


def _local_rotations(plan: BodyPlan, look_yaw: np.ndarray, breath: np.ndarray) -> np.ndarray:
    """Local rotations (T, 22, 3, 3): root yaw, spine lean/twist spread over three joints, neck look, collar
    breathing."""
    n = len(plan.yaw)
    rot = np.broadcast_to(np.eye(3), (n, 22, 3, 3)).copy()
    rot[:, 0] = rot_y(plan.yaw)
    for joint, share in ((3, 0.3), (6, 0.35), (9, 0.35)):
        rot[:, joint] = (rot_y(plan.twist * share) @ rot_x(plan.pitch * share + (joint == 9) * breath)
                         @ rot_z(plan.roll * share))
    rot[:, 12] = rot_y(look_yaw + plan.neck_yaw) @ rot_x(plan.neck_pitch - 0.4 * plan.pitch)
    rot[:, 13] = rot_z(3 * breath)
    rot[:, 14] = rot_z(-3 * breath)
    return rot


TORSO_JOINTS = [1, 2, 3, 6, 9, 12, 13, 14, 15, 16, 17]  # joints FK places; legs and arms come from IK


def torso_forward_kinematics(local_rot, root_pos, offsets) -> np.ndarray:
    """numpy FK (the same maths as skeleton.forward_kinematics) for the pelvis and TORSO_JOINTS only.

    local_rot: (N, 22, 3, 3); root_pos: (N, 3); offsets: (22, 3). Returns (N, 22, 3); leg and arm joints are 0.
    """
    n = len(root_pos)
    pos = np.zeros((n, 22, 3))
    glob = np.zeros((n, 22, 3, 3))
    pos[:, 0], glob[:, 0] = root_pos, local_rot[:, 0]
    for j in TORSO_JOINTS:
        p = sk.PARENTS[j]
        pos[:, j] = pos[:, p] + glob[:, p] @ offsets[j]
        glob[:, j] = glob[:, p] @ local_rot[:, j]
    return pos


def pose_torsos(plans: list, feets: list, look_at_xz: list, breaths: list) -> list:
    """Pose everything but the arms, for several people at once (one batched FK call).

    FK places pelvis, spine, neck, head, collars and shoulders; two-bone IK puts knees and ankles on the
    footstep targets (knees bend forward); the toe is the ankle plus its rest offset turned by the foot yaw.
    look_at_xz[i]: (T, 2) floor point person i's head turns to (the partner), or None; breaths[i]: (T,) chest
    lift in radians or None. Returns per person {"joints": (T, 22, 3) with arm joints 18..21 unset,
    "chest_rot": (T, 3, 3), "offsets", "plan", "feet"}.
    """
    rots, roots = [], []
    for plan, feet, look, breath in zip(plans, feets, look_at_xz, breaths):
        n = len(plan.yaw)
        look_yaw = np.zeros(n)
        if look is not None:
            rel = wrap_angle(heading(np.asarray(look) - plan.root_xz) - plan.yaw - plan.twist)  # (T,)
            look_yaw = soft_clip(rel, 1.1) * 0.5 * (1.0 + np.tanh(3.0 * np.cos(rel)))  # only towards a partner in front
        rots.append(_local_rotations(plan, look_yaw, np.zeros(n) if breath is None else breath))  # (T, 22, 3, 3)
        height = _pelvis_height(plan, feet, sk.scaled_offsets(plan.scale))  # (T,)
        # unit body
        roots.append(np.concatenate([plan.root_xz[:, :1], height[:, None], plan.root_xz[:, 1:]], -1) / plan.scale)
    # a uniformly scaled body is the unit body scaled about the origin: one FK call serves everyone
    unit = torso_forward_kinematics(np.concatenate(rots), np.concatenate(roots), sk.REST_OFFSETS)  # (sum T, 22, 3)
    bodies, start = [], 0
    for plan, feet, rot in zip(plans, feets, rots):
        n = len(plan.yaw)
        offsets = sk.scaled_offsets(plan.scale)
        joints = unit[start:start + n] * plan.scale  # (T, 22, 3)
        start += n
        fwd = np.concatenate([np.sin(plan.yaw)[:, None], np.zeros((n, 1)), np.cos(plan.yaw)[:, None]], -1)  # (T, 3)
        for foot, (hip, knee, ankle, toe) in ((LEFT, (1, 4, 7, 10)), (RIGHT, (2, 5, 8, 11))):
            mid, end = sk.two_bone_ik(joints[:, hip], feet.ankles[:, foot], np.linalg.norm(offsets[knee]),
                                      np.linalg.norm(offsets[ankle]), fwd)
            joints[:, knee], joints[:, ankle] = mid, end
            joints[:, toe] = end + rot_y(feet.yaw[:, foot]) @ offsets[toe]
        chest_rot = rot[:, 0] @ rot[:, 3] @ rot[:, 6] @ rot[:, 9]  # (T, 3, 3) global rotation of spine3
        bodies.append({"joints": joints, "chest_rot": chest_rot, "offsets": offsets, "plan": plan, "feet": feet})
    return bodies


def rest_hand_targets(body: dict) -> np.ndarray:
    """Where relaxed hands hang (T, 2, 3) [left, right]: below the shoulders, swinging against the opposite foot."""
    plan, feet, joints, s = body["plan"], body["feet"], body["joints"], body["plan"].scale
    fwd = forward_xz(plan.yaw)  # (T, 2)
    targets = np.empty((len(plan.yaw), 2, 3))
    for hand, shoulder, sign, other_foot in ((LEFT, 16, 1.0, RIGHT), (RIGHT, 17, -1.0, LEFT)):
        ahead = ((feet.ankles[:, other_foot, [0, 2]] - plan.root_xz) * fwd).sum(-1)  # (T,) opposite foot ahead of root
        swing = soft_clip(plan.arm_swing * ahead, 0.3 * s)
        local = np.stack([np.full_like(swing, sign * 0.07 * s), np.full_like(swing, -0.48 * s), 0.04 * s + swing], -1)
        targets[:, hand] = joints[:, shoulder] + (rot_y(plan.yaw) @ local[..., None])[..., 0]
    return targets


def attach_arms(body: dict, targets=None, weights=None, poles=None) -> np.ndarray:
    """Finish a pose by placing both arms with two-bone IK; returns joints (T, 22, 3).

    targets: (T, 2, 3) wrist targets [left, right] (world); weights: (T, 2) in [0, 1] blending from the
    relaxed hanging hand (0) to the target (1); poles: (T, 2, 3) directions the elbows bend towards
    (default: backwards, outwards and down in the body frame).
    """
    joints, plan, offsets = body["joints"].copy(), body["plan"], body["offsets"]
    n = len(plan.yaw)
    rest = rest_hand_targets(body)  # (T, 2, 3)
    if targets is None:
        targets, weights = rest, np.zeros((n, 2))
    goal = rest + np.asarray(weights)[..., None] * (np.asarray(targets) - rest)  # (T, 2, 3)
    if poles is None:
        local = np.array([[0.5, -0.4, -1.0], [-0.5, -0.4, -1.0]])  # (2, 3) left, right
        poles = np.einsum("tij,hj->thi", rot_y(plan.yaw), local)  # (T, 2, 3)
    for hand, (shoulder, elbow, wrist) in ((LEFT, (16, 18, 20)), (RIGHT, (17, 19, 21))):
        mid, end = sk.two_bone_ik(joints[:, shoulder], goal[:, hand], np.linalg.norm(offsets[elbow]),
                                  np.linalg.norm(offsets[wrist]), poles[:, hand])
        joints[:, elbow], joints[:, wrist] = mid, end
    return joints


def pose_person(plan: BodyPlan, fps: float, hand_targets=None, hand_weights=None, look_at_xz=None) -> tuple:
    """Pose one person from a plan: footsteps, torso FK, leg and arm IK. Returns (joints (T, 22, 3), FootPlan)."""
    feet = plan_footsteps(plan, fps)
    body = pose_torsos([plan], [feet], [look_at_xz], [None])[0]
    return attach_arms(body, hand_targets, hand_weights), feet
