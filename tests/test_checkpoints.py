"""The shipped lab checkpoints: listed in the manifest with their sha256 and loadable by the current code."""
import json

import pytest

from intermask_lite import checkpoints
from intermask_lite.checkpoints import KINDS, checkpoint_path
from intermask_lite.kit import load_pretrained
from intermask_lite.utils import load_checkpoint


def test_manifest_lists_every_shipped_checkpoint_with_its_sha256():
    manifest = checkpoints.verify()  # raises naming the file if a checksum differs
    assert {f"lab_{kind}.pt" for kind in KINDS} <= set(manifest)
    shipped = {p.name for p in checkpoints.SHIPPED_DIR.glob("*.pt")}
    assert shipped == set(manifest), "every shipped file is listed, and only those"
    for name in manifest:  # the notebooks plot the training curves of the shipped runs; no optimizer state
        ckpt = load_checkpoint(checkpoints.SHIPPED_DIR / name)
        assert ckpt["history"]["loss"] and "optimizer" not in ckpt


def test_shipped_lab_kit_loads_and_generates(tmp_path):
    kit = load_pretrained("lab", artifacts_dir=tmp_path, device="cpu")  # empty artifacts: the shipped files
    assert all(p is not None and p.parent == checkpoints.SHIPPED_DIR for p in kit.paths.values())
    m = kit.generate("two people shake hands", seconds=1.0, steps=2, seed=0)[0]
    assert m.joints.shape == (2, 20, 22, 3)


def test_a_tampered_checkpoint_is_named(tmp_path):
    (tmp_path / "x.pt").write_bytes(b"not a checkpoint")
    (tmp_path / "manifest.json").write_text(json.dumps({"x.pt": {"sha256": "0" * 64}}))
    with pytest.raises(ValueError, match="x.pt: sha256 differs"):
        checkpoints.verify(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"gone.pt": {"sha256": "0" * 64}}))
    with pytest.raises(FileNotFoundError, match="gone.pt"):
        checkpoints.verify(tmp_path)


def test_rebuilding_ignores_the_shipped_checkpoints(tmp_path):
    assert checkpoint_path("vq", "lab", tmp_path) == checkpoints.SHIPPED_DIR / "lab_vq.pt"
    assert checkpoint_path("vq", "lab", tmp_path, shipped=False) is None
    (tmp_path / "lab").mkdir()
    (tmp_path / "lab" / "vq_last.pt").write_bytes(b"")
    assert checkpoint_path("vq", "lab", tmp_path, shipped=False) == tmp_path / "lab" / "vq_last.pt"


def test_manifest_records_how_each_model_was_trained():
    ckpt = {"history": {"seconds": [30.0, 90.0], "threads": [2, 1, 1]},
            "extra": {"preset": {"transformer_train": {"steps": 9600, "batch_size": 16, "lr": 1e-3, "warmup": 200,
                                                       "cpu_bf16": False}}}}
    assert checkpoints.training_record(ckpt, "transformer") == {
        "train_minutes": 1.5, "train_threads": [1, 2],
        "train_settings": {"steps": 9600, "batch_size": 16, "lr": 1e-3, "cpu_bf16": False}}
    assert checkpoints.training_record({"history": {}}, "evaluator") == {}
    tuned = {**ckpt, "extra": {**ckpt["extra"], "init_from": {"file": "lab_transformer.pt", "step": 9600,
                                                                "train_minutes": 116.0}}}
    record = checkpoints.training_record(tuned, "transformer")            # a fine-tune counts its start's minutes
    assert record["train_minutes"] == 117.5 and record["init_from"]["step"] == 9600
    manifest = checkpoints.verify()
    assert all("train_minutes" in entry for entry in manifest.values()), "the shipped models say how long they took"
