"""Data: the built-in synthetic interactions, features, torch datasets and real-dataset loaders."""
import importlib

from .clip import Clip  # noqa: F401

_LAZY = {"synthetic", "features", "datasets", "interhuman", "interx", "bvh"}


def __getattr__(name):
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'intermask_lite.data' has no attribute {name!r}")
