"""Motion: validation, properties, edits, resampling and .npz save/load."""
import numpy as np
import pytest

from helpers_motion import pair_joints
from intermask_lite import skeleton as sk
from intermask_lite.data.clip import Clip
from intermask_lite.motion import Motion


def test_one_person_array_becomes_p1_and_properties():
    m = Motion(pair_joints(30)[0], fps=20, text="walk")
    assert m.joints.shape == (1, 30, 22, 3) and m.joints.dtype == np.float32
    assert m.n_people == 1 and m.n_frames == 30 and m.seconds == pytest.approx(1.5)
    assert "people=1" in repr(m)


@pytest.mark.parametrize("shape", [(2, 10, 21, 3), (3, 10, 22, 3), (10, 22), (2, 0, 22, 3)])
def test_bad_shapes_are_rejected(shape):
    with pytest.raises(ValueError, match="(P, T, 22, 3)|at least one frame"):
        Motion(np.zeros(shape))


def test_nan_and_fps_errors_say_where():
    j = pair_joints(10)
    j[1, 4, sk.joint_index("head"), 2] = np.nan
    with pytest.raises(ValueError, match="person 1, frame 4, joint head"):
        Motion(j)
    with pytest.raises(ValueError, match="fps must be a positive"):
        Motion(pair_joints(10), fps=0)


def test_save_load_exact(tmp_path):
    m = Motion(pair_joints(25), fps=30, text="two people shake hands", label="handshake")
    path = m.save(tmp_path / "clip")
    assert path.suffix == ".npz"
    back = Motion.load(path)
    np.testing.assert_array_equal(back.joints, m.joints)
    assert (back.fps, back.text, back.label) == (30.0, m.text, m.label)
    with np.load(path, allow_pickle=False) as data:  # plain arrays only
        assert set(data.files) == {"joints", "fps", "text", "label"}


def test_load_rejects_other_npz(tmp_path):
    np.savez(tmp_path / "x.npz", joints=np.zeros((1, 2, 22, 3)))
    with pytest.raises(ValueError, match="missing arrays"):
        Motion.load(tmp_path / "x.npz")


def test_resample_lengths_and_values():
    m = Motion(pair_joints(41), fps=20)
    up = m.resample(30)
    assert up.n_frames == 61 and up.fps == 30
    np.testing.assert_allclose(up.joints[:, ::3], m.joints[:, ::2], atol=1e-6)  # same instants: t = 0, 0.1, ...
    assert m.resample(10).n_frames == 21
    # linear motion is interpolated exactly
    ramp = np.zeros((5, 22, 3), dtype=np.float32)
    ramp[:, :, 0] = np.arange(5)[:, None]
    np.testing.assert_allclose(Motion(ramp, fps=10).resample(20).joints[0, :, 0, 0], np.arange(9) / 2)
    with pytest.raises(ValueError, match="positive fps"):
        m.resample(-1)


def test_swap_mirror_person():
    m = Motion(pair_joints(12), text="t")
    np.testing.assert_array_equal(m.swap().joints[0], m.joints[1])
    np.testing.assert_allclose(m.mirror().mirror().joints, m.joints)
    lw, rw = sk.joint_index("left_wrist"), sk.joint_index("right_wrist")
    mir = m.mirror().joints
    np.testing.assert_allclose(mir[:, :, lw], m.joints[:, :, rw] * np.array([-1, 1, 1]))
    assert m.person(1).n_people == 1
    np.testing.assert_array_equal(m.person(1).joints[0], m.joints[1])
    with pytest.raises(ValueError, match="two-person"):
        m.person(0).swap()
    with pytest.raises(IndexError):
        m.person(2)


def test_from_clip_takes_caption_and_label():
    clip = Clip(pair_joints(8), fps=20, captions=["first", "second"], label="hug", clip_id="c1")
    m = Motion.from_clip(clip, caption=1)
    assert (m.text, m.label, m.n_people, m.title) == ("second", "hug", 2, "second [hug]")
    with pytest.raises(IndexError, match="2 captions"):
        Motion.from_clip(clip, caption=2)


def test_a_clip_is_a_record_around_one_motion():
    """Clip holds a Motion (joints, fps, label read through it) plus what a dataset adds; replace() copies."""
    joints = pair_joints(8)
    clip = Clip(joints, fps=20, captions=["first", "second"], label="hug", clip_id="c1", params={"seed": 3})
    assert isinstance(clip.motion, Motion) and clip.motion.text == "first" and clip.motion.label == "hug"
    assert clip.joints is clip.motion.joints and (clip.fps, clip.label, clip.n_frames) == (20.0, "hug", 8)
    assert clip.seconds == clip.motion.seconds == 0.4
    shorter = clip.replace(joints=joints[:, :4], label="push")
    assert ((shorter.n_frames, shorter.label, shorter.captions, shorter.params)
            == (4, "push", clip.captions, {"seed": 3}))
    assert clip.n_frames == 8                                          # the original is left as it was
    with pytest.raises(TypeError, match="no field\\(s\\) \\['nope'\\]"):
        clip.replace(nope=1)
    with pytest.raises(ValueError, match="Clip 'c1': joints must have shape \\(2, T, 22, 3\\)"):
        clip.replace(joints=joints[:1])
