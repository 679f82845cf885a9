"""Choreography of the contact interactions: handshake, high five, hug, push, punch and dodge, pull, pat.

Each function takes a `Stage` and returns (plans, arm_fn): the two BodyPlans (actor, receiver) and a function
that, given both posed torsos, returns per person (wrist targets (T, 2, 3), weights (T, 2)). Hand targets are
computed on the partner's posed body, so contacts land where the partner really is.
"""
from __future__ import annotations

import numpy as np

from .movement import hold as hold_weight
from .movement import ramp, window
from .stage import (HAND_INDEX, OTHER_SIDE, Stage, arms, forward3, grip_point, hand_pair, left3,
                          shoulder, turn_towards, up3)


def _walk_up(st: Stage, d_start: float, d_end: float, both: bool):
    """Actor (and receiver when `both`) walk until d_end apart. Returns arrival time and z-path functions."""
    share = st.uniform("approach_share", 0.35, 0.65) if both else 1.0
    walk = max(d_start - d_end, 0.0)
    t0, t1 = st.delay, st.delay + max(0.8, st.sec(walk / 0.7))
    z_actor = lambda: st.key([t0, t1], [0.0, walk * share])  # noqa: E731
    z_receiver = lambda: st.key([t0, t1], [d_start, d_start - walk * (1 - share)])  # noqa: E731
    return t1, z_actor, z_receiver


def _receiver_yaw(st: Stage, turn_at: float, spread: float = 0.4):
    """Receiver starts turned by a random angle from the actor and turns to face them."""
    off = st.uniform("receiver_facing_offset", -spread, spread)
    return st.key([turn_at, turn_at + st.sec(0.6)], [np.pi + off, np.pi])


def handshake(st: Stage):
    both = st.choice("approach", ["both", "actor", "none"], p=[0.5, 0.3, 0.2]) != "actor"
    d0 = st.uniform("start_distance", 1.4, 2.6) if st.params["approach"] != "none" else 0.7
    d_meet = st.uniform("meet_distance", 0.6, 0.68) * np.mean(st.scales)
    arrive, z_a, z_r = _walk_up(st, d0, d_meet, both)
    shakes = int(st.rng.integers(2, 4))
    freq = 2.2 * st.tempo
    reach_t, hold = arrive - st.sec(0.1), shakes / freq
    st.contact = (reach_t + st.sec(0.5), reach_t + st.sec(0.5) + hold)
    release = st.contact[1] + st.sec(0.5)
    st.params.update(shakes=shakes)
    t = st.timeline(release + st.sec(0.6))
    plans = [st.plan(0, 0.0, z_a(), 0.0, pitch=0.08 * ramp(t, reach_t, reach_t + 0.5)),
             st.plan(1, 0.0, z_r(), _receiver_yaw(st, st.delay, 0.3), pitch=0.08 * ramp(t, reach_t, reach_t + 0.5))]
    side = st.hand

    def arm_fn(bodies):
        meet = grip_point(bodies[0], side, bodies[1], side, drop=0.32)  # (T, 3)
        meet[:, 1] += 0.035 * np.sin(2 * np.pi * freq * (t - st.contact[0])) * window(t, *st.contact, 0.15)
        ends = hand_pair(meet, bodies[0], bodies[1], 0.05)
        out = []
        for who in (0, 1):
            targets, weights = arms(len(t))
            targets[:, HAND_INDEX[side]] = ends[who]
            weights[:, HAND_INDEX[side]] = window(t, reach_t, release, st.contact[0] - reach_t)
            out.append((targets, weights))
        return out
    return plans, arm_fn


def high_five(st: Stage):
    d0 = st.uniform("start_distance", 1.3, 2.5)
    d_end = st.uniform("meet_distance", 0.64, 0.74) * np.mean(st.scales)
    arrive, z_a, z_r = _walk_up(st, d0, d_end, st.rng.random() < 0.6)
    raise_t, clap = arrive - st.sec(0.5), arrive + st.sec(0.15)
    st.contact = (clap, clap + 0.1)
    down = st.contact[1] + st.sec(0.5)
    t = st.timeline(down + st.sec(0.5))
    plans = [st.plan(0, 0.0, z_a(), 0.0), st.plan(1, 0.0, z_r(), _receiver_yaw(st, st.delay, 0.3))]
    side_a, side_r = st.hand, OTHER_SIDE[st.hand]  # the hands on the same side of the space

    def arm_fn(bodies):
        top = grip_point(bodies[0], side_a, bodies[1], side_r, drop=-0.26 * np.mean(st.scales))  # above the shoulders
        ends = hand_pair(top, bodies[0], bodies[1], 0.06)
        # the actor winds up (hand high and back) before swinging in
        wind = shoulder(bodies[0], side_a) + up3(len(t)) * 0.35 * st.scales[0] - forward3(bodies[0]) * 0.05
        actor_goal = wind + ramp(t, clap - st.sec(0.2), clap)[:, None] * (ends[0] - wind)
        out = []
        for _who, side, goal, up_t in ((0, side_a, actor_goal, raise_t), (1, side_r, ends[1], raise_t + st.sec(0.2))):
            targets, weights = arms(len(t))
            targets[:, HAND_INDEX[side]] = goal
            weights[:, HAND_INDEX[side]] = hold_weight(t, up_t, clap - 0.05, st.contact[1], down)
            out.append((targets, weights))
        return out
    return plans, arm_fn


def hug(st: Stage):
    d0 = st.uniform("start_distance", 1.2, 2.4)
    d_hug = st.uniform("hug_distance", 0.36, 0.42) * np.mean(st.scales)
    arrive, z_a, z_r = _walk_up(st, d0, d_hug, st.rng.random() < 0.7)
    hold = st.uniform("hold_seconds", 1.0, 2.0) / st.tempo
    open_t, release = arrive - st.sec(0.6), arrive + hold
    st.contact = (arrive - st.sec(0.5), release + st.sec(0.5))
    t = st.timeline(release + st.sec(1.2))
    back = st.key([release, release + st.sec(0.7)], [0.0, 0.15])
    sway = 0.12 * np.sin(2 * np.pi * 0.6 * (t - arrive)) * window(t, arrive, release, 0.4)
    lean = 0.12 * window(t, open_t, release + 0.3, 0.5)
    plans = [st.plan(0, 0.0, z_a() - back, 0.0, pitch=lean, twist=sway),
             st.plan(1, 0.0, z_r() + back, _receiver_yaw(st, st.delay, 0.3), pitch=lean, twist=sway)]

    def arm_fn(bodies):
        out = []
        for who, height in ((0, 0.06), (1, -0.14)):  # the actor's arms go over, the receiver's under
            other = bodies[1 - who]
            wrap = window(t, open_t, release + st.sec(0.4), st.sec(0.6))
            targets, weights = arms(len(t))
            for side, sign in (("left", 1.0), ("right", -1.0)):
                # around the partner: behind their chest, on this hand's side of the space
                behind = other["joints"][:, 9] - forward3(other) * 0.1 * other["plan"].scale
                lateral = -sign * left3(other) * 0.12 * other["plan"].scale
                targets[:, HAND_INDEX[side]] = behind + lateral + up3(len(t)) * height
                weights[:, HAND_INDEX[side]] = wrap
            out.append((targets, weights))
        return out
    return plans, arm_fn


def push(st: Stage):
    d0 = st.uniform("start_distance", 0.9, 2.0)
    d_push = st.uniform("push_distance", 0.58, 0.66) * np.mean(st.scales)
    arrive, z_a, z_r = _walk_up(st, d0, d_push, False)
    two = st.choice("hands", ["both", "one"], p=[0.6, 0.4]) == "both"
    touch = arrive + st.sec(0.25)
    shove_end = touch + st.sec(0.7)
    st.contact = (touch, touch + st.sec(0.2))
    stumble = st.uniform("stumble_distance", 0.5, 1.0)
    angle = st.uniform("stumble_angle", -0.35, 0.35)
    t = st.timeline(shove_end + st.sec(1.2))
    away = st.key([st.contact[0], shove_end], [0.0, stumble])
    z_rec = z_r() + away * np.cos(angle)
    lean_back = st.key([touch, touch + st.sec(0.3), shove_end + st.sec(0.2), shove_end + st.sec(0.8)],
                       [0.0, -0.35, 0.1, 0.0])
    actor_lean = 0.22 * window(t, touch - st.sec(0.3), shove_end, st.sec(0.3))
    plans = [st.plan(0, 0.0, z_a() + 0.6 * st.key([touch, shove_end], [0.0, 0.15]), 0.0, pitch=actor_lean),
             st.plan(1, away * np.sin(angle), z_rec, np.pi - 0.3 * angle * ramp(t, touch, shove_end),
                     pitch=lean_back, step_time=0.3 / st.tempo, arm_swing=0.0)]
    sides = ["left", "right"] if two else [st.hand]

    def arm_fn(bodies):
        rec = bodies[1]
        targets, weights = arms(len(t))
        for side in sides:
            sign = 1.0 if side == "left" else -1.0
            chest = rec["joints"][:, 9] + forward3(rec) * 0.11 * rec["plan"].scale
            spot = chest + left3(rec) * (-sign * 0.12 * len(sides) / 2) * rec["plan"].scale
            hand = HAND_INDEX[side]
            targets[:, hand] = spot
            weights[:, hand] = window(t, touch - st.sec(0.35), shove_end, st.sec(0.35))
        # the one pushed throws the arms out for balance
        flail, flail_w = arms(len(t))
        for side, sign in (("left", 1.0), ("right", -1.0)):
            flail[:, HAND_INDEX[side]] = (shoulder(rec, side) + left3(rec) * sign * 0.35 * rec["plan"].scale
                                          + forward3(rec) * 0.2)
            flail_w[:, HAND_INDEX[side]] = window(t, touch, shove_end + st.sec(0.5), st.sec(0.3))
        return [(targets, weights), (flail, flail_w)]
    return plans, arm_fn


def punch_dodge(st: Stage):
    style = st.choice("dodge", ["duck", "lean_back", "sidestep"])
    d_fight = st.uniform("fight_distance", 0.68, 0.78) * np.mean(st.scales)
    guard_t = st.delay + st.sec(0.2)
    step_in = st.rng.random() < 0.5
    punch = guard_t + st.sec(0.7) + (st.sec(0.4) if step_in else 0.0)
    dodge_start, dodge_end = punch - st.sec(0.25), punch + st.sec(0.5)
    t = st.timeline(dodge_end + st.sec(1.0))
    z_a = st.key([guard_t, punch - st.sec(0.1)], [0.0, 0.15 if step_in else 0.0])
    z_r = (d_fight + (0.15 if step_in else 0.0)) * np.ones(len(t))
    dodge_w = window(t, dodge_start, dodge_end + st.sec(0.3), st.sec(0.25))
    rec = dict(pitch=np.zeros(len(t)), crouch=np.zeros(len(t)), roll=np.zeros(len(t)))
    x_r = np.zeros(len(t))
    if style == "duck":
        rec.update(pitch=0.35 * dodge_w, crouch=0.28 * st.scales[1] * dodge_w)
        z_r = z_r + 0.12 * dodge_w
    elif style == "lean_back":
        rec.update(pitch=-0.45 * dodge_w)
        z_r = z_r + 0.1 * dodge_w
    else:
        away = 1.0 if st.hand == "right" else -1.0  # away from the punching fist
        x_r = away * 0.35 * dodge_w
        rec.update(roll=-away * 0.25 * dodge_w)
    punch_w = window(t, punch - st.sec(0.18), punch + st.sec(0.35), st.sec(0.18))
    twist = (1.0 if st.hand == "right" else -1.0) * 0.3 * punch_w
    plans = [st.plan(0, 0.0, z_a, 0.0, pitch=0.1 + 0.1 * punch_w, twist=twist, crouch=0.05 * st.scales[0]),
             st.plan(1, x_r, z_r, np.pi, crouch=rec["crouch"], pitch=rec["pitch"], roll=rec["roll"])]
    frame = int(np.clip(round(dodge_start * st.fps), 0, len(t) - 1))

    def arm_fn(bodies):
        actor = bodies[0]
        targets, weights = arms(len(t))
        guard_w = ramp(t, guard_t - st.sec(0.2), guard_t + st.sec(0.2))
        for side, sign in (("left", 1.0), ("right", -1.0)):
            hand = HAND_INDEX[side]
            guard = (actor["joints"][:, 12] + forward3(actor) * 0.25 * actor["plan"].scale
                     + left3(actor) * sign * 0.1 - up3(len(t)) * 0.05)
            targets[:, hand] = guard
            if side == st.hand:  # the fist flies at where the head was when the dodge began
                aim = bodies[1]["joints"][frame, 15] - forward3(bodies[1])[frame] * 0.05
                targets[:, hand] = guard + punch_w[:, None] * (aim - guard)
            weights[:, hand] = guard_w
        return [(targets, weights), arms(len(t))]
    return plans, arm_fn


def pull(st: Stage):
    d = st.uniform("start_distance", 0.62, 0.7) * np.mean(st.scales)
    grab, side = st.delay + st.sec(0.2), st.hand
    held = grab + st.sec(0.6)
    walk0 = held + st.sec(0.3)
    length = st.uniform("walk_distance", 1.2, 2.2)
    walk1 = walk0 + st.sec(max(1.8, length / 0.7))
    st.contact = (held, walk1)
    t = st.timeline(walk1 + st.sec(0.6))
    turn = -1.0 if side == "right" else 1.0  # turn towards the holding hand
    final = np.pi * turn + st.uniform("walk_angle", -0.5, 0.5)
    direction = np.array([np.sin(final), np.cos(final)])
    along = st.key([walk0, walk1], [0.0, length])
    actor_xz = along[:, None] * direction  # (T, 2)
    gap = st.uniform("follow_gap", 0.6, 0.7) * np.mean(st.scales)
    blend = st.key([walk0 - st.sec(0.2), walk1 - st.sec(0.6)], [0.0, 1.0])[:, None]
    rec_xz = (1 - blend) * np.array([0.0, d]) + blend * (actor_xz - gap * direction)  # (T, 2)
    rec_yaw = st.key([walk0, walk0 + st.sec(0.8)], [np.pi, turn_towards(np.pi, final)])
    tug = 0.2 * window(t, walk0, walk1, st.sec(0.5))
    plans = [st.plan(0, actor_xz[:, 0], actor_xz[:, 1],
                     st.key([walk0 - st.sec(0.3), walk0 + st.sec(0.5)], [0.0, final])),
             st.plan(1, rec_xz[:, 0], rec_xz[:, 1], rec_yaw, pitch=tug)]

    def arm_fn(bodies):
        meet = grip_point(bodies[0], side, bodies[1], side, drop=0.3)
        ends = hand_pair(meet, bodies[0], bodies[1], 0.05)
        out = []
        for who in (0, 1):
            targets, weights = arms(len(t))
            targets[:, HAND_INDEX[side]] = ends[who]
            weights[:, HAND_INDEX[side]] = hold_weight(t, grab, held, walk1, walk1 + st.sec(0.4))
            out.append((targets, weights))
        return out
    return plans, arm_fn


def pat_shoulder(st: Stage):
    behind = st.choice("position", ["front", "behind"]) == "behind"
    d0 = st.uniform("start_distance", 1.0, 2.0)
    d_pat = (st.uniform("pat_distance", 0.42, 0.48) if behind
             else st.uniform("pat_distance", 0.55, 0.62)) * np.mean(st.scales)
    arrive, z_a, z_r = _walk_up(st, d0, d_pat, False)
    pats = int(st.rng.integers(2, 5))
    freq = 2.5 * st.tempo
    st.params.update(pats=pats)
    st.contact = (arrive + st.sec(0.3), arrive + st.sec(0.3) + pats / freq)
    turn_t = st.contact[1] - st.sec(0.1)
    t = st.timeline(st.contact[1] + st.sec(1.3))
    side = st.hand
    target_side = side if behind else OTHER_SIDE[side]
    rec_yaw = st.key([turn_t, turn_t + st.sec(0.8)], [0.0, np.pi if side == "right" else -np.pi]) if behind else np.pi
    plans = [st.plan(0, 0.0, z_a(), 0.0, pitch=0.08 * window(t, arrive - 0.3, st.contact[1] + 0.4, 0.3)),
             st.plan(1, 0.0, z_r(), rec_yaw)]

    def arm_fn(bodies):
        rec = bodies[1]
        tap = 0.5 * (1 - np.cos(2 * np.pi * freq * (t - st.contact[0]))) * window(t, *st.contact, 0.1)
        spot = shoulder(rec, target_side) + up3(len(t)) * (0.04 + 0.05 * tap[:, None]) * rec["plan"].scale
        targets, weights = arms(len(t))
        targets[:, HAND_INDEX[side]] = spot
        weights[:, HAND_INDEX[side]] = window(t, st.contact[0] - st.sec(0.4), st.contact[1] + st.sec(0.4),
                                              st.sec(0.4) - 0.01)
        return [(targets, weights), arms(len(t))]
    return plans, arm_fn


CONTACT_CHOREOGRAPHY = {
    "handshake": handshake, "high_five": high_five, "hug": hug, "push": push,
    "punch_dodge": punch_dodge, "pull": pull, "pat_shoulder": pat_shoulder,
}
