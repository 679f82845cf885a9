"""Data plots: statistics on hand-built clips, figure layout and input checks."""
import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from intermask_lite import skeleton as sk  # noqa: E402
from intermask_lite.data.clip import Clip  # noqa: E402
from intermask_lite.viz import data_plots as dp  # noqa: E402


def standing_pair(gap: float, walk: float, n: int = 40, label: str = "x") -> Clip:
    """A at the origin walking `walk` metres along +Z, B `gap` metres ahead; each body a vertical line."""
    joints = np.zeros((2, n, 22, 3))
    joints[..., 1] = np.linspace(0.0, 1.7, 22)  # every joint on the person's vertical axis
    joints[0, :, :, 2] += np.linspace(0, walk, n)[:, None]
    joints[1, :, :, 2] += gap
    return Clip(joints=joints, fps=20.0, captions=["test"], label=label)


def test_dataset_stats_values():
    stats = dp.dataset_stats([standing_pair(3.0, 1.95, label="walk"), standing_pair(1.0, 0.0, label="still")])
    assert list(stats["label"]) == ["walk", "still"]
    assert stats["seconds"] == pytest.approx([2.0, 2.0])
    assert stats["speed"][0] == pytest.approx(0.5 * 1.95 / (39 / 20))  # only A moves: mean over both people
    assert stats["speed"][1] == pytest.approx(0.0)
    assert stats["closest"] == pytest.approx([3.0 - 1.95, 1.0], abs=1e-5)


def test_figures_have_expected_panels():
    clips = [standing_pair(1.0, 0.5, label=lab) for lab in ("a", "b", "c")]
    assert len(dp.plot_dataset_stats(dp.dataset_stats(clips)).axes) == 4
    assert len(dp.plot_feature_grid(np.zeros((12, 22, 8))).axes) == 24  # 12 panels + 12 colour bars
    assert len(dp.plot_topdown({"x": clips[0].joints, "y": clips[1].joints}).axes) == 2
    assert len(dp.class_gallery(clips, columns=2).axes) == 3


def test_bad_inputs_are_reported():
    with pytest.raises(ValueError, match=r"\(22, 3\)"):
        dp.plot_skeleton(np.zeros((21, 3)))
    with pytest.raises(ValueError, match="view"):
        dp.plot_skeleton(sk.rest_pose(), view="back")
    with pytest.raises(ValueError, match=r"\(12, 22, T\)"):
        dp.plot_feature_grid(np.zeros((22, 12, 8)))
    with pytest.raises(ValueError, match="at least one clip"):
        dp.class_gallery([])


def test_topdown_panels_share_one_scale():
    near, far = standing_pair(1.0, 0.5, label="a"), standing_pair(3.0, 0.5, label="b")
    fig = dp.plot_topdown({"near": near.joints, "far": far.joints})
    limits = [(ax.get_xlim(), ax.get_ylim()) for ax in fig.axes]
    assert limits[0] == limits[1], "side-by-side panels must share their scale"
    (x0, x1), (z0, z1) = limits[0]
    for joints in (near.joints, far.joints):
        roots = joints[:, :, 0]                                   # (2, T, 3)
        assert x0 < roots[..., 0].min() and roots[..., 0].max() < x1
        assert z0 < roots[..., 2].min() and roots[..., 2].max() < z1
