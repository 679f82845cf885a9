"""The kit installs like a package: version, dependency ranges, extras that are used, licence and citation."""
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import intermask_lite
from intermask_lite import cli

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]

# Every package an extra lists, with where the kit uses it: (files searched, pattern that must match in one of them).
# A package that an extra lists but this table does not know fails test_every_extra_is_used: add its use here, or
# drop it from the extra (nbformat comes with papermill and nbval, safetensors and tokenizers with transformers).
EXTRA_USES = {
    "jupyterlab": (["Makefile"], r"jupyter lab\b"),  # make lab
    "ipywidgets": (["intermask_lite/viz/*.py"], r"^import ipywidgets\b"),  # the notebooks' widgets, and test_viz
    "ipykernel": (["intermask_lite/run_notebooks.py", "tests/test_notebooks.py"], r'kernel_name="python3"'),
    "papermill": (["intermask_lite/run_notebooks.py", "tests/test_notebooks.py"], r"^\s*import papermill\b"),
    "transformers": (["intermask_lite/text.py"], r"^\s*from transformers import\b"),  # the MiniLM text encoder
    "pytest": (["tests/*.py"], r"^import pytest\b"),
    "pytest-xdist": (["Makefile"], r"pytest .*-n \d"),
    "nbval": (["tests/test_notebooks.py"], r"--nbval-lax"),
}


def requirement_name(requirement: str) -> str:
    return re.match(r"[A-Za-z0-9._-]+", requirement).group(0).lower().replace("_", "-")


def test_version_flag_prints_the_version_and_exits_0(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out == f"intermask-lite {intermask_lite.__version__}\n"


def test_version_flag_from_the_command_line():
    out = subprocess.run([sys.executable, "-m", "intermask_lite", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == f"intermask-lite {PROJECT['version']}"


@pytest.mark.parametrize("argv0, prog", [("/venv/bin/intermask-lite", "intermask-lite"),
                                         (r"C:\venv\Scripts\intermask-lite.exe", "intermask-lite"),
                                         ("/src/intermask_lite/__main__.py", "python -m intermask_lite"),
                                         ("", "python -m intermask_lite")])
def test_program_name_is_the_invoked_name(monkeypatch, argv0, prog):
    monkeypatch.setattr(sys, "argv", [argv0])
    parser = cli.build_parser()
    assert parser.prog == prog
    assert parser.format_usage().startswith(f"usage: {prog} ")


def test_version_is_the_pyproject_version():
    assert intermask_lite.__version__ == PROJECT["version"]


def test_torch_is_a_range_and_the_exact_pin_is_a_constraint():
    torch = [r for r in PROJECT["dependencies"] if requirement_name(r) == "torch"]
    assert len(torch) == 1, PROJECT["dependencies"]
    assert "==" not in torch[0] and ">=" in torch[0] and "<" in torch[0].replace("<=", ""), torch[0]
    pins = [line.strip() for line in (ROOT / "constraints.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    assert "torch==2.13.0" in pins, pins
    installs = [line for line in (ROOT / "Makefile").read_text().splitlines() if "pip install" in line
                and ("torch" in line or "-e " in line)]
    assert installs and all("-c constraints.txt" in line for line in installs), installs


def test_every_extra_is_used():
    extras = PROJECT["optional-dependencies"]
    assert set(extras) == {"notebooks", "minilm", "test"}
    for extra, requirements in extras.items():
        for requirement in requirements:
            name = requirement_name(requirement)
            assert name in EXTRA_USES, f"extra {extra!r} lists {name}, which nothing in the kit uses (see EXTRA_USES)"
            globs, pattern = EXTRA_USES[name]
            files = [path for g in globs for path in sorted(ROOT.glob(g))]
            assert files, f"{name}: no file matches {globs}"
            assert any(re.search(pattern, path.read_text(), re.MULTILINE) for path in files), \
                f"{name} (extra {extra!r}): {pattern!r} found in none of {globs}"


def test_licence_and_citation():
    assert PROJECT["license"] == "MIT" and PROJECT["license-files"] == ["LICENSE"]
    licence = (ROOT / "LICENSE").read_text()
    assert licence.startswith("MIT License") and "Copyright (c) 2026 the intermask_lite authors" in licence
    citation = (ROOT / "CITATION.cff").read_text()
    assert re.search(r"^cff-version: 1\.2\.0$", citation, re.MULTILINE)
    assert f'version: "{PROJECT["version"]}"' in citation
    assert "https://arxiv.org/abs/2410.10010" in citation


def test_citation_parses_and_cites_the_paper():
    yaml = pytest.importorskip("yaml")
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["version"] == PROJECT["version"]
    assert cff["title"] == PROJECT["name"] and cff["license"] == "MIT"
    assert cff["authors"] == [{"name": "the intermask_lite authors"}]
    paper, = cff["references"]
    assert paper["type"] == "conference-paper" and paper["title"].startswith("InterMask:")
    assert [a["family-names"] for a in paper["authors"]] == ["Javed", "Guo", "Cheng", "Li"]
    assert {"type": "url", "value": "https://arxiv.org/abs/2410.10010"}.items() <= paper["identifiers"][0].items()


def test_py_typed_marker_ships():
    assert (ROOT / "intermask_lite" / "py.typed").is_file()
    assert PYPROJECT["tool"]["setuptools"]["package-data"]["intermask_lite"] == ["py.typed"]
