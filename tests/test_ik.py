"""Inverse kinematics: FK(IK(joints)) reproduces the joints; rest pose gives identities; offsets fit."""
import numpy as np
import pytest
import torch

from intermask_lite import ik
from intermask_lite import skeleton as sk


def _random_pose(n=40, seed=0, scale=0.9, offsets=None):
    rng = np.random.default_rng(seed)
    rot = sk.axis_angle_to_matrix(rng.normal(size=(n, 22, 3)) * scale)  # (n, 22, 3, 3)
    root = rng.normal(size=(n, 3))
    return sk.forward_kinematics(rot, root, offsets), rot, root


def test_round_trip_on_rest_skeleton_numpy():
    joints, _, _ = _random_pose()
    local_rot, root_pos = ik.joints_to_local_rotations(joints)
    assert local_rot.shape == (40, 22, 3, 3) and root_pos.shape == (40, 3)
    assert np.abs(sk.forward_kinematics(local_rot, root_pos) - joints).max() < 1e-5


def test_round_trip_torch_keeps_dtype_and_leading_dims():
    joints, _, _ = _random_pose(n=12, seed=1)
    joints_t = torch.tensor(joints, dtype=torch.float32).reshape(3, 4, 22, 3)
    local_rot, root_pos = ik.joints_to_local_rotations(joints_t)
    assert isinstance(local_rot, torch.Tensor) and local_rot.dtype == torch.float32
    assert local_rot.shape == (3, 4, 22, 3, 3)
    rebuilt = sk.forward_kinematics(local_rot, root_pos)
    assert (rebuilt - joints_t).abs().max() < 1e-5


def test_rotations_are_proper():
    joints, _, _ = _random_pose(n=20, seed=2)
    local_rot, _ = ik.joints_to_local_rotations(joints)
    eye = np.eye(3)
    assert np.abs(local_rot @ np.swapaxes(local_rot, -1, -2) - eye).max() < 1e-9
    assert np.abs(np.linalg.det(local_rot) - 1).max() < 1e-9


def test_rest_pose_gives_identity_and_multi_child_joints_recover_twist():
    local_rot, root_pos = ik.joints_to_local_rotations(sk.rest_pose())
    assert np.abs(local_rot - np.eye(3)).max() < 1e-9
    assert np.allclose(root_pos, sk.REST_OFFSETS[0])
    # a pure root rotation (including twist about the spine) is recovered by the Kabsch fit at the pelvis
    turn = sk.rot_y(np.array(1.2))
    rot = np.broadcast_to(np.eye(3), (22, 3, 3)).copy()
    rot[0] = turn
    local_rot, _ = ik.joints_to_local_rotations(sk.forward_kinematics(rot, np.zeros(3)))
    assert np.abs(local_rot[0] - turn).max() < 1e-9
    assert np.abs(local_rot[1:] - np.eye(3)).max() < 1e-9


def test_round_trip_with_fitted_offsets_for_another_body():
    offsets = sk.scaled_offsets(1.1)
    joints, _, _ = _random_pose(n=10, seed=3, offsets=offsets)
    fitted = ik.offsets_from_joints(joints[None])  # (22, 3)
    assert np.abs(fitted[1:] - offsets[1:]).max() < 1e-9
    assert np.isclose(fitted[0, 1], sk.REST_OFFSETS[0, 1] * 1.1)
    local_rot, root_pos = ik.joints_to_local_rotations(joints, offsets=fitted)
    assert np.abs(sk.forward_kinematics(local_rot, root_pos, fitted) - joints).max() < 1e-5


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match=r"\(22, 3\)"):
        ik.joints_to_local_rotations(np.zeros((5, 21, 3)))
    with pytest.raises(ValueError, match="offsets"):
        ik.joints_to_local_rotations(np.zeros((5, 22, 3)), offsets=np.zeros((21, 3)))
    with pytest.raises(ValueError, match="T, 22, 3"):
        ik.offsets_from_joints(np.zeros((22, 3)))
