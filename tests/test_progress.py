"""Progress reporting: plain lines for logs, the rich display on a terminal, nothing when quiet."""

import io

from rich.console import Console

from vidstyle.progress import NullReporter, PlainReporter, RichReporter, reporter_for


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
