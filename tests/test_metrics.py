"""Metric values on hand-built embeddings."""
import numpy as np
import torch
import pytest
import scipy.stats

from intermask_lite.eval import metrics as M


def test_fid_of_a_set_against_itself_is_zero():
    x = np.random.default_rng(0).normal(size=(500, 8))
    assert abs(M.fid(x, x)) < 1e-6


def test_fid_matches_closed_form_for_known_gaussians():
    rng = np.random.default_rng(1)
    d = 4
    mu1, mu2 = np.zeros(d), np.array([1.0, -2.0, 0.5, 0.0])
    s1, s2 = np.diag([1.0, 2.0, 0.5, 1.0]), np.diag([2.0, 1.0, 0.5, 3.0])
    a = rng.multivariate_normal(mu1, s1, size=200_000)
    b = rng.multivariate_normal(mu2, s2, size=200_000)
    # diagonal covariances: |mu1-mu2|^2 + sum (sqrt(s1) - sqrt(s2))^2
    expected = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(np.diag(s1)) - np.sqrt(np.diag(s2))) ** 2).sum()
    assert M.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)
    assert M.fid(a, b) == pytest.approx(expected, rel=0.02)


def test_fid_rejects_bad_shapes():
    with pytest.raises(ValueError, match="widths differ"):
        M.fid(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        M.fid(np.zeros(5), np.zeros((5, 4)))


def test_r_precision_identical_embeddings_is_one():
    x = np.random.default_rng(0).normal(size=(96, 16))
    assert np.allclose(M.r_precision(x, x, pool=32, top_k=3, rng=0), 1.0)


def test_r_precision_random_embeddings_is_near_chance():
    rng = np.random.default_rng(0)
    t, m = rng.normal(size=(32 * 200, 16)), rng.normal(size=(32 * 200, 16))
    r = M.r_precision(t, m, pool=32, top_k=3, rng=1)
    assert r.shape == (3,)
    assert np.allclose(r, np.arange(1, 4) / 32, atol=0.01)
    assert np.all(np.diff(r) >= 0)


def test_r_precision_needs_a_full_pool():
    with pytest.raises(ValueError, match="at least pool=32"):
        M.r_precision(np.zeros((10, 4)), np.zeros((10, 4)), pool=32)


def test_matching_score_known_distance():
    t = np.zeros((4, 3))
    m = np.array([[3.0, 4.0, 0.0]] * 4)
    assert M.matching_score(t, m) == pytest.approx(5.0)
    assert M.mm_dist is M.matching_score


def test_diversity_two_points_at_distance_d():
    # two points 2.5 apart, one pair drawn without replacement: either (0,1), (1,0) -> d, or same -> 0
    emb = np.array([[0.0, 0.0], [1.5, 2.0]])
    values = [M.diversity(emb, n_pairs=2, rng=s) for s in range(20)]
    # with n_pairs = N = 2 both index sets are permutations of {0, 1}: the mean is 0 or d
    assert set(np.round(values, 9)) <= {0.0, 2.5}
    assert 2.5 in np.round(values, 9)
    # many points on two clusters at distance d: mean pair distance is d * P(different clusters)
    pts = np.concatenate([np.zeros((500, 2)), np.full((500, 2), [0.0, 2.0])])
    assert M.diversity(pts, n_pairs=300, rng=0) == pytest.approx(1.0, abs=0.15)


def test_multimodality_known_points():
    # each prompt's samples sit at two points 3 apart (alternating), prompts far from each other
    emb = np.zeros((5, 10, 2))
    emb[:, 1::2, 0] = 3.0
    emb += np.arange(5)[:, None, None] * 100.0
    mm = M.multimodality(emb, n_pairs=10, rng=0)
    assert 0.0 < mm <= 3.0
    # identical samples per prompt: zero multimodality, whatever the prompts
    assert M.multimodality(np.repeat(emb[:, :1], 4, axis=1), n_pairs=4, rng=0) == 0.0
    with pytest.raises(ValueError, match="samples >= 2"):
        M.multimodality(np.zeros((3, 1, 2)))


def test_class_accuracy_and_mpjpe():
    logits = np.array([[2.0, 0.1], [0.0, 1.0], [3.0, 0.0]])
    assert M.class_accuracy(logits, [0, 1, 1]) == pytest.approx(2 / 3)
    assert M.class_accuracy(np.array([1, 1]), np.array([1, 0])) == 0.5
    gt = np.zeros((10, 22, 3))
    assert M.mpjpe(gt + [0.0, 0.003, 0.004], gt) == pytest.approx(5.0)


def test_root_aligned_mpjpe_ignores_where_the_body_stands_but_not_its_pose():
    rng = np.random.default_rng(0)
    gt = rng.normal(size=(2, 10, 22, 3))                              # (people, T, J, 3) metres
    moved = gt + rng.normal(size=(2, 10, 1, 3))                       # every pose shifted by its own offset
    assert M.mpjpe(moved, gt) > 100.0
    assert M.mpjpe(moved, gt, align_root=True) == pytest.approx(0.0, abs=1e-9)
    bent = gt.copy()
    bent[..., 5, :] += [0.0, 0.0, 0.02]                               # one joint of 22 off by 20 mm
    assert M.mpjpe(bent, gt, align_root=True) == pytest.approx(20.0 / 22)
    root_off = gt.copy()
    root_off[..., 0, :] += [0.01, 0.0, 0.0]                           # only the root moved: all others off
    assert M.mpjpe(root_off, gt, align_root=True) == pytest.approx(10.0 * 21 / 22)


def test_mean_ci95_on_a_known_sample():
    v = [1.0, 2.0, 3.0, 4.0, 5.0]
    mean, half = M.mean_ci95(v)
    assert mean == 3.0
    assert half == pytest.approx(scipy.stats.t.ppf(0.975, 4) * np.sqrt(2.5) / np.sqrt(5))
    assert half == pytest.approx(1.9632, abs=1e-3)
    assert M.mean_ci95([7.0]) == (7.0, 0.0)


def test_mode_share_and_token_agreement_on_hand_built_maps():
    frozen = np.full((2, 5, 8), 7)                                     # every row one code
    varied = np.arange(80).reshape(2, 5, 8)                           # every code once
    half = np.array([[1, 1, 1, 1, 2, 3, 4, 5]])
    assert M.mode_share(frozen) == 1.0 and M.mode_share(varied) == 1 / 8
    assert M.mode_share(half) == 0.5
    assert M.mode_share(torch.tensor(half)) == 0.5
    assert M.token_agreement(frozen, frozen) == 1.0 and M.token_agreement(frozen, varied) == 1 / 80
    with pytest.raises(ValueError, match="one shape"):
        M.token_agreement(frozen, varied[:, :4])
    with pytest.raises(ValueError, match="non-negative"):
        M.mode_share(np.array([[-1, 2]]))
