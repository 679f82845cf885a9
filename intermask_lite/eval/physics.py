"""Physical plausibility of two-person motion, from skeletons alone.

Input: joints (2, T, 22, 3) in metres, Y up, floor at y = 0, and the frame rate. Nothing here needs a
body mesh: bodies are approximated by capsules (a segment between two joints plus a radius).

Per sample (`physics_sample`) and aggregated over a set (`physics_report`):
- interpenetration: depth of the deepest overlap between a capsule of A and a capsule of B, the share of
  frames where it exceeds `pen_tol` (3 cm: hands that hold each other overlap slightly, since the proxies
  have no hands), and a per-frame mask (to mark those frames in playback);
- foot skating: share of foot-contact frames and the mean horizontal foot speed during contact;
- floor penetration (lowest joint below y = 0) and floating (both feet of a person above the floor for a
  long run of frames);
- bone-length drift: std / mean of each bone's length over time (0 for rigid-skeleton motion);
- jerk: mean magnitude of the third time derivative of the joint positions;
- contact accuracy for contact classes (see CONTACT_SPECS): closest approach of the joints that should meet.
"""
from __future__ import annotations

import numpy as np

from ..skeleton import FOOT_JOINT_ORDER, bone_lengths

# Capsule proxies: (name, joint_start, joint_end, radius in metres). A sphere is a capsule with start == end.
CAPSULES = [
    ("torso", 0, 12, 0.13),
    ("head", 15, 15, 0.10),
    ("l_upper_arm", 16, 18, 0.05), ("r_upper_arm", 17, 19, 0.05),
    ("l_forearm", 18, 20, 0.04), ("r_forearm", 19, 21, 0.04),
    ("l_thigh", 1, 4, 0.07), ("r_thigh", 2, 5, 0.07),
    ("l_shin", 4, 7, 0.05), ("r_shin", 5, 8, 0.05),
    ("l_foot", 7, 10, 0.04), ("r_foot", 8, 11, 0.04),
]
CAP_START = np.array([c[1] for c in CAPSULES])
CAP_END = np.array([c[2] for c in CAPSULES])
CAP_RADIUS = np.array([c[3] for c in CAPSULES])

# Contact classes: which joints of one person should meet which joints of the other (either person may be
# the one who reaches; the closer of the two directions counts). Wrists stand in for hands.
HANDS = [20, 21]
# (reaching joints, target joints, touch threshold in metres: hands on the torso sit ~0.13 m in front of
# the spine joints, hence the larger threshold there).
CONTACT_SPECS = {
    "handshake": (HANDS, HANDS, 0.15),
    "high_five": (HANDS, HANDS, 0.15),
    "pat_shoulder": (HANDS, [16, 17, 13, 14], 0.15),
    "hug": (HANDS, [3, 6, 9, 13, 14, 16, 17], 0.2),
    "push": (HANDS, [3, 6, 9, 13, 14, 16, 17], 0.2),
    "pull": (HANDS, [18, 19, 20, 21], 0.15),
}  # punch_dodge is left out on purpose: the punch misses


def _check_joints(joints) -> np.ndarray:
    j = np.asarray(joints, dtype=np.float64)
    if j.ndim != 4 or j.shape[0] != 2 or j.shape[2:] != (22, 3):
        raise ValueError(f"joints must have shape (2, T, 22, 3), got {j.shape}")
    if j.shape[1] < 4:
        raise ValueError(f"need at least 4 frames for derivatives, got {j.shape[1]}")
    if not np.isfinite(j).all():
        raise ValueError("joints contain NaN or inf")
    return j


# ---------------------------------------------------------------- capsules and interpenetration

def closest_points(p1, q1, p2, q2, eps: float = 1e-12) -> tuple[np.ndarray, np.ndarray]:
    """The closest points of segments [p1, q1] and [p2, q2] (all (..., 3), broadcast): (on 1, on 2), each (..., 3).

    Found by clamping the line parameters (s on segment 1, t on segment 2), handling degenerate (point)
    segments; see Ericson, Real-Time Collision Detection, 5.1.9.
    """
    d1, d2, r = q1 - p1, q2 - p2, p1 - p2
    a, e = (d1 * d1).sum(-1), (d2 * d2).sum(-1)
    b, c, f = (d1 * d2).sum(-1), (d1 * r).sum(-1), (d2 * r).sum(-1)
    a_safe, e_safe = np.maximum(a, eps), np.maximum(e, eps)
    denom = a * e - b * b
    s = np.where(denom > eps, np.clip((b * f - c * e) / np.maximum(denom, eps), 0, 1), 0.0)
    t = (b * s + f) / e_safe
    # t outside [0, 1]: clamp it and recompute s for that end point
    s = np.where(t < 0, np.clip(-c / a_safe, 0, 1), np.where(t > 1, np.clip((b - c) / a_safe, 0, 1), s))
    t = np.clip(t, 0, 1)
    s = np.where(a <= eps, 0.0, s)
    t = np.where(a <= eps, np.clip(f / e_safe, 0, 1), t)
    t = np.where(e <= eps, 0.0, t)
    s = np.where((e <= eps) & (a > eps), np.clip(-c / a_safe, 0, 1), s)
    return p1 + d1 * s[..., None], p2 + d2 * t[..., None]


def segment_distance(p1, q1, p2, q2) -> np.ndarray:
    """Shortest distance between segments [p1, q1] and [p2, q2]; all (..., 3), broadcast -> (...)."""
    closest1, closest2 = closest_points(p1, q1, p2, q2)
    return np.linalg.norm(closest1 - closest2, axis=-1)


def capsule_gaps(joints) -> np.ndarray:
    """Surface gap between every capsule of A and every capsule of B: (T, K, K), negative = overlap."""
    j = _check_joints(joints)
    a_start, a_end = j[0][:, CAP_START, None], j[0][:, CAP_END, None]  # (T, K, 1, 3)
    b_start, b_end = j[1][:, None, CAP_START], j[1][:, None, CAP_END]  # (T, 1, K, 3)
    dist = segment_distance(a_start, a_end, b_start, b_end)  # (T, K, K)
    return dist - (CAP_RADIUS[:, None] + CAP_RADIUS[None, :])


def interpersonal_distance(joints) -> tuple[np.ndarray, np.ndarray]:
    """(closest capsule surface gap (T,), horizontal pelvis distance (T,)), metres. Gap < 0 = overlap."""
    j = _check_joints(joints)
    gap = capsule_gaps(j).min(axis=(1, 2))  # (T,)
    pelvis_xz = j[:, :, 0][..., [0, 2]]  # (2, T, 2)
    root = np.linalg.norm(pelvis_xz[0] - pelvis_xz[1], axis=-1)  # (T,)
    return gap, root


def interpenetration(joints, pen_tol: float = 0.03) -> dict:
    """pen_max_depth (m), pen_share (frames deeper than pen_tol), pen_mask (T,) bool, gap (T,) metres."""
    gap, _ = interpersonal_distance(joints)
    depth = np.maximum(-gap, 0.0)  # (T,)
    mask = depth > pen_tol
    return {"pen_max_depth": float(depth.max()), "pen_share": float(mask.mean()), "pen_mask": mask,
            "gap": gap}


# ---------------------------------------------------------------- feet and floor

def foot_contacts(joints, fps: float, height: tuple = (0.12, 0.06, 0.12, 0.06),
                  max_speed: float = 1.0) -> np.ndarray:
    """Detected contacts (2, T, 4) for FOOT_JOINT_ORDER: the joint is low (below `height`) and slow
    (horizontal speed below `max_speed` m/s, which leaves out the swing phase)."""
    j = _check_joints(joints)
    feet = j[:, :, FOOT_JOINT_ORDER]  # (2, T, 4, 3)
    low = feet[..., 1] < np.asarray(height)  # (2, T, 4)
    speed = _horizontal_speed(feet, fps)  # (2, T-1, 4)
    speed = np.concatenate([speed, speed[:, -1:]], axis=1)  # (2, T, 4)
    return low & (speed < max_speed)


def _horizontal_speed(points, fps: float) -> np.ndarray:
    """Horizontal (XZ) speed between consecutive frames: (2, T, K, 3) -> (2, T-1, K) m/s."""
    step = np.diff(points[..., [0, 2]], axis=1)  # (2, T-1, K, 2)
    return np.linalg.norm(step, axis=-1) * fps


def foot_skating(joints, fps: float, contacts=None, slide_tol: float = 0.1) -> dict:
    """Contact share, mean horizontal foot speed during contact (m/s), share of contact steps that slide.

    contacts: (2, T, 4) bool in FOOT_JOINT_ORDER, or None to detect them (see foot_contacts). A step
    between frames t and t+1 counts as in contact when the foot is in contact at both frames.
    """
    j = _check_joints(joints)
    c = foot_contacts(j, fps) if contacts is None else np.asarray(contacts, dtype=bool)
    if c.shape != (2, j.shape[1], 4):
        raise ValueError(f"contacts must have shape (2, T={j.shape[1]}, 4), got {c.shape}")
    speed = _horizontal_speed(j[:, :, FOOT_JOINT_ORDER], fps)  # (2, T-1, 4)
    in_contact = c[:, 1:] & c[:, :-1]  # (2, T-1, 4)
    n = int(in_contact.sum())
    slide = float(speed[in_contact].mean()) if n else 0.0
    slide_share = float((speed[in_contact] > slide_tol).mean()) if n else 0.0
    return {"contact_share": float(c.mean()), "skate_speed": slide, "skate_share": slide_share}


def floor_and_floating(joints, fps: float, floor_tol: float = 0.01, float_height: float = 0.15,
                       float_seconds: float = 0.6) -> dict:
    """Floor penetration depth/share (lowest joint below y = 0) and floating share.

    Floating: the lowest foot joint of a person stays above `float_height` for at least `float_seconds`
    in a row (short jumps are allowed); the share counts frames inside such runs, over both people.
    """
    j = _check_joints(joints)
    lowest = j[..., 1].min(axis=(0, 2))  # (T,) lowest joint of either person
    below = np.maximum(-lowest, 0.0)
    foot_low = j[:, :, FOOT_JOINT_ORDER, 1].min(axis=2)  # (2, T)
    min_run = max(1, int(round(float_seconds * fps)))
    floating = np.zeros_like(foot_low, dtype=bool)
    for p in range(2):
        floating[p] = _long_runs(foot_low[p] > float_height, min_run)
    return {"floor_depth": float(below.max()), "floor_share": float((below > floor_tol).mean()),
            "float_share": float(floating.mean())}


def _long_runs(flags: np.ndarray, min_run: int) -> np.ndarray:
    """Keep only the True runs of at least min_run consecutive frames."""
    out = np.zeros_like(flags)
    start = None
    for t, f in enumerate(list(flags) + [False]):
        if f and start is None:
            start = t
        elif not f and start is not None:
            if t - start >= min_run:
                out[start:t] = True
            start = None
    return out


# ---------------------------------------------------------------- skeleton and smoothness

def bone_drift(joints) -> float:
    """Largest relative bone-length variation over time: max over bones and people of std / mean."""
    lengths = bone_lengths(_check_joints(joints))  # (2, T, 21)
    return float((lengths.std(axis=1) / np.maximum(lengths.mean(axis=1), 1e-9)).max())


def jerk(joints, fps: float) -> float:
    """Mean magnitude of the third finite difference of positions, in m/s^3."""
    d3 = np.diff(_check_joints(joints), n=3, axis=1) * fps ** 3  # (2, T-3, 22, 3)
    return float(np.linalg.norm(d3, axis=-1).mean())


# ---------------------------------------------------------------- contact classes

def contact_gaps(joints, label: str) -> np.ndarray | None:
    """Per frame, how far (m) the joints that should meet for `label` are apart, either person reaching: (T,).
    None if `label` is not a contact class."""
    if label not in CONTACT_SPECS:
        return None
    j = _check_joints(joints)
    reach, target, _ = CONTACT_SPECS[label]
    gaps = [np.linalg.norm(j[actor][:, reach, None] - j[1 - actor][:, None, target], axis=-1).min(axis=(1, 2))
            for actor in (0, 1)]  # (T,) each: A reaching, B reaching
    return np.minimum(*gaps)


def contact_distance(joints, label: str) -> float | None:
    """Closest approach (m) over time of the joints that should meet for `label`; None if not a contact class."""
    gaps = contact_gaps(joints, label)
    return None if gaps is None else float(gaps.min())


def contact_frames(joints, label: str) -> np.ndarray | None:
    """(T,) bool: the frames where the joints that should meet for `label` touch (CONTACT_SPECS distance)."""
    gaps = contact_gaps(joints, label)
    return None if gaps is None else gaps <= CONTACT_SPECS[label][2]


# ---------------------------------------------------------------- per sample and per set

# Every number physics_report returns: (unit, what it means, which direction is better).
METRICS = {
    "pen_max_depth": ("m", "deepest overlap of A's and B's capsule proxies (mean over samples)", "lower"),
    "pen_share": ("", "share of frames where the bodies overlap by more than 3 cm", "lower"),
    "contact_share": ("", "share of foot-joint frames in contact with the floor", "like GT"),
    "skate_speed": ("m/s", "mean horizontal foot speed while in contact (foot skating)", "lower"),
    "skate_share": ("", "share of contact steps where the foot slides faster than 0.1 m/s", "lower"),
    "floor_depth": ("m", "deepest joint below the floor (mean over samples)", "lower"),
    "floor_share": ("", "share of frames with a joint more than 1 cm below the floor", "lower"),
    "float_share": ("", "share of person-frames floating (both feet high for 0.6 s or more)", "lower"),
    "bone_drift": ("", "largest std/mean of a bone length over time (0 = rigid skeleton)", "lower"),
    "jerk": ("m/s^3", "mean magnitude of the third derivative of joint positions", "like GT"),
    "contact_dist": ("m", "closest approach of the joints that should meet (contact classes only)", "lower"),
    "touch_rate": ("", "share of contact-class samples whose joints meet (15-20 cm, CONTACT_SPECS)", "higher"),
}


def physics_sample(joints, fps: float, contacts=None, label: str | None = None) -> dict:
    """All physics numbers for one two-person sample; also 'pen_mask' (T,) and 'gap' (T,) arrays."""
    j = _check_joints(joints)
    out = interpenetration(j)
    out.update(foot_skating(j, fps, contacts))
    out.update(floor_and_floating(j, fps))
    out["bone_drift"] = bone_drift(j)
    out["jerk"] = jerk(j, fps)
    dist = contact_distance(j, label) if label else None
    out["contact_dist"] = dist
    out["touched"] = None if dist is None else bool(dist <= CONTACT_SPECS[label][2])
    return out


def physics_report(joints_list, fps: float, labels=None, contacts_list=None) -> dict:
    """Aggregate physics numbers over a set of samples.

    joints_list: list of (2, T, 22, 3) arrays (lengths may differ); labels: optional class per sample
    (for contact accuracy); contacts_list: optional (2, T, 4) contacts per sample (else detected).
    Returns {metric: {"value", "unit", "what", "better"}}, in METRICS order; contact metrics are NaN when
    no sample belongs to a contact class. `report_rows` turns it into table rows.
    """
    if len(joints_list) == 0:
        raise ValueError("physics_report needs at least one sample")
    if labels is not None and len(labels) != len(joints_list):
        raise ValueError(f"got {len(labels)} labels for {len(joints_list)} samples")
    if contacts_list is not None and len(contacts_list) != len(joints_list):
        raise ValueError(f"got {len(contacts_list)} contact arrays for {len(joints_list)} samples")
    samples = [physics_sample(j, fps, None if contacts_list is None else contacts_list[i],
                              None if labels is None else labels[i]) for i, j in enumerate(joints_list)]
    values = {}
    for key in METRICS:
        if key == "touch_rate":
            touched = [s["touched"] for s in samples if s["touched"] is not None]
            values[key] = float(np.mean(touched)) if touched else float("nan")
        else:
            vals = [s[key] for s in samples if s.get(key) is not None]
            values[key] = float(np.mean(vals)) if vals else float("nan")
    return {k: {"value": values[k], "unit": METRICS[k][0], "what": METRICS[k][1], "better": METRICS[k][2]}
            for k in METRICS}


def report_rows(report: dict) -> list[list[str]]:
    """[[metric, value, unit, better, what], ...] for printing or a DataFrame."""
    return [[k, f"{v['value']:.4g}", v["unit"], v["better"], v["what"]] for k, v in report.items()]
