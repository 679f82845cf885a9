"""3D playback (plotly figure, HTML), GIF, filmstrip and the dataset browser."""
import numpy as np
import pytest
from PIL import Image

from helpers_motion import pair_joints
from intermask_lite.data.clip import Clip
from intermask_lite.motion import Motion
from intermask_lite.viz.data_widgets import browse

CAPTION = "one person waves and the other walks up to greet them"


@pytest.fixture(scope="module")
def five_seconds():
    return Motion(pair_joints(100, fps=20), fps=20, text=CAPTION, label="greet")


def test_figure_frames_controls_and_camera(five_seconds):
    fig = five_seconds.figure(max_frames=40)
    assert len(fig.frames) == 34  # every 3rd of 100 frames
    assert len(fig.frames[0].data) == 4 and list(fig.frames[0].traces) == [0, 1, 2, 3]  # bones + head, A and B
    assert fig.data[0].line.color != fig.data[2].line.color
    labels = [b.label for b in fig.layout.updatemenus[0].buttons]
    assert any("Play" in lab for lab in labels) and any("Pause" in lab for lab in labels)
    assert len(fig.layout.sliders[0].steps) == 34
    assert fig.layout.sliders[0].steps[1].label == "0.1"  # the slider shows seconds
    assert CAPTION[:30] in fig.layout.title.text
    scene = fig.layout.scene
    assert (scene.camera.up.x, scene.camera.up.y, scene.camera.up.z) == (0, 1, 0)
    x_span = scene.xaxis.range[1] - scene.xaxis.range[0]
    assert x_span == pytest.approx(scene.zaxis.range[1] - scene.zaxis.range[0])  # square floor
    assert scene.aspectratio.y == pytest.approx(scene.yaxis.range[1] / x_span)  # equal axes
    assert scene.yaxis.range[0] == 0  # floor at y = 0


def test_legend_names_the_people_as_asked(five_seconds):
    """A motion that shows one person twice (ground truth beside its reconstruction) names them so."""
    names = ("ground truth", "reconstruction")
    fig = five_seconds.figure(max_frames=10, names=names)
    assert [t.name for t in fig.data[:4:2]] == list(names) and fig.frames[0].data[2].name == "reconstruction"
    assert [t.name for t in five_seconds.figure(max_frames=10).data[:4:2]] == ["person A", "person B"]
    strip = five_seconds.filmstrip(n=2, names=names)
    assert [t.get_text() for t in strip.legends[0].get_texts()] == list(names)
    assert 'reconstruction' in five_seconds.to_html(include_plotlyjs="cdn", max_frames=10, names=names)
    with pytest.raises(ValueError, match="one name per person \\(2\\), got 1"):
        five_seconds.figure(names=["only one"])


def test_html_works_offline_by_default(five_seconds, tmp_path):
    html = five_seconds.to_html(tmp_path / "m.html")
    assert (tmp_path / "m.html").read_text(encoding="utf-8") == html
    assert "plotly.js v" in html and 'src="https://cdn.plot.ly' not in html  # plotly's own code, offline
    assert len(html.encode()) > 3_000_000
    assert "Play" in html and "Pause" in html and '"sliders"' in html and CAPTION[:30] in html
    one = Motion(pair_joints(20)[0], fps=20, text="alone").to_html()
    assert "person B" not in one and "person A" in one


def test_html_can_load_plotlyjs_from_the_network_instead(five_seconds):
    html = five_seconds.to_html(include_plotlyjs="cdn")
    assert len(html.encode()) < 2_000_000 and 'src="https://cdn.plot.ly' in html and "plotly.js v" not in html


def test_notebook_outputs_hold_the_playback_as_html_too(five_seconds, monkeypatch, capsys):
    """After embed_html_outputs, a figure shown in a notebook carries plotly's JupyterLab output and HTML."""
    import plotly.io as pio
    from intermask_lite.viz.playback import embed_html_outputs
    monkeypatch.setattr(pio.renderers, "default", pio.renderers.default)  # put back after the test
    fig = five_seconds.figure(max_frames=10)
    embed_html_outputs()
    capsys.readouterr()                                               # plotly.js, printed once outside a notebook
    bundle = fig._repr_mimebundle_()
    assert {"application/vnd.plotly.v1+json", "text/html"} <= set(bundle)
    assert "Plotly.newPlot" in bundle["text/html"] and CAPTION[:30] in bundle["text/html"]


def test_show_outside_notebook_calls_plotly(monkeypatch, five_seconds):
    import plotly.graph_objects as go

    shown = []
    monkeypatch.setattr(go.Figure, "show", lambda self, *a, **k: shown.append(self))
    assert five_seconds.show() is None
    assert len(shown) == 1 and len(shown[0].frames) == 100


def test_gif_frames_and_timing(tmp_path):
    m = Motion(pair_joints(16, fps=20), fps=20, text="short")
    path = m.to_gif(tmp_path / "m.gif", fps=10, size=(160, 120))
    with Image.open(path) as im:
        assert im.n_frames == 8 and im.size == (160, 120)
        assert im.info["duration"] == 100
        first = np.asarray(im.convert("RGB"))
        im.seek(4)
        assert not np.array_equal(first, np.asarray(im.convert("RGB")))  # it moves
    with pytest.raises(ValueError, match="positive"):
        m.to_gif(tmp_path / "x.gif", fps=0)


def test_filmstrip_figure():
    from matplotlib.figure import Figure

    fig = Motion(pair_joints(40), fps=20, text="strip").filmstrip(n=4)
    assert isinstance(fig, Figure)
    axes3d = [ax for ax in fig.axes if ax.name == "3d"]
    # frames 0, 13, 26, 39
    assert [ax.get_title() for ax in axes3d] == ["t = 0.0 s", "t = 0.7 s", "t = 1.3 s", "t = 1.9 s"]
    assert fig._suptitle.get_text() == "strip"


def test_browser_builds_and_follows_selection():
    joints = pair_joints(12)
    clips = [Clip(joints, 20, [f"caption {i}", "another"], label=lab, clip_id=f"c{i}")
             for i, lab in enumerate(["hug", "punch", "punch", "punch"])]
    widget = browse(clips, max_frames=10)
    assert widget.current_clip.clip_id == "c0" and widget.sample_slider.max == 0
    first_gif = bytes(widget.player.value)
    assert first_gif.startswith(b"GIF8")  # the playback: an animated GIF, no JavaScript needed
    widget.class_dropdown.value = "punch"
    assert widget.sample_slider.max == 2 and widget.current_clip.clip_id == "c1"
    widget.sample_slider.value = 2
    assert widget.current_clip.clip_id == "c3" and bytes(widget.player.value).startswith(b"GIF8")
    assert "caption 3" in widget.info.value and "caption 3" in widget.figure.layout.title.text
    with pytest.raises(ValueError, match="empty"):
        browse([])
