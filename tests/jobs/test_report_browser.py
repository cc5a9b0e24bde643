"""The report in a real browser, headless Chromium (Debian's ``chromium`` package): the page
renders (its screenshot is not blank) and every thumbnail loads (no image of the page has a
natural width of 0 once it has loaded). Without Chromium these tests fail, saying how to get it:
the report's check is part of the suite, never skipped silently."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from reportrows import make_rows

from vidstyle.jobs.report import write_report

HEADER = (0x23, 0x26, 0x2E)  # the page's header colour (report._STYLE)
# Run after the page's load event: lists the images that did not load, on the body, for
# --dump-dom to show. The report itself has no script: this is added to a copy beside it.
PROBE = """<script>addEventListener('load', () => {
  const broken = [...document.images].filter(i => !i.complete || i.naturalWidth === 0);
  document.body.dataset.images = document.images.length;
  document.body.dataset.broken = broken.map(i => i.getAttribute('src')).join(' ');
});</script>"""


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("chromium not found: the report's browser test needs it; install Debian's "
                    "chromium package (apt-get install chromium, sudo without root)")  # fmt: skip
    return found


def _run(profile: Path, *args: str) -> str:
    """Headless Chromium with its own profile folder (tests and users never share one)."""
    command = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-background-networking", f"--user-data-dir={profile}", *args]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _screenshot(page: Path, profile: Path) -> Image.Image:
    shot = page.with_name("shot.png")
    _run(profile, f"--screenshot={shot}", "--window-size=1000,900", page.as_uri())
    return Image.open(shot).convert("RGB")


def _blank(shot: Image.Image) -> bool:
    """Whether a screenshot shows nothing: one colour, or not the page's dark header on top."""
    colours = shot.getcolors(shot.width * shot.height)
    top = {colour for _, colour in shot.crop((0, 0, shot.width, 40)).getcolors(shot.width * 40)}
    return len(colours) < 2 or HEADER not in top


def _images(page: Path, profile: Path) -> tuple[int, list[str]]:
    """(images on the page, the sources of those that did not load) as Chromium saw them."""
    probe = page.with_name(".probe.html")  # beside the page: the same relative paths
    probe.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    try:
        dom = _run(profile, "--virtual-time-budget=10000", "--dump-dom", probe.as_uri())
    finally:
        probe.unlink()
    body = re.search(r"<body([^>]*)>", dom)
    assert body and "data-images" in body[1], f"the probe did not run: {dom[:300]!r}"
    count = int(re.search(r'data-images="(\d+)"', body[1])[1])
    broken = re.search(r'data-broken="([^"]*)"', body[1])[1].split()
    return count, broken


@pytest.fixture
def page(tmp_path) -> Path:
    """A report of two stills done, one running, one failed and a clip done (with its strip)."""
    return write_report(tmp_path / "project" / "night.vidstyle-run",
                        make_rows(tmp_path / "project"), "night")  # fmt: skip


def test_the_report_renders_in_chromium_and_every_thumbnail_loads(page, tmp_path):
    """Catches: a page the browser cannot render (a blank screenshot), and a thumbnail whose
    path is broken or whose file is not an image the browser can show."""
    profile = tmp_path / "chromium"
    assert not _blank(_screenshot(page, profile))
    count, broken = _images(page, profile)
    expected = len(re.findall(r"<img ", page.read_text()))
    # content, style and result of two stills and the clip, content and style of the running
    # and the failed still, and the clip's strip of 4 frames: every thumbnail was made
    assert expected == 3 * 3 + 2 * 2 + 4
    assert (count, broken) == (expected, [])


def test_the_browser_check_sees_a_broken_thumbnail_and_a_blank_page(page, tmp_path):
    """The check above can fail: a thumbnail gone from ``thumbs/`` is reported, by its path, and
    an empty page's screenshot is blank."""
    profile = tmp_path / "chromium"
    sources = re.findall(r"<img src='([^']+)'", page.read_text())
    gone = sources[2]  # the first still's result
    (page.parent / gone).unlink()
    count, broken = _images(page, profile)
    assert (count, broken) == (len(sources), [gone])
    empty = tmp_path / "empty.html"
    empty.write_text("<!doctype html><html><body></body></html>")
    assert _blank(_screenshot(empty, profile))


def test_ci_runs_the_readmes_test_command_which_installs_chromium():
    """Catches: CI and the README's second command drifting apart, or either of them no longer
    bringing Chromium (the tests above would then fail on a fresh machine)."""
    root = Path(__file__).resolve().parents[2]
    commands = [line[4:] for line in (root / "README.md").read_text().splitlines()
                if line.startswith("    ") and "pytest -q" in line]  # fmt: skip
    ci = (root / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert commands[0] == ci
    assert ci.startswith("(command -v chromium >/dev/null || (apt-get update -q && apt-get install")
