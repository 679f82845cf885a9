"""intermask_lite.eval: metrics on embeddings, physics from skeletons, and the evaluation built on them.

- metrics: fid, frechet_distance, r_precision, matching_score (mm_dist), diversity, multimodality,
  class_accuracy, mpjpe, mean_ci95, mode_share, token_agreement.
- physics: physics_sample / physics_report (interpenetration, foot skating, floor, floating, bone drift,
  jerk, contact accuracy), interpersonal_distance for plots.
- tokenizer_eval: evaluate_tokenizer(tokenizer, clips) -> reconstruction errors, code usage, foot skating.
- report: evaluate(kit) -> metrics with 95 % intervals against a ground-truth row; write_report (Markdown, JSON
  and report.png), plot_report (that figure: one panel per metric, mean and 95 % interval per row).

The evaluator model these use lives in `intermask_lite.evaluator`.
"""
from . import metrics, physics  # noqa: F401  (numpy only; the layer below the models)

# evaluate, write_report, plot_report and evaluate_tokenizer sit a layer higher (they use the models and the cleanup,
# which itself uses eval.physics): they load when first named, so that importing eval.physics never loads them
_LATER = {"evaluate": "report", "write_report": "report", "plot_report": "report_io",
          "evaluate_tokenizer": "tokenizer_eval"}


def __getattr__(name: str):
    if name in _LATER:
        from importlib import import_module
        return getattr(import_module(f".{_LATER[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
