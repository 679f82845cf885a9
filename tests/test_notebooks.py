"""Every notebook: one literal-only `parameters` cell, outputs committed only where nbval checks them, prose that
quotes no measured figure, a clean smoke run, and `pytest --nbval-lax` passing over them in smoke mode."""
import ast
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from intermask_lite import run_notebooks
from intermask_lite.run_notebooks import CHECK_MARK, copy_checked_outputs, is_checked, notebook_paths

NOTEBOOKS = notebook_paths()


def load(path):
    return json.loads(path.read_text())


def test_there_are_notebooks():
    assert NOTEBOOKS, "no numbered notebooks found in notebooks/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_structure(path):
    cells = load(path)["cells"]
    params = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1, f"{path.name}: {len(params)} cells tagged 'parameters', expected exactly 1"
    tree = ast.parse("".join(params[0]["source"]))
    for node in tree.body:
        assert isinstance(node, ast.Assign), f"{path.name}: parameters cell may only assign literals"
        ast.literal_eval(node.value)  # raises if not a flat literal
    names = {t.id for n in tree.body for t in n.targets}
    assert {"preset", "device", "seed", "artifacts_dir", "smoke"} <= names, f"{path.name}: missing parameters"
    for i, c in enumerate(cells):
        if c["cell_type"] != "code":
            continue
        if is_checked(c):  # its output is committed, text only, with an execution count, for nbval to compare
            kinds = {o["output_type"] for o in c.get("outputs", [])}
            assert kinds == {"stream"}, f"{path.name}: checked cell {i} must hold its printed output, got {kinds}"
            assert c.get("execution_count"), f"{path.name}: checked cell {i} needs an execution count (nbval)"
        else:
            assert not c.get("outputs") and c.get("execution_count") is None, \
                f"{path.name}: cell {i} has outputs committed (only {CHECK_MARK} cells may)"
    assert cells[0]["cell_type"] == "markdown" and cells[0]["source"][0].startswith("# "), "title first"


# What a measured figure looks like in prose: an error in mm, a ratio such as 0.92x, a metric named next to a decimal
# number, a share of tokens that agree. Thresholds and settings (10 cm, 1 m/s, 20 % of the steps) are not measured.
MEASURED = [
    re.compile(r"\b\d+(?:\.\d+)?\s?mm\b"),
    re.compile(r"\b\d+\.\d+\s?x\b"),
    re.compile(r"(?i)\b(?:accuracy|FID|R@\d|R-precision|MPJPE|touch rate|perplexity|diversity|mode share|jerk|drift|"
               r"loss)\b[^.\n\d]{0,30}\d*\.\d+"),
    re.compile(r"\b\d+(?:\.\d+)?\s?%\s(?:of (?:its|their|the) tokens|accuracy|agree)"),
]


def measured_figures(markdown: str) -> list[str]:
    """The measured-looking figures a markdown text quotes (each with a little context)."""
    return [markdown[max(0, m.start() - 30): m.end()] for p in MEASURED for m in p.finditer(markdown)]


def test_measured_figures_are_found_in_prose():
    """The check itself: figures quoted from a run are caught, thresholds and settings are not."""
    assert measured_figures("the 2D tokenizer reaches 68 mm") and measured_figures("paraphrases reach 0.86x")
    assert measured_figures("class accuracy falls to 0.52") and measured_figures("FID 0.31 ± 0.02")
    assert measured_figures("19 % of their tokens come back")
    assert not measured_figures("within 10 cm for 0.3 s, slower than 1 m/s, after 20 % of the steps, 12 x 22 x 4")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_prose_quotes_no_measured_figure(path):
    """Numbers about an output come from that output (printed by a cell, or asserted after it), never from the
    prose: a quoted figure goes stale with the next checkpoint."""
    quoted = [(i, f) for i, c in enumerate(load(path)["cells"]) if c["cell_type"] == "markdown"
              for f in measured_figures("".join(c["source"]))]
    assert quoted == [], f"{path.name}: markdown cells quote measured figures (cell, text): {quoted}"


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    # one folder for the whole run, so later notebooks load what earlier ones saved (as in `make run`)
    return tmp_path_factory.mktemp("artifacts")


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_runs_in_smoke_mode(path, artifacts, tmp_path, monkeypatch):
    import papermill as pm

    monkeypatch.setenv("INTERMASK_SMOKE", "1")
    pm.execute_notebook(str(path), str(tmp_path / path.name), cwd=str(path.parent), kernel_name="python3",
                        progress_bar=False, parameters=dict(smoke=True, artifacts_dir=str(artifacts)))
    leaks = [(i, line) for i, c in enumerate(load(tmp_path / path.name)["cells"]) for o in c.get("outputs", [])
             if o.get("output_type") == "stream" for line in "".join(o["text"]).splitlines()
             if "Loading weights" in line or "UserWarning: VQWindowDataset" in line]
    assert leaks == [], f"{path.name}: library progress bars or warnings on the kit's own data: {leaks[:3]}"


def test_timing_table_sums_the_notebooks_and_judges_the_lab_target():
    from intermask_lite.run_notebooks import TARGET_MINUTES, timing_table
    fast = timing_table({"00_a.ipynb": 100.0, "01_b.ipynb": 200.0}, 1, "lab")
    assert "300" in fast and "met (5.0 min)" in fast and "threads=1" in fast
    slow = timing_table({"00_a.ipynb": TARGET_MINUTES * 60 + 1.0}, 1, "lab")
    assert "MISSED" in slow
    assert "target" not in timing_table({"00_a.ipynb": 5.0}, 1, "smoke")   # smoke runs are not judged


def test_checked_outputs_are_copied_from_a_run(tmp_path):
    """copy_checked_outputs writes only the checked cells' printed output, and refuses another notebook."""
    cell = lambda src, outs=(): {"cell_type": "code", "metadata": {}, "source": [src], "outputs": list(outs),
                                 "execution_count": None}
    printed = {"output_type": "stream", "name": "stdout", "text": ["4\n"]}
    picture = {"output_type": "display_data", "data": {}, "metadata": {}}
    source, executed = tmp_path / "a.ipynb", tmp_path / "run.ipynb"
    source.write_text(json.dumps({"cells": [cell(CHECK_MARK + "\nprint(4)"), cell("print(5)")], "metadata": {}}))
    executed.write_text(json.dumps({"cells": [cell(CHECK_MARK + "\nprint(4)", [printed, picture]),
                                              cell("print(5)", [printed])], "metadata": {}}))
    assert copy_checked_outputs(executed, source) == 1
    cells = json.loads(source.read_text())["cells"]
    assert cells[0]["outputs"] == [printed] and cells[1]["outputs"] == [] and cells[0]["execution_count"] == 1
    executed.write_text(json.dumps({"cells": [cell("x")], "metadata": {}}))
    with pytest.raises(ValueError, match="has 1 cells"):
        copy_checked_outputs(executed, source)


def test_strip_outputs_keeps_only_the_checked_cells_printed_output(tmp_path, capsys):
    """The pre-commit hook: unchecked cells lose outputs and counts, checked cells keep their stream output."""
    def cell(src, outs, count):
        return {"cell_type": "code", "metadata": {}, "source": [src], "outputs": outs, "execution_count": count}
    printed = {"output_type": "stream", "name": "stdout", "text": ["4\n"]}
    picture = {"output_type": "display_data", "data": {}, "metadata": {}}
    path = tmp_path / "a.ipynb"
    path.write_text(json.dumps({"cells": [cell(CHECK_MARK + "\nprint(4)", [printed, picture], 3),
                                          cell("plot()", [picture], 4),
                                          {"cell_type": "markdown", "metadata": {}, "source": ["# hi"]}],
                                "metadata": {}}))
    assert run_notebooks.main(["--strip-outputs", str(path)]) == 1     # changed: the hook fails, as pre-commit wants
    checked, plain, text = json.loads(path.read_text())["cells"]
    assert checked["outputs"] == [printed] and checked["execution_count"] == 3
    assert plain["outputs"] == [] and plain["execution_count"] is None and text["source"] == ["# hi"]
    assert "outputs stripped" in capsys.readouterr().out
    assert run_notebooks.main(["--strip-outputs", str(path)]) == 0     # already clean: unchanged
    for nb in NOTEBOOKS:                                                 # the committed notebooks are clean already
        copy = tmp_path / nb.name
        copy.write_text(nb.read_text())
        assert not run_notebooks.strip_outputs(copy), f"{nb.name} would change when stripped"


@pytest.mark.notebook
def test_nbval_lax_passes_in_smoke_mode(tmp_path):
    """`pytest --nbval-lax` over copies of the notebooks (so ../artifacts is a fresh folder), in smoke mode: every
    cell runs, and each checked cell prints what the notebook holds."""
    assert any(is_checked(c) for p in NOTEBOOKS for c in load(p)["cells"]), "no checked cells at all"
    folder = tmp_path / "notebooks"
    folder.mkdir()
    for path in NOTEBOOKS:
        shutil.copy(path, folder / path.name)
    env = dict(os.environ, INTERMASK_SMOKE="1")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
                          "--rootdir", str(tmp_path), str(folder)], cwd=tmp_path, env=env, capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
