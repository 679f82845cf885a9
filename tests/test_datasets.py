"""Torch datasets over made-up clips, read through a DataLoader."""
import numpy as np
import pytest
import torch
from features_helpers import smooth_clip
from torch.utils.data import DataLoader

from intermask_lite.data import datasets as D
from intermask_lite.data import features as F


@pytest.fixture(scope="module")
def clips():
    return [smooth_clip(n, seed=s) for s, n in enumerate([40, 24, 52])]


@pytest.fixture(scope="module")
def norm(clips):
    return D.make_normalizer(clips)


def test_make_normalizer_matches_fit_on_clip_features(clips, norm):
    direct = F.Normalizer.fit([F.clip_features(c) for c in clips])
    assert np.allclose(direct.mean, norm.mean, atol=1e-5) and np.allclose(direct.std, norm.std, atol=1e-5)


def test_vq_windows_count_skip_and_content(clips, norm):
    with pytest.warns(UserWarning, match="skipped 1 of 3"):
        ds = D.VQWindowDataset(clips, norm, window=32, stride=8)
    assert ds.n_skipped == 1
    # clip 0: starts 0, 8 (last = 8); clip 2: 0, 8, 16, 20 -> (2 + 4) starts x 2 people
    assert len(ds) == 12
    batch = next(iter(DataLoader(ds, batch_size=5, shuffle=False)))
    assert batch.shape == (5, 12, 22, 32) and batch.dtype == torch.float32
    # item 0 = clip 0, person A, start 0: the canonical clip's first 32 frames
    feats = F.joints_to_features(F.canonicalize(clips[0].joints[:, :32]), fps=20)[0]
    expected = F.features_to_grid(norm.normalize(feats))
    assert np.allclose(batch[0].numpy()[:6], expected[:6], atol=1e-4)  # positions and velocities
    assert np.allclose(batch[0].numpy(), expected, atol=1e-3)  # rotations from the cached IK as well


def test_a_shared_cache_gives_the_same_normaliser_and_windows(clips, norm):
    cache = D.clip_cache(clips)
    shared = D.make_normalizer(clips, cache)
    assert np.array_equal(shared.mean, norm.mean) and np.array_equal(shared.std, norm.std)
    with pytest.warns(UserWarning, match="skipped"):
        own = D.VQWindowDataset(clips, norm, window=32, stride=8)
        given = D.VQWindowDataset(clips, norm, window=32, stride=8, cache=cache)
    assert len(own) == len(given) and all(torch.equal(own[i], given[i]) for i in range(len(own)))
    with pytest.raises(ValueError, match="cache holds 2 clips but 3"):
        D.make_normalizer(clips, cache[:2])


def test_vq_mirror_aug_doubles_and_mirrors(clips, norm):
    plain = D.VQWindowDataset(clips[:1], norm, window=32, stride=8)
    mirrored = D.VQWindowDataset(clips[:1], norm, window=32, stride=8, mirror_aug=True)
    assert len(mirrored) == 2 * len(plain)
    pos = norm.denormalize_grid(mirrored[len(plain)].numpy())[:3]  # (3, 22, 32) positions
    pos_plain = norm.denormalize_grid(plain[0].numpy())[:3]
    assert np.allclose(pos[0, 1], -pos_plain[0, 2], atol=1e-4)  # left hip x = - right hip x


def test_vq_context_keeps_whole_clip_coordinates(clips, norm):
    # clip 2 (52 frames) fits in context=60: every window is the matching slice of the whole canonical clip
    ds = D.VQWindowDataset(clips[2:], norm, window=32, stride=8, context=60)
    canonical = F.joints_to_features(F.canonicalize(clips[2].joints), fps=20)
    whole = F.features_to_grid(norm.normalize(canonical))                 # (2, 12, 22, 52)
    start = ds.items[3][2]
    assert ds.items[3][:2] == (0, 0) and start == 20
    window = ds[3].numpy()                                                # (12, 22, 32)
    assert np.allclose(window[:3], whole[0, :3, :, start:start + 32], atol=1e-4)  # positions
    assert not np.allclose(window[:3], D.VQWindowDataset(clips[2:], norm, window=32, stride=8)[3].numpy()[:3],
                           atol=1e-2)  # a window canonicalised at its own start sits elsewhere
    # a clip longer than the context: each window lies in a context-long crop of the clip
    short = D.VQWindowDataset(clips[2:], norm, window=32, stride=8, context=40)
    for _, _, start in short.items:
        first, stop = short.outer_crop(0, start)
        assert stop - first == 40 and first <= start and start + 32 <= stop <= 52
        assert (first, stop) == short.outer_crop(0, start)                # fixed per item
    with pytest.raises(ValueError, match="context .* must be at least the window"):
        D.VQWindowDataset(clips, norm, window=32, context=16)


def test_pingpong_frames_play_forward_and_back():
    assert D.pingpong_frames(4, 11).tolist() == [0, 1, 2, 3, 2, 1, 0, 1, 2, 3, 2]
    assert D.pingpong_frames(5, 3).tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="at least 2 frames"):
        D.pingpong_frames(1, 8)


def test_vq_short_clips_reflected_fill_one_window_each(clips, norm):
    # clip 1 (24 frames) is shorter than the 32-frame window: skipped by default, reflected on request
    ds = D.VQWindowDataset(clips, norm, window=32, stride=8, short_clips="reflect")
    assert ds.n_skipped == 0 and len(ds) == 12 + 2
    assert [it for it in ds.items if it[0] == 1] == [(1, 0, 0), (1, 1, 0)]
    item = ds.items.index((1, 1, 0))
    pos = norm.denormalize_grid(ds[item].numpy())[:3]                     # (3, 22, 32) person B
    whole = F.joints_to_features(F.canonicalize(clips[1].joints), fps=20)  # (2, 24, 262)
    truth = F.features_to_grid(whole)[1, :3]                              # (3, 22, 24)
    assert np.allclose(pos[..., :24], truth, atol=1e-4)                   # the clip as it is, then
    assert np.allclose(pos[..., 24:], truth[..., 22:14:-1], atol=1e-4)    # frames 22, 21, ... 15 backwards
    assert np.abs(np.diff(pos, axis=-1)).max() < 0.5                      # no jump where it turns
    with pytest.raises(ValueError, match="short_clips must be one of"):
        D.VQWindowDataset(clips, norm, window=32, short_clips="pad")


def test_vq_errors(clips, norm):
    with pytest.raises(ValueError, match="multiple of 4"):
        D.VQWindowDataset(clips, norm, window=30)
    with pytest.raises(ValueError, match="no clip has at least 64 frames .window=64"):
        D.VQWindowDataset(clips, norm, window=64)
    with pytest.raises(ValueError, match="no clip has at least 4 frames .* add longer clips"):
        D.VQWindowDataset([smooth_clip(3, seed=0)], norm, window=64, short_clips="reflect")


def test_paired_items_lengths_padding_and_collate(clips, norm):
    ds = D.PairedClipDataset(clips, norm, max_frames=32, caption="first", train=False)
    loader = DataLoader(ds, batch_size=3, collate_fn=D.collate_pairs)
    batch = next(iter(loader))
    assert batch["grids"].shape == (3, 2, 12, 22, 32)
    assert batch["lengths"].tolist() == [32, 24, 32] and batch["indices"].tolist() == [0, 1, 2]
    assert batch["captions"] == [c.captions[0] for c in clips] and batch["labels"] == ["wave"] * 3
    assert torch.all(batch["grids"][1, ..., 24:] == 0)  # zero padding after the clip's 24 frames
    # eval crops at the start: the same as the canonical first 32 frames
    feats = F.joints_to_features(F.canonicalize(clips[2].joints[:, :32]), fps=20)
    expected = F.features_to_grid(norm.normalize(feats))
    assert np.allclose(batch["grids"][2].numpy(), expected, atol=1e-3)


def test_paired_length_multiple_of_four_and_random_crops_are_seeded(clips, norm):
    odd = smooth_clip(27, seed=7)
    ds = D.PairedClipDataset([odd], norm, max_frames=40)
    assert ds[0]["length"] == 24
    a = D.PairedClipDataset(clips, norm, max_frames=16, seed=3)
    b = D.PairedClipDataset(clips, norm, max_frames=16, seed=3)
    items_a = [a[2]["grids"] for _ in range(4)]
    items_b = [b[2]["grids"] for _ in range(4)]
    assert all(torch.equal(x, y) for x, y in zip(items_a, items_b))
    assert not all(torch.equal(items_a[0], x) for x in items_a[1:])  # different crops over draws


def test_paired_augmentations(clips, norm):
    ds = D.PairedClipDataset(clips[:1], norm, max_frames=40, caption="first", mirror_aug=True,
                             swap_aug=True, train=False, seed=0)
    plain = D.PairedClipDataset(clips[:1], norm, max_frames=40, caption="first", train=False)[0]
    seen_mirror = seen_swap = False
    for _ in range(12):
        item = ds[0]
        mirrored = item["caption"] != plain["caption"]
        seen_mirror |= mirrored
        if mirrored:
            assert "right" in item["caption"]
        joints = F.features_to_joints(norm.denormalize(F.grid_to_features(item["grids"].numpy())))  # (2, T, 22, 3)
        root_dist = np.linalg.norm(joints[0, :, 0] - joints[1, :, 0], axis=-1)
        plain_joints = F.features_to_joints(norm.denormalize(F.grid_to_features(plain["grids"].numpy())))
        assert np.allclose(root_dist, np.linalg.norm(plain_joints[0, :, 0] - plain_joints[1, :, 0], axis=-1), atol=1e-4)
        walked = np.linalg.norm(joints[0, -1, 0, [0, 2]] - joints[0, 0, 0, [0, 2]])  # A walks, B stays
        seen_swap |= walked < 0.1
    assert seen_mirror and seen_swap


def test_paired_errors(clips, norm):
    with pytest.raises(ValueError, match="multiple of 4"):
        D.PairedClipDataset(clips, norm, max_frames=30)
    with pytest.raises(ValueError, match="caption"):
        D.PairedClipDataset(clips, norm, caption="longest")
    with pytest.raises(ValueError, match="non-empty list"):
        D.make_normalizer([])


def test_tokenizer_windows_follow_the_preset(clips, norm):
    from dataclasses import replace

    from intermask_lite.config import get_preset
    from intermask_lite.vq.pipeline import window_dataset

    cfg = get_preset("smoke")
    with pytest.warns(UserWarning, match="skipped"):
        plain = window_dataset(clips, norm, cfg)
        in_clip = window_dataset(clips, norm, replace(cfg, data=replace(cfg.data, vq_clip_frame=True)))
    assert plain.window == in_clip.window == cfg.data.window
    assert plain.context is None and in_clip.context == cfg.data.max_frames
    reflected = window_dataset(clips, norm, replace(cfg, vq_study=replace(cfg.vq_study, short_clips="reflect")))
    assert plain.n_skipped > 0 and reflected.n_skipped == 0
    assert get_preset("paper").data.vq_clip_frame and not get_preset("lab").data.vq_clip_frame
