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
    "ruff": (["Makefile"], r"ruff check\b"),  # make lint
    "pre-commit": ([".pre-commit-config.yaml"], r"^repos:"),
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
    assert set(extras) == {"notebooks", "minilm", "test", "dev"}
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


def test_setup_ships_the_folders_the_package_looks_for():
    import ast
    tree = ast.parse((ROOT / "setup.py").read_text())
    shipped_in_setup, = [ast.literal_eval(node.value) for node in tree.body
                         if isinstance(node, ast.Assign) and node.targets[0].id == "SHIPPED"]
    from intermask_lite import shipped
    assert shipped_in_setup == shipped.SOURCE_FOLDERS
    for name, folder in shipped.SOURCE_FOLDERS.items():
        assert shipped.shipped_dir(name) == ROOT / folder                # a checkout reads its own folders
    with pytest.raises(ValueError, match="unknown shipped folder 'weights'.*checkpoints"):
        shipped.shipped_dir("weights")


def test_copy_notebooks_makes_a_course_folder_and_keeps_edited_notebooks(tmp_path, capsys):
    assert cli.main(["notebooks", "--dest", str(tmp_path / "course")]) == 0
    notebooks = sorted(p.name for p in (tmp_path / "course" / "notebooks").iterdir())
    assert notebooks == sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert (tmp_path / "course" / "docs" / "tokenizer_study.md").is_file()  # the notebooks link to ../docs/
    edited = tmp_path / "course" / "notebooks" / "00_quick_tour.ipynb"
    edited.write_text("my notes")
    assert cli.main(["notebooks", "--dest", str(tmp_path / "course")]) == 2
    assert "already there" in capsys.readouterr().err and edited.read_text() == "my notes"
    assert cli.main(["notebooks", "--dest", str(tmp_path / "course"), "--force"]) == 0
    assert edited.read_text() == (ROOT / "notebooks" / "00_quick_tour.ipynb").read_text()
    (tmp_path / "a_file").write_text("")
    assert cli.main(["notebooks", "--dest", str(tmp_path / "a_file")]) == 2
    assert "is a file; expected a folder" in capsys.readouterr().err


def _source_tree(dest: Path) -> Path:
    """The checkout's files as git sees them (committed or not, ignored ones left out) copied to dest."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout.split("\n")
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            (dest / name).write_bytes((ROOT / name).read_bytes())
    return dest


@pytest.mark.install
def test_the_wheel_installs_into_a_fresh_environment_and_generates_outside_the_repository(tmp_path):
    """Build the wheel, install it (alone) into a new virtual environment, generate from a folder elsewhere."""
    source = _source_tree(tmp_path / "source")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "dist"),
                    str(source)], check=True)
    wheel, = (tmp_path / "dist").glob("intermask_lite-*.whl")
    fresh = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(fresh)], check=True)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(fresh / "bin" / "python"), "install", "-q",
                    "--no-deps", str(wheel)], check=True)
    site, = (fresh / "lib").glob("python3*/site-packages")
    # the dependencies (torch, ...) come from this environment, after the wheel's own package on the path
    deps = [p for p in sys.path if p.endswith("site-packages")]
    (site / "zz_dependencies.pth").write_text("\n".join(deps) + "\n")
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {"PATH": f"{fresh / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path)}
    where = subprocess.run([str(fresh / "bin" / "python"), "-c", "import intermask_lite.checkpoints as c; "
                            "print(c.__file__); print(c.SHIPPED_DIR)"], cwd=work, env=env, check=True,
                           capture_output=True, text=True).stdout.split()
    assert all(p.startswith(str(site)) for p in where), where            # the installed copy, not the checkout
    run = subprocess.run([str(fresh / "bin" / "intermask-lite"), "generate", "two people shake hands",
                          "--seconds", "2", "--formats", "npz", "--out", "runs", "--threads", "1"], cwd=work,
                         env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert list((work / "runs").glob("*/*.npz")), run.stdout
    copied = subprocess.run([str(fresh / "bin" / "intermask-lite"), "notebooks", "--dest", "course"], cwd=work,
                            env=env, capture_output=True, text=True)
    assert copied.returncode == 0 and len(list((work / "course" / "notebooks").glob("*.ipynb"))) == 7


def test_pre_commit_hooks_run_this_environments_tools():
    yaml = pytest.importorskip("yaml")
    hooks = {h["id"]: h for repo in yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())["repos"]
             for h in repo["hooks"]}
    assert set(hooks) == {"ruff-check", "strip-notebook-outputs"}
    assert all(h["language"] == "system" for h in hooks.values())   # nothing fetched from the network
    strip = hooks["strip-notebook-outputs"]["entry"].split()
    assert strip[:3] == ["python", "-m", "intermask_lite.run_notebooks"] and "--strip-outputs" in strip
    notebook = next((ROOT / "notebooks").glob("00_*.ipynb"))
    assert re.search(hooks["strip-notebook-outputs"]["files"], notebook.relative_to(ROOT).as_posix())
