"""intermask_lite.evaluator: the text-motion evaluator that FID, R-precision and class accuracy are measured with.

- model: Evaluator (a motion encoder and a text encoder into one unit sphere, plus a class head), embed_joints,
  embed_texts, motion_features, load_evaluator, evaluator_checksum.
- training: train_evaluator (contrastive and class losses on the built-in clips), retrieval_scores.
"""
from .model import (Evaluator, embed_joints, embed_texts, evaluator_checksum, load_evaluator,  # noqa: F401
                    motion_features)
from .training import retrieval_scores, train_evaluator  # noqa: F401
