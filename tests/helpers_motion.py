"""Small hand-built motions for the Motion, BVH and viz tests (forward kinematics of the 22-joint skeleton)."""
import numpy as np

from intermask_lite import skeleton as sk


def person_joints(n_frames: int, fps: float = 20, facing: float = 0.0, start=(0.0, 0.0, 0.0), phase: float = 0.0,
                  offsets=None) -> np.ndarray:
    """A person walking forward while swinging legs and arms: (T, 22, 3) with constant bone lengths."""
    t = np.arange(n_frames) / fps
    swing = 0.5 * np.sin(2 * np.pi * t + phase)  # (T,)
    x_axis, z_axis = np.array([1.0, 0, 0]), np.array([0, 0, 1.0])
    rot = np.tile(np.eye(3), (n_frames, 22, 1, 1))  # (T, 22, 3, 3)
    rot[:, 0] = sk.rot_y(facing + 0.2 * np.sin(t))
    rot[:, 1] = sk.axis_angle_to_matrix(np.outer(swing, x_axis))
    rot[:, 2] = sk.axis_angle_to_matrix(np.outer(-swing, x_axis))
    rot[:, 4] = sk.axis_angle_to_matrix(np.outer(np.clip(-swing, 0, None) * 1.2, x_axis))
    rot[:, 5] = sk.axis_angle_to_matrix(np.outer(np.clip(swing, 0, None) * 1.2, x_axis))
    rot[:, 16] = sk.axis_angle_to_matrix(np.outer(-1.2 + 0.3 * np.sin(3 * t), z_axis))
    rot[:, 17] = sk.axis_angle_to_matrix(np.outer(1.2 + 0.8 * np.sin(4 * t), z_axis))
    rot[:, 19] = sk.axis_angle_to_matrix(np.outer(0.3 + 0.3 * np.sin(2 * t), x_axis))
    forward = np.array([np.sin(facing), 0.0, np.cos(facing)])
    root = np.asarray(start, dtype=np.float64) + np.outer(0.3 * t, forward)  # (T, 3)
    root[:, 1] = 0.95
    return sk.forward_kinematics(rot, root, offsets)  # (T, 22, 3)


def pair_joints(n_frames: int, fps: float = 20) -> np.ndarray:
    """Two people walking towards each other: (2, T, 22, 3)."""
    a = person_joints(n_frames, fps)
    b = person_joints(n_frames, fps, facing=np.pi, start=(0.3, 0.0, 3.0), phase=1.0, offsets=sk.scaled_offsets(0.9))
    return np.stack([a, b]).astype(np.float32)
