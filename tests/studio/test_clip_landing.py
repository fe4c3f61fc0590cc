"""A finished clip lands right after the clip that was selected when it was asked for, even when
the timeline was edited while it generated (it used to land at the frame where that clip had ended);
and its queue row then shows the clip itself."""

from PySide6.QtCore import QSettings

from engine.models.registry import ModelRegistry
from engine.timeline import commands as c
from engine.timeline.model import Clip, Rate
from engine.timeline.testing import write_numbered_video
from engine.clips.files import read_frame
from studio.app import build_studio
from studio.images import load_thumbnail
from studio.viewmodels.job_list import RESULT_THUMBNAIL


def test_a_clip_lands_after_the_selected_clip_where_it_is_now(qtbot, video_kit, tmp_path):
    studio = build_studio(registry=ModelRegistry(bundled_dir=video_kit), data_dir=tmp_path / "data",
                          settings=QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat), device="cpu")
    side = studio.window.timeline_side
    clips = lambda: [i for i in side.session.timeline.tracks[0].items if isinstance(i, Clip)]  # noqa: E731
    try:
        side.session.new_project(str(tmp_path / "film"), Rate(8), 64, 48)
        qtbot.waitUntil(lambda: side.session.project is not None, timeout=10_000)
        side.add_files([str(write_numbered_video(tmp_path / "a.mp4", 12)), str(write_numbered_video(tmp_path / "b.mp4", 8))])
        qtbot.waitUntil(lambda: side.session.timeline.tracks and len(clips()) == 2, timeout=20_000)
        side.clips.model, side.clips.frames, side.clips.steps = "tiny-animatediff", 2, 1
        studio.queue.pause()  # the edit below comes while the clip is still to be made
        side.state.select((0, 0))
        assert side.clips.make_clip("a red cat") is not None
        assert side.session.apply(c.Trim(0, 0, "out", -4, ripple=True))  # a.mp4 ends 4 frames earlier now
        studio.queue.resume()
        qtbot.waitUntil(lambda: not side.clips.pending(), timeout=120_000)
        names = [clip.name for clip in clips()]
        durations = [clip.duration for clip in clips()]
        assert names[0] == "a" and names[2] == "b" and len(names) == 3, names  # b is not split around it
        assert durations[0] == 8 and durations[2] == 8
        assert side.session.timeline.tracks[0].starts()[1] == 8  # right where a.mp4 ends now

        # the finished job's queue row shows the clip's middle frame, not the last latent step preview
        queue_model = studio.window.queue_panel.model
        job = studio.queue.jobs()[-1]
        expected = load_thumbnail(job.result.clip.master, RESULT_THUMBNAIL)
        middle = read_frame(job.result.clip.master)
        assert expected.size().toTuple() == middle.shape[1::-1]
        assert expected.pixelColor(10, 10).getRgb()[:3] == tuple(middle[10, 10])
        index = queue_model.index(queue_model.row_of(job.id))
        qtbot.waitUntil(lambda: index.data(queue_model.PreviewRole) == expected, timeout=10_000)
    finally:
        side.session._dirty = False
        studio.window.close()
        studio.shutdown()
