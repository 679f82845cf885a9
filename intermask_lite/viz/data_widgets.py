"""A dataset browser for notebooks: pick a class and a sample, read its captions, watch it play."""
from __future__ import annotations

import html
import tempfile
from pathlib import Path

import ipywidgets as widgets

from ..motion import Motion


class ClipBrowser(widgets.VBox):
    """Class dropdown + sample slider + captions + playback over a list of `Clip`s.

    The playback is an animated GIF in an Image widget: it needs no JavaScript, so the browser also
    works in headless runs (papermill) and exported notebooks. `current_clip` and `figure` (the interactive
    plotly playback of the selection; `browser.figure.show()`) always hold the selection.
    """

    def __init__(self, clips, max_frames: int = 120):
        if not clips:
            raise ValueError("browse() needs at least one clip, got an empty list")
        self.max_frames = max_frames
        self.by_label: dict[str, list] = {}
        for clip in clips:
            self.by_label.setdefault(clip.label or "(no label)", []).append(clip)
        labels = sorted(self.by_label)
        self.class_dropdown = widgets.Dropdown(options=[(f"{lab} ({len(self.by_label[lab])})", lab)
                                                        for lab in labels], value=labels[0], description="class")
        self.sample_slider = widgets.IntSlider(value=0, min=0, max=len(self.by_label[labels[0]]) - 1,
                                               description="sample", continuous_update=False)
        self.info = widgets.HTML()
        self.player = widgets.Image(format="gif", width=480, height=400)
        self.current_clip = None
        self.figure = None
        self.class_dropdown.observe(self._on_class, names="value")
        self.sample_slider.observe(lambda change: self._refresh(), names="value")
        super().__init__([widgets.HBox([self.class_dropdown, self.sample_slider]), self.info, self.player])
        self._refresh()

    def _on_class(self, change) -> None:
        n = len(self.by_label[change["new"]])
        with self.sample_slider.hold_trait_notifications():
            self.sample_slider.value = 0
            self.sample_slider.max = n - 1
        self._refresh()

    def _refresh(self) -> None:

        clip = self.by_label[self.class_dropdown.value][self.sample_slider.value]
        self.current_clip = clip
        captions = "".join(f"<li>{html.escape(c)}</li>" for c in clip.captions)
        self.info.value = (f"<b>{html.escape(clip.clip_id or 'clip')}</b> &middot; {clip.label or 'no label'} "
                           f"&middot; {clip.n_frames} frames, {clip.seconds:.1f} s at {clip.fps:g} fps"
                           f"<ul style='margin:4px 0'>{captions}</ul>")
        motion = Motion.from_clip(clip)
        self.figure = motion.figure(max_frames=self.max_frames)
        self.player.value = _gif_bytes(motion.resample(10) if motion.fps > 10 else motion)


def _gif_bytes(motion) -> bytes:
    """The motion as an animated GIF (bytes), via Motion.to_gif and a temporary file."""
    with tempfile.TemporaryDirectory() as tmp:
        return Path(motion.to_gif(Path(tmp) / "clip.gif", size=(480, 400))).read_bytes()


def browse(clips, max_frames: int = 120) -> ClipBrowser:
    """A widget to browse `clips` (list of Clip) by class and sample, with captions and a playback."""
    return ClipBrowser(clips, max_frames=max_frames)
