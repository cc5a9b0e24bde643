"""Progress reporting: plain lines for logs, the rich display on a terminal, nothing when quiet."""

import io

from rich.console import Console

from vidstyle._cli.reporters import RichReporter, reporter_for
from vidstyle.progress import NullReporter, PlainReporter


def _console(terminal: bool) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=terminal, width=100), out


def test_reporter_fits_the_output():
    assert isinstance(reporter_for(_console(False)[0], quiet=True), NullReporter)
    assert isinstance(reporter_for(_console(False)[0], quiet=False), PlainReporter)
    assert isinstance(reporter_for(_console(True)[0], quiet=False), RichReporter)


def test_plain_lines_report_items_steps_loss_and_eta():
    console, out = _console(False)
    reporter = PlainReporter(console, every=100)
    reporter.begin(2, "images")
    reporter.start_item("a.jpg", 250)
    for done in range(10, 251, 10):
        reporter.step(done, 1234.5)
    reporter.end_item("a.jpg", "done", 3.25)
    reporter.begin(None, "frames")
    reporter.start_item("frame 0", 10)
    lines = out.getvalue().splitlines()
    assert lines[0] == "[1/2] a.jpg: 250 steps"
    steps = [line.split()[1] for line in lines if line.strip().startswith("step")]
    assert steps == ["100/250", "200/250", "250/250"]  # every 100 steps and the last
    assert "loss 1234" in lines[1] and "ETA" in lines[1]
    assert lines[4] == "  a.jpg: done in 3.2s"
    assert lines[5] == "[1] frame 0: 10 steps"  # unknown total


def test_plain_count_follows_ended_items_through_skips_and_batches():
    console, out = _console(False)
    reporter = PlainReporter(console)
    reporter.begin(5, "images")
    reporter.end_item("a.jpg", "skipped", 0.0)
    reporter.start_item("b.jpg +1", 10)  # a batch of two
    reporter.end_item("b.jpg", "done", 1.0)
    reporter.end_item("c.jpg", "done", 1.0)
    reporter.start_item("d.jpg", 10)
    starts = [line for line in out.getvalue().splitlines() if line.startswith("[")]
    assert starts == ["[2/5] b.jpg +1: 10 steps", "[4/5] d.jpg: 10 steps"]


def _works():
    from vidstyle.engine.planner import Work

    gib = 2**30
    return [Work(384, 512, 356, None, 1, gib), Work(543, 724, 251, None, 1, 2 * gib),
            Work(768, 1024, 178, None, 1, 3 * gib), Work(1086, 1448, 126, 512, 6, 4 * gib),
            Work(1536, 2048, 89, 576, 12, int(5.5 * gib))]  # fmt: skip


def test_plain_lines_show_the_plan_once_then_each_level():
    console, out = _console(False)
    reporter = PlainReporter(console, every=100)
    reporter.begin(1, "images")
    reporter.start_item("big.jpg", 1000)
    for index in range(5):
        reporter.level(index, _works())
    lines = out.getvalue().splitlines()
    assert lines[1] == ("  levels 512,724,1024,1448,2048 px · 6 tiles at 1448, 12 at 2048 · "
                        "~5.5 GiB")  # fmt: skip
    assert lines[2:] == [
        "  level 1/5 512x384",
        "  level 2/5 724x543",
        "  level 3/5 1024x768",
        "  level 4/5 1448x1086, 6 tiles",
        "  level 5/5 2048x1536, 12 tiles",
    ]
    reporter.level(0, _works()[-1:], lane="w1")  # one tiled level, on a worker
    assert out.getvalue().splitlines()[-2:] == [
        "  w1: level 2048 px · 12 tiles at 2048 · ~5.5 GiB",
        "  w1: level 1/1 2048x1536, 12 tiles",
    ]


def test_the_rich_item_line_shows_the_level_beside_the_loss():
    console, out = _console(True)
    reporter = RichReporter(console)
    reporter.begin(1, "images")
    reporter.start_item("big.jpg", 1000)
    reporter.level(0, _works())
    reporter.level(3, _works())
    reporter.step(700, 12.5)
    [task] = [t for t in reporter.progress.tasks if t.id == reporter.item_task]
    assert task.fields["info"] == "level 4/5 1448x1086, 6 tiles · loss 12.5"
    reporter.start_item("small.jpg", 100)  # a new item: no level until told
    reporter.step(10, 3.0)
    [task] = [t for t in reporter.progress.tasks if t.id == reporter.item_task]
    assert task.fields["info"] == "loss 3"
    reporter.end()
    assert out.getvalue().count("levels 512,724,1024,1448,2048 px") == 1


def test_levels_reach_every_reporter_and_none_when_quiet():
    from vidstyle.progress import Tee, level_callback

    console, out = _console(False)
    tee = Tee(NullReporter(), PlainReporter(console))
    tee.level(0, _works())
    assert "levels 512" in out.getvalue()
    assert level_callback(NullReporter()) is None
    assert level_callback(tee) == tee.level


def test_a_small_plan_gives_its_memory_in_mib():
    from vidstyle.engine.planner import Work, plan_line

    works = [Work(64, 64, 5, None, 1, 3 * 2**20), Work(128, 128, 5, None, 1, 41 * 2**20 + 7)]
    assert plan_line(works) == "levels 64,128 px · ~41 MiB"
