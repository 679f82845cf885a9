"""intermask_lite.eval: metrics on embeddings, physics from skeletons, and the text-motion evaluator.

- metrics: fid, frechet_distance, r_precision, matching_score (mm_dist), diversity, multimodality,
  class_accuracy, mpjpe, mean_ci95.
- physics: physics_sample / physics_report (interpenetration, foot skating, floor, floating, bone drift,
  jerk, contact accuracy), interpersonal_distance for plots.
- evaluator: Evaluator, embed_joints, embed_texts, load_evaluator, evaluator_checksum;
  evaluator_train: train_evaluator, retrieval_scores.
- tokenizer_eval: evaluate_tokenizer(tokenizer, clips) -> reconstruction errors, code usage, foot skating.
- report: evaluate(kit) -> metrics with 95 % intervals against a ground-truth row; write_report (Markdown, JSON).
"""
from . import metrics, physics  # noqa: F401  (numpy only, light)
from .evaluator import (Evaluator, embed_joints, embed_texts, evaluator_checksum,  # noqa: F401
                        load_evaluator, motion_features)
from .evaluator_train import retrieval_scores, train_evaluator  # noqa: F401
from .report import evaluate, write_report  # noqa: F401
from .tokenizer_eval import evaluate_tokenizer  # noqa: F401
