"""Pictures, one module per lesson stage (each loads on first use).

Every lesson: `playback` (3D plotly playback, HTML export) and `filmstrip` (matplotlib frames, GIF).
01 data:         `data_plots` (skeleton, feature grid, dataset statistics), `data_widgets` (the dataset browser)
02 tokenizer:    `token_plots` (token maps, codebook usage, errors, receptive field), `token_widgets` (token surgery)
03 transformer:  `transformer_plots` (sequences, schedules, attention reach), `transformer_widgets` (masking)
04 decoding:     `decoding_plots` (decoding step by step, the replay widget)
05 evaluation:   `eval_plots` (interpersonal distance, physics comparison)

`iml.viz.browse(clips)`, `iml.viz.data_plots.plot_feature_grid(grid)`.
"""
import importlib
import pkgutil

_SUBMODULES = {m.name for m in pkgutil.iter_modules(__path__)}  # every module file in this folder


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name == "browse":
        return importlib.import_module(".data_widgets", __name__).browse
    raise AttributeError(f"module 'intermask_lite.viz' has no attribute {name!r}")
