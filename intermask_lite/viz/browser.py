"""A dataset browser for notebooks: pick a class and a sample, read its captions, watch it play."""
from __future__ import annotations

import html

import ipywidgets as widgets


class ClipBrowser(widgets.VBox):
    """Class dropdown + sample slider + captions + 3D playback over a list of `Clip`s.

    Builds without a running kernel (the playback is shown only inside one); `current_clip` and
    `figure` always hold the selection, so the widget can be driven from code.
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
        self.player = widgets.Output(layout=widgets.Layout(min_height="660px"))
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
        from ..motion import Motion

        clip = self.by_label[self.class_dropdown.value][self.sample_slider.value]
        self.current_clip = clip
        captions = "".join(f"<li>{html.escape(c)}</li>" for c in clip.captions)
        self.info.value = (f"<b>{html.escape(clip.clip_id or 'clip')}</b> &middot; {clip.label or 'no label'} "
                           f"&middot; {clip.n_frames} frames, {clip.seconds:.1f} s at {clip.fps:g} fps"
                           f"<ul style='margin:4px 0'>{captions}</ul>")
        self.figure = Motion.from_clip(clip).figure(max_frames=self.max_frames)
        if _in_kernel():
            from IPython.display import display

            self.player.clear_output(wait=True)
            with self.player:
                display(self.figure)


def _in_kernel() -> bool:
    """True inside a running IPython kernel (Jupyter), where widgets and plots can be displayed."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def browse(clips, max_frames: int = 120) -> ClipBrowser:
    """A widget to browse `clips` (list of Clip) by class and sample, with captions and a 3D playback."""
    return ClipBrowser(clips, max_frames=max_frames)
