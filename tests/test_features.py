"""Features, grid, normaliser, canonicalisation, mirroring and swapping."""
import numpy as np
import pytest
import torch
from features_helpers import smooth_clip, smooth_pair

from intermask_lite import ik
from intermask_lite import skeleton as sk
from intermask_lite.data import features as F


def test_feature_layout_and_joint_round_trip():
    joints = smooth_pair(30)[0]  # (T, 22, 3)
    feats = F.joints_to_features(joints, fps=20)
    assert feats.shape == (30, 262)
    assert np.abs(F.features_to_joints(feats) - joints).max() < 1e-5
    vel = feats[:, 66:132].reshape(30, 22, 3)
    assert np.allclose(vel[:-1], joints[1:] - joints[:-1]) and np.allclose(vel[-1], vel[-2])
    # the 6D block rebuilds the joints through FK (bone lengths are the rest lengths here)
    rot = np.concatenate([np.broadcast_to(np.eye(3), (30, 1, 3, 3)),
                          sk.rot6d_to_matrix(feats[:, 132:258].reshape(30, 21, 6))], axis=1)
    root_rot = ik.joints_to_local_rotations(joints)[0][:, :1]
    rot[:, :1] = root_rot
    assert np.abs(sk.forward_kinematics(rot, joints[:, 0]) - joints).max() < 1e-5


def test_given_contacts_land_in_the_last_four_columns():
    joints = smooth_pair(12)[1]
    contacts = np.zeros((12, 4), dtype=bool)
    contacts[3, 2] = True
    feats = F.joints_to_features(joints, contacts)
    assert feats[:, 258:].sum() == 1 and feats[3, 260] == 1


def test_detect_contacts_low_and_slow():
    still = np.broadcast_to(sk.rest_pose(), (10, 22, 3)).copy()  # feet near the floor, not moving
    assert F.detect_contacts(still, fps=20).all()
    lifted = still + np.array([0.0, 0.5, 0.0])
    assert not F.detect_contacts(lifted, fps=20).any()
    sliding = still + np.arange(10)[:, None, None] * np.array([0.1, 0.0, 0.0])  # 2 m/s
    assert not F.detect_contacts(sliding, fps=20).any()
    assert F.detect_contacts(torch.tensor(still), fps=20).all()


def test_grid_round_trip_numpy_and_torch():
    feats = F.joints_to_features(smooth_pair(16)).astype(np.float32)  # (2, 16, 262)
    grid = F.features_to_grid(feats)
    assert grid.shape == (2, 12, 22, 16)
    assert np.all(grid[:, 6:, 0] == 0)  # root rotation slot
    assert np.array_equal(grid[1, :3, 5, 7], feats[1, 7, 15:18])  # joint 5 position at frame 7
    back = F.grid_to_features(grid)
    assert np.array_equal(back[..., :258], feats[..., :258]) and np.all(back[..., 258:] == 0)
    grid_t = F.features_to_grid(torch.from_numpy(feats))
    assert torch.equal(grid_t, torch.from_numpy(grid))
    assert torch.equal(F.grid_to_features(grid_t)[..., :258], torch.from_numpy(feats)[..., :258])


def test_normaliser_round_trip_floors_and_state_dict():
    feats = [F.clip_features(smooth_clip(24, seed=s)) for s in range(3)]  # (2, 24, 262) each
    norm = F.Normalizer.fit(feats)
    assert norm.mean.shape == (262,) and (norm.std[F.CONTACT] >= 0.1).all() and (norm.std >= 1e-3).all()
    x = feats[0]
    assert np.abs(norm.denormalize(norm.normalize(x)) - x).max() < 1e-5
    xt = torch.from_numpy(x)[None]  # (1, 2, 24, 262)
    assert torch.allclose(norm.normalize(xt)[0], torch.from_numpy(norm.normalize(x)), atol=1e-6)
    # grid-form statistics agree with normalising features first
    grid_direct = norm.normalize_grid(F.features_to_grid(x))
    assert np.allclose(grid_direct, F.features_to_grid(norm.normalize(x)), atol=1e-5)
    assert np.allclose(norm.denormalize_grid(grid_direct), F.features_to_grid(x), atol=1e-5)
    again = F.Normalizer.from_state_dict(norm.state_dict())
    assert isinstance(norm.state_dict()["mean"], torch.Tensor)
    assert np.array_equal(again.mean, norm.mean) and np.array_equal(again.std, norm.std)
    with pytest.raises(ValueError, match="at least one"):
        F.Normalizer.fit([])


def test_canonicalize_faces_plus_z_from_any_start():
    assert abs(F.facing_angle(sk.rest_pose())) < 1e-12
    turned = sk.rest_pose() @ sk.rot_y(np.array(np.pi / 2)).T
    assert np.isclose(F.facing_angle(turned), np.pi / 2)  # rot_y(+90 deg) faces +X
    pair = smooth_pair(20)
    moved = pair @ sk.rot_y(np.array(2.0)).T + np.array([3.0, 0.4, -1.0])
    canon = F.canonicalize(moved)
    assert abs(F.facing_angle(canon[0, 0])) < 1e-9
    assert np.allclose(canon[0, 0, 0, [0, 2]], 0, atol=1e-9)
    assert np.isclose(canon[:, :, sk.FOOT_JOINT_ORDER, 1].min(), 0)
    assert np.allclose(canon, F.canonicalize(pair), atol=1e-9)  # invariant to turning and moving the input
    assert np.allclose(sk.bone_lengths(canon), sk.bone_lengths(pair))


def test_mirror_twice_identity_and_mirrored_rotations():
    pair = F.canonicalize(smooth_pair(10))
    assert np.array_equal(F.mirror(F.mirror(pair)), pair)
    mirrored = F.mirror(pair)
    assert np.allclose(mirrored[0, :, 1, 0], -pair[0, :, 2, 0])  # new left hip = reflected right hip
    assert abs(F.facing_angle(mirrored[0, 0])) < 1e-9  # still faces +Z
    rot6d = F.local_rot6d(pair)
    assert np.abs(F.mirror_rot6d(rot6d) - F.local_rot6d(mirrored)).max() < 1e-6
    assert torch.equal(F.mirror(torch.from_numpy(pair)), torch.from_numpy(mirrored))


@pytest.mark.parametrize("text, expected", [
    ("one person turns left", "one person turns right"),
    ("Right hand up, LEFT foot forward", "Left hand up, RIGHT foot forward"),
    ("they spin clockwise then counter-clockwise", "they spin counterclockwise then clockwise"),
    ("Counterclockwise, anticlockwise", "Clockwise, clockwise"),
    ("steps leftwards to the rightmost spot", "steps rightwards to the leftmost spot"),
    ("a bright and leftover copyright", "a bright and leftover copyright"),
])
def test_mirror_caption(text, expected):
    assert F.mirror_caption(text) == expected


def test_swap_twice_is_identity_after_canonicalisation():
    canon = F.canonicalize(smooth_pair(20, seed=4))
    swapped = F.swap_people(canon)
    assert abs(F.facing_angle(swapped[0, 0])) < 1e-9
    assert np.allclose(F.swap_people(swapped), canon, atol=1e-9)
    # the relative placement is kept: distance between the two roots at every frame
    dist = np.linalg.norm(canon[0, :, 0] - canon[1, :, 0], axis=-1)
    assert np.allclose(np.linalg.norm(swapped[0, :, 0] - swapped[1, :, 0], axis=-1), dist)


def test_clip_features_and_errors():
    clip = smooth_clip(16)
    feats = F.clip_features(clip)
    assert feats.shape == (2, 16, 262) and feats.dtype == np.float32
    with pytest.raises(ValueError, match=r"\(\.\.\., T, 22, 3\)"):
        F.joints_to_features(np.zeros((16, 21, 3)))
    with pytest.raises(ValueError, match="262"):
        F.features_to_grid(np.zeros((4, 263)))
    with pytest.raises(ValueError, match=r"\(2, T, 22, 3\)"):
        F.canonicalize(np.zeros((3, 4, 22, 3)))
    with pytest.raises(ValueError, match="contacts"):
        F.joints_to_features(np.zeros((4, 22, 3)), contacts=np.zeros((4, 3)))


def test_mirror_clip_mirrors_joints_captions_and_foot_contacts():
    from intermask_lite.data.clip import Clip, mirror_clip
    joints = np.random.default_rng(0).normal(size=(2, 6, 22, 3)).astype(np.float32)
    contacts = np.zeros((2, 6, 4), dtype=bool)
    contacts[0, :, 0] = True                                          # A's left ankle down
    clip = Clip(joints, 20.0, ["a person waves with the left hand"], label="wave", clip_id="w1", contacts=contacts)
    m = mirror_clip(clip)
    assert m.captions == ["a person waves with the right hand"] and m.label == "wave" and m.clip_id == "w1~mirrored"
    assert np.array_equal(m.joints, F.mirror(joints))
    assert m.contacts[0, :, 2].all() and not m.contacts[0, :, 0].any()  # now the right ankle
    back = mirror_clip(m)
    assert np.array_equal(back.joints, joints) and back.captions == clip.captions
    assert np.array_equal(back.contacts, contacts)
