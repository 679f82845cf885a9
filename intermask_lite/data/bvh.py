"""BVH import and export for the 22-joint skeleton.

Export writes one person per file: SMPL joint names, centimetres, Y up, the person's own skeleton, the root's
position plus Z-Y-X Euler rotations for every joint (rotations from `intermask_lite.ik`). Import runs
forward kinematics on the file's own skeleton and picks the 22 joints by name; it understands SMPL names and
Mixamo names (with or without a "mixamorig:" prefix), metres / centimetres / millimetres / inches / feet (told
apart by the skeleton's bone lengths, or given with `units=`), Y-up or Z-up files, any rotation channel order
and any frame rate (resampled linearly). Files may start with a UTF-8 byte-order mark and use CRLF line endings
and tabs; a malformed file raises one ValueError naming the file, the line and what was expected.
The up axis comes from the animated frames, not the rest pose: many mocap files lay their bones along an axis
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
from ..ik import joints_to_local_rotations, offsets_from_joints
from ..skeleton import resample_joints

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

CHANNEL_NAMES = [f"{axis}{kind}" for kind in ("position", "rotation") for axis in "XYZ"]
CHANNEL_KEYS = {name.lower() for name in CHANNEL_NAMES}  # channel names are matched ignoring case
METRES_PER_UNIT = {"m": 1.0, "cm": 0.01, "mm": 0.001, "in": 0.0254, "ft": 0.3048}
UNIT_CHOICES = ("auto", *METRES_PER_UNIT)
PLAUSIBLE_BODY_LENGTH = (0.45, 2.2)  # metres of the ankle-to-head chain: about 0.5 m to 2.5 m tall


def _fail(source: str, line: int | None, what: str):
    """Raise the one ValueError of a malformed file: '<file>, line <n>: <what was wrong, what was expected>'."""
    where = source if line is None else f"{source}, line {line}"
    raise ValueError(f"{where}: {what}")


def _finite(word: str) -> float | None:
    """The number a token spells, or None when it is not a finite number."""
    try:
        value = float(word)
    except ValueError:
        return None
    return value if np.isfinite(value) else None


def _numbers(tokens, i: int, count: int, keyword: str, source: str) -> list[float]:
    """The `count` finite numbers after a keyword: tokens[i:i + count] as floats, or a clear error."""
    found = [tok for tok, _ in tokens[i:i + count]]
    values = [_finite(tok) for tok in found]
    if len(values) != count or None in values:
        _fail(source, tokens[i - 1][1], f"{keyword} needs {count} finite numbers, found {' '.join(found)!r}")
    return values


def _channels(tokens, i: int, source: str) -> list[str]:
    """The channel names of 'CHANNELS n name...' starting at tokens[i] (the count), checked."""
    line = tokens[i - 1][1]
    try:
        count = int(tokens[i][0]) if i < len(tokens) else -1
    except ValueError:
        count = -1
    if not 0 <= count <= 6:
        found = tokens[i][0] if i < len(tokens) else "the end of the file"
        _fail(source, line, f"CHANNELS must be followed by a channel count from 0 to 6, found {found!r}")
    listed = [tok for tok, _ in tokens[i + 1:i + 1 + count]]
    n_named = next((k for k, name in enumerate(listed) if name.lower() not in CHANNEL_KEYS), len(listed))
    if n_named < count:
        then = repr(listed[n_named][:40]) if n_named < len(listed) else "the end of the file"
        _fail(source, line, f"CHANNELS {count} is followed by {n_named} channel names, then {then}; expected "
                            f"{count} names from {', '.join(CHANNEL_NAMES)}")
    axes = {kind: [c[0].upper() for c in listed if c.lower().endswith(kind)] for kind in ("position", "rotation")}
    if any(len(set(a)) != len(a) for a in axes.values()) or len(axes["position"]) not in (0, 3):
        _fail(source, line, f"CHANNELS {' '.join(listed)}: expected each axis at most once, and all three "
                            "positions or none")
    return listed


def _parse_hierarchy(tokens, source: str) -> tuple[BvhSkeleton, int]:
    """The joints of the HIERARCHY section (tokens: (text, line) pairs) and the index of the MOTION token."""
    names, parents, offsets, channels = [], [], [], []
    stack: list[int] = []  # open blocks: a joint index, or -1 for an End Site
    i = 1
    while i < len(tokens) and tokens[i][0].upper() != "MOTION":
        tok, line = tokens[i]
        if tok in ("ROOT", "JOINT", "End"):
            name = tokens[i + 1][0] if i + 1 < len(tokens) else ""
            if tok == "End" and name != "Site" or name in ("", "{", "}"):
                _fail(source, line, f"{tok} must be followed by {'Site' if tok == 'End' else 'a joint name'}")
            if i + 2 >= len(tokens) or tokens[i + 2][0] != "{":
                _fail(source, line, f"expected '{{' after {tok} {name}")
            if tok == "ROOT" and stack:
                _fail(source, line, f"ROOT {name} inside another joint's braces")
            if tok != "ROOT" and not (stack and stack[-1] >= 0):
                _fail(source, line, f"{tok} {name} outside the braces of a joint")
            if tok == "End":
                stack.append(-1)
            else:
                stack.append(len(names))
                names.append(name), parents.append(stack[-2] if len(stack) > 1 else -1)
                offsets.append(np.zeros(3)), channels.append(None)
            i += 3
        elif tok == "}":
            if not stack:
                _fail(source, line, "'}' closes no open '{'")
            stack.pop()
            i += 1
        elif tok == "OFFSET" and stack:
            values = _numbers(tokens, i + 1, 3, "OFFSET", source)
            if stack[-1] >= 0:
                offsets[stack[-1]] = np.array(values)
            i += 4
        elif tok == "CHANNELS" and stack and stack[-1] >= 0 and channels[stack[-1]] is None:
            channels[stack[-1]] = _channels(tokens, i + 1, source)
            i += 2 + len(channels[stack[-1]])
        else:
            hint = " (a channel name past CHANNELS' count: is the count too small?)" if tok.lower() in CHANNEL_KEYS \
                else ""
            _fail(source, line, f"unexpected {tok[:40]!r}{hint} in the HIERARCHY section; expected ROOT, JOINT, "
                                "End Site, '{', '}', one OFFSET and one CHANNELS per joint")
    if i >= len(tokens):
        _fail(source, None, f"no MOTION section (the file ends at line {tokens[-1][1]}); expected MOTION, 'Frames: N', "
                            "'Frame Time: dt' and one line of channel values per frame after the HIERARCHY")
    if stack:
        _fail(source, tokens[i][1], f"MOTION before the HIERARCHY is closed ({len(stack)} '{{' still open)")
    if not names:
        _fail(source, tokens[i][1], "no joints found in the HIERARCHY section")
    channels = [c or [] for c in channels]
    if not any(channels):
        _fail(source, tokens[i][1], "no joint has CHANNELS, so the MOTION section can animate nothing")
    return BvhSkeleton(names, parents, np.array(offsets), channels), i


def _parse_motion(lines: list[str], first: int, n_channels: int, source: str) -> tuple[float, np.ndarray]:
    """(frame time, values (F, n_channels)) from the MOTION section: lines[first:] hold 'Frames:' onwards."""
    rows = [(n, line.split()) for n, line in enumerate(lines[first:], first + 1) if line.strip()]
    end = len(lines)
    n, words = rows[0] if rows else (end, [])
    if len(words) != 2 or words[0].lower() != "frames:" or not words[1].isdecimal():
        _fail(source, n, f"expected 'Frames: N' (a whole number) after MOTION, found {' '.join(words)[:60]!r}")
    n_frames = int(words[1])
    if n_frames < 1:
        _fail(source, n, "'Frames: 0': the file holds no motion; expected at least one frame")
    n, words = rows[1] if len(rows) > 1 else (end, [])
    frame_time = _finite(words[2]) if len(words) == 3 and [w.lower() for w in words[:2]] == ["frame", "time:"] \
        else None
    if frame_time is None or frame_time <= 0:
        _fail(source, n, f"expected 'Frame Time: dt' with dt > 0 seconds, found {' '.join(words)[:60]!r}")
    frames = rows[2:]
    if len(frames) < n_frames:
        _fail(source, end, f"'Frames: {n_frames}' but the file ends after {len(frames)} frame lines; "
                           "it may be cut short")
    if len(frames) > n_frames:
        _fail(source, frames[n_frames][0], f"more frame lines than 'Frames: {n_frames}' states")
    for k, (n, words) in enumerate(frames):
        if len(words) != n_channels:
            _fail(source, n, f"frame {k + 1} has {len(words)} values; expected {n_channels}, one per channel "
                             f"of the HIERARCHY ({n_frames} frames x {n_channels} channels)")
    try:
        values = np.array([words for _, words in frames], dtype=np.float64)  # (F, C)
        suspects = np.flatnonzero(~np.isfinite(values).all(axis=1))
    except ValueError:  # a word that is no number
        suspects = range(len(frames))
    for r in suspects:
        n, words = frames[r]
        word = next((w for w in words if _finite(w) is None), None)
        if word is not None:
            _fail(source, n, f"frame {r + 1} has {word[:40]!r}, not a finite number; expected one number per channel")
    return frame_time, values


def parse_bvh(text: str, source: str = "BVH") -> tuple[BvhSkeleton, float, np.ndarray]:
    """Parse BVH text into (skeleton, frame_time in seconds, channel values (F, total channels)).

    Any malformed text raises a ValueError that names `source`, the line and what was expected."""
    lines = text.removeprefix("\ufeff").splitlines()  # a UTF-8 byte-order mark is allowed
    tokens = [(tok, n) for n, line in enumerate(lines, 1) for tok in line.split()]  # (text, line number)
    if not tokens:
        _fail(source, None, "the file is empty; expected a BVH file starting with HIERARCHY")
    if tokens[0][0].upper() != "HIERARCHY":
        _fail(source, tokens[0][1], f"not a BVH file (it must start with HIERARCHY, found {tokens[0][0][:40]!r})")
    skel, motion = _parse_hierarchy(tokens, source)
    frame_time, values = _parse_motion(lines, tokens[motion][1], sum(len(c) for c in skel.channels), source)
    return skel, frame_time, values


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


def _z_up(joints: np.ndarray, source: str) -> bool:
    """Whether the body stands along +Z (else +Y), from our 22 joints (F, 22, 3) in the file's axes.

    The ankle-to-head vector of each frame, its median over the frames: the body stands along the up axis
    most of the time (a bow or a fall in a few frames does not change it), whatever the rest pose does."""
    ankles = joints[:, [skeleton.joint_index("left_ankle"), skeleton.joint_index("right_ankle")]].mean(1)  # (F, 3)
    body = np.median(joints[:, skeleton.joint_index("head")] - ankles, axis=0)  # (3,) along the up axis
    up = int(np.argmax(np.abs(body)))
    if up == 0 or body[up] <= 0:
        raise ValueError(f"{source}: cannot tell the up axis (the median ankle-to-head vector over the frames is "
                         f"{np.round(body, 3).tolist()}); expected a body standing upright along +Y or +Z in most "
                         "frames")
    return up == 2


def body_length(joints: np.ndarray) -> float:
    """The ankle-to-head bone chain (hip, thigh, shin, the spine to the head), in the units of `joints` (F, 22, 3).

    Each bone's length is its median over the frames, so the rest pose and the rotations do not matter; for
    a file these are its OFFSET lengths (or its position channels where a joint has them)."""
    bones = np.median(skeleton.bone_lengths(joints), axis=0)  # (21,) the bone ending at joint j is bones[j - 1]
    spine = bones[[j - 1 for j in skeleton.CHAINS["spine"][1:]]].sum()
    legs = [bones[[j - 1 for j in skeleton.CHAINS[leg][1:4]]].sum() for leg in ("left_leg", "right_leg")]
    return float(spine + np.mean(legs))


ADULT_BODY_LENGTH = body_length(skeleton.rest_pose()[None])  # 1.53 m for the kit's 1.75 m adult


def _metres_per_unit(joints: np.ndarray, units: str, source: str) -> float:
    """The scale from file units to metres: the given unit, or for "auto" the unit that makes the skeleton a
    plausible human (its ankle-to-head chain 0.45 to 2.2 m, the one nearest an adult's where two do)."""
    if units != "auto":
        return METRES_PER_UNIT[units]
    length = body_length(joints)
    low, high = PLAUSIBLE_BODY_LENGTH
    plausible = [u for u, scale in METRES_PER_UNIT.items() if low <= length * scale <= high]
    if not plausible:
        readings = ", ".join(f"{length * scale:.3g} m in {u}" for u, scale in METRES_PER_UNIT.items())
        raise ValueError(f"{source}: cannot tell the units: the ankle-to-head bone chain measures {length:.4g} file "
                         f"units ({readings}), a human size ({low} to {high} m) in none of them; pass the unit "
                         f"explicitly (units= one of {list(METRES_PER_UNIT)})")
    best = min(plausible, key=lambda u: abs(np.log(length * METRES_PER_UNIT[u] / ADULT_BODY_LENGTH)))
    return METRES_PER_UNIT[best]


def _read_text(path: Path) -> str:
    """The text of a BVH file (UTF-8); FileNotFoundError when it is missing, ValueError for a folder or binary data."""
    if not path.exists():
        raise FileNotFoundError(f"BVH file not found: {path}")
    if path.is_dir():
        raise ValueError(f"{path} is a folder; expected a BVH file")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        raise ValueError(f"{path}, line {line}: not UTF-8 text (byte {err.start} is 0x{data[err.start]:02x}); "
                         "expected a BVH text file (ASCII or UTF-8)") from None
    if "\x00" in text:
        line = text[:text.index("\x00")].count("\n") + 1
        raise ValueError(f"{path}, line {line}: binary data (a NUL byte); expected a BVH text file") from None
    return text


def read_bvh(path, fps: float = 20, units: str = "auto") -> np.ndarray:
    """Joints (T, 22, 3) in metres, Y up, at `fps`, from a BVH file (one person).

    units: "auto" (from the skeleton's bone lengths: see `_metres_per_unit`) or the file's unit, one of
    "m", "cm", "mm", "in", "ft". An explicit unit is believed even when the body then has no human size
    (a metre file read with units="cm" gives a 1.75 cm person). A child under about 1 m tall in a
    centimetre file reads as inches with "auto": pass units="cm".
    """
    if units not in UNIT_CHOICES:
        raise ValueError(f"unknown BVH units {units!r}; expected one of {list(UNIT_CHOICES)}")
    if not np.isfinite(fps) or fps <= 0:
        raise ValueError(f"read_bvh needs a positive fps, got {fps}")
    path = Path(path)
    skel, frame_time, motion = parse_bvh(_read_text(path), source=str(path))
    index = map_joints(skel.names, source=str(path))
    joints = bvh_forward_kinematics(skel, motion)[:, index]  # (F, 22, 3) in file units
    z_up = _z_up(joints, str(path))
    joints = joints * _metres_per_unit(joints, units, str(path))  # (F, 22, 3) metres
    if z_up:
        joints = np.stack([joints[..., 0], joints[..., 2], -joints[..., 1]], axis=-1)  # rotate Z-up to Y-up
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


def own_offsets(joints: np.ndarray) -> np.ndarray:
    """The rest offsets (22, 3) of a motion's own skeleton, from one person's joints (T, 22, 3).

    `ik.offsets_from_joints` gives the kit's rest directions with the motion's bone lengths; each bone is then
    measured in its parent's frame (the frames `ik.joints_to_local_rotations` finds for those offsets), median
    over the frames. A bone whose parent has one child keeps the kit's direction (its median length); the
    children of the pelvis and of spine3 take the motion's own layout (hip width, collar height), which no
    rotation of the kit's layout reaches. Forward kinematics with these offsets gives the joints back when the
    bone lengths are constant.
    """

    joints = np.asarray(joints, dtype=np.float64)  # (T, 22, 3)
    offsets = offsets_from_joints(joints)  # (22, 3) kit directions, the motion's bone lengths
    local, _ = joints_to_local_rotations(joints, offsets)  # (T, 22, 3, 3)
    glob = [local[:, 0]]
    for j in range(1, skeleton.N_JOINTS):
        glob.append(glob[skeleton.PARENTS[j]] @ local[:, j])
    parents = skeleton.PARENTS[1:]
    bones = joints[:, 1:] - joints[:, parents]  # (T, 21, 3) in the world
    parent_rot = np.stack(glob, axis=1)[:, parents]  # (T, 21, 3, 3) the frame of each bone's parent
    offsets[1:] = np.median(np.einsum("tbji,tbj->tbi", parent_rot, bones), axis=0)  # (21, 3) in the parents' frames
    return offsets


def write_bvh(path, joints, fps: float = 20, offsets=None) -> Path:
    """Write one person's joints (T, 22, 3) (metres, Y up) to a BVH file in centimetres; returns the path.

    offsets: (22, 3) rest offsets (default: the motion's own skeleton, `own_offsets`). When the bone lengths
    are constant, the joints read back exactly (within 1 mm after rounding to 6 decimals). When they vary,
    every frame keeps the root position and the direction of every bone (a best fit for the children of the
    pelvis and spine3) and each bone takes its median length, so a joint moves by the length differences
    summed along its chain from the pelvis.
    """

    if not np.isfinite(fps) or fps <= 0:
        raise ValueError(f"write_bvh needs a positive fps, got {fps}")
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (skeleton.N_JOINTS, 3):
        raise ValueError(f"write_bvh needs one person's joints of shape (T, 22, 3), got {joints.shape}")
    if not np.isfinite(joints).all():
        raise ValueError("write_bvh: joints contain NaN or inf")
    offsets = own_offsets(joints) if offsets is None else np.asarray(offsets, dtype=np.float64)
    local_rot, root_pos = joints_to_local_rotations(joints, offsets)  # (T, 22, 3, 3), (T, 3)
    text = format_bvh(skeleton.JOINT_NAMES, skeleton.PARENTS, offsets * WRITE_SCALE, local_rot,
                      root_pos * WRITE_SCALE, frame_time=1.0 / fps)
    path = Path(path)
    path.write_text(text)
    return path
