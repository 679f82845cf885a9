"""Smooth made-up two-person clips for the data tests (forward kinematics of smooth random rotations)."""
import numpy as np

from intermask_lite import skeleton as sk
from intermask_lite.data.clip import Clip


def smooth_pair(n_frames=40, seed=0, fps=20.0):
    """(2, T, 22, 3) float64: two people 1.5 m apart facing each other, swaying joints, A walking slowly."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_frames)[:, None, None] / fps  # (T, 1, 1)
    amp, freq, phase = rng.normal(size=(3, 2, 1, 22, 3))
    people = []
    for p, (start, heading) in enumerate([((0.0, 0.0), 0.3), ((0.2, 1.5), np.pi + 0.2)]):
        aa = 0.25 * amp[p] * np.sin(2 * np.pi * 0.5 * np.abs(freq[p]) * t + phase[p])  # (T, 22, 3)
        rot = sk.axis_angle_to_matrix(aa)  # (T, 22, 3, 3)
        rot[:, 0] = sk.rot_y(np.full(n_frames, heading)) @ rot[:, 0]
        root = np.zeros((n_frames, 3))
        root[:, 0] = start[0] + 0.3 * t[:, 0, 0] * (p == 0)
        root[:, 1] = sk.REST_OFFSETS[0, 1]
        root[:, 2] = start[1]
        people.append(sk.forward_kinematics(rot, root))
    return np.stack(people)


def smooth_clip(n_frames=40, seed=0, fps=20.0, caption="one person waves to the left"):
    return Clip(joints=smooth_pair(n_frames, seed, fps), fps=fps, captions=[caption, "two people meet"],
                label="wave", clip_id=f"clip{seed}")
