"""The library's layout: evaluation above the models, no import cycles, no empty packages, no dangling files."""
import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "intermask_lite"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every intermask_lite module a file imports, at the top or inside functions ("from . import x" included)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("intermask_lite")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            if not base.startswith("intermask_lite"):
                continue
            for alias in node.names:  # `from pkg import module` imports the module
                sub = f"{base}.{alias.name}"
                found.add(sub if (PACKAGE.parent / (sub.replace(".", "/") + ".py")).exists()
                          or (PACKAGE.parent / sub.replace(".", "/")).is_dir() else base)
    return found - {name}


def graph() -> dict[str, set[str]]:
    files = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(p) for p in files}
    return {module_name(p): {m for m in imports_of(p) if m in modules and not module_name(p).startswith(m + ".")}
            for p in files}


def test_the_models_never_import_the_evaluation():
    offenders = {m: sorted(i for i in deps if i.startswith("intermask_lite.eval"))
                 for m, deps in graph().items()
                 if m.startswith(("intermask_lite.vq", "intermask_lite.mask_transformer", "intermask_lite.data"))}
    assert {m: d for m, d in offenders.items() if d} == {}


def find_cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Import cycles of a module graph, each as the path that closes it (depth-first)."""
    cycles, done = [], set()

    def visit(node, path):
        for nxt in sorted(g.get(node, ())):
            if nxt in path:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in done:
                visit(nxt, path + [nxt])
        done.add(node)

    for start in sorted(g):
        if start not in done:
            visit(start, [start])
    return cycles


def test_the_cycle_finder_finds_cycles():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []
    g = graph()  # and the graph sees lazy imports inside functions: the kit loads checkpoints, the CLI the kit
    assert "intermask_lite.checkpoints" in g["intermask_lite.kit"] and "intermask_lite.kit" in g["intermask_lite.cli"]


def test_no_import_cycles_between_modules():
    assert find_cycles(graph()) == []


def test_no_empty_packages():
    for init in PACKAGE.rglob("__init__.py"):
        modules = [p for p in init.parent.iterdir() if p.suffix == ".py" and p.name != "__init__.py"]
        assert modules or len(init.read_text().splitlines()) > 3, f"{init.parent} is an empty package"


@pytest.mark.parametrize("doc", ["README.md", "data/README.md", "docs/tokenizer_study.md",
                                 *[str(p.relative_to(ROOT)) for p in sorted((ROOT / "notebooks").glob("*.ipynb"))],
                                 *[str(p.relative_to(ROOT)) for p in sorted(PACKAGE.rglob("*.py"))]])
def test_files_named_in_the_repository_exist(doc):
    """Paths like `docs/x.md`, `benchmarks/y.py` or `notebooks/z.ipynb` that a file names are in the repository."""
    text = (ROOT / doc).read_text()
    named = set(re.findall(r"(?<![\w/])((?:docs|benchmarks|notebooks|tests|data)/"
                           r"[\w./-]+\.(?:md|py|ipynb|json|png|pt))", text))
    missing = sorted(p for p in named if not (ROOT / p).exists() and "<" not in p)
    assert missing == []


def test_every_module_of_the_package_is_an_attribute_of_it():
    """`iml.<module>` works for every top-level module and package (loaded lazily), as the README uses them."""
    import intermask_lite as iml
    names = {p.stem for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "__main__")}
    names |= {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    missing = sorted(n for n in names if not hasattr(iml, n))
    assert missing == []
