"""evaluate(kit) and write_report on smoke models trained into a temporary artifacts folder."""
import hashlib
import json
import math

import pytest
import torch

from intermask_lite import cli
from intermask_lite.data.synthetic import load_split
from intermask_lite.eval import report as report_mod
from intermask_lite.eval.report import ROWS, evaluate, metric_keys, work_units, write_report
from intermask_lite.eval.physics import CONTACT_SPECS
from intermask_lite.kit import Kit
from intermask_lite.skeleton import CHAINS

N_CLIPS, REPS = 6, 2
ARGS = dict(replications=REPS, pools=(4, 8), mm_prompts=3, steps=3, progress=False)


@pytest.fixture(scope="module")
def artifacts(smoke_artifacts):
    return smoke_artifacts


@pytest.fixture(scope="module")
def kit(smoke_kit):
    return smoke_kit


@pytest.fixture(scope="module")
def clips():
    return load_split("test", 48, 0)[:N_CLIPS]


@pytest.fixture(scope="module")
def report(kit, clips):
    return evaluate(kit, clips, seed=3, **ARGS)


def test_every_row_and_metric_with_intervals(report):
    assert tuple(report["rows"]) == ROWS
    assert report["metrics"] == metric_keys([4]) and report["pools"] == [4]
    for name, row in report["rows"].items():
        assert list(row) == report["metrics"]
        for key, stat in row.items():
            if stat is None:
                continue
            assert stat["ci"] >= 0 and len(stat["values"]) == REPS, (name, key)
            assert math.isfinite(stat["mean"])
    rows = report["rows"]
    for name in ROWS:  # FID, R-precision, MM Dist, Diversity, class accuracy everywhere
        assert all(rows[name][k] is not None for k in ("fid", "top1@4", "top3@4", "mm_dist", "diversity", "class_acc"))
    assert rows["generated"]["multimodality"] is not None and rows["ground truth"]["multimodality"] is None
    assert rows["reconstruction"]["mpjpe_mm"]["mean"] > 0 and rows["generated"]["mpjpe_mm"] is None
    assert rows["reconstruction"]["mpjpe_aligned_mm"]["mean"] > 0 and rows["generated"]["mpjpe_aligned_mm"] is None
    top = [rows["ground truth"][f"top{k}@4"]["mean"] for k in (1, 2, 3)]
    assert top == sorted(top) and 0 <= top[0] and top[2] <= 1


def test_tokenizer_scores_agree_with_the_reconstruction_row(report, kit, clips):

    from intermask_lite.eval import evaluate_tokenizer
    n = kit.preset.data.max_frames  # the evaluation crops each clip to what the transformer sees
    cropped = [c.replace(joints=c.joints[:, :n], contacts=None) for c in clips]
    scores = evaluate_tokenizer(kit.tokenizer, cropped, evaluator=kit.evaluator)
    row = report["rows"]["reconstruction"]
    assert scores["class_acc"] == row["class_acc"]["mean"]
    assert math.isclose(scores["mpjpe_mm"], row["mpjpe_mm"]["mean"], rel_tol=1e-4)
    assert math.isclose(scores["mpjpe_aligned_mm"], row["mpjpe_aligned_mm"]["mean"], rel_tol=1e-4)
    assert row["mpjpe_aligned_mm"]["mean"] != row["mpjpe_mm"]["mean"]
    assert math.isclose(scores["fid"], row["fid"]["mean"], rel_tol=1e-3, abs_tol=1e-6)
    assert set(evaluate_tokenizer(kit.tokenizer, cropped)) == {"mpjpe_mm", "mpjpe_aligned_mm", "root_error_mm",
                                                               "root_spread", "usage", "perplexity", "dead_codes",
                                                               "skate_speed", "skate_speed_truth",
                                                               *(f"mpjpe_{c}_mm" for c in CHAINS),
                                                               "mpjpe_contact_mm"}
    per_chain = [scores[f"mpjpe_{c}_mm"] for c in CHAINS]
    assert all(0 < e < 10 * scores["mpjpe_mm"] for e in per_chain) and len(set(per_chain)) == len(CHAINS)
    assert any(c.label in CONTACT_SPECS for c in cropped) and math.isfinite(scores["mpjpe_contact_mm"])


def test_ground_truth_fid_is_zero_and_pool_too_large_is_noted(report):
    assert abs(report["rows"]["ground truth"]["fid"]["mean"]) < 1e-6
    assert report["gt_half_fid"]["mean"] > 0  # two different halves are not the same set
    assert any("pool 8" in note for note in report["notes"])


def test_seeds_logged_and_same_seed_same_numbers(kit, clips, report):
    assert report["seed"] == 3 and len(set(report["seeds"])) == REPS
    again = evaluate(kit, clips, seed=3, **ARGS)
    assert again["rows"] == report["rows"] and again["seeds"] == report["seeds"]
    other = evaluate(kit, clips, seed=4, **ARGS)
    assert other["seeds"] != report["seeds"]
    assert other["rows"]["generated"]["fid"]["values"] != report["rows"]["generated"]["fid"]["values"]


def test_physics_section_compares_every_set(report):
    assert list(report["physics"]) == list(ROWS)
    gt = report["physics"]["ground truth"]
    assert gt["bone_drift"]["value"] < 1e-3  # real skeletons are rigid
    assert {"pen_share", "skate_speed", "jerk"} <= set(gt)


def test_markdown_and_json(report, artifacts, tmp_path):
    md_path, json_path = write_report(report, tmp_path / "out")
    text = md_path.read_text(encoding="utf-8")
    digest = hashlib.sha256((artifacts / "smoke" / "evaluator_best.pt").read_bytes()).hexdigest()
    assert report["evaluator_checksum"] == digest and digest in text
    assert "| row | FID ↓ | R@1 (4) ↑ | R@2 (4) ↑ | R@3 (4) ↑ | MM Dist ↓" in text
    assert "| ground truth | 0.000 ± 0.000 |" in text and "## Physics" in text
    assert report["text_anchor"] == 4 and "anchored to their 4 nearest training captions" in text  # smoke anchors
    loaded = json.loads(json_path.read_text(encoding="utf-8"))
    assert loaded["rows"]["generated"]["fid"]["values"] == report["rows"]["generated"]["fid"]["values"]
    assert loaded["environment"]["torch"] == torch.__version__
    assert sorted(p.name for p in md_path.parent.iterdir()) == ["report.json", "report.md", "report.png"]


def test_the_report_figure_has_one_panel_per_metric_with_intervals(report, tmp_path):
    from PIL import Image

    from intermask_lite.eval import plot_report
    from intermask_lite.eval.report_io import metric_label
    md_path, _ = write_report(report, tmp_path / "out")
    with Image.open(md_path.with_name("report.png")) as im:
        assert im.format == "PNG" and im.size[0] > 600
    fig = plot_report(report)
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.axison]
    shown = [k for k in report["metrics"] if any(report["rows"][n][k] for n in report["rows"])]
    assert [ax.get_title() for ax in panels] == [metric_label(k) for k in shown]
    fid = panels[0]
    assert len(fid.containers) == len(ROWS)                             # an error bar per row: mean ± 95 % CI
    for container, name in zip(fid.containers, ROWS):
        (x,), _ = container.lines[0].get_data()
        assert x == pytest.approx(report["rows"][name]["fid"]["mean"])
        caps = container.lines[1]                                      # the interval's two ends
        left, right = sorted(float(c.get_xdata()[0]) for c in caps)
        ci = report["rows"][name]["fid"]["ci"]
        assert (left, right) == pytest.approx((x - ci, x + ci))
    assert any(line.get_linestyle() == ":" for line in fid.lines)       # the ground truth marked
    json_only, _ = write_report(report, tmp_path / "plain", figure=False)
    assert not json_only.with_name("report.png").exists()


def test_one_progress_bar_counts_all_the_work_once(kit, clips, monkeypatch, capsys):
    bars = []

    class Recording(report_mod.tqdm):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.described, self.shown = [], not kwargs.get("disable")  # (close() sets .disable)
            bars.append(self)

        def set_description_str(self, desc=None, refresh=True):
            self.described.append(desc)
            super().set_description_str(desc, refresh)

    monkeypatch.setattr(report_mod, "tqdm", Recording)
    got = evaluate(kit, clips, seed=3, **{**ARGS, "progress": True})
    units = work_units(REPS)                                           # tokens, reaction and paraphrases
    assert len(units) == 2 + REPS * 6 + len(ROWS) and len(set(units)) == len(units)
    assert len(bars) == 1, "one bar over every replication and row"
    bar = bars[0]
    assert bar.total == len(units) and bar.n == bar.total and bar.shown
    assert bar.described == [f"evaluate: {u}" for u in units] + ["evaluate: done"]
    assert list(got["physics"]) == list(ROWS)
    err = capsys.readouterr().err                                      # nothing else draws a bar
    shown = [line.strip() for line in err.replace("\r", "\n").splitlines() if line.strip()]
    assert shown and all(line.startswith("evaluate") for line in shown), shown[:5]
    assert f"{len(units)}/{len(units)}" in shown[-1]
    bars.clear()
    evaluate(kit, clips, seed=3, **{**ARGS, "replications": 1, "reaction": False, "paraphrases": False})
    assert bars[0].total == len(work_units(1, reaction=False, paraphrases=False)) == 2 + 4 + 3
    assert not bars[0].shown and bars[0].described[-1] == "evaluate: done"   # progress=False: counted, unseen


def test_bad_input_errors(kit, clips):
    with pytest.raises(ValueError, match="replications must be >= 1"):
        evaluate(kit, clips, replications=0, progress=False)
    with pytest.raises(ValueError, match="at least 2 clips"):
        evaluate(kit, clips[:1], progress=False)
    no_evaluator = Kit(kit.preset, kit.tokenizer, kit.transformer)
    with pytest.raises(ValueError, match="evaluator=True"):
        evaluate(no_evaluator, clips, progress=False)


def test_cli_writes_both_files(artifacts, tmp_path, capsys):
    out = tmp_path / "eval"
    code = cli.main(["evaluate", "--preset", "smoke", "--artifacts-dir", str(artifacts), "--out", str(out),
                     "--device", "cpu", "--replications", "2"])
    assert code == 0
    assert (out / "report.md").exists() and json.loads((out / "report.json").read_text())["preset"] == "smoke"
    assert (out / "report.png").stat().st_size > 0
    captured = capsys.readouterr()
    assert "written:" in captured.out and "report.png" in captured.out
    bars = [line.strip() for line in captured.err.replace("\r", "\n").splitlines() if "it/s" in line or "%|" in line]
    assert bars and all(line.startswith("evaluate") for line in bars), bars[:5]  # one bar, no library's


def test_paraphrase_row_sits_beside_the_generated_row(report, clips):
    from intermask_lite.data.synthetic import HELD_OUT_PARAPHRASES
    from intermask_lite.eval.report import _paraphrases
    rows = report["rows"]
    para, gen = rows["generated (paraphrases)"]["class_acc"], rows["generated"]["class_acc"]
    assert len(para["values"]) == REPS
    if gen["mean"] > 0:
        assert math.isclose(report["paraphrase_share"], para["mean"] / gen["mean"])
        assert any("paraphrases is" in note for note in report["notes"])
    labels = [c.label for c in clips]
    chosen = _paraphrases(labels, seed=3)
    assert all(p in HELD_OUT_PARAPHRASES[label] for p, label in zip(chosen, labels))
    assert chosen == _paraphrases(labels, seed=3) and _paraphrases(labels + ["tango"], seed=3) is None
