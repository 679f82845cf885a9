"""Pictures: 3D playback (plotly), filmstrips and GIFs (matplotlib), the dataset browser and plots.

Submodules load on first use: `iml.viz.browse(clips)`, `iml.viz.data_plots.plot_feature_grid(grid)`.
"""
import importlib
import pkgutil

_SUBMODULES = {m.name for m in pkgutil.iter_modules(__path__)}  # every module file in this folder


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name == "browse":
        return importlib.import_module(".browser", __name__).browse
    raise AttributeError(f"module 'intermask_lite.viz' has no attribute {name!r}")
