"""The text-motion evaluator on tiny fabricated clips (no dependency on the built-in dataset)."""
import hashlib

import numpy as np
import pytest
import torch

from intermask_lite import config, skeleton
from intermask_lite.data.clip import Clip
from intermask_lite.evaluator import model as E
from intermask_lite.evaluator import training as ET
from intermask_lite.text import build_vocab

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py

FPS = 20.0

CAPTIONS = {"approach": ["one person walks up to the other", "someone approaches the partner"],
            "retreat": ["one person backs away from the other", "someone walks away from the partner"]}


def fabricated_clips(n: int, t: int = 24, seed: int = 0) -> list[Clip]:
    """B walks towards A (approach) or away (retreat) at a random speed; A stands still."""
    rng = np.random.default_rng(seed)
    rest = skeleton.rest_pose()
    clips = []
    for i in range(n):
        label = ["approach", "retreat"][i % 2]
        speed = rng.uniform(0.5, 1.5) * (-1 if label == "approach" else 1)
        z = 1.5 + speed * np.arange(t) / FPS
        a = np.repeat(rest[None], t, 0)
        b = rest[None] * [-1.0, 1.0, -1.0] + z[:, None, None] * np.array([0.0, 0.0, 1.0])
        clips.append(Clip(np.stack([a, b]), FPS, CAPTIONS[label], label=label, clip_id=str(i)))
    return clips


def tiny_cfg() -> config.EvalConfig:
    return config.EvalConfig(dim=16, width=16, layers=1, heads=2, pools=(4,))


def tiny_model(clips) -> E.Evaluator:
    torch.manual_seed(0)
    vocab = build_vocab([t for c in clips for t in c.captions])
    return E.Evaluator(tiny_cfg(), ["approach", "retreat"], vocab, max_words=16, fps=FPS)


def batch_of(clips):
    ds = ET.EvaluatorDataset(clips, ["approach", "retreat"], max_frames=24)
    return torch.utils.data.default_collate([ds[i] for i in range(len(ds))])


def test_forward_shapes_and_unit_norm():
    clips = fabricated_clips(6)
    model = tiny_model(clips).eval()
    batch = batch_of(clips)
    assert batch["features"].shape == (6, 24, 2, 132)
    m = model.encode_motion(batch["features"], batch["length"])
    t = model.encode_text(list(batch["caption"]))
    assert m.shape == (6, 16) and t.shape == (6, 16)
    assert torch.allclose(m.norm(dim=-1), torch.ones(6), atol=1e-5)
    assert model.classify(m).shape == (6, 2)


def test_motion_features_are_positions_then_velocities():
    joints = fabricated_clips(1)[0].joints                           # (2, 24, 22, 3)
    feats = E.motion_features(joints)                                # (24, 2, 132)
    assert feats.shape == (24, 2, 132) and feats.dtype == np.float32
    assert np.allclose(feats[:, 1, :66].reshape(24, 22, 3), joints[1])
    assert np.allclose(feats[5, 1, 66:].reshape(22, 3), joints[1, 6] - joints[1, 5], atol=1e-6)


def test_perturb_joints_noise_is_bounded_smooth_and_seeded():
    joints = np.zeros((2, 400, 22, 3), dtype=np.float32)
    slow = E.perturb_joints(joints, np.random.default_rng(0), iid_cm=0.0, smooth_cm=5.0)
    assert slow.shape == joints.shape and 0.0 < slow.std() < 0.05
    # the slow part changes little between neighbouring frames compared with its size
    assert np.abs(np.diff(slow, axis=1)).mean() < 0.7 * np.abs(slow).mean()  # white noise: 1.4
    white = E.perturb_joints(joints, np.random.default_rng(0), iid_cm=2.0, smooth_cm=0.0)
    assert 0.0 < white.std() < 0.02
    assert np.array_equal(E.perturb_joints(joints, np.random.default_rng(3)),
                          E.perturb_joints(joints, np.random.default_rng(3)))
    noisy = ET.EvaluatorDataset(fabricated_clips(4), ["approach", "retreat"], max_frames=24, noise_prob=1.0)
    clean = ET.EvaluatorDataset(fabricated_clips(4), ["approach", "retreat"], max_frames=24)
    assert not torch.equal(noisy[0]["features"], clean[0]["features"])
    assert torch.equal(clean[0]["features"], clean[0]["features"])


def test_swapping_people_leaves_the_embedding_unchanged():
    clips = fabricated_clips(4)
    model = tiny_model(clips).eval()
    batch = batch_of(clips)
    lengths = torch.tensor([24, 20, 12, 24])
    emb = model.encode_motion(batch["features"], lengths)
    swapped = model.encode_motion(batch["features"].flip(2), lengths)
    assert torch.allclose(emb, swapped, atol=1e-5)
    # padding beyond the length is ignored
    noisy = batch["features"].clone()
    noisy[2, 12:] = 5.0
    assert torch.allclose(model.encode_motion(noisy, lengths)[2], emb[2], atol=1e-5)


def test_a_few_training_steps_lower_the_loss():
    clips = fabricated_clips(8)
    model = tiny_model(clips)
    batch = batch_of(clips)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.eval()  # no dropout: compare like with like
    first, _ = E.evaluator_loss(model, batch, "cpu")
    for _ in range(25):
        loss, terms = E.evaluator_loss(model, batch, "cpu")
        opt.zero_grad()
        loss.backward()
        opt.step()
    last, terms = E.evaluator_loss(model, batch, "cpu")
    assert set(terms) == {"nce", "ce"}
    assert last.item() < 0.85 * first.item()  # duplicate captions in the batch put a floor near ln 4


def test_class_accuracy_counts_only_the_labels_it_knows():
    model = E.Evaluator(tiny_cfg(), ["approach", "retreat"], build_vocab(["a b"]), fps=FPS)
    with torch.no_grad():  # class logits = the first two embedding coordinates
        model.class_head.weight.zero_()
        model.class_head.weight[0, 0] = model.class_head.weight[1, 1] = 1.0
        model.class_head.bias.zero_()
    emb = np.zeros((4, 16), dtype=np.float32)
    emb[[0, 2], 0] = 1.0                               # motions 0, 2 look like "approach"
    emb[[1, 3], 1] = 1.0                               # motions 1, 3 like "retreat"
    assert model.class_accuracy(emb, ["approach", "approach", "wave", "retreat"]) == 2 / 3  # "wave" not counted
    assert model.class_accuracy(emb[:2], ["wave", "bow"]) is None


def test_bad_inputs_give_clear_errors():
    clips = fabricated_clips(2)
    model = tiny_model(clips)
    with pytest.raises(ValueError, match=r"\(B, T, 2, 132\)"):
        model.encode_motion(torch.zeros(2, 10, 132), torch.tensor([10, 10]))
    with pytest.raises(ValueError, match="lengths"):
        model.encode_motion(torch.zeros(2, 10, 2, 132), torch.tensor([10, 11]))
    with pytest.raises(ValueError, match=r"\(2, T, 22, 3\)"):
        E.motion_features(np.zeros((10, 22, 3)))
    with pytest.raises(ValueError, match="noise_prob"):
        ET.EvaluatorDataset(clips, ["approach", "retreat"], max_frames=24, noise_prob=1.5)
    with pytest.raises(ValueError, match="non-empty"):
        model.encode_text(["ok", " "])
    with pytest.raises(ValueError, match="fps"):
        E.embed_joints(model, [clips[0].joints], fps=30.0)


def tiny_preset():
    preset = config.smoke()
    preset.eval = tiny_cfg()
    preset.evaluator_train = config.TrainConfig(steps=4, batch_size=8, warmup=1, eval_every=2, lr=1e-3)
    preset.text = config.TextConfig(dim=16, max_words=16)
    return preset


def test_train_save_load_and_checksum(tmp_path):
    clips, val = fabricated_clips(24), fabricated_clips(8, seed=1)
    model, history = ET.train_evaluator(tiny_preset(), clips, val, out_dir=tmp_path, device="cpu", progress=False)
    assert len(history["loss"]) == 4 and "val_top3" in history and "val_loss" in history
    path = tmp_path / "evaluator_last.pt"
    loaded = E.load_evaluator(path)
    joints = [c.joints for c in val]
    assert np.allclose(E.embed_joints(model, joints, FPS), E.embed_joints(loaded, joints, FPS), atol=1e-6)
    assert loaded.classes == ["approach", "retreat"] and loaded.fps == FPS
    assert E.evaluator_checksum(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    ckpt = torch.load(path, weights_only=True)
    ckpt["model"]["in_proj.weight"] = torch.zeros(16, 524)  # an evaluator of the 262-d feature era
    torch.save(ckpt, tmp_path / "old.pt")
    with pytest.raises(ValueError, match="another version of the code"):
        E.load_evaluator(tmp_path / "old.pt")
    scores = ET.retrieval_scores(loaded, val, pool=4)
    assert set(scores) >= {"top1", "top2", "top3", "mm_dist", "class_acc", "chance_top3"}
    assert scores["top1"] <= scores["top2"] <= scores["top3"] <= 1.0


def test_same_seed_same_evaluator_whatever_ran_before():
    clips, val = fabricated_clips(24), fabricated_clips(8, seed=1)
    weights = []
    for seed, earlier in ((0, 1), (0, 2), (1, 1)):
        torch.manual_seed(earlier)                 # the global random state left by whatever ran before
        model, _ = ET.train_evaluator(tiny_preset(), clips, val, device="cpu", progress=False, seed=seed)
        weights.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert torch.equal(weights[0], weights[1]) and not torch.equal(weights[0], weights[2])
