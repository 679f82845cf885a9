"""Presets, config round trips, seeding, devices, atomic checkpoints and the packages' lazy imports."""
import os
import subprocess
import sys

import pytest
import torch

from intermask_lite import config, utils


def test_presets_shrink_sizes_not_mechanisms():
    s, lab, p = config.smoke(), config.lab(), config.paper()
    assert s.vq.nb_code < lab.vq.nb_code <= p.vq.nb_code == 1024
    assert p.vq.code_dim == 512 and p.transformer.latent_dim == 384 and p.transformer.n_layers == 6
    for preset in (s, lab, p):  # every preset keeps every mechanism on
        t, study = preset.transformer, preset.transformer_study
        assert study == config.TransformerStudyConfig() and study.spatial and study.cross and not study.independent
        assert t.interaction_mask_prob == pytest.approx(0.2) and t.text_drop_prob == pytest.approx(0.1)
        assert preset.data.window % 4 == 0 and preset.data.max_frames % 4 == 0


def test_preset_dict_round_trip_and_errors():
    p = config.paper()
    assert config.Preset.from_dict(p.to_dict()) == p
    with pytest.raises(ValueError, match="unknown preset 'huge'"):
        config.get_preset("huge")
    bad = p.to_dict()
    bad["vq"]["codes"] = 3
    with pytest.raises(ValueError, match="codes"):
        config.Preset.from_dict(bad)


def test_seed_everything_is_deterministic():
    utils.seed_everything(5)
    a = torch.randn(4)
    g = utils.seed_everything(5)
    assert torch.equal(a, torch.randn(4))
    assert torch.equal(torch.randn(3, generator=g), torch.randn(3, generator=torch.Generator().manual_seed(5)))


def test_get_device_auto_is_available_device():
    dev = utils.get_device("auto")
    assert dev.type in {"cpu", "cuda", "mps"}
    assert utils.get_device("cpu") == torch.device("cpu")


def test_smoke_switch(monkeypatch):
    monkeypatch.setenv("INTERMASK_SMOKE", "1")
    assert utils.is_smoke()
    monkeypatch.setenv("INTERMASK_SMOKE", "0")
    assert not utils.is_smoke()


def test_atomic_checkpoint_round_trip_and_errors(tmp_path):
    path = tmp_path / "sub" / "ck.pt"
    utils.atomic_torch_save({"format": utils.CHECKPOINT_FORMAT, "kind": "vq", "w": torch.arange(3)}, path)
    assert os.listdir(path.parent) == ["ck.pt"]  # no temp file left behind
    ck = utils.load_checkpoint(path, kind="vq")
    assert torch.equal(ck["w"], torch.arange(3))
    with pytest.raises(ValueError, match="expected 'transformer'"):
        utils.load_checkpoint(path, kind="transformer")
    utils.atomic_torch_save({"format": 999, "kind": "vq"}, path)
    with pytest.raises(ValueError, match="format 999"):
        utils.load_checkpoint(path)
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        utils.load_checkpoint(tmp_path / "nope.pt")


def test_overrides_change_single_fields_of_a_copy():
    base = config.lab()
    p = config.with_overrides(base, ["vq.nb_code=1024", "vq_train.lr=7e-4", "vq.w_pos=1", "vq_study.joint_order=chains",
                                     "vq_train.milestones=(0.5, 0.9)", "vq_train.cpu_bf16=False",
                                     "transformer_train.mirror=true"])
    assert ((p.vq.nb_code, p.vq_train.lr, p.vq_study.joint_order, p.vq_train.milestones)
            == (1024, 7e-4, "chains", (0.5, 0.9)))
    assert p.vq.w_pos == 1.0 and isinstance(p.vq.w_pos, float) and p.vq_train.cpu_bf16 is False
    assert p.transformer_train.mirror is True                                        # true as a shell user writes it
    assert p.vq.width == base.vq.width and p.transformer == base.transformer        # the rest untouched
    assert base == config.lab()                                                      # the given preset too
    assert config.Preset.from_dict(p.to_dict()) == p                                 # still round-trips


def test_with_steps_cuts_every_training_and_nothing_else():
    paper = config.paper()
    short = config.with_steps(paper, 400)
    assert [getattr(short, n).steps for n in ("vq_train", "transformer_train", "evaluator_train")] == [400] * 3
    assert short.vq_train.eval_every == 100 and short.vq_train.lr == paper.vq_train.lr and short.name == "paper"
    assert (short.vq, short.transformer, short.data) == (paper.vq, paper.transformer, paper.data)
    with pytest.raises(ValueError, match="steps must be an int >= 1"):
        config.with_steps(paper, 0)


@pytest.mark.parametrize("item, message", [
    ("nb_code=1024", "expected section.field=value"),
    ("vq.nb_code", "expected section.field=value"),
    ("model.nb_code=1", "unknown section 'model'"),
    ("vq.nbcode=1", "section 'vq' has no field 'nbcode'; its fields: \\['nb_code'"),
    ("vq.nb_code=1.5", "holds int values \\(now 512\\), got float 1.5"),
    ("vq_train.cpu_bf16=yes", "holds bool values \\(now True\\), got str 'yes'"),
    ("vq_study.joint_order=3", "holds str values"),
])
def test_overrides_reject_what_does_not_fit(item, message):
    with pytest.raises(ValueError, match=message):
        config.with_overrides(config.lab(), [item])


@pytest.mark.parametrize("statement", [
    "from intermask_lite import Motion, load_pretrained, vq, kit",
    "from intermask_lite.vq import pipeline, train_tokenizer, load_tokenizer",
    "from intermask_lite.eval import evaluate_tokenizer",
    "from intermask_lite.data import synthetic, features",
    "from intermask_lite.viz import browse, token_plots",
])
def test_lazy_names_import_in_a_fresh_interpreter(statement):
    # each package loads its heavy parts on first use; `from package import name` must reach them too
    done = subprocess.run([sys.executable, "-c", statement], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-500:]


def test_checkpoint_configs_from_before_the_study_section_still_load():
    """The study switches used to live in vq, data and transformer; such a stored preset loads into vq_study and
    transformer_study (the shipped transformer checkpoint was written so)."""
    old = config.lab().to_dict()
    study = old.pop("vq_study")
    old.pop("transformer_study")
    old["vq"].update(joint_order="chains", quantize=study["quantize"], foot_from=0.25)
    old["data"]["vq_short_clips"] = "reflect"
    old["transformer"].update(joint_self_attn=True, spatial=False, temporal=True, cross=True, independent=False,
                              unroll=True)
    p = config.Preset.from_dict(old)
    assert (p.vq_study.joint_order, p.vq_study.quantize, p.vq_study.foot_from, p.vq_study.short_clips) == \
        ("chains", True, 0.25, "reflect")
    assert p.transformer_study == config.TransformerStudyConfig(spatial=False, unroll=True)
    assert p.vq == config.lab().vq and p.transformer == config.lab().transformer
    assert "joint_order" in old["vq"] and "spatial" in old["transformer"]  # the caller's dict is left as it was
