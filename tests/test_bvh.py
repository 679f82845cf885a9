"""BVH export/import: round trip, Mixamo / centimetre / Z-up files, rotation conventions, errors."""
import numpy as np
import pytest

from helpers_motion import pair_joints, person_joints
from intermask_lite import skeleton as sk
from intermask_lite.data import bvh
from intermask_lite.skeleton import resample_joints
from intermask_lite.motion import Motion

MIXAMO = ["Hips", "LeftUpLeg", "RightUpLeg", "Spine", "LeftLeg", "RightLeg", "Spine1", "LeftFoot", "RightFoot",
          "Spine2", "LeftToeBase", "RightToe", "Neck", "LeftShoulder", "RightShoulder", "Head", "LeftArm",
          "RightArm", "LeftForeArm", "RightForeArm", "LeftHand", "RightHand"]


def test_round_trip_under_1mm(tmp_path):
    joints = person_joints(30, offsets=sk.scaled_offsets(1.1))  # (30, 22, 3), not the default size
    path = bvh.write_bvh(tmp_path / "a.bvh", joints, fps=20)
    back = bvh.read_bvh(path, fps=20)
    assert back.shape == joints.shape
    assert np.abs(back - joints).max() < 1e-3


def test_motion_two_people_writes_two_files(tmp_path):
    m = Motion(pair_joints(20), fps=20)
    paths = m.to_bvh(tmp_path / "pair.bvh")
    assert [p.name for p in paths] == ["pair_A.bvh", "pair_B.bvh"]
    back = Motion.from_bvh(paths, fps=20)
    assert back.n_people == 2 and np.abs(back.joints - m.joints).max() < 1e-3
    assert Motion.from_bvh(paths[1], fps=10).joints.shape == (1, 11, 22, 3)  # 0.95 s span: 11 frames at 10 fps


def _with_extra_joints(names, parents, offsets, rots):
    """Add two finger joints under each hand and a head-top joint, as Mixamo files have."""
    names, parents = list(names), list(parents)
    offsets, rots = list(offsets), np.concatenate([rots, np.tile(np.eye(3), (rots.shape[0], 5, 1, 1))], axis=1)
    for hand, name in [(20, "LeftHandIndex1"), (21, "RightHandIndex1"), (15, "HeadTop_End")]:
        parents.append(hand), names.append(name), offsets.append(0.3 * offsets[hand])
    parents += [len(names) - 3, len(names) - 2]
    names += ["LeftHandIndex2", "RightHandIndex2"]
    offsets += [0.2 * offsets[20], 0.2 * offsets[21]]
    return names, parents, np.array(offsets), rots


def test_mixamo_centimetre_z_up_30fps_file(tmp_path):
    from intermask_lite.ik import joints_to_local_rotations, offsets_from_joints

    joints = person_joints(31, fps=30)  # the truth, Y up, metres, 30 fps
    offsets = offsets_from_joints(joints)
    local, root = joints_to_local_rotations(joints, offsets)
    to_z_up = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])  # (x, y, z) -> (x, -z, y)
    local_z = to_z_up @ local @ to_z_up.T  # (T, 22, 3, 3)
    names, parents, offs, rots = _with_extra_joints([f"mixamorig:{n}" for n in MIXAMO], sk.PARENTS,
                                                    offsets @ to_z_up.T * 100, local_z)
    text = bvh.format_bvh(names, parents, offs, rots, root @ to_z_up.T * 100, frame_time=1 / 30, order="XZY")
    (tmp_path / "mixamo.bvh").write_text(text)
    got = Motion.from_bvh(tmp_path / "mixamo.bvh", fps=20).joints[0]
    want = resample_joints(joints, 30, 20)
    assert got.shape == (21, 22, 3)
    assert np.abs(got - want).max() < 1e-3


def _hand_typed_bvh(root_channels: str, root_angles: str, names=sk.JOINT_NAMES) -> str:
    """A one-frame file written without the exporter: rest offsets in metres, every joint at zero rotation."""
    lines, depth_of = ["HIERARCHY"], {}

    def emit(j, depth):
        pad = "  " * depth
        kids = [k for k, p in enumerate(sk.PARENTS) if p == j]
        channels = f"CHANNELS 6 Xposition Yposition Zposition {root_channels}" if j == 0 else \
            "CHANNELS 3 Zrotation Xrotation Yrotation"
        off = [0, 0, 0] if j == 0 else sk.REST_OFFSETS[j]
        lines.extend([f"{pad}{'ROOT' if j == 0 else 'JOINT'} {names[j]}", pad + "{",
                      f"{pad}  OFFSET {off[0]} {off[1]} {off[2]}", f"{pad}  {channels}"])
        for k in kids:
            emit(k, depth + 1)
        if not kids:
            lines.extend([f"{pad}  End Site", pad + "  {", f"{pad}    OFFSET 0 0.05 0", pad + "  }"])
        lines.append(pad + "}")
        depth_of[j] = depth

    emit(0, 0)
    zeros = " ".join(["0"] * 63)
    return "\n".join(lines + ["MOTION", "Frames: 1", "Frame Time: 0.05", f"1 0.97 2 {root_angles} {zeros}"])


def _file_positions(path) -> np.ndarray:
    """The first frame's 22 joints in the file's own axes and units (no up-axis or unit conversion): (22, 3)."""
    skel, _, values = bvh.parse_bvh(path.read_text())
    return bvh.bvh_forward_kinematics(skel, values)[0, bvh.map_joints(skel.names)]


def test_channel_order_is_applied_as_written(tmp_path):
    # Zrotation 90 then Xrotation 90: R = Rz(90) Rx(90) maps the left hip offset (0.07, -0.09, 0) to (0, 0.07, -0.09)
    # (the turned body stands along +Z, so read_bvh would take the file as Z-up: the file's own axes are checked)
    (tmp_path / "zx.bvh").write_text(_hand_typed_bvh("Zrotation Xrotation Yrotation", "90 90 0"))
    got = _file_positions(tmp_path / "zx.bvh")
    np.testing.assert_allclose(got[0], [1, 0.97, 2], atol=1e-6)
    np.testing.assert_allclose(got[1] - got[0], [0, 0.07, -0.09], atol=1e-6)
    (tmp_path / "xz.bvh").write_text(_hand_typed_bvh("Xrotation Zrotation Yrotation", "90 90 0"))
    got = _file_positions(tmp_path / "xz.bvh")
    np.testing.assert_allclose(got[1] - got[0], [0.09, 0, 0.07], atol=1e-6)  # R = Rx(90) Rz(90)


def test_unmappable_file_lists_missing_joints(tmp_path):
    names = list(sk.JOINT_NAMES)
    names[4], names[18] = "knee_L", "ellbow_L"
    (tmp_path / "odd.bvh").write_text(_hand_typed_bvh("Zrotation Xrotation Yrotation", "0 0 0", names))
    with pytest.raises(ValueError, match=r"could not find these joints: \['left_knee', 'left_elbow'\]"):
        bvh.read_bvh(tmp_path / "odd.bvh")


def test_malformed_files(tmp_path):
    (tmp_path / "a.bvh").write_text("hello")
    with pytest.raises(ValueError, match="not a BVH file"):
        bvh.read_bvh(tmp_path / "a.bvh")
    text = _hand_typed_bvh("Zrotation Xrotation Yrotation", "0 0 0")
    (tmp_path / "b.bvh").write_text(text.rsplit(" ", 5)[0])
    with pytest.raises(ValueError, match=r"b\.bvh, line 135: frame 1 has 64 values; expected 69"):
        bvh.read_bvh(tmp_path / "b.bvh")
    with pytest.raises(FileNotFoundError):
        bvh.read_bvh(tmp_path / "none.bvh")
    with pytest.raises(ValueError, match="one or two BVH files"):
        Motion.from_bvh([tmp_path / "b.bvh"] * 3)


LIE_ALONG_X = np.array([[0.0, 1, 0], [-1, 0, 0], [0, 0, 1]])  # rest pose turned so that +Y (up) points along +X
TO_Z_UP = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])     # (x, y, z) -> (x, -z, y)


def _lying_rest_pose_file(path, joints, up: str, scale: float, far, fps: float = 20):
    """A BVH whose rest pose lies along +X (every bone turned by LIE_ALONG_X); the root rotation of each frame
    stands the body up again, along +Y or +Z, `scale` file units per metre, `far` (metres) added to the root."""
    from intermask_lite.ik import joints_to_local_rotations, offsets_from_joints

    offsets = offsets_from_joints(joints)
    local, root = joints_to_local_rotations(joints, offsets)  # (T, 22, 3, 3), (T, 3)
    world = np.eye(3) if up == "y" else TO_Z_UP
    rots = LIE_ALONG_X @ local @ LIE_ALONG_X.T                 # children: the same turns, in the lying frame
    rots[:, 0] = world @ local[:, 0] @ LIE_ALONG_X.T           # the root undoes the lie (and turns Y up to Z up)
    root_file = (root + np.asarray(far)) @ world.T * scale
    text = bvh.format_bvh(sk.JOINT_NAMES, sk.PARENTS, offsets @ LIE_ALONG_X.T * scale, rots, root_file,
                          frame_time=1 / fps)
    path.write_text(text)
    return path


@pytest.mark.parametrize("up, scale", [("y", 100.0), ("z", 100.0), ("y", 1.0), ("z", 1000.0)])
def test_rest_pose_lying_along_x_reads_upright(tmp_path, up, scale):
    joints = person_joints(24, offsets=sk.scaled_offsets(0.95))  # the truth: Y up, metres
    far = [35.0, 0.0, -12.0]                                     # the root far from the file's origin
    path = _lying_rest_pose_file(tmp_path / "lying.bvh", joints, up, scale, far)
    skel, _, values = bvh.parse_bvh(path.read_text())
    rest = bvh.bvh_forward_kinematics(skel, np.zeros((1, values.shape[1])))[0, bvh.map_joints(skel.names)]
    body = rest[sk.joint_index("head")] - rest[[sk.joint_index("left_ankle"), sk.joint_index("right_ankle")]].mean(0)
    assert body[0] > 5 * np.abs(body[1:]).max()  # the file's rest pose really lies along +X
    got = bvh.read_bvh(path, fps=20)
    np.testing.assert_allclose(got, joints + np.array(far), atol=1e-3)


def test_a_body_lying_in_every_frame_is_refused_with_the_reason(tmp_path):
    joints = person_joints(10) @ LIE_ALONG_X.T  # (T, 22, 3) lying along +X all the time
    path = bvh.write_bvh(tmp_path / "asleep.bvh", joints)
    with pytest.raises(ValueError, match="cannot tell the up axis.*over the frames"):
        bvh.read_bvh(path)
