"""`Motion`: the one object users hold: the joints of one or two people, their frame rate and a caption.

It plays itself back (`show`, `figure`, `to_html`, `to_gif`, `filmstrip`), converts to and from BVH
and saves to a plain `.npz` file. Conventions: metres, Y up, floor at y = 0 (docs/architecture.md, section 3).
"""
from __future__ import annotations

# Imported inside functions: viz (plotly, matplotlib), IPython and the BVH reader (scipy), when a Motion is first
# shown or converted, so that importing Motion stays light (and viz, a higher layer, is never loaded by it).

from pathlib import Path

import numpy as np

from . import skeleton
from .skeleton import resample_joints

PERSON_NAMES = ("A", "B")


class Motion:
    """Joints of one or two people over time.

    joints: (P, T, 22, 3) with P in {1, 2}; a (T, 22, 3) array is taken as one person.
    fps: frames per second. text: the caption shown as title. label: an optional class name.
    """

    def __init__(self, joints, fps: float = 20, text: str = "", label: str = ""):
        j = np.asarray(joints, dtype=np.float32)
        if j.ndim == 3:
            j = j[None]  # (1, T, 22, 3)
        if j.ndim != 4 or j.shape[0] not in (1, 2) or j.shape[2:] != (skeleton.N_JOINTS, 3):
            raise ValueError("Motion joints must have shape (P, T, 22, 3) with P in {1, 2}, "
                             f"or (T, 22, 3) for one person; got {np.shape(joints)}")
        if j.shape[1] < 1:
            raise ValueError("Motion needs at least one frame, got T = 0")
        if not np.isfinite(j).all():
            bad = np.argwhere(~np.isfinite(j))[0]
            raise ValueError(f"Motion joints contain NaN or inf (first at person {bad[0]}, frame {bad[1]}, "
                             f"joint {skeleton.JOINT_NAMES[bad[2]]})")
        if not np.isfinite(fps) or fps <= 0:
            raise ValueError(f"Motion fps must be a positive number, got {fps}")
        self.joints = j  # (P, T, 22, 3)
        self.fps = float(fps)
        self.text = str(text)
        self.label = str(label)

    # ------------------------------------------------------------------ basic properties

    @property
    def n_people(self) -> int:
        return int(self.joints.shape[0])

    @property
    def n_frames(self) -> int:
        return int(self.joints.shape[1])

    @property
    def seconds(self) -> float:
        return self.n_frames / self.fps

    @property
    def title(self) -> str:
        """The caption with the label in brackets when both exist."""
        if self.text and self.label:
            return f"{self.text} [{self.label}]"
        return self.text or self.label

    def __repr__(self) -> str:
        return (f"Motion(people={self.n_people}, frames={self.n_frames}, fps={self.fps:g}, "
                f"seconds={self.seconds:.2f}, text={self.text!r}, label={self.label!r})")

    def _replace(self, joints) -> "Motion":
        return Motion(joints, fps=self.fps, text=self.text, label=self.label)

    # ------------------------------------------------------------------ constructors

    @classmethod
    def from_clip(cls, clip, caption: int = 0) -> "Motion":
        """A Motion from a dataset `Clip` (which holds one: `clip.motion`), captioned with its `caption`-th
        description."""
        if not 0 <= caption < len(clip.captions):
            raise IndexError(f"clip {clip.clip_id!r} has {len(clip.captions)} captions, asked for index {caption}")
        return cls(clip.joints, fps=clip.fps, text=clip.captions[caption], label=clip.label)

    @classmethod
    def load(cls, path) -> "Motion":
        """Read a Motion written by `save` (a plain .npz; no pickle)."""
        with np.load(path, allow_pickle=False) as data:
            missing = {"joints", "fps", "text", "label"} - set(data.files)
            if missing:
                raise ValueError(f"{path} is not a saved Motion: missing arrays {sorted(missing)}")
            return cls(data["joints"], fps=float(data["fps"]), text=str(data["text"]), label=str(data["label"]))

    @classmethod
    def from_bvh(cls, paths, fps: float = 20, text: str = "", label: str = "", units: str = "auto") -> "Motion":
        """Import one BVH file (one person) or a list of one or two files (A, B), resampled to `fps`.

        Two files of different lengths are cut to the shorter one, with a warning saying so. units: "auto" (told
        by the skeleton's bone lengths) or the files' unit, one of "m", "cm", "mm", "in", "ft" (believed as
        given). See
        `intermask_lite.data.bvh.read_bvh` for the skeletons, units and axes it understands.
        """
        from .data import bvh

        paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
        if len(paths) not in (1, 2):
            raise ValueError(f"from_bvh takes one or two BVH files (person A, then B), got {len(paths)}")
        people = [bvh.read_bvh(p, fps=fps, units=units) for p in paths]  # each (T_i, 22, 3)
        n = min(len(p) for p in people)
        if any(len(p) != n for p in people):
            import warnings
            warnings.warn(f"the two BVH files have {len(people[0])} and {len(people[1])} frames at {fps:g} fps: kept "
                          f"the first {n} of each (the shorter one's length)", stacklevel=2)
        return cls(np.stack([p[:n] for p in people]), fps=fps, text=text, label=label)

    # ------------------------------------------------------------------ edits (each returns a new Motion)

    def person(self, index: int) -> "Motion":
        """One person (0 = A, 1 = B) as a one-person Motion."""
        if not 0 <= index < self.n_people:
            raise IndexError(f"person index {index} out of range for a {self.n_people}-person motion")
        return self._replace(self.joints[index:index + 1])

    def swap(self) -> "Motion":
        """A and B exchanged (a valid sample: the two people are symmetric)."""
        if self.n_people != 2:
            raise ValueError("swap() needs a two-person motion")
        return self._replace(self.joints[::-1])

    def mirror(self) -> "Motion":
        """Left-right mirror image: x -> -x and left joints exchanged with right joints."""
        flipped = self.joints[:, :, skeleton.MIRROR_PERM] * np.array([-1.0, 1.0, 1.0], dtype=np.float32)
        return self._replace(flipped)  # (P, T, 22, 3)

    def resample(self, fps: float) -> "Motion":
        """Linear resampling in time to `fps`; the span from the first to the last frame is kept."""
        if not np.isfinite(fps) or fps <= 0:
            raise ValueError(f"resample needs a positive fps, got {fps}")
        joints = resample_joints(self.joints, self.fps, fps, axis=1)  # (P, T', 22, 3)
        return Motion(joints, fps=fps, text=self.text, label=self.label)

    # ------------------------------------------------------------------ files

    def save(self, path) -> Path:
        """Write joints, fps, text and label to an .npz file (suffix added if missing); returns the path."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        np.savez(path, joints=self.joints, fps=np.float64(self.fps), text=np.str_(self.text),
                 label=np.str_(self.label))
        return path

    def to_bvh(self, path) -> list[Path]:
        """Write BVH: one file per person; a two-person motion writes `<stem>_A.bvh` and `<stem>_B.bvh`.

        Each file carries that person's own skeleton (measured from their joints: `data.bvh.own_offsets`), so
        `from_bvh` reads the same joints back, within 1 mm when the bone lengths are constant over time (see
        `intermask_lite.data.bvh.write_bvh` for what is kept when they vary)."""
        from .data import bvh

        path = Path(path)
        if self.n_people == 1:
            targets = [path]
        else:
            targets = [path.with_name(f"{path.stem}_{name}{path.suffix or '.bvh'}") for name in PERSON_NAMES]
        for person, target in zip(self.joints, targets):
            bvh.write_bvh(target, person, fps=self.fps)
        return targets

    # ------------------------------------------------------------------ pictures

    def figure(self, max_frames: int = 200, names=None):
        """A plotly Figure: 3D playback with play/pause buttons and a frame slider. names: the legend's name of
        each person (default "person A", "person B"; e.g. ("ground truth", "reconstruction"))."""
        from .viz.playback import playback_figure

        return playback_figure(self.joints, self.fps, title=self.title, max_frames=max_frames, names=names)

    def show(self, max_frames: int = 200, names=None):
        """Display the 3D playback: inline in Jupyter, else in a browser through plotly. Returns None."""
        fig = self.figure(max_frames=max_frames, names=names)
        try:
            from IPython import get_ipython
        except ImportError:
            get_ipython = None
        if get_ipython is not None and get_ipython() is not None:
            from IPython.display import display

            display(fig)
        else:
            fig.show()

    def to_html(self, path=None, include_plotlyjs=True, max_frames: int = 200, names=None) -> str:
        """The playback as an HTML page that works offline; written to `path` when given.

        include_plotlyjs=True (default) embeds plotly.js (about 4.8 MB), so the page plays with no network, as
        in most classrooms; "cdn" keeps the file small (~0.2 MB for 5 s of two people) but shows a blank page
        where the internet cannot be reached. Frames beyond `max_frames` are subsampled; coordinates are rounded
        to millimetres.
        """
        from .viz.playback import playback_html

        html = playback_html(self.joints, self.fps, title=self.title, max_frames=max_frames,
                             include_plotlyjs=include_plotlyjs, names=names)
        if path is not None:
            Path(path).write_text(html, encoding="utf-8")
        return html

    def to_gif(self, path, fps: float | None = None, size: tuple[int, int] = (480, 400)) -> Path:
        """An animated GIF (matplotlib + Pillow, no ffmpeg) at `fps` (default: the motion's fps)."""
        from .viz.filmstrip import write_gif

        return write_gif(path, self.joints, self.fps, out_fps=fps, size=size, title=self.title)

    def filmstrip(self, n: int = 6, names=None):
        """A matplotlib Figure with `n` evenly spaced frames side by side (for GitHub, PDF, slides); names as in
        `figure`."""
        from .viz.filmstrip import filmstrip_figure

        return filmstrip_figure(self.joints, self.fps, n=n, title=self.title, names=names)
