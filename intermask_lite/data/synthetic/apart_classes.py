"""Choreography of the gestures at a distance and the travelling interactions: wave, bow, approach,
pass by, follow, chase and the circle dance. Same interface as contact_classes.py."""
from __future__ import annotations

import numpy as np

from .movement import speed_profile_path, window
from .stage import HAND_INDEX, Stage, arms, forward3, grip_point, hand_pair, left3, shoulder, up3


def _wave_arm(st: Stage, body: dict, side: str, start: float, end: float, t):
    """Wrist target and weight of a wave: hand up beside the head, swinging side to side."""
    sign = 1.0 if side == "left" else -1.0
    s = body["plan"].scale
    swing = 0.12 * s * np.sin(2 * np.pi * 2.0 * st.tempo * (t - start))
    target = (shoulder(body, side) + up3(len(t)) * 0.36 * s + forward3(body) * 0.1 * s
              + left3(body) * (sign * 0.2 * s + swing)[:, None])
    return target, window(t, start - st.sec(0.3), end, st.sec(0.3))


def wave(st: Stage):
    d = st.uniform("start_distance", 2.5, 4.5)
    away = st.uniform("receiver_facing_offset", -2.5, 2.5)
    wave0 = st.delay + st.sec(0.3)
    wave1 = wave0 + st.uniform("wave_seconds", 1.2, 2.0) / st.tempo
    turn = wave0 + st.sec(0.4)
    back0 = max(turn + st.sec(0.8), wave0 + st.sec(0.9))
    back1 = back0 + st.uniform("wave_back_seconds", 1.0, 1.6) / st.tempo
    other_hand = st.choice("receiver_hand", ["right", "left"], p=[0.7, 0.3])
    t = st.timeline(max(wave1, back1) + st.sec(0.5))
    plans = [st.plan(0, 0.0, 0.0, 0.0), st.plan(1, 0.0, d, st.key([turn, turn + st.sec(0.8)], [np.pi + away, np.pi]))]

    def arm_fn(bodies):
        out = []
        for body, side, (a, b) in ((bodies[0], st.hand, (wave0, wave1)), (bodies[1], other_hand, (back0, back1))):
            targets, weights = arms(len(t))
            targets[:, HAND_INDEX[side]], weights[:, HAND_INDEX[side]] = _wave_arm(st, body, side, a, b, t)
            out.append((targets, weights))
        return out
    return plans, arm_fn


def bow(st: Stage):
    d = st.uniform("start_distance", 1.4, 2.2)
    depth_a, depth_r = st.uniform("bow_depth_actor", 0.45, 0.8), st.uniform("bow_depth_receiver", 0.35, 0.75)
    down = st.sec(0.6)
    hold = st.uniform("hold_seconds", 0.3, 0.8) / st.tempo
    start_a = st.delay + st.sec(0.3)
    start_r = start_a + st.uniform("reply_delay", 0.4, 0.9) / st.tempo
    t = st.timeline(start_r + 2 * down + hold + st.sec(0.6))

    def bend(start, depth):
        return st.key([start, start + down, start + down + hold, start + 2 * down + hold], [0.0, depth, depth, 0.0])
    plans = [st.plan(0, 0.0, 0.0, 0.0, pitch=bend(start_a, depth_a), neck_pitch=0.3 * bend(start_a, depth_a)),
             st.plan(1, 0.0, d, np.pi, pitch=bend(start_r, depth_r), neck_pitch=0.3 * bend(start_r, depth_r))]
    return plans, lambda bodies: [arms(len(t)), arms(len(t))]


def approach(st: Stage):
    both = st.choice("approach", ["actor", "both"], p=[0.6, 0.4]) == "both"
    d0, d_end = st.uniform("start_distance", 2.5, 4.5), st.uniform("meet_distance", 0.85, 1.2)
    share = st.uniform("approach_share", 0.4, 0.6) if both else 1.0
    t0 = st.delay
    t1 = t0 + max(1.5, st.sec((d0 - d_end) / 0.8))
    away = 0.0 if both else st.uniform("receiver_facing_offset", -1.5, 1.5)
    notice = t0 + 0.5 * (t1 - t0)
    t = st.timeline(t1 + st.sec(1.0))
    nod = st.key([t1, t1 + st.sec(0.3), t1 + st.sec(0.7)], [0.0, 0.3, 0.0])
    walk = d0 - d_end
    plans = [st.plan(0, 0.0, st.key([t0, t1], [0.0, walk * share]), 0.0, neck_pitch=nod),
             st.plan(1, 0.0, st.key([t0, t1], [d0, d0 - walk * (1 - share)]),
                     st.key([notice, notice + st.sec(0.8)], [np.pi + away, np.pi]), neck_pitch=nod)]
    return plans, lambda bodies: [arms(len(t)), arms(len(t))]


def pass_by(st: Stage):
    d = st.uniform("start_distance", 3.5, 5.5)
    lateral = st.uniform("lateral_offset", 0.55, 0.8) * st.choice("pass_side", [1.0, -1.0])
    speed = st.uniform("walk_speed", 0.9, 1.2) * st.tempo
    t0 = st.delay
    length = 0.5 * d + st.uniform("walk_past", 1.0, 1.6)
    t1 = t0 + length / speed + 0.5
    t = st.timeline(t1 + 0.3)
    cover = speed_profile_path(t, t0, t1, length, 0.5)  # (T,)
    meet = t[np.argmin(np.abs(cover - 0.5 * d))]
    swerve = 0.08 * window(t, meet - 0.8, meet + 0.8, 0.6)
    plans = [st.plan(0, -np.sign(lateral) * swerve, cover, 0.0, step_time=0.4 / st.tempo),
             st.plan(1, lateral + np.sign(lateral) * swerve, d - cover, np.pi, step_time=0.4 / st.tempo)]
    return plans, lambda bodies: [arms(len(t)), arms(len(t))]


def _curvy_path(st: Stage, s):
    """Floor points (N, 2) along a gently curving path through the origin (heading +Z at s = 0), at arc lengths s."""
    amp, wavelength = st.uniform("path_bend", 0.0, 0.6), st.uniform("path_wavelength", 2.5, 5.0)
    grid = np.linspace(-4.0, 8.0, 1201)
    head = amp * np.sin(2 * np.pi * np.maximum(grid, 0.0) / wavelength) * np.minimum(np.maximum(grid, 0.0), 1.0)
    step = np.gradient(grid)[:, None] * np.stack([np.sin(head), np.cos(head)], -1)  # (N, 2)
    pts = np.cumsum(step, 0)
    pts -= pts[np.argmin(np.abs(grid))]
    return np.stack([np.interp(s, grid, pts[:, 0]), np.interp(s, grid, pts[:, 1])], -1), np.interp(s, grid, head)


def follow(st: Stage):
    gap = st.uniform("follow_gap", 1.2, 1.8)
    length = st.uniform("walk_distance", 2.0, 3.5)
    lag = st.uniform("follow_lag", 0.2, 0.6) / st.tempo
    t0 = st.delay
    t1 = t0 + max(2.0, st.sec(length / 0.8))
    t = st.timeline(t1 + lag + st.sec(0.4))
    s_lead = speed_profile_path(t, t0, t1, length, st.sec(0.6))
    s_follow = np.interp(t - lag, t, s_lead, left=0.0) - gap
    (xz_l, yaw_l), (xz_f, yaw_f) = _curvy_path(st, s_lead), _curvy_path(st, s_follow)
    look_back = st.key([0.5 * (t0 + t1), 0.5 * (t0 + t1) + st.sec(0.4), 0.5 * (t0 + t1) + st.sec(1.0),
                        0.5 * (t0 + t1) + st.sec(1.4)], [0.0, 0.9, 0.9, 0.0]) * st.choice("looks_back", [0.0, 1.0])
    plans = [st.plan(0, xz_l[:, 0], xz_l[:, 1], yaw_l, neck_yaw=look_back),
             st.plan(1, xz_f[:, 0], xz_f[:, 1], yaw_f)]
    # the scene's actor is the one who leads; the follower is the receiver (who reacts)
    return plans, lambda bodies: [arms(len(t)), arms(len(t))]


def chase(st: Stage):
    gap0 = st.uniform("start_gap", 1.8, 2.6)
    gap1 = st.uniform("end_gap", 0.6, 0.8)
    speed = st.uniform("run_speed", 1.4, 1.8) * st.tempo
    t0 = st.delay
    dist = speed * st.uniform("run_seconds", 2.6, 3.6)
    t1 = t0 + dist / speed + 0.5
    tag = t1 - 0.3
    st.contact = (tag, t1 + 0.3)
    t = st.timeline(t1 + 0.5)
    s_chaser = speed_profile_path(t, t0, t1, dist, 0.6) - gap0
    s_runner = (s_chaser + gap0) * (dist - gap0 + gap1) / dist  # runner covers less: the chaser gains
    (xz_c, yaw_c), (xz_r, yaw_r) = _curvy_path(st, s_chaser), _curvy_path(st, s_runner)
    side = 1.0 if st.rng.random() < 0.5 else -1.0
    glance = st.key([t0 + 0.5, t0 + 0.8, t0 + 1.2, t0 + 1.5], [0.0, 1.0, 1.0, 0.0]) * side
    run = dict(step_time=0.28, lift=0.14, arm_swing=1.0)
    lean = 0.18 * window(t, t0, t1, 0.5)
    plans = [st.plan(0, xz_c[:, 0], xz_c[:, 1], yaw_c, pitch=lean, **run),
             st.plan(1, xz_r[:, 0], xz_r[:, 1], yaw_r, pitch=lean, neck_yaw=glance, **run)]

    def arm_fn(bodies):
        runner = bodies[1]
        targets, weights = arms(len(t))
        hand = HAND_INDEX[st.hand]
        targets[:, hand] = runner["joints"][:, 9] - forward3(runner) * 0.12 * runner["plan"].scale
        weights[:, hand] = window(t, tag - 0.4, t1 + 0.5, 0.4)
        return [(targets, weights), arms(len(t))]
    return plans, arm_fn


def circle_dance(st: Stage):
    d = st.uniform("start_distance", 0.8, 0.9) * np.mean(st.scales)
    turns = st.uniform("turns", 0.5, 0.8) * st.choice("spin_direction", [1.0, -1.0])
    grab = st.delay + st.sec(0.2)
    spin0 = grab + st.sec(0.6)
    spin1 = spin0 + st.uniform("spin_seconds", 3.0, 3.8) / st.tempo
    st.contact = (spin0 - st.sec(0.1), spin1)
    t = st.timeline(min(spin1 + st.sec(0.7), 6.0))
    phi = st.key([spin0, spin1], [0.0, 2 * np.pi * turns])  # (T,) angle of the pair around the centre
    radius = 0.5 * d
    actor_xz = np.stack([-radius * np.sin(phi), radius - radius * np.cos(phi)], -1)
    rec_xz = np.stack([radius * np.sin(phi), radius + radius * np.cos(phi)], -1)
    side_step = dict(step_time=0.24 / st.tempo, stance_width=0.12)
    plans = [st.plan(0, actor_xz[:, 0], actor_xz[:, 1], phi, **side_step),
             st.plan(1, rec_xz[:, 0], rec_xz[:, 1], phi + np.pi, **side_step)]

    def arm_fn(bodies):
        out = [arms(len(t)), arms(len(t))]
        for actor_side, rec_side in (("left", "right"), ("right", "left")):  # hands on the same side of the space
            meet = grip_point(bodies[0], actor_side, bodies[1], rec_side, drop=0.3)
            ends = hand_pair(meet, bodies[0], bodies[1], 0.05)
            hold = window(t, grab, spin1 + st.sec(0.5), st.contact[0] - grab)
            for who, side in ((0, actor_side), (1, rec_side)):
                out[who][0][:, HAND_INDEX[side]] = ends[who]
                out[who][1][:, HAND_INDEX[side]] = hold
        return out
    return plans, arm_fn


APART_CHOREOGRAPHY = {
    "wave": wave, "bow": bow, "approach": approach, "pass_by": pass_by, "follow": follow, "chase": chase,
    "circle_dance": circle_dance,
}
