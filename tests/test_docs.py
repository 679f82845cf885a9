"""The documents' relative links point at files that exist."""
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^)\s]+)\)")                       # [text](target) and ![alt](target)


def relative_links(markdown: str) -> list[str]:
    """The targets of the Markdown links in `markdown` that are paths, not web addresses or anchors."""
    targets = (t.split("#")[0] for t in LINK.findall(markdown))
    return [t for t in targets if t and not re.match(r"[a-z]+:", t)]


def documents() -> list[tuple[Path, str]]:
    """Every Markdown file of the kit and every notebook's markdown cells, with their text."""
    docs = [ROOT / "README.md", ROOT / "data" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    found = [(p, p.read_text()) for p in docs if p.exists()]
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb.read_text())["cells"]
        found.append((nb, "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")))
    return found


def test_relative_links_finds_paths_only():
    text = "see [a](docs/a.md), ![b](b.png), [c](https://x.org/c.md), [d](#top), [e](../e.md#part)"
    assert relative_links(text) == ["docs/a.md", "b.png", "../e.md"]


@pytest.mark.parametrize("path,text", documents(), ids=lambda v: v.name if isinstance(v, Path) else "")
def test_relative_links_resolve(path, text):
    missing = [t for t in relative_links(text) if not (path.parent / t).exists()]
    assert not missing, f"{path.relative_to(ROOT)} links to files that do not exist: {missing}"


def test_the_tokenizer_study_is_linked_from_the_readme():
    assert "(docs/tokenizer_study.md)" in (ROOT / "README.md").read_text()
    assert (ROOT / "docs" / "tokenizer_study.md").exists()


def test_every_iml_name_in_the_readme_resolves():
    """`iml.data.caption_augment`, `iml.text.CaptionAnchor`, ...: each dotted name the README uses exists, in a fresh
    interpreter (so a submodule that only works once something else imported it fails here)."""
    import subprocess
    import sys
    names = sorted(set(re.findall(r"\biml\.[A-Za-z_][\w.]*[A-Za-z_0-9]", (ROOT / "README.md").read_text())))
    assert len(names) >= 8, names                                       # the check sees the README's names
    script = ("import sys, intermask_lite as iml\n"
              "def resolves(name):\n"
              "    obj = iml\n"
              "    for part in name.split('.')[1:]:\n"
              "        try:\n"
              "            obj = getattr(obj, part)\n"
              "        except AttributeError:\n"
              "            return False\n"
              "    return True\n"
              "print([n for n in sys.argv[1:] if not resolves(n)])\n")
    out = subprocess.run([sys.executable, "-c", script, *names], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", f"README names that do not resolve: {out.stdout}"
