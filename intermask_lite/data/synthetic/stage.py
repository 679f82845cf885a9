"""The per-clip `Stage` (random parameters, timing, plans) and helpers the class choreographies share.

Choreographies are written in a scene frame: the actor (who initiates, index 0) stands at the origin facing
+Z and the receiver (index 1) stands ahead of them on +Z. The generator (`data.synthetic`) later swaps roles and moves
the scene into person A's frame.
"""
from __future__ import annotations

import math

import numpy as np

from ...config import FRAMES_PER_TOKEN

from .movement import LEFT, RIGHT, BodyPlan, forward_xz, keyframes

HAND_INDEX = {"left": LEFT, "right": RIGHT}
OTHER_SIDE = {"left": "right", "right": "left"}


class Stage:
    """Random parameters (recorded in `params`), timing and plans of one clip."""

    def __init__(self, label: str, rng: np.random.Generator, fps: float = 20.0):
        self.rng, self.fps, self.label = rng, fps, label
        self.params: dict = {}
        self.tempo = self.uniform("tempo", 0.8, 1.25)
        self.delay = self.uniform("start_delay", 0.0, 0.5)
        self.hand = self.choice("hand", ["right", "left"], p=[0.7, 0.3])
        self.scales = [self.uniform("scale_actor", 0.9, 1.1), self.uniform("scale_receiver", 0.9, 1.1)]
        self.contact = None  # (start, end) seconds of the designated body-contact interval
        self.t = None

    def uniform(self, name: str, lo: float, hi: float) -> float:
        value = float(self.rng.uniform(lo, hi))
        self.params[name] = value
        return value

    def choice(self, name: str, options: list, p=None):
        value = options[int(self.rng.choice(len(options), p=p))]
        self.params[name] = value
        return value

    def sec(self, seconds: float) -> float:
        """A duration at this clip's tempo."""
        return seconds / self.tempo

    def timeline(self, end: float) -> np.ndarray:
        """Fix the clip length from the last event (seconds): T a multiple of 4 in [40, 120] frames. Returns t (T,)."""
        n = int(min(max(math.ceil(end * self.fps / FRAMES_PER_TOKEN) * FRAMES_PER_TOKEN, 40), 120))
        self.t = np.arange(n) / self.fps
        return self.t

    def plan(self, who: int, x, z, yaw, **kwargs) -> BodyPlan:
        """A BodyPlan for the actor (0) or the receiver (1) at this clip's tempo and body size."""
        n = len(self.t)
        xz = np.stack([np.broadcast_to(x, (n,)), np.broadcast_to(z, (n,))], -1)
        kwargs.setdefault("step_time", 0.42 / self.tempo)
        return BodyPlan(xz, np.broadcast_to(yaw, (n,)).astype(float), scale=self.scales[who], **kwargs)

    def key(self, times, values) -> np.ndarray:
        """Min-jerk keyframes on this clip's time axis."""
        return keyframes(self.t, times, values)


# ---------------------------------------------------------------- body-frame helpers for arm targets

def forward3(body: dict) -> np.ndarray:
    """(T, 3) horizontal facing direction of a posed body."""
    f = forward_xz(body["plan"].yaw)
    return np.stack([f[:, 0], np.zeros(len(f)), f[:, 1]], -1)


def left3(body: dict) -> np.ndarray:
    """(T, 3) horizontal direction to the body's left."""
    yaw = body["plan"].yaw
    return np.stack([np.cos(yaw), np.zeros_like(yaw), -np.sin(yaw)], -1)


def up3(n: int) -> np.ndarray:
    return np.tile([0.0, 1.0, 0.0], (n, 1))


def shoulder(body: dict, side: str) -> np.ndarray:
    """(T, 3) position of the left / right shoulder joint."""
    return body["joints"][:, 16 if side == "left" else 17]


def arm_reach(body: dict) -> float:
    return float(np.linalg.norm(body["offsets"][18]) + np.linalg.norm(body["offsets"][20]))


def grip_point(body_a: dict, side_a: str, body_b: dict, side_b: str, drop: float = 0.3) -> np.ndarray:
    """(T, 3) where two hands meet: between the two shoulders, lowered by up to `drop` metres (raised when drop < 0)
    as far as both arms still reach."""
    sa, sb = shoulder(body_a, side_a), shoulder(body_b, side_b)
    mid = 0.5 * (sa + sb)  # (T, 3)
    half = 0.5 * np.linalg.norm(sa - sb, axis=-1)  # (T,)
    reach = 0.93 * min(arm_reach(body_a), arm_reach(body_b))
    lower = np.sign(drop) * np.minimum(abs(drop), np.sqrt(np.maximum(reach ** 2 - half ** 2, 0.0)))
    return mid - up3(len(mid)) * lower[:, None]


def hand_pair(point, body_from: dict, body_to: dict, gap: float) -> tuple:
    """Two wrist targets around a meeting point, `gap` metres apart along the line between the two people."""
    line = body_to["joints"][:, 9] - body_from["joints"][:, 9]
    line[:, 1] = 0.0
    line /= np.maximum(np.linalg.norm(line, axis=-1, keepdims=True), 1e-9)
    return point - 0.5 * gap * line, point + 0.5 * gap * line


def arms(n: int) -> tuple:
    """Empty arm instructions: targets (T, 2, 3), weights (T, 2)."""
    return np.zeros((n, 2, 3)), np.zeros((n, 2))


def turn_towards(current: float, target: float) -> float:
    """target shifted by whole turns to lie within pi of current (so a turn takes the short way)."""
    return current + (target - current + np.pi) % (2 * np.pi) - np.pi
