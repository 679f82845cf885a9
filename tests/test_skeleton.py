"""The skeleton tables and the rotation helpers."""
import numpy as np
import pytest
import torch

from intermask_lite import skeleton as sk


def random_rotations(shape, seed=0):
    rng = np.random.default_rng(seed)
    return sk.axis_angle_to_matrix(rng.normal(scale=0.8, size=(*shape, 3)))


def test_tables_are_consistent():
    assert len(sk.JOINT_NAMES) == len(sk.PARENTS) == sk.N_JOINTS == 22
    assert all(sk.PARENTS[j] < j for j in range(1, 22))  # parents come first
    for chain in sk.CHAINS.values():
        assert all(sk.PARENTS[c] == p for p, c in zip(chain, chain[1:]))
    assert sorted(sk.MIRROR_PERM) == list(range(22))
    assert [sk.MIRROR_PERM[sk.MIRROR_PERM[j]] for j in range(22)] == list(range(22))
    # left joints sit at +X in the rest pose, mirrored by their right partners
    rest = sk.rest_pose()
    np.testing.assert_allclose(rest[sk.MIRROR_LEFT, 0], -rest[sk.MIRROR_RIGHT, 0])
    assert (rest[sk.MIRROR_LEFT, 0] >= 0).all()


def test_rest_pose_stands_on_the_floor_facing_z():
    rest = sk.rest_pose()
    feet = rest[[7, 8, 10, 11]]
    assert feet[:, 1].min() == pytest.approx(0.02, abs=1e-9)
    assert rest[10, 2] > rest[7, 2]  # toes point forward (+Z)
    assert rest[15, 1] > 1.5  # a roughly adult height


def test_joint_index_error_names_the_joint():
    assert sk.joint_index("head") == 15
    with pytest.raises(KeyError, match="elbo"):
        sk.joint_index("elbo")


def test_fk_identity_is_rest_pose_and_preserves_bones():
    eye = np.tile(np.eye(3), (22, 1, 1))
    np.testing.assert_allclose(sk.forward_kinematics(eye, sk.REST_OFFSETS[0]), sk.rest_pose(), atol=1e-12)
    rot = random_rotations((7, 22))  # (T, 22, 3, 3)
    joints = sk.forward_kinematics(rot, np.zeros((7, 3)))
    bones = sk.bone_lengths(joints)  # (7, 21)
    np.testing.assert_allclose(bones, np.broadcast_to(bones[0], bones.shape), atol=1e-12)
    np.testing.assert_allclose(bones[0], np.linalg.norm(sk.REST_OFFSETS[1:], axis=-1), atol=1e-12)


def test_fk_torch_and_numpy_agree_and_shape_is_checked():
    rot = random_rotations((3, 22))
    out_np = sk.forward_kinematics(rot, np.zeros((3, 3)))
    out_t = sk.forward_kinematics(torch.as_tensor(rot), torch.zeros(3, 3, dtype=torch.float64))
    np.testing.assert_allclose(out_np, out_t.numpy(), atol=1e-12)
    with pytest.raises(ValueError, match=r"\(22, 3, 3\)"):
        sk.forward_kinematics(rot[:, :21], np.zeros((3, 3)))


def test_rot6d_round_trip_and_geodesic():
    rot = random_rotations((50,), seed=1)
    back = sk.rot6d_to_matrix(sk.matrix_to_rot6d(rot))
    np.testing.assert_allclose(back, rot, atol=1e-10)
    angle = 0.7
    r2 = rot @ sk.rot_y(np.full(50, angle))
    np.testing.assert_allclose(sk.geodesic_angle(rot, r2), angle, atol=1e-6)


def test_rotation_between_maps_u_to_v_including_opposites():
    rng = np.random.default_rng(3)
    u = rng.normal(size=(20, 3))
    v = rng.normal(size=(20, 3))
    v[0] = -u[0]  # the degenerate, opposite case
    r = sk.rotation_between(u, v)
    mapped = np.einsum("nij,nj->ni", r, u / np.linalg.norm(u, axis=-1, keepdims=True))
    np.testing.assert_allclose(mapped, v / np.linalg.norm(v, axis=-1, keepdims=True), atol=1e-6)


def test_two_bone_ik_reaches_target_with_exact_lengths():
    root = np.zeros((4, 3))
    target = np.array([[0.3, -0.5, 0.1], [0.0, -0.79, 0.0], [0.2, 0.2, 0.2], [0.0, -2.0, 0.0]])
    mid, end = sk.two_bone_ik(root, target, 0.4, 0.4, pole=np.array([0.0, 0.0, 1.0]))
    np.testing.assert_allclose(np.linalg.norm(mid - root, axis=-1), 0.4, atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(end - mid, axis=-1), 0.4, atol=1e-9)
    np.testing.assert_allclose(end[:3], target[:3], atol=1e-9)  # reachable targets are reached
    assert np.linalg.norm(end[3]) < 0.8 + 1e-9  # out of reach: clamped, bones still exact
    assert (mid[:3, 2] > 0).all()  # the knee bends towards the pole


def test_chain_order_is_a_permutation_whose_neighbours_are_mostly_bones():
    order = sk.CHAIN_ORDER
    assert sorted(order) == list(range(sk.N_JOINTS))
    bones = {frozenset(b) for b in sk.BONES}
    linked = [frozenset(pair) in bones for pair in zip(order, order[1:])]
    assert sum(linked) == 18  # the three jumps: left toe -> spine1, head -> right wrist, right -> left collar
