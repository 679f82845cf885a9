"""BVH import and export for the 22-joint skeleton.

Export writes one person per file: SMPL joint names, centimetres, Y up, the root's position plus
Z-Y-X Euler rotations for every joint (rotations from `intermask_lite.ik`). Import runs forward kinematics
on the file's own skeleton and picks the 22 joints by name; it understands SMPL names and Mixamo names
(with or without a "mixamorig:" prefix), centimetres / metres / millimetres (told apart by the body's
height), Y-up or Z-up files, any rotation channel order and any frame rate (resampled linearly). Units and
up axis come from the animated frames, not the rest pose: many mocap files lay their bones along an axis
in the rest pose (all along +X, say) and stand the body up only through the rotations of the frames.
Convention for the root: its position channels are its world position (the root OFFSET is ignored when
the root has position channels); a non-root joint with position channels uses them instead of its OFFSET.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from .. import skeleton
from .clip import resample_joints

WRITE_ORDER = "ZYX"  # Euler channel order of exported files
WRITE_SCALE = 100.0  # exported files are in centimetres

# Mixamo names (lower case, prefix removed) -> our joint names; our own names map to themselves.
MIXAMO_NAMES = {
    "hips": "pelvis", "spine": "spine1", "spine1": "spine2", "spine2": "spine3", "neck": "neck", "head": "head",
}
for _side in ("left", "right"):
    MIXAMO_NAMES.update({
        f"{_side}shoulder": f"{_side}_collar", f"{_side}arm": f"{_side}_shoulder",
        f"{_side}forearm": f"{_side}_elbow", f"{_side}hand": f"{_side}_wrist", f"{_side}upleg": f"{_side}_hip",
        f"{_side}leg": f"{_side}_knee", f"{_side}foot": f"{_side}_ankle", f"{_side}toe": f"{_side}_foot",
        f"{_side}toebase": f"{_side}_foot",
    })
SMPL_NAMES = {name: name for name in skeleton.JOINT_NAMES}


@dataclass
class BvhSkeleton:
    """The joints of a BVH file (End Sites left out), in file order (parents before children)."""

    names: list[str]
    parents: list[int]
    offsets: np.ndarray        # (N, 3) in file units
    channels: list[list[str]]  # e.g. ["Xposition", ..., "Zrotation"] per joint


# ---------------------------------------------------------------------------------------------- reading

def parse_bvh(text: str, source: str = "BVH") -> tuple[BvhSkeleton, float, np.ndarray]:
    """Parse BVH text into (skeleton, frame_time in seconds, channel values (F, total channels))."""
    tokens = text.split()
    if not tokens or tokens[0].upper() != "HIERARCHY":
        raise ValueError(f"{source}: not a BVH file (it must start with HIERARCHY)")
    names, parents, offsets, channels = [], [], [], []
    stack: list[int] = []  # open joints; -1 marks an End Site
    i, current = 1, None
    while i < len(tokens) and tokens[i].upper() != "MOTION":
        tok = tokens[i]
        if tok in ("ROOT", "JOINT"):
            current = len(names)
            names.append(tokens[i + 1])
            parents.append(stack[-1] if stack and stack[-1] >= 0 else -1)
            offsets.append(np.zeros(3)), channels.append([])
            i += 2
        elif tok == "End":
            current = -1
            i += 2
        elif tok == "{":
            stack.append(current)
            i += 1
        elif tok == "}":
            stack.pop()
            i += 1
        elif tok == "OFFSET":
            if current is not None and current >= 0:
                offsets[current] = np.array([float(v) for v in tokens[i + 1:i + 4]])
            i += 4
        elif tok == "CHANNELS":
            count = int(tokens[i + 1])
            channels[current] = tokens[i + 2:i + 2 + count]
            i += 2 + count
        else:
            raise ValueError(f"{source}: unexpected token {tok!r} in the HIERARCHY section")
    if not names:
        raise ValueError(f"{source}: no joints found in the HIERARCHY section")
    if i >= len(tokens) or tokens[i + 1] != "Frames:" or tokens[i + 3:i + 5] != ["Frame", "Time:"]:
        raise ValueError(f"{source}: MOTION section must start with 'Frames: N' and 'Frame Time: dt'")
    n_frames, frame_time = int(tokens[i + 2]), float(tokens[i + 5])
    values = np.array(tokens[i + 6:], dtype=np.float64)
    n_channels = sum(len(c) for c in channels)
    if n_frames < 1 or values.size != n_frames * n_channels:
        raise ValueError(f"{source}: expected {n_frames} frames x {n_channels} channels = "
                         f"{n_frames * n_channels} values, found {values.size}")
    skel = BvhSkeleton(names, parents, np.array(offsets), channels)
    return skel, frame_time, values.reshape(n_frames, n_channels)


def bvh_forward_kinematics(skel: BvhSkeleton, motion: np.ndarray) -> np.ndarray:
    """World positions of every joint of the file: motion (F, C) channel values -> (F, N, 3) file units."""
    n_frames, start = motion.shape[0], 0
    pos = np.zeros((n_frames, len(skel.names), 3))
    glob = np.zeros((n_frames, len(skel.names), 3, 3))
    for j, chans in enumerate(skel.channels):
        values = motion[:, start:start + len(chans)]  # (F, len(chans))
        start += len(chans)
        rot_axes = "".join(c[0].upper() for c in chans if c.lower().endswith("rotation"))
        rot_cols = [k for k, c in enumerate(chans) if c.lower().endswith("rotation")]
        local = np.tile(np.eye(3), (n_frames, 1, 1))
        if rot_axes:
            local = Rotation.from_euler(rot_axes, values[:, rot_cols], degrees=True).as_matrix()  # (F, 3, 3)
        pos_cols = {c[0].upper(): k for k, c in enumerate(chans) if c.lower().endswith("position")}
        translation = np.tile(skel.offsets[j], (n_frames, 1))  # (F, 3)
        if len(pos_cols) == 3:
            translation = values[:, [pos_cols["X"], pos_cols["Y"], pos_cols["Z"]]]
        p = skel.parents[j]
        if p < 0:
            pos[:, j], glob[:, j] = translation, local
        else:
            pos[:, j] = pos[:, p] + np.einsum("fij,fj->fi", glob[:, p], translation)
            glob[:, j] = glob[:, p] @ local
    return pos


def map_joints(names: list[str], source: str = "BVH") -> list[int]:
    """Index in `names` of each of our 22 joints; raises a ValueError listing the ones not found."""
    keys = [name.split(":")[-1].lower() for name in names]  # "mixamorig:LeftArm" -> "leftarm"
    # Mixamo's "Spine2" is our spine3, so the naming scheme is chosen per file: Mixamo when it has "Hips"
    name_map = MIXAMO_NAMES if "hips" in keys else SMPL_NAMES
    found: dict[str, int] = {}
    for k, key in enumerate(keys):
        target = name_map.get(key)
        if target is not None and target not in found:
            found[target] = k
    missing = [n for n in skeleton.JOINT_NAMES if n not in found]
    if missing:
        raise ValueError(f"{source}: could not find these joints: {missing}. Expected SMPL names "
                         f"({', '.join(skeleton.JOINT_NAMES[:3])}, ...) or Mixamo names (Hips, Spine, "
                         f"LeftUpLeg, ...); the file has {names}")
    return [found[n] for n in skeleton.JOINT_NAMES]


def _units_and_up(frames: np.ndarray, source: str) -> tuple[float, bool]:
    """(scale to metres, z_up) from the animated frames of our 22 joints (F, 22, 3) in file units.

    The ankle-to-head vector of each frame, its median over the frames: the body stands along the up axis
    most of the time (a bow or a fall in a few frames does not change it), whatever the rest pose does."""
    ankles = frames[:, [skeleton.joint_index("left_ankle"), skeleton.joint_index("right_ankle")]].mean(1)  # (F, 3)
    body = np.median(frames[:, skeleton.joint_index("head")] - ankles, axis=0)  # ~1.5 m along the up axis
    up = int(np.argmax(np.abs(body)))
    if up == 0 or body[up] <= 0:
        raise ValueError(f"{source}: cannot tell the up axis (the median ankle-to-head vector over the frames is "
                         f"{np.round(body, 3).tolist()}); expected a body standing upright along +Y or +Z in most "
                         "frames")
    height = float(np.linalg.norm(body))
    scale = 1.0 if height < 10 else 0.01 if height < 500 else 0.001  # metres, centimetres, millimetres
    return scale, up == 2


def read_bvh(path, fps: float = 20) -> np.ndarray:
    """Joints (T, 22, 3) in metres, Y up, at `fps`, from a BVH file (one person)."""

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"BVH file not found: {path}")
    skel, frame_time, motion = parse_bvh(path.read_text(), source=str(path))
    index = map_joints(skel.names, source=str(path))
    joints = bvh_forward_kinematics(skel, motion)[:, index]  # (F, 22, 3) in file units
    scale, z_up = _units_and_up(joints, str(path))
    joints = joints * scale  # (F, 22, 3) metres
    if z_up:
        joints = np.stack([joints[..., 0], joints[..., 2], -joints[..., 1]], axis=-1)  # rotate Z-up to Y-up
    if frame_time <= 0:
        raise ValueError(f"{path}: Frame Time must be positive, got {frame_time}")
    return resample_joints(joints, 1.0 / frame_time, fps, axis=0)  # (T, 22, 3)


# ---------------------------------------------------------------------------------------------- writing

def format_bvh(names, parents, offsets, local_rot, root_pos, frame_time: float, order: str = WRITE_ORDER,
               end_sites: dict | None = None) -> str:
    """BVH text for any tree skeleton (parents before children).

    offsets: (N, 3); local_rot: (F, N, 3, 3); root_pos: (F, 3), all in the units wanted in the file.
    order: Euler channel order such as "ZYX" (intrinsic, as BVH readers apply them).
    end_sites: {joint index: (3,) offset} for leaves (default: a short continuation of the last bone).
    """
    offsets = np.asarray(offsets, dtype=np.float64)
    children = {j: [k for k, p in enumerate(parents) if p == j] for j in range(len(names))}
    rot_channels = " ".join(f"{axis}rotation" for axis in order)
    lines = ["HIERARCHY"]

    def emit(j: int, depth: int) -> None:
        pad = "  " * depth
        is_root = parents[j] < 0
        lines.append(f"{pad}{'ROOT' if is_root else 'JOINT'} {names[j]}")
        lines.append(f"{pad}{{")
        off = np.zeros(3) if is_root else offsets[j]
        lines.append(f"{pad}  OFFSET {off[0]:.6f} {off[1]:.6f} {off[2]:.6f}")
        pos = "Xposition Yposition Zposition " if is_root else ""
        lines.append(f"{pad}  CHANNELS {6 if is_root else 3} {pos}{rot_channels}")
        for c in children[j]:
            emit(c, depth + 1)
        if not children[j]:
            end = (end_sites or {}).get(j, 0.25 * offsets[j])
            lines.extend([f"{pad}  End Site", f"{pad}  {{",
                          f"{pad}    OFFSET {end[0]:.6f} {end[1]:.6f} {end[2]:.6f}", f"{pad}  }}"])
        lines.append(f"{pad}}}")

    roots = [j for j, p in enumerate(parents) if p < 0]
    if len(roots) != 1:
        raise ValueError(f"format_bvh writes one skeleton with one root, got roots {roots}")
    emit(roots[0], 0)
    order_of_joints = []  # the depth-first order in which channels appear

    def visit(j: int) -> None:
        order_of_joints.append(j)
        for c in children[j]:
            visit(c)

    visit(roots[0])
    n_frames = local_rot.shape[0]
    with warnings.catch_warnings():  # at gimbal lock scipy warns, yet the angles still give the same matrix
        warnings.filterwarnings("ignore", message="Gimbal lock")
        rotations = Rotation.from_matrix(np.asarray(local_rot)[:, order_of_joints].reshape(-1, 3, 3))
        angles = rotations.as_euler(order, degrees=True)  # (F * N, 3)
    angles = angles.reshape(n_frames, len(order_of_joints) * 3)  # (F, N * 3)
    values = np.concatenate([np.asarray(root_pos).reshape(n_frames, 3), angles], axis=1)  # (F, 3 + N * 3)
    lines += ["MOTION", f"Frames: {n_frames}", f"Frame Time: {frame_time:.8f}"]
    lines += [" ".join(f"{v:.6f}" for v in row) for row in values]
    return "\n".join(lines) + "\n"


def write_bvh(path, joints, fps: float = 20, offsets=None) -> Path:
    """Write one person's joints (T, 22, 3) (metres, Y up) to a BVH file in centimetres; returns the path.

    offsets: (22, 3) rest offsets (default: fitted to the motion by `ik.offsets_from_joints`). Joints are
    reproduced exactly when the motion's bone lengths are constant.
    """
    from ..ik import joints_to_local_rotations, offsets_from_joints

    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (skeleton.N_JOINTS, 3):
        raise ValueError(f"write_bvh needs one person's joints of shape (T, 22, 3), got {joints.shape}")
    if not np.isfinite(joints).all():
        raise ValueError("write_bvh: joints contain NaN or inf")
    offsets = offsets_from_joints(joints) if offsets is None else np.asarray(offsets, dtype=np.float64)
    local_rot, root_pos = joints_to_local_rotations(joints, offsets)  # (T, 22, 3, 3), (T, 3)
    text = format_bvh(skeleton.JOINT_NAMES, skeleton.PARENTS, offsets * WRITE_SCALE, local_rot,
                      root_pos * WRITE_SCALE, frame_time=1.0 / fps)
    path = Path(path)
    path.write_text(text)
    return path
