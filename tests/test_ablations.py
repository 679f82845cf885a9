"""Ablation switches of Inter-M (each builds, trains and changes what the model attends to) and the table script."""
import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from intermask_lite.config import smoke, with_overrides
from intermask_lite.studies.ablations import VARIANTS, scaled_train, table_markdown
from intermask_lite.mask_transformer.sampling import Sampling
from intermask_lite.mask_transformer.generate import decode, model_logits_fn
from intermask_lite.mask_transformer.tools import TokenIds, pad_tokens
from intermask_lite.mask_transformer.training import build_transformer, masked_token_loss

CAPTIONS = ["two people shake hands", "one person pushes the other"]
NB_CODE, COLS = 32, 6


def model_with(overrides, n_rows=5, randomise=True):
    """A smoke Inter-M with preset overrides; randomise: every weight random, so that the adaLN-Zero gates
    (zero at initialisation) do not hide the attention sub-layers."""
    preset = with_overrides(smoke(), [f"{k}={v}" for k, v in overrides.items()])
    torch.manual_seed(0)
    model = build_transformer(preset, NB_CODE, CAPTIONS, n_rows=n_rows)
    if randomise:
        with torch.no_grad():
            for p in model.parameters():
                p.normal_(0, 0.3)
    return model.eval(), preset


def tokens(n_rows=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(NB_CODE, (2, 2, n_rows, COLS), generator=g)  # (B, 2, R, C)


def logits(model, ids):
    with torch.no_grad():
        return model(ids, CAPTIONS)  # (B, 2, R, C, K)


SWITCHES = {**{name: o for name, o in VARIANTS.items() if not any(k.startswith("vq.") for k in o)},
            "linear masking schedule": {"transformer.schedule": "linear"}}


@pytest.mark.parametrize("name", list(SWITCHES))
def test_every_switch_builds_and_trains_a_few_steps(name):
    model, preset = model_with(SWITCHES[name], randomise=False)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    before = [p.detach().clone() for p in model.parameters()]
    ids = pad_tokens(tokens(), torch.tensor([COLS, 4]), TokenIds(NB_CODE))
    generator = torch.Generator().manual_seed(0)
    for _ in range(3):
        loss, stats = masked_token_loss(model, ids, CAPTIONS, preset.transformer, generator,
                                        preset.transformer_study.unroll, preset.transformer_study.unroll_mode)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        assert torch.isfinite(loss) and 0 <= stats["acc"] <= 1
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_switches_remove_their_sub_layers():
    full = model_with({})[0].blocks[0]
    assert all(m is not None for m in (full.self_attn, full.spatial, full.temporal, full.cross))
    assert model_with({"transformer_study.joint_self_attn": False})[0].blocks[0].self_attn is None
    assert model_with({"transformer_study.cross": False})[0].blocks[0].cross is None
    assert model_with({"transformer_study.independent": True})[0].blocks[0].cross is None
    st = model_with({"transformer_study.spatial": False, "transformer_study.temporal": False})[0].blocks[0]
    assert st.spatial is None and st.temporal is None and st.st_norm is None


def b_changes_a(model, n_rows=5):
    """Whether changing person B's tokens changes person A's logits."""
    ids = tokens(n_rows)
    other = ids.clone()
    other[:, 1] = (other[:, 1] + 7) % NB_CODE
    return not torch.allclose(logits(model, ids)[:, 0], logits(model, other)[:, 0], atol=1e-6)


def test_what_each_switch_lets_person_a_see_of_person_b():
    assert b_changes_a(model_with({})[0])
    # joint self-attention off: B still reaches A through cross-attention ...
    assert b_changes_a(model_with({"transformer_study.joint_self_attn": False})[0])
    # ... and through nothing else once cross-attention is off too
    assert not b_changes_a(model_with({"transformer_study.joint_self_attn": False,
                                       "transformer_study.cross": False})[0])
    # cross-attention off alone: the joint self-attention still mixes the people
    assert b_changes_a(model_with({"transformer_study.cross": False})[0])
    # independent generation: no path at all, with every other attention on
    assert not b_changes_a(model_with({"transformer_study.independent": True})[0])


def test_without_temporal_attention_a_column_sees_only_its_own_column():
    model = model_with({"transformer_study.joint_self_attn": False, "transformer_study.cross": False,
                        "transformer_study.temporal": False})[0]
    ids = tokens()
    other = ids.clone()
    other[:, 0, :, 3] = (other[:, 0, :, 3] + 5) % NB_CODE  # change column 3 of person A
    a, b = logits(model, ids)[:, 0], logits(model, other)[:, 0]  # (B, R, C, K)
    assert torch.allclose(a[:, :, :3], b[:, :, :3], atol=1e-6) and not torch.allclose(a[:, :, 3], b[:, :, 3])
    with_temporal = model_with({"transformer_study.joint_self_attn": False, "transformer_study.cross": False})[0]
    assert not torch.allclose(logits(with_temporal, ids)[:, 0, :, :3], logits(with_temporal, other)[:, 0, :, :3])


def test_one_row_token_maps_of_a_1d_tokenizer_train_and_decode():
    model, preset = model_with({}, n_rows=1, randomise=False)
    ids = pad_tokens(tokens(n_rows=1), torch.tensor([COLS, 3]), TokenIds(NB_CODE))
    assert ids.shape == (2, 2, 1, COLS) and (ids[1, :, :, 3:] == TokenIds(NB_CODE).pad).all()
    loss, _ = masked_token_loss(model, ids, CAPTIONS, preset.transformer, torch.Generator().manual_seed(0))
    assert torch.isfinite(loss)
    out = decode(model_logits_fn(model, CAPTIONS), [COLS, 3], COLS, NB_CODE, Sampling(steps=3),
                 n_rows=1)
    assert out.shape == (2, 2, 1, COLS) and (out[0] < NB_CODE).all()
    with pytest.raises(ValueError, match=r"\(B, 2, 1, T'\)"):
        model(tokens(n_rows=5), CAPTIONS)


def test_scaled_train_keeps_the_warmup_share():
    cfg = smoke().transformer_train
    lab_like = replace(cfg, steps=2400, warmup=200)
    short = scaled_train(lab_like, 600)
    assert (short.steps, short.warmup, short.eval_every) == (600, 50, 150)
    assert scaled_train(cfg, 1).warmup == 0


def test_table_script_quick_writes_markdown_and_json(tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import ablations as script
    out = tmp_path / "table"
    script.main(["--quick", "--out", str(out), "--only", "InterMask (2D tokens)", "1D tokens",
                 "--steps-sweep", "1", "--guidance-sweep", "1.0", "--diffusion-steps", "2"])
    table = json.loads((out / "ablations.json").read_text())
    names = [row["name"] for row in table["rows"]]
    assert names == ["InterMask (2D tokens)", "1D tokens", "diffusion baseline (InterGen-style)"]
    assert [r["decode_steps"] for r in table["steps_sweep"]] == [1]
    assert [r["guidance"] for r in table["guidance_sweep"]] == [1.0]
    assert [r["decode_steps"] for r in table["diffusion_steps_sweep"]] == [2]
    for row in table["rows"]:
        assert set(row["metrics"]) >= {"fid", "mm_dist", "diversity", "class_acc"}
        assert row["params"] > 0 and row["gen_seconds"]["1_threads"] > 0
    assert table["settings"]["steps"] == 6 and table["ground_truth"]["fid"]["mean"] == pytest.approx(0, abs=1e-6)
    markdown = (out / "ablations.md").read_text()
    assert markdown == table_markdown(table) and "| 1D tokens |" in markdown and "## DDIM steps" in markdown


def _row(name, value, model="intermask"):
    return {"name": name, "model": model, "params": 1000, "train_seconds": 60.0, "decode_steps": 20, "guidance": 2.0,
            "metrics": {"class_acc": {"mean": value, "ci": 0.01}}, "gen_seconds": {"1_threads": 0.5}}


def _table(rows, **extra):
    settings = {"preset": "lab", "steps": 200, "vq_steps": 150, "seed": 0, "replications": 2, "mm_prompts": 2,
                "test_clips": 42, "train_clips": 1596, "batch_size": 16, "threads": 1}
    return {"rows": rows, "settings": settings, "steps_sweep": [], "guidance_sweep": [], **extra}


def test_merge_orders_rows_as_the_variants_and_refuses_duplicates():
    from intermask_lite.studies.ablations import DIFFUSION, differences, merge_tables
    a = _table([_row(DIFFUSION, 0.2, "diffusion"), _row("independent people", 0.5)],
               diffusion_steps_sweep=[_row(DIFFUSION, 0.1, "diffusion")])
    b = _table([_row("no cross-attention", 0.59), _row("InterMask (2D tokens)", 0.6)],
               steps_sweep=[_row("InterMask (2D tokens)", 0.3)])
    merged = merge_tables([a, b], token_part=_table([_row("InterMask (2D tokens)", 0.1), _row("1D tokens", 0.2)]))
    assert [r["name"] for r in merged["rows"]] == ["InterMask (2D tokens)", "no cross-attention",
                                                   "independent people", DIFFUSION]
    assert len(merged["steps_sweep"]) == 1 and len(merged["diffusion_steps_sweep"]) == 1
    assert "## 2D against 1D tokens" in table_markdown(merged)
    verdicts = {d["name"]: d["verdict"] for d in differences(merged, "class_acc")}
    assert verdicts == {"no cross-attention": "within the intervals", "independent people": "worse",
                        DIFFUSION: "worse"}
    with pytest.raises(ValueError, match="measured twice"):
        merge_tables([b, b])


def test_table_markdown_states_the_total_time_only_when_measured():
    untimed = _table([_row("InterMask (2D tokens)", 0.6)])
    assert "Total time" not in table_markdown(untimed)                 # not "0.0 min" for a hand-made table
    assert "Total time: 2.0 min." in table_markdown({**untimed, "seconds": 120.0})
