"""BVH under bad input: the motion's own skeleton on export, units from the file's bone lengths (or given),
byte-order mark / CRLF / tabs, and one clear error naming the file (and the line) for each malformed file."""
import re

import numpy as np
import pytest

from helpers_motion import person_joints
from intermask_lite import skeleton as sk
from intermask_lite.data import bvh
from intermask_lite.data.synthetic import make_clip
from intermask_lite.ik import joints_to_local_rotations, offsets_from_joints
from intermask_lite.motion import Motion

FILE_UNITS_PER_METRE = {"m": 1.0, "cm": 100.0, "mm": 1000.0, "in": 1 / 0.0254, "ft": 1 / 0.3048}


def _stretched(joints: np.ndarray, factors: dict[str, float]) -> np.ndarray:
    """The same motion on a body whose bones along each chain are scaled by factors[chain]: (T, 22, 3)."""
    offsets = offsets_from_joints(joints)
    local, root = joints_to_local_rotations(joints, offsets)  # (T, 22, 3, 3), (T, 3)
    for chain, factor in factors.items():
        offsets[sk.CHAINS[chain][1:]] *= factor
    return sk.forward_kinematics(local, root, offsets)  # (T, 22, 3)


def _file_in(path, joints: np.ndarray, units: str, fps: float = 20):
    """A BVH of `joints` (T, 22, 3) metres with OFFSETs and root positions in `units`, all else as exported."""
    offsets = bvh.own_offsets(joints)
    local, root = joints_to_local_rotations(joints, offsets)
    k = FILE_UNITS_PER_METRE[units]
    path.write_text(bvh.format_bvh(sk.JOINT_NAMES, sk.PARENTS, offsets * k, local, root * k, frame_time=1 / fps))
    return path


# ---------------------------------------------------------------------------------- export keeps the skeleton

def test_round_trip_of_a_clip_with_stretched_bones_under_1mm(tmp_path):
    clip = make_clip("handshake", np.random.default_rng(0))
    a = _stretched(clip.joints[0], {"left_leg": 1.15, "right_leg": 1.15, "spine": 1.25, "left_arm": 0.85,
                                    "right_arm": 0.9})
    b = _stretched(clip.joints[1], {chain: 1.15 for chain in sk.CHAINS})
    kit_lengths = sk.bone_lengths(sk.rest_pose())  # (21,)
    assert np.abs(sk.bone_lengths(a[0]) - kit_lengths).max() > 0.05  # far from the kit's own skeleton
    motion = Motion(np.stack([a, b]), fps=clip.fps)
    back = Motion.from_bvh(motion.to_bvh(tmp_path / "pair.bvh"), fps=clip.fps)
    assert back.joints.shape == motion.joints.shape
    assert np.abs(back.joints - motion.joints).max() < 1e-3


STRETCHED = {"stretched x1.2 y0.9 z1.1": sk.REST_OFFSETS * [1.2, 0.9, 1.1],
             "wide hips": np.where(np.isin(np.arange(22), [1, 2])[:, None], [1.4, 0.7, 1.0], 1.0) * sk.REST_OFFSETS}


@pytest.mark.parametrize("name", STRETCHED)
def test_round_trip_of_a_skeleton_with_another_layout_under_1mm(tmp_path, name):
    joints = person_joints(30, offsets=STRETCHED[name])  # the hips and shoulders are not the kit's shape
    back = bvh.read_bvh(bvh.write_bvh(tmp_path / "a.bvh", joints), fps=20)
    assert np.abs(back - joints).max() < 1e-3
    lengths = np.linalg.norm(bvh.own_offsets(joints)[1:], axis=-1)  # the layout is found up to a rotation
    np.testing.assert_allclose(lengths, np.linalg.norm(STRETCHED[name][1:], axis=-1), atol=1e-6)


def test_varying_bone_lengths_keep_root_and_bone_directions(tmp_path):
    joints = person_joints(30)
    wobble = 1 + 0.05 * np.sin(np.arange(30) / 3)[:, None, None]  # (T, 1, 1) the whole body breathes by 5 %
    joints = (joints - joints[:, :1]) * wobble + joints[:, :1]
    back = bvh.read_bvh(bvh.write_bvh(tmp_path / "w.bvh", joints), fps=20)
    np.testing.assert_allclose(back[:, 0], joints[:, 0], atol=1e-5)

    def directions(j):
        bone = j[:, 1:] - j[:, sk.PARENTS[1:]]  # (T, 21, 3)
        return bone / np.linalg.norm(bone, axis=-1, keepdims=True)

    np.testing.assert_allclose(directions(back), directions(joints), atol=1e-4)
    median_lengths = np.median(sk.bone_lengths(joints), axis=0)  # (21,)
    np.testing.assert_allclose(sk.bone_lengths(back), np.tile(median_lengths, (30, 1)), atol=1e-5)


# ---------------------------------------------------------------------------------- units

@pytest.mark.parametrize("height", [0.8, 1.0, 1.15])
@pytest.mark.parametrize("units", ["m", "cm", "mm", "in", "ft"])
def test_the_same_file_in_any_unit_reads_the_same_metres(tmp_path, units, height):
    joints = person_joints(20, offsets=sk.scaled_offsets(height))  # a 1.4 m, 1.75 m and 2.0 m person
    got = bvh.read_bvh(_file_in(tmp_path / f"{units}.bvh", joints, units), fps=20)
    assert np.abs(got - joints).max() < 1e-3


def test_explicit_units_are_believed(tmp_path):
    joints = person_joints(20)
    path = _file_in(tmp_path / "cm.bvh", joints, "cm")
    assert np.abs(bvh.read_bvh(path, units="cm") - joints).max() < 1e-3
    wrong = Motion.from_bvh(path, units="mm").joints[0]  # a centimetre file told to be millimetres
    np.testing.assert_allclose(wrong, joints / 10, atol=1e-4)  # believed: a 17.5 cm person


def test_an_unknown_unit_lists_the_choices(tmp_path):
    path = _file_in(tmp_path / "cm.bvh", person_joints(5), "cm")
    with pytest.raises(ValueError, match=r"unknown BVH units 'furlong'; expected one of "
                                         r"\['auto', 'm', 'cm', 'mm', 'in', 'ft'\]"):
        Motion.from_bvh(path, units="furlong")


def test_a_size_no_unit_explains_is_refused_unless_the_unit_is_given(tmp_path):
    joints = person_joints(20)
    offsets = offsets_from_joints(joints)
    local, root = joints_to_local_rotations(joints, offsets)
    path = tmp_path / "decimetres.bvh"
    path.write_text(bvh.format_bvh(sk.JOINT_NAMES, sk.PARENTS, offsets * 10, local, root * 10, frame_time=0.05))
    with pytest.raises(ValueError, match=r"decimetres\.bvh: cannot tell the units: the ankle-to-head bone chain "
                                         r"measures 15\.29 file units.*pass the unit explicitly"):
        bvh.read_bvh(path)
    np.testing.assert_allclose(bvh.read_bvh(path, units="m"), joints * 10, atol=1e-3)


# ---------------------------------------------------------------------------------- encodings and line endings

def test_byte_order_mark_crlf_and_tabs_are_read(tmp_path):
    joints = person_joints(12)
    text = bvh.write_bvh(tmp_path / "plain.bvh", joints).read_text()
    (tmp_path / "bom.bvh").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    (tmp_path / "crlf.bvh").write_bytes(text.replace("  ", "\t").replace(" ", "\t").replace("\n", "\r\n").encode())
    for name in ("bom.bvh", "crlf.bvh"):
        assert np.abs(bvh.read_bvh(tmp_path / name) - joints).max() < 1e-3, name


# ---------------------------------------------------------------------------------- malformed files

@pytest.fixture(scope="module")
def good_text(tmp_path_factory) -> str:
    """A valid exported file of 10 frames (69 channels)."""
    return bvh.write_bvh(tmp_path_factory.mktemp("bvh") / "good.bvh", person_joints(10)).read_text()


def _line_of(text: str, start: str) -> int:
    """1-based number of the first line that starts with `start` (leading spaces ignored)."""
    return next(n for n, line in enumerate(text.splitlines(), 1) if line.strip().startswith(start))


def _replace_line(text: str, number: int, new: str) -> str:
    lines = text.splitlines()
    lines[number - 1] = new
    return "\n".join(lines) + "\n"


def _frame_line(text: str, frame: int) -> int:
    return _line_of(text, "Frame Time:") + frame


def _refused(tmp_path, content, match: str, error=ValueError):
    """Write `content` (str or bytes) to bad.bvh and check read_bvh refuses it with a message naming the file."""
    path = tmp_path / "bad.bvh"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(error, match=r"bad\.bvh" + match):
        bvh.read_bvh(path)


def test_empty_file(tmp_path):
    _refused(tmp_path, "", ": the file is empty; expected a BVH file starting with HIERARCHY")
    _refused(tmp_path, " \r\n\t\n", ": the file is empty")


def test_missing_hierarchy(tmp_path, good_text):
    _refused(tmp_path, good_text.split("\n", 1)[1], r", line 1: not a BVH file \(it must start with HIERARCHY, "
                                                      r"found 'ROOT'\)")


def test_missing_motion(tmp_path, good_text):
    hierarchy = good_text[:good_text.index("MOTION")]
    _refused(tmp_path, hierarchy, rf": no MOTION section \(the file ends at line {hierarchy.count(chr(10))}\); "
                                  "expected MOTION, 'Frames: N'")


def test_unclosed_hierarchy(tmp_path, good_text):
    text = good_text.replace("}\nMOTION", "MOTION")
    _refused(tmp_path, text, rf", line {_line_of(text, 'MOTION')}: MOTION before the HIERARCHY is closed "
                             r"\(1 '\{' still open\)")


@pytest.mark.parametrize("count, match", [
    ("4", r"CHANNELS 4 is followed by 3 channel names, then 'JOINT'; expected 4 names from Xposition"),
    ("2", r"unexpected 'Xrotation' \(a channel name past CHANNELS' count: is the count too small\?\)"),
    ("three", r"CHANNELS must be followed by a channel count from 0 to 6, found 'three'"),
])
def test_wrong_channel_count(tmp_path, good_text, count, match):
    line = _line_of(good_text, "CHANNELS 3")  # the left hip, followed by its child JOINT
    text = _replace_line(good_text, line, f"CHANNELS {count} Zrotation Yrotation Xrotation")
    _refused(tmp_path, text, f", line {line}: {match}")


def test_non_numeric_offset(tmp_path, good_text):
    line = _line_of(good_text, "OFFSET")
    _refused(tmp_path, _replace_line(good_text, line, "OFFSET 0 x 0"),
             rf", line {line}: OFFSET needs 3 finite numbers, found '0 x 0'")


def test_fewer_frame_lines_than_stated(tmp_path, good_text):
    text = good_text.rsplit("\n", 3)[0] + "\n"  # the last two frames cut off
    _refused(tmp_path, text, rf", line {len(text.splitlines())}: 'Frames: 10' but the file ends after 8 frame lines")


def test_more_frame_lines_than_stated(tmp_path, good_text):
    text = good_text.replace("Frames: 10", "Frames: 9")
    _refused(tmp_path, text, rf", line {_frame_line(text, 10)}: more frame lines than 'Frames: 9' states")


def test_a_row_with_the_wrong_number_of_values(tmp_path, good_text):
    line = _frame_line(good_text, 5)
    short_row = good_text.splitlines()[line - 1].rsplit(" ", 1)[0]
    _refused(tmp_path, _replace_line(good_text, line, short_row),
             rf", line {line}: frame 5 has 68 values; expected 69, one per channel of the HIERARCHY")


@pytest.mark.parametrize("word", ["abc", "nan", "inf", "-inf", "1,5"])
def test_non_numeric_and_non_finite_values(tmp_path, good_text, word):
    line = _frame_line(good_text, 3)
    values = good_text.splitlines()[line - 1].split()
    values[7] = word
    _refused(tmp_path, _replace_line(good_text, line, " ".join(values)),
             rf", line {line}: frame 3 has '{re.escape(word)}', not a finite number; expected one number per channel")


def test_zero_frames(tmp_path, good_text):
    text = good_text[:good_text.index("Frames:")] + "Frames: 0\nFrame Time: 0.05\n"
    _refused(tmp_path, text, rf", line {_line_of(text, 'Frames:')}: 'Frames: 0': the file holds no motion")


@pytest.mark.parametrize("frames", ["ten", "-3", "2.5", ""])
def test_frames_not_a_whole_number(tmp_path, good_text, frames):
    text = good_text.replace("Frames: 10", f"Frames: {frames}")
    _refused(tmp_path, text, rf", line {_line_of(text, 'Frames:')}: expected 'Frames: N' \(a whole number\)")


@pytest.mark.parametrize("dt", ["0", "-0.05", "nan", "fast"])
def test_frame_time_not_positive(tmp_path, good_text, dt):
    line = _line_of(good_text, "Frame Time:")
    _refused(tmp_path, _replace_line(good_text, line, f"Frame Time: {dt}"),
             rf", line {line}: expected 'Frame Time: dt' with dt > 0 seconds, found 'Frame Time: {dt}'")


def test_unknown_joint_names(tmp_path, good_text):
    text = good_text.replace("JOINT left_knee", "JOINT knee_L").replace("JOINT left_elbow", "JOINT ellbow_L")
    _refused(tmp_path, text, r": could not find these joints: \['left_knee', 'left_elbow'\]")


def test_binary_garbage(tmp_path):
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    _refused(tmp_path, png, r", line 1: not UTF-8 text \(byte 0 is 0x89\); expected a BVH text file")
    _refused(tmp_path, b"HIERARCHY\nROOT \x00\x01\x02", r", line 2: binary data \(a NUL byte\)")


def test_latin1_file(tmp_path, good_text):
    text = good_text.replace("JOINT head", "JOINT t\xeate").encode("latin-1")
    _refused(tmp_path, text, rf", line {_line_of(good_text, 'JOINT head')}: not UTF-8 text")


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"BVH file not found: .*nowhere\.bvh"):
        bvh.read_bvh(tmp_path / "nowhere.bvh")
    (tmp_path / "folder.bvh").mkdir()
    with pytest.raises(ValueError, match=r"folder\.bvh is a folder; expected a BVH file"):
        Motion.from_bvh(tmp_path / "folder.bvh")


def test_motion_from_bvh_raises_the_same_error(tmp_path, good_text):
    (tmp_path / "bad.bvh").write_text(good_text.replace("Frame Time: ", "Frame Time: -"))
    with pytest.raises(ValueError, match=r"bad\.bvh, line \d+: expected 'Frame Time: dt' with dt > 0"):
        Motion.from_bvh([tmp_path / "bad.bvh"])
