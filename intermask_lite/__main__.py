"""python -m intermask_lite ... (see cli.py)."""
import sys

from .cli import main

sys.exit(main())
