"""The build step pyproject.toml cannot state: the wheel carries the shipped checkpoints, the notebooks and the
documents they link to, copied from the repository into intermask_lite/shipped/ (found by intermask_lite.shipped)."""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
# the same names and folders as intermask_lite.shipped.SOURCE_FOLDERS (tests/test_packaging.py checks it)
SHIPPED = {"checkpoints": "data/checkpoints", "notebooks": "notebooks", "docs": "docs"}


class BuildWithShipped(build_py):
    """build_py, then the shipped folders into the built package (not for editable installs: they read the checkout)."""

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for name, folder in SHIPPED.items():
            target = Path(self.build_lib) / "intermask_lite" / "shipped" / name
            target.mkdir(parents=True, exist_ok=True)
            for src in sorted((ROOT / folder).iterdir()):
                if src.is_file() and not src.name.startswith("."):
                    shutil.copyfile(src, target / src.name)


setup(cmdclass={"build_py": BuildWithShipped})
