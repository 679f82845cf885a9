"""From the decoder's joint positions to a motion of one skeleton per person: named, switchable stages.

The tokenizer's decoder returns 22 joint positions per frame and nothing holds them to a body: bones stretch,
planted feet slide, two bodies may pass through each other. `clean(joints, fps)` runs these stages in order,
each one switchable by name (`stages=`), and `stage_report` measures every stage's effect:

- "skeleton_fit": each person gets one skeleton, its bone lengths the median of the decoded ones; the pose is
  posed back by forward kinematics along the decoded bone directions, smoothed over time (`smooth_frames`).
  Directions come from positions, not from the decoded rotation channels: rotation errors add up along a chain.
- "push_apart": where the two bodies' capsule proxies (torso, head, legs) overlap by more than `pen_tol`, both
  people move apart horizontally by half the excess each; then an arm that reaches into the partner is moved out
  (elbow and wrist, posed back from the shoulder so bones keep their length). Both pushes are smoothed over time.
- "foot_lock": foot contacts found on the fitted, pushed motion (low and slow, short gaps closed) hold each foot
  where it stood during the contact, with a short blend in and out; the leg follows by two-bone IK, so bones keep
  their length.

The raw decoder output stays available (Kit keeps it as `Motion.raw_joints`).
"""
from __future__ import annotations

import numpy as np

from . import skeleton as sk
from .eval import physics

# the order they run in: pushing apart moves whole bodies, feet included, so the feet are locked after it
# (on 42 generated lab motions, skating share 0.139 with the push last, 0.040 with it before the lock)
STAGES = ("skeleton_fit", "push_apart", "foot_lock")
SMOOTH_FRAMES = 1.0   # std (frames) of the Gaussian that smooths joint directions and the pelvis path
# A foot joint counts as planted where eval.physics.foot_contacts says so (what the skating metric measures is
# what gets locked): below these heights (ankle, toe, ankle, toe: FOOT_JOINT_ORDER) and slower than CONTACT_SPEED.
# The values below were picked on 42 test clips through the lab tokenizer (benchmarks/bench_motion_quality.py):
# a blend of 1 frame and the metric's thresholds leave the least skating (0.055 against 0.08-0.15 for
# 2-4 frames or stricter thresholds) at a jerk 1.4x ground truth's.
CONTACT_HEIGHT = (0.12, 0.06, 0.12, 0.06)
CONTACT_SPEED = 1.0   # m/s
MIN_CONTACT = 3       # frames: shorter contacts are dropped, shorter gaps between contacts are closed
BLEND = 1             # frames over which a lock fades in and out
PEN_TOL = 0.03        # m: overlap left alone (hands that hold each other overlap slightly; ground truth: 0.017)
# each push is smoothed, so it falls short of the excess: 3 rounds leave the deepest overlap at 0.035 m on 42
# generated lab motions, 6 rounds at 0.024 m with the same touch rate (a tolerance of 0.02 or less loses touches)
PUSH_ROUNDS = 6
LEGS = {"left": (1, 4, 7, 10), "right": (2, 5, 8, 11)}  # hip, knee, ankle, toe


def check_stages(stages) -> tuple[str, ...]:
    """`stages` (names, "all" or None for all, () for none) as a tuple in run order; unknown names raise."""
    if stages is None or stages == "all":
        return STAGES
    stages = (stages,) if isinstance(stages, str) else tuple(stages)
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise ValueError(f"unknown cleanup stage(s) {unknown}; expected some of {list(STAGES)} (or 'all', or () "
                         "for the raw decoder output)")
    return tuple(s for s in STAGES if s in stages)


def _check_joints(joints) -> np.ndarray:
    j = np.asarray(joints, dtype=np.float64)
    if j.ndim != 4 or j.shape[2:] != (sk.N_JOINTS, 3):
        raise ValueError(f"joints must have shape (P, T, 22, 3), got {j.shape}")
    if not np.isfinite(j).all():
        raise ValueError("joints contain NaN or inf")
    return j


def gaussian_smooth(x: np.ndarray, sigma: float, axis: int = 0) -> np.ndarray:
    """Gaussian smoothing along `axis` with edge frames repeated (sigma in frames; 0 = unchanged)."""
    if sigma <= 0 or x.shape[axis] < 2:
        return x
    radius = int(np.ceil(3 * sigma))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel /= kernel.sum()
    moved = np.moveaxis(x, axis, 0)                                     # (T, ...)
    padded = np.concatenate([moved[:1].repeat(radius, 0), moved, moved[-1:].repeat(radius, 0)])
    out = sum(w * padded[i:i + len(moved)] for i, w in enumerate(kernel))
    return np.moveaxis(out, 0, axis)


# ---------------------------------------------------------------- skeleton fit

def fit_skeleton(person: np.ndarray, smooth_frames: float = SMOOTH_FRAMES) -> np.ndarray:
    """One person's joints (T, 22, 3) -> the same motion on one skeleton (constant bone lengths).

    Bone lengths: the median over frames of the decoded ones. Each child sits at its parent plus that length
    along the decoded (smoothed) bone direction; the pelvis follows its smoothed decoded path, lifted so that the
    lowest foot joint keeps the decoded height above the floor."""
    lengths = np.median(sk.bone_lengths(person), axis=0)                # (21,)
    smooth = gaussian_smooth(person, smooth_frames)                     # (T, 22, 3)
    out = np.empty_like(person)
    out[:, 0] = smooth[:, 0]
    for j in range(1, sk.N_JOINTS):                                     # parents come before children
        p = sk.PARENTS[j]
        direction = smooth[:, j] - smooth[:, p]                         # (T, 3)
        norm = np.linalg.norm(direction, axis=-1, keepdims=True)
        direction = np.where(norm > 1e-9, direction / np.maximum(norm, 1e-9), [0.0, 1.0, 0.0])
        out[:, j] = out[:, p] + lengths[j - 1] * direction
    # the fitted legs are longer or shorter than the decoded ones frame by frame: lift the body so that its lowest
    # foot joint stands as high as the decoded one (42 generated lab motions: without the lift a foot sank below
    # the floor in 37 % of the cleaned frames, with it in 8 %; smoothing the lift over 2 frames keeps jerk at 57)
    feet = list(sk.FOOT_JOINT_ORDER)
    lift = smooth[:, feet, 1].min(-1) - out[:, feet, 1].min(-1)         # (T,) metres
    out[..., 1] += gaussian_smooth(lift, 2.0)[:, None]                 # smoothed: a lift must not jerk
    return out


# ---------------------------------------------------------------- foot locking

def _close_runs(flags: np.ndarray, min_run: int) -> np.ndarray:
    """(T,) bool with gaps shorter than min_run closed, then runs shorter than min_run dropped."""
    f = flags.copy()
    for value in (False, True):                                         # close gaps, then drop short runs
        t = 0
        while t < len(f):
            if f[t] == value:
                end = t
                while end < len(f) and f[end] == value:
                    end += 1
                inner = t > 0 and end < len(f)                          # gaps only between two runs
                if end - t < min_run and (value or inner):
                    f[t:end] = not value
                t = end
            else:
                t += 1
    return f


def planted_joints(person: np.ndarray, fps: float) -> np.ndarray:
    """(T, 4) bool in FOOT_JOINT_ORDER (ankle, toe per side): the joint is low and slow, cleaned of flicker."""
    feet = person[:, sk.FOOT_JOINT_ORDER]                               # (T, 4, 3)
    step = np.diff(feet[..., [0, 2]], axis=0)                           # (T-1, 4, 2)
    speed = np.linalg.norm(np.concatenate([step[:1], step]), axis=-1) * fps  # (T, 4)
    low_slow = (feet[..., 1] < np.asarray(CONTACT_HEIGHT)) & (speed < CONTACT_SPEED)  # (T, 4)
    return np.stack([_close_runs(low_slow[:, k], MIN_CONTACT) for k in range(4)], axis=1)


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """[(start, stop), ...] of the True runs of a (T,) bool array."""
    edges = np.diff(np.concatenate([[0], flags.astype(int), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def held_path(path: np.ndarray, planted: np.ndarray) -> np.ndarray:
    """A joint's path (T, 3) held at its mean place during each planted run, blended in and out over BLEND
    frames on either side."""
    n = len(path)
    target, weight = path.copy(), np.zeros(n)
    for start, stop in _runs(planted):
        place = path[start:stop].mean(0)                                # (3,)
        for t in range(max(0, start - BLEND), min(n, stop + BLEND)):
            outside = start - t if t < start else max(t - stop + 1, 0)  # frames outside the run
            w = 1.0 - outside / (BLEND + 1)
            if w > weight[t]:
                weight[t], target[t] = w, place
    return path + weight[:, None] * (target - path)                     # (T, 3)


def lock_feet(person: np.ndarray, fps: float) -> np.ndarray:
    """One person's joints (T, 22, 3) with each planted ankle and toe held still where it stood; the leg follows
    by two-bone IK (hip-knee-ankle), the toe turns about the ankle, so every bone keeps its length."""
    out = person.copy()
    planted = planted_joints(person, fps)                               # (T, 4)
    for s, (hip, knee, ankle, toe) in enumerate(LEGS.values()):
        if not planted[:, 2 * s: 2 * s + 2].any():
            continue
        goal = held_path(person[:, ankle], planted[:, 2 * s])           # (T, 3)
        upper = np.linalg.norm(person[0, knee] - person[0, hip])
        lower = np.linalg.norm(person[0, ankle] - person[0, knee])
        pole = person[:, knee] - 0.5 * (person[:, hip] + person[:, ankle])  # (T, 3) the way the knee bends
        out[:, knee], out[:, ankle] = sk.two_bone_ik(person[:, hip], goal, upper, lower, pole)
        foot = np.linalg.norm(person[0, toe] - person[0, ankle])
        toe_goal = held_path(person[:, toe] - person[:, ankle] + out[:, ankle], planted[:, 2 * s + 1])  # (T, 3)
        direction = toe_goal - out[:, ankle]
        out[:, toe] = out[:, ankle] + foot * direction / np.maximum(np.linalg.norm(direction, axis=-1,
                                                                                   keepdims=True), 1e-9)
    return out


# ---------------------------------------------------------------- pushing two bodies apart

# the capsules whose overlap moves the bodies: all but the arms, which reach for the partner (a hug's forearms lie on
# the partner's back, a push's hands on the chest) and pushing the whole bodies apart for them breaks the contact
BODY_CAPSULES = [i for i, (name, *_rest) in enumerate(physics.CAPSULES) if not name.endswith("arm")]
_CAPSULE = {name: (start, end, radius) for name, start, end, radius in physics.CAPSULES}
ARMS = (("l_upper_arm", "l_forearm"), ("r_upper_arm", "r_forearm"))  # shoulder-elbow, elbow-wrist


def _smooth_push(excess: np.ndarray) -> np.ndarray:
    """(T,) overlap beyond the tolerance -> a push that rises and falls smoothly: the largest excess nearby,
    smoothed."""
    wide = np.array([excess[max(0, t - 2): t + 3].max() for t in range(len(excess))])
    return gaussian_smooth(wide, 1.5)                                   # (T,) metres


def push_bodies_apart(pair: np.ndarray, pen_tol: float = PEN_TOL, iterations: int = PUSH_ROUNDS) -> np.ndarray:
    """Two people (2, T, 22, 3) moved apart horizontally where their bodies (BODY_CAPSULES: torso, head, legs, feet)
    overlap by more than pen_tol; arms are left where they are."""
    out = pair.copy()
    body = np.ix_(np.arange(pair.shape[1]), BODY_CAPSULES, BODY_CAPSULES)
    for _ in range(iterations):
        excess = np.maximum(-physics.capsule_gaps(out)[body].min(axis=(1, 2)) - pen_tol, 0.0)  # (T,)
        if not excess.any():
            break
        push = _smooth_push(excess)                                     # (T,) metres
        away = out[1, :, 0, [0, 2]].T - out[0, :, 0, [0, 2]].T          # (T, 2) from A's pelvis to B's
        norm = np.linalg.norm(away, axis=-1, keepdims=True)
        away = np.where(norm > 1e-6, away / np.maximum(norm, 1e-6), [0.0, 1.0])
        shift = np.zeros((len(excess), 3))
        shift[:, [0, 2]] = 0.5 * push[:, None] * away                   # (T, 3)
        out[0] -= shift[:, None]
        out[1] += shift[:, None]
    return out


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def _arm_shift(person: np.ndarray, partner: np.ndarray, capsule: str, pen_tol: float) -> np.ndarray | None:
    """(T, 3) how far one arm capsule of `person` must move to overlap every capsule of `partner` by no more than
    pen_tol (out along the line between the closest points, smoothed over time), or None where it never does."""
    start, end, radius = _CAPSULE[capsule]
    on_arm, on_partner = physics.closest_points(person[:, start, None], person[:, end, None],
                                                partner[:, physics.CAP_START], partner[:, physics.CAP_END])  # (T, K, 3)
    out = on_arm - on_partner                                           # (T, K, 3) partner -> arm
    gap = np.linalg.norm(out, axis=-1) - radius - physics.CAP_RADIUS  # (T, K)
    deepest = gap.argmin(axis=1)                                        # (T,)
    frames = np.arange(len(gap))
    excess = np.maximum(-gap[frames, deepest] - pen_tol, 0.0)          # (T,)
    if not excess.any():
        return None
    direction = _unit(gaussian_smooth(_unit(out[frames, deepest]), 1.5))  # (T, 3) smoothed, so the arm does not jerk
    return _smooth_push(excess)[:, None] * direction


def push_arms_out(pair: np.ndarray, pen_tol: float = PEN_TOL, iterations: int = PUSH_ROUNDS) -> np.ndarray:
    """Two people (2, T, 22, 3) whose arms reach into the partner (any capsule, arms included) by more than pen_tol,
    with elbow and wrist moved out and the arm posed back from the shoulder, so each bone keeps its length and the
    hand stays on the partner's surface (a hug's hands on the back, a push's on the chest)."""
    out = pair.copy()
    for _ in range(iterations):
        moved = False
        for s in (0, 1):
            for upper, fore in ARMS:
                shoulder, elbow, _ = _CAPSULE[upper]
                wrist = _CAPSULE[fore][1]
                for capsule in (upper, fore):
                    shift = _arm_shift(out[s], out[1 - s], capsule, pen_tol)  # (T, 3) or None
                    if shift is None:
                        continue
                    moved = True
                    p = out[s]                                          # (T, 22, 3), a view: edited in place
                    upper_len = np.linalg.norm(p[:, elbow] - p[:, shoulder], axis=-1, keepdims=True)  # (T, 1)
                    fore_len = np.linalg.norm(p[:, wrist] - p[:, elbow], axis=-1, keepdims=True)
                    wanted_wrist = p[:, wrist] + shift
                    p[:, elbow] = p[:, shoulder] + upper_len * _unit(p[:, elbow] + shift - p[:, shoulder])
                    p[:, wrist] = p[:, elbow] + fore_len * _unit(wanted_wrist - p[:, elbow])
        if not moved:
            break
    return out


def push_apart(pair: np.ndarray, pen_tol: float = PEN_TOL, iterations: int = PUSH_ROUNDS) -> np.ndarray:
    """Two people (2, T, 22, 3) that overlap by no more than pen_tol: bodies moved apart, then arms moved out."""
    return push_arms_out(push_bodies_apart(pair, pen_tol, iterations), pen_tol, iterations)


# ---------------------------------------------------------------- the pipeline

def clean(joints, fps: float, stages=None, smooth_frames: float = SMOOTH_FRAMES, pen_tol: float = PEN_TOL):
    """Joints (P, T, 22, 3) through the chosen stages (default all; () returns a copy); numpy float32 out.

    push_apart needs two people and at least 4 frames; with one person it is skipped."""
    j = _check_joints(joints)
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    stages = check_stages(stages)
    if "skeleton_fit" in stages:
        j = np.stack([fit_skeleton(p, smooth_frames) for p in j])
    if "push_apart" in stages and len(j) == 2 and j.shape[1] >= 4:
        j = push_apart(j, pen_tol)
    if "foot_lock" in stages:
        j = np.stack([lock_feet(p, fps) for p in j])
    return j.astype(np.float32)


def stage_report(joints, fps: float, label: str | None = None) -> list[dict]:
    """Physics of a two-person motion (2, T, 22, 3) after each stage in turn: rows {"after", metric: value}."""
    rows, done = [], []
    keys = ("bone_drift", "skate_share", "skate_speed", "pen_max_depth", "jerk", "contact_dist")
    for stage in ("raw",) + STAGES:
        if stage != "raw":
            done.append(stage)
        sample = physics.physics_sample(clean(joints, fps, done), fps, label=label)
        rows.append({"after": stage, **{k: sample[k] for k in keys}})
    return rows
