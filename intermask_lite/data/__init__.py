"""Data, in two halves that share one `Clip`:

- the built-in generator, `synthetic/`: `make_dataset`, `load_split`, captions and the choreography of its
  14 interaction classes (procedural, deterministic from a seed, generated in seconds);
- real data: `interhuman` and `interx` load those datasets' folders (shared helpers in `realdata`), `bvh`
  reads and writes motion capture files.

Both feed `features` (262-d per-person features and the (12, 22, T) grid), `augment` (canonical frame,
mirroring, swapping the people) and `datasets` (the torch Datasets the models train on); `sources` picks a
preset's training clips from either half (DataConfig.source); `caption_augment` rewrites captions with synonyms.
"""
import importlib

from .clip import Clip  # noqa: F401

_LAZY = {"synthetic", "features", "augment", "datasets", "sources", "interhuman", "interx", "realdata", "bvh",
         "caption_augment", "clip"}


def __getattr__(name):
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'intermask_lite.data' has no attribute {name!r}")
