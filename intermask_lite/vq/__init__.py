"""The motion tokenizer: a VQ-VAE over the (12, 22, T) feature grid (2D, the paper's) or over time (1D).

model.MotionTokenizer encodes a grid (B, 12, 22, T) into tokens (B, 5, T/4) and decodes them back;
pipeline.train_tokenizer / load_tokenizer train and reload it (eval.evaluate_tokenizer measures it).
"""
import importlib

from .model import MotionTokenizer, pad_to_multiple  # noqa: F401
from .quantizer import EMAQuantizer  # noqa: F401


def __getattr__(name):
    # the pipeline pulls in the data modules; load it on first use
    if name in ("train_tokenizer", "load_tokenizer", "pipeline"):
        pipeline = importlib.import_module(".pipeline", __name__)  # `from . import` would re-enter __getattr__
        return pipeline if name == "pipeline" else getattr(pipeline, name)
    raise AttributeError(f"module 'intermask_lite.vq' has no attribute {name!r}")
