"""The package's layers look only down (docs/architecture.md): a module imports its own layer or lower ones."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "intermask_lite"

# bottom to top; a module belongs to the longest prefix that names it (docs/architecture.md draws this)
LAYERS = [
    ("values", ["config", "skeleton", "utils", "history", "shipped", "ik", "motion", "placement", "distributed",
                "data.clip", "data.augment", "data.bvh"]),
    ("data", ["data", "data.features", "data.datasets", "data.synthetic", "data.interhuman", "data.interx",
              "data.realdata", "data.sources", "data.caption_augment"]),
    ("metrics and physics", ["eval", "eval.metrics", "eval.physics"]),
    ("models", ["vq", "mask_transformer", "text", "baselines", "evaluator", "train"]),
    ("cleanup and evaluation", ["cleanup", "eval.tokenizer_eval", "eval.report", "eval.report_io"]),
    ("kit", ["kit", "checkpoints", "familiarity", "runs"]),
    ("studies", ["studies"]),
    ("cli and notebooks", ["cli", "run_notebooks", "viz", "__main__", ""]),
]
# upward imports allowed, each inside a function so that importing the lower module never loads the upper one:
# Motion's viewing helpers (.show, .to_html, .filmstrip, .to_gif) draw with viz, loaded when first called
LAZY_UPWARD = {("motion", "viz.playback"), ("motion", "viz.filmstrip")}


def layer_of(module: str) -> int:
    found = [(len(p), i) for i, (_, prefixes) in enumerate(LAYERS) for p in prefixes
             if module == p or module.startswith(p + ".") or p == ""]
    assert found, f"module {module!r} is in no layer: add it to LAYERS and docs/architecture.md"
    return max(found)[1]


def package_imports():
    """(module, imported module, line, inside a function) for every relative import of the package."""
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        is_init = parts[-1] == "__init__"
        module = ".".join(parts[:-1] if is_init else parts)
        package = parts[:-1]                                           # the package the import is relative to
        tree = ast.parse(path.read_text(encoding="utf-8"))
        in_function = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                       for n in ast.walk(f)}
        for node in ast.walk(tree):
            if not (isinstance(node, ast.ImportFrom) and node.level):
                continue
            base = package[: len(package) - node.level + 1]
            named = ".".join(base + (node.module.split(".") if node.module else []))
            for alias in node.names:                                   # `from .data import bvh` imports data.bvh
                sub = f"{named}.{alias.name}".strip(".")
                target = sub if (PACKAGE / sub.replace(".", "/")).with_suffix(".py").exists() or \
                    (PACKAGE / sub.replace(".", "/")).is_dir() else named
                yield module, target, node.lineno, id(node) in in_function


def test_every_import_looks_down():
    upward = []
    for module, target, line, lazy in package_imports():
        if layer_of(target) > layer_of(module) and not (lazy and (module, target) in LAZY_UPWARD):
            upward.append(f"{module} (line {line}, {LAYERS[layer_of(module)][0]}) imports {target} "
                          f"({LAYERS[layer_of(target)][0]})")
    assert upward == [], "imports that point up a layer:\n" + "\n".join(upward)


def test_the_layer_check_sees_an_upward_import():
    """The check itself: a values-layer module importing the kit would be reported."""
    assert layer_of("kit") > layer_of("skeleton") and layer_of("data.bvh") == layer_of("motion")
    assert layer_of("studies.ablations") > layer_of("kit") > layer_of("eval.report") > layer_of("evaluator")
    found = list(package_imports())
    assert ("motion", "viz.playback") in {(m, t) for m, t, _, lazy in found if lazy}
    assert any(t == "data.bvh" for m, t, _, _ in found if m == "motion")


def test_imports_inside_functions_say_why():
    """A module that imports inside functions (to keep startup light, or to load an optional library only when
    used) says so in a comment "# Imported inside functions: ..." near its top."""
    silent = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        inside = any(isinstance(n, (ast.Import, ast.ImportFrom)) for f in ast.walk(tree)
                     if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)) for n in ast.walk(f))
        if inside and "# Imported inside functions:" not in text and "they load when first named" not in text:
            silent.append(str(path.relative_to(PACKAGE)))
    assert silent == [], f"modules importing inside functions without saying why: {silent}"
