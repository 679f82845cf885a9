"""The claims study: verdicts and power estimates on hand-built differences, rows from hand-written units, the
speed match on hand-built curves, and one tiny resumable run end to end (smoke preset)."""
import json
import math

import pytest
from scipy import stats

from intermask_lite import cli
from intermask_lite.studies import claims as C


def test_mean_ci_is_the_t_interval():
    mean, (lo, hi) = C.mean_ci([1.0, 2.0, 3.0])
    half = stats.t.ppf(0.975, 2) * 1.0 / math.sqrt(3)  # sample std 1
    assert mean == 2.0 and lo == pytest.approx(2 - half) and hi == pytest.approx(2 + half)
    assert all(math.isnan(x) for x in C.mean_ci([4.0])[1])


def test_verdicts_follow_the_interval_and_need_three_seeds():
    assert C.verdict([0.30, 0.32, 0.31])["verdict"] == "confirmed"
    assert C.verdict([-0.30, -0.32, -0.31])["verdict"] == "contradicted"
    two_agreeing = C.verdict([0.3, 0.3])  # an interval of width 0 from two seeds decides nothing
    assert two_agreeing["verdict"] == "unresolved"
    out = C.verdict([0.1, -0.05, 0.2])
    assert out["verdict"] == "unresolved" and out["n_seeds"] == 3 and out["ci95"][0] < 0 < out["ci95"][1]
    # the power estimate: the fewest n with t(0.975, n-1) * sd / sqrt(n) < |mean|
    sd, effect = stats.tstd([0.1, -0.05, 0.2]), abs(out["advantage"])
    n = out["seeds_to_resolve"]
    assert stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n) < effect <= stats.t.ppf(0.975, n - 2) * sd / math.sqrt(n - 1)
    assert C.seeds_to_resolve([0.2, 0.2, 0.2]) is None  # no spread measured: no estimate


def _unit(tmp_path, variant, seed, values, switch=None):
    unit = {"variant": variant, "seed": seed, "values": values, "params": 100, "tokenizer_params": 10,
            "train_seconds": 1.0, "settings": {"switch": switch or variant}}
    path = tmp_path / "runs" / f"{variant.replace(' ', '_')}__seed{seed}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(unit))


def test_rows_pair_seeds_and_orient_each_metric(tmp_path):
    claim = "cross-person attention helps"
    variant = C.CLAIMS[claim][0]
    for seed, (fid_ref, fid_var) in enumerate([(0.20, 0.30), (0.25, 0.36), (0.22, 0.31)]):
        same = {"top3": 0.5, "class_acc": 0.8, "touch_rate": 0.6}
        _unit(tmp_path, C.REFERENCE, seed, {"fid": fid_ref, **same})
        _unit(tmp_path, variant, seed, {"fid": fid_var, **same, "touch_rate": 0.4})
    _unit(tmp_path, variant, 3, {"fid": 0.0, "top3": 0, "class_acc": 0, "touch_rate": 0})  # no reference: unpaired
    study = C.ClaimStudy("smoke", tmp_path, seeds=3, claims=(claim,), speed_curve=False, progress=False)
    rows = study.rows()
    fid_rows = {r["variant"]: r for r in rows if r.get("metric") == "fid" and "variant" in r}
    assert fid_rows[variant]["mean"] == pytest.approx(0.97 / 3) and fid_rows[variant]["n_seeds"] == 3
    assert fid_rows[C.REFERENCE]["settings"] == {"switch": C.REFERENCE}
    verdicts = {r["metric"]: r for r in rows if "verdict" in r}
    # lower FID is better and the paper says the reference is better: a worse variant confirms the claim
    assert verdicts["fid"]["verdict"] == "confirmed" and verdicts["fid"]["decides"]
    assert verdicts["fid"]["advantage"] == pytest.approx(0.1)
    assert verdicts["touch_rate"]["verdict"] == "confirmed" and not verdicts["touch_rate"]["decides"]
    assert verdicts["top3"]["verdict"] == "unresolved"  # identical everywhere
    with pytest.raises(ValueError, match="unknown claims"):
        C.ClaimStudy("smoke", tmp_path, claims=("the moon is cheese",))


def test_step_unroll_is_claimed_to_help_so_its_sign_flips(tmp_path):
    claim = "step-unroll helps"
    for seed in range(3):
        _unit(tmp_path, C.REFERENCE, seed, {"fid": 0.3 + seed / 100, "top3": 0.5, "class_acc": 0.8, "touch_rate": 0.6})
        _unit(tmp_path, C.CLAIMS[claim][0], seed, {"fid": 0.2, "top3": 0.5, "class_acc": 0.8, "touch_rate": 0.6})
    rows = C.ClaimStudy("smoke", tmp_path, claims=(claim,), progress=False).rows()
    fid = next(r for r in rows if "verdict" in r and r["metric"] == "fid")
    assert fid["verdict"] == "confirmed" and fid["advantage"] == pytest.approx(0.11)


def test_matched_speed_interpolates_in_log_time():
    curve = [{"method": "masked", "steps": s, "seconds_per_sample": t, "fid": f}
             for s, t, f in [(1, 0.01, 0.9), (5, 0.05, 0.3), (20, 0.2, 0.25)]]
    curve += [{"method": "ddim", "steps": s, "seconds_per_sample": t, "fid": f}
              for s, t, f in [(5, 0.1, 1.0), (10, 0.2, 0.6), (50, 1.0, 0.4)]]
    out = C.matched_speed(curve)
    assert out["fid"] == 0.4  # the best FID both reach: DDIM's best
    assert out["ddim_seconds"] == pytest.approx(1.0)
    # masked: between 0.01 s (0.9) and 0.05 s (0.3), 5/6 of the way in log time
    assert out["masked_seconds"] == pytest.approx(math.exp(math.log(0.01) + 5 / 6 * math.log(5)))
    assert out["speedup"] == pytest.approx(1.0 / out["masked_seconds"])
    assert C.matched_speed([r for r in curve if r["method"] == "masked"]) is None


def test_matched_steps_fill_the_wall_clock_and_bad_budgets_are_refused(tmp_path):
    assert C.matched_steps(60.0, 0.25) == 240 and C.matched_steps(0.0, 0.5) == 1
    with pytest.raises(ValueError, match="positive seconds_per_step"):
        C.matched_steps(60.0, 0.0)
    with pytest.raises(ValueError, match="'matched' or None, not 'same'"):
        C.ClaimStudy("smoke", tmp_path, diffusion_steps="same")
    with pytest.raises(ValueError, match="not 0"):
        C.ClaimStudy("smoke", tmp_path, diffusion_steps=0)


def test_a_tiny_study_runs_resumes_and_writes_claims_json(tmp_path, capsys):
    args = ["study", "--preset", "smoke", "--seeds", "2", "--steps", "4", "--vq-steps", "4", "--eval-clips", "8",
            "--replications", "1", "--claim", "2D token maps beat 1D tokens", "--work-dir", str(tmp_path / "w"),
            "--out", str(tmp_path / "claims.json"), "--threads", "1", "--diffusion-steps", "matched"]
    assert cli.main(args) == 0
    rows = json.loads((tmp_path / "claims.json").read_text())
    metric_rows = [r for r in rows if "variant" in r]
    assert {r["variant"] for r in metric_rows} == {C.REFERENCE, "1D tokens"}
    assert {r["metric"] for r in metric_rows} == {*C.METRICS, *C.TOKEN_METRICS}
    assert all(r["n_seeds"] == 2 and len(r["ci95"]) == 2 for r in metric_rows)
    # the two variants' settings differ in the switch under test alone
    ref = next(r for r in metric_rows if r["variant"] == C.REFERENCE)["settings"]
    oned = next(r for r in metric_rows if r["variant"] == "1D tokens")["settings"]
    diff = {k for k in ref["preset"] if ref["preset"][k] != oned["preset"][k]}
    assert diff == {"vq"} and {k for k in ref["preset"]["vq"] if ref["preset"]["vq"][k] != oned["preset"]["vq"][k]} \
        == {"kind"}
    speed = [r for r in rows if "method" in r]
    assert [(r["method"], r["steps"]) for r in speed] == [("masked", s) for s in C.MASKED_STEPS] + \
        [("ddim", s) for s in C.DDIM_STEPS]
    assert all(r["seconds_per_sample"] > 0 and r["fid"] >= 0 and r["train_seconds"] > 0 for r in speed)
    assert {r["train_steps"] for r in speed if r["method"] == "masked"} == {4}
    ddim_steps = {r["train_steps"] for r in speed if r["method"] == "ddim"}
    assert len(ddim_steps) == 1 and min(ddim_steps) >= 1                  # sized to the masked model's wall clock
    assert (tmp_path / "w" / "calibration").is_dir()                     # after a timed probe of the baseline
    assert "2D token maps beat 1D tokens: unresolved" in capsys.readouterr().out
    units = sorted((tmp_path / "w" / "runs").glob("*.json"))
    stamps = [u.stat().st_mtime_ns for u in units]
    assert cli.main(args) == 0  # everything measured: nothing retrained or re-measured
    assert [u.stat().st_mtime_ns for u in sorted((tmp_path / "w" / "runs").glob("*.json"))] == stamps


def _decided(claim, verdict_word, advantage, ci):
    return {"claim": claim, "metric": "fid", "decides": True, "verdict": verdict_word, "advantage": advantage,
            "ci95": ci, "n_seeds": 3, **({"seeds_to_resolve": 12} if verdict_word == "unresolved" else {})}


def test_verdict_table_and_plots_show_each_claim():
    import matplotlib
    matplotlib.use("Agg")
    from intermask_lite.viz import ablation_plots as ap
    rows = [_decided("2D token maps beat 1D tokens", "confirmed", 0.1, [0.05, 0.15]),
            _decided("step-unroll helps", "unresolved", -0.01, [-0.05, 0.03]),
            {"claim": "step-unroll helps", "metric": "top3", "decides": False, "verdict": "unresolved",
             "advantage": 0.0, "ci95": [0.0, 0.0], "n_seeds": 3}]
    rows += [{"method": m, "steps": s, "seconds_per_sample": t, "fid": f, "train_steps": 600, "train_seconds": 90.0}
             for m, s, t, f in [("masked", 5, 0.05, 0.3), ("masked", 20, 0.2, 0.25), ("ddim", 10, 0.2, 0.6),
                                ("ddim", 50, 1.0, 0.3)]]
    table = C.verdict_markdown(rows).splitlines()
    assert table[2] == "| 2D token maps beat 1D tokens | **confirmed** | fid | +0.100 [+0.050, +0.150] | 3 | - |"
    assert table[3].startswith("| step-unroll helps | **unresolved** |") and table[3].endswith("| 3 | 12 |")
    assert len(table) == 6 and "masked decoding takes 0.050 s per sample and DDIM 1.000 s: 20.0x" in table[5]
    fig = ap.plot_claims(rows)
    assert len(fig.axes[0].patches) == 2  # one bar per deciding row
    fig = ap.plot_speed_curve(rows)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert all(text.endswith("trained 600 steps / 1.5 min") for text in legend), legend
    assert [len(line.get_xdata()) for line in fig.axes[0].lines] == [2, 2]
    with pytest.raises(ValueError, match="intermask-lite study"):
        ap.plot_claims(rows[-4:])
    with pytest.raises(ValueError, match="speed-curve rows"):
        ap.plot_speed_curve(rows[:3])
