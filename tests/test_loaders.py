"""InterHuman and Inter-X loaders on tiny fabricated folders in the datasets' layouts."""
import h5py
import numpy as np
import pytest
from features_helpers import smooth_pair

from intermask_lite import skeleton as sk
from intermask_lite.data import features as F
from intermask_lite.data import interhuman, interx


def y_up_to_z_up(points):
    """Inverse of the loaders' conversion (x, y, z)_zup -> (x, z, -y)_yup."""
    return np.stack([points[..., 0], -points[..., 2], points[..., 1]], axis=-1)


# ------------------------------------------------------------------------------------------ InterHuman

def write_interhuman(root, clips, split="test", ignore=(), split_ids=None):
    """clips: {id: (joints2 Y-up (2, T, 22, 3), captions)} written in InterHuman's Z-up layout."""
    for sub in ("motions_processed/person1", "motions_processed/person2", "annots", "split"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for clip_id, (joints2, captions) in clips.items():
        for person in (0, 1):
            data = np.zeros((joints2.shape[1], 492), dtype=np.float32)
            data[:, :66] = y_up_to_z_up(joints2[person]).reshape(-1, 66)
            data[:, 186:312] = 0.5 + person  # marker values for the rotation block
            np.save(root / "motions_processed" / f"person{person + 1}" / f"{clip_id}.npy", data)
        (root / "annots" / f"{clip_id}.txt").write_text("\n".join(captions) + "\n")
    (root / "split" / f"{split}.txt").write_text("\n".join(split_ids or clips) + "\n")
    (root / "ignore_list.txt").write_text("\n".join(ignore) + "\n")


def test_interhuman_values_axes_crop_and_ignore_list(tmp_path):
    standing = np.stack([sk.rest_pose(), sk.rest_pose() + [0.0, 0.0, 1.5]])[:, None].repeat(10, 1)  # (2, 10, 22, 3)
    moving = smooth_pair(22, seed=1)
    write_interhuman(tmp_path, {"7": (standing, ["two people stand", "they wait"]), "8": (moving, ["x"]),
                                "9": (moving, ["ignored"])}, ignore=["9"])
    raw = interhuman.load(tmp_path, canonical=False, min_frames=8)
    assert [c.clip_id for c in raw] == ["7", "8"]  # 9 is on the ignore list
    first = raw[0]
    assert first.fps == 30 and first.n_frames == 8 and first.captions == ["two people stand", "they wait"]
    assert np.allclose(first.joints, standing[:, :8], atol=1e-6)  # Z-up file -> the original Y-up joints
    assert first.rotations.shape == (2, 8, 21, 6) and np.all(first.rotations[1] == 1.5)
    assert raw[1].n_frames == 20  # 22 frames cropped to a multiple of 4
    canon = interhuman.load(tmp_path, min_frames=8)[0]
    head, feet = canon.joints[0, 0, sk.joint_index("head")], canon.joints[0, 0, sk.FOOT_JOINT_ORDER]
    assert head[1] > 1.5 and np.isclose(feet[:, 1].min(), 0, atol=1e-6)  # standing on the floor, Y up
    assert abs(F.facing_angle(canon.joints[0, 0])) < 1e-6
    # a proper rotation, not a reflection: facing +Z with the left hip at +X, the toes point forward
    assert canon.joints[0, 0, 10, 2] > canon.joints[0, 0, 7, 2] + 0.1 and canon.joints[0, 0, 1, 0] > 0
    assert y_up_to_z_up(sk.rest_pose())[sk.joint_index("head"), 2] > 1.5  # the file really is Z up


def test_interhuman_max_clips_and_min_frames(tmp_path):
    write_interhuman(tmp_path, {"a": (smooth_pair(12), ["a"]), "b": (smooth_pair(40), ["b"]),
                                "c": (smooth_pair(40), ["c"])})
    with pytest.warns(UserWarning, match="skipped 1"):
        clips = interhuman.load(tmp_path, min_frames=16)
    assert [c.clip_id for c in clips] == ["b", "c"]
    assert [c.clip_id for c in interhuman.load(tmp_path, min_frames=4, max_clips=2)] == ["a", "b"]


def test_interhuman_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="motions_processed"):
        interhuman.load(tmp_path / "nowhere")
    write_interhuman(tmp_path, {"1": (smooth_pair(16), ["a"])}, split_ids=["1", "2"])
    with pytest.raises(FileNotFoundError, match=r"split.val\.txt"):
        interhuman.load(tmp_path, split="val")
    with pytest.raises(FileNotFoundError, match=r"person1.2\.npy"):
        interhuman.load(tmp_path)
    (tmp_path / "split" / "test.txt").write_text("1\n")
    np.save(tmp_path / "motions_processed" / "person2" / "1.npy", np.zeros((16, 300)))
    with pytest.raises(ValueError, match=r"person2.1\.npy.*\(16, 300\).*\(T, 492\)"):
        interhuman.load(tmp_path)
    np.save(tmp_path / "motions_processed" / "person2" / "1.npy", np.zeros((16, 492)))
    (tmp_path / "annots" / "1.txt").write_text("\n  \n")
    with pytest.raises(ValueError, match=r"annots.1\.txt.*empty"):
        interhuman.load(tmp_path)
    with pytest.raises(ValueError, match="split must be one of"):
        interhuman.load(tmp_path, split="dev")


# ---------------------------------------------------------------------------------------------- Inter-X

def standing_params(n_frames, x_offset=0.0):
    """Inter-X parameters of a person standing in a Z-up world (body Y up turned +90 deg about X)."""
    person = np.zeros((n_frames, 56, 3))
    person[:, 0] = [np.pi / 2, 0.0, 0.0]
    person[:, 55] = [x_offset, 0.0, 0.97]
    return person


def write_interx(root, clips, split="test"):
    """clips: {id: ((T, 56, 6) params, captions)}."""
    (root / "motions").mkdir(parents=True, exist_ok=True)
    (root / "texts_processed").mkdir(parents=True, exist_ok=True)
    with h5py.File(root / "motions" / f"{split}.h5", "w") as h5:
        for clip_id, (params, captions) in clips.items():
            h5.create_dataset(clip_id, data=params)
            (root / "texts_processed" / f"{clip_id}.txt").write_text("\n".join(captions) + "\n")


def test_interx_standing_people_come_out_standing_y_up(tmp_path):
    params = np.concatenate([standing_params(13), standing_params(13, x_offset=1.0)], axis=-1)  # (13, 56, 6)
    params[:, 2, 3] = 0.3  # person 2 bends the right hip a little
    write_interx(tmp_path, {"G001T000A012R003": (params, ["one waves#one/NUM waves/VERB#0.0#0.0", "both stand"])})
    clip = interx.load(tmp_path, canonical=False, min_frames=8)[0]
    assert clip.n_frames == 12 and clip.fps == 30 and clip.label == "A012"
    assert clip.captions == ["one waves", "both stand"]
    assert np.allclose(clip.joints[0], sk.rest_pose()[None], atol=1e-6)  # rest pose, facing +Z, Y up
    assert np.allclose(clip.joints[1, :, 0], [1.0, 0.97, 0.0], atol=1e-6)
    right_knee = clip.joints[1, 0, sk.joint_index("right_knee")]
    assert not np.allclose(right_knee, sk.rest_pose()[sk.joint_index("right_knee")] + [1.0, 0, 0])
    canon = interx.load(tmp_path, min_frames=8)[0]
    assert np.isclose(canon.joints[:, :, sk.FOOT_JOINT_ORDER, 1].min(), 0, atol=1e-6)
    assert canon.joints[0, 0, sk.joint_index("head"), 1] > 1.5
    assert canon.joints[0, 0, 10, 2] > canon.joints[0, 0, 7, 2] + 0.1 and canon.joints[0, 0, 1, 0] > 0


def test_interx_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"motions.test\.h5"):
        interx.load(tmp_path)
    write_interx(tmp_path, {"bad": (np.zeros((8, 55, 6)), ["x"])})
    with pytest.raises(ValueError, match=r"test\.h5.*'bad'.*\(T, 56, 6\)"):
        interx.load(tmp_path)
    write_interx(tmp_path, {"ok": (np.zeros((8, 56, 6)), ["x"])})
    (tmp_path / "texts_processed" / "ok.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"texts_processed.ok\.txt"):
        interx.load(tmp_path)
    (tmp_path / "texts_processed" / "ok.txt").write_text("#only tokens#\n")
    with pytest.raises(ValueError, match=r"ok\.txt.*empty"):
        interx.load(tmp_path)
