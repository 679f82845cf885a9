"""intermask_lite: a notebook kit that rebuilds InterMask (two-person masked motion generation)."""
from __future__ import annotations

import importlib
import importlib.metadata

try:
    __version__ = importlib.metadata.version("intermask_lite")  # the installed distribution's (pyproject.toml)
except importlib.metadata.PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0.1.0"

from . import config, skeleton, utils  # noqa: E402  (light modules, imported eagerly)

_LAZY = {"data", "vq", "text", "mask_transformer", "eval", "evaluator", "viz", "train", "baselines", "motion", "kit",
         "checkpoints", "placement", "familiarity", "distributed", "ik", "cli", "run_notebooks", "runs", "cleanup",
         "studies"}


def __getattr__(name):
    # heavy submodules load on first use so that `import intermask_lite` stays fast
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    if name == "Motion":
        return importlib.import_module(".motion", __name__).Motion
    if name == "load_pretrained":
        return importlib.import_module(".kit", __name__).load_pretrained
    raise AttributeError(f"module 'intermask_lite' has no attribute {name!r}")
