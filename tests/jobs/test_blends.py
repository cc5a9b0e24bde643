"""Blended styles in job files: an inner list of ``styles`` is one blended style, with the
``style_blend`` weights; the plan, the fingerprint, the names, the dry run, the errors, and a
tiny-model run that makes the blend's output."""

import io

import numpy as np
import pytest
from nightmaker import ledger_rows, make_night, plan_error
from PIL import Image
from tinyvgg import tiny_engine

from vidstyle import batch
from vidstyle.jobs.jobfile import load
from vidstyle.jobs.plan import plan

BLEND = ('[[job]]\nname = "mix"\ninput = "photos"\n'
         'styles = [["styles/starry.jpg", "styles/scream.jpg"]]\n')  # fmt: skip


@pytest.fixture
def night(tmp_path):
    return make_night(tmp_path)


def _plan(night, text):
    night.write_text(text)
    return plan(load(night))


def test_an_inner_list_is_one_blended_style_with_its_weights(night, tmp_path):
    tasks = _plan(night, BLEND + "style_blend = [0.7, 0.3]\nscales = 2\n")
    assert len(tasks) == 2  # two photos x one (blended) style
    styles = (tmp_path / "styles/starry.jpg", tmp_path / "styles/scream.jpg")
    assert all(t.blend == styles and t.styles == styles and t.style == styles[0] for t in tasks)
    assert {t.method.style_blend for t in tasks} == {(0.7, 0.3)}
    assert {t.method.scales for t in tasks} == {2}
    assert sorted(t.output.relative_to(tmp_path).as_posix() for t in tasks) == [
        "styled/mix/starry+scream/a.jpg", "styled/mix/starry+scream/b b.png"]  # fmt: skip
    assert tasks[0].label == "mix: a.jpg ~ starry+scream [0.7,0.3]"
    assert tasks[0].style_field == f"{styles[0]}\n{styles[1]}"


def test_the_key_holds_every_blended_style_and_the_weights(night, tmp_path):
    def key(extra=""):
        return _plan(night, BLEND + extra)[0].key

    weighted = key("style_blend = [0.7, 0.3]\n")
    assert weighted == key('style_blend = "0.7,0.3"\n')  # the command line's form
    assert len({weighted, key("style_blend = [0.3, 0.7]\n"), key()}) == 3  # equal by default
    single = _plan(night, BLEND.replace('["styles/starry.jpg", "styles/scream.jpg"]',
                                        '"styles/starry.jpg"'))[0]  # fmt: skip
    assert single.key != key() and single.blend == () and single.style_name == "starry"
    Image.fromarray(np.full((40, 40, 3), 9, np.uint8)).save(tmp_path / "styles/scream.jpg")
    assert key("style_blend = [0.7, 0.3]\n") != weighted  # the second style's pixels count


def test_a_list_of_weight_lists_is_a_sweep(night, tmp_path):
    tasks = _plan(night, BLEND + 'style_blend = [[0.7, 0.3], [0.5, 0.5]]\noutput = "o/{path}"\n')
    assert sorted(t.output.relative_to(tmp_path).as_posix() for t in tasks) == [
        "o/a_style_blend-0.5,0.5.jpg", "o/a_style_blend-0.7,0.3.jpg",
        "o/b b_style_blend-0.5,0.5.png", "o/b b_style_blend-0.7,0.3.png"]  # fmt: skip
    assert {t.method.style_blend for t in tasks} == {(0.7, 0.3), (0.5, 0.5)}
    assert tasks[0].label == "mix: a.jpg ~ starry+scream (style_blend-0.7,0.3)"


@pytest.mark.parametrize(
    ("extra", "styles", "words"),
    [
        ("style_blend = [0.5, 0.3, 0.2]\n", None,
         "job 'mix': key 'style_blend': 3 weights for 2 style images (starry.jpg+scream.jpg)"),
        ("style_blend = [0.7, 0.4]\n", None,
         "job 'mix': key 'style_blend': weights must add up to 1, got 0.7,0.4 (sum 1.1)"),
        ("style_blend = [1.5, -0.5]\n", None,
         "job 'mix': key 'style_blend': weights must be 0 or more, got 1.5,-0.5"),
        ('style_blend = ["a", "b"]\n', None,
         "job 'mix': key 'style_blend' must be a list of numbers, got ['a', 'b']"),
        ('style_blend = "0.7;0.3"\n', None, "job 'mix': key 'style_blend': cannot read"),
        ("style_blend = [0.7, 0.3]\n", '"styles/starry.jpg"',
         "job 'mix': key 'style_blend': 2 weights for 1 style image (starry.jpg)"),
        ("", '["styles/starry.jpg", "styles/none.jpg"]', "job 'mix': key 'styles': no such file"),
        ("", '["styles/starry.jpg"]',
         "job 'mix': key 'styles': a blend is a list of two or more image files"),
    ],
)  # fmt: skip
def test_each_blend_mistake_is_one_line(night, extra, styles, words):
    text = BLEND + extra
    if styles is not None:
        text = text.replace('["styles/starry.jpg", "styles/scream.jpg"]', styles)
    assert words in plan_error(night, text)


def test_the_dry_run_shows_the_blend(night):
    from typer.testing import CliRunner

    from vidstyle._cli import app

    night.write_text(BLEND + "style_blend = [0.7, 0.3]\n")
    result = CliRunner().invoke(app, ["batch", "run", str(night), "--dry-run"],
                                env={"COLUMNS": "250"})  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "a.jpg ~ starry+scream [0.7,0.3]" in result.output
    assert "styled/mix/starry+scream/a.jpg" in result.output
    night.write_text(BLEND + "style_blend = [0.7, 0.4]\n")
    bad = CliRunner().invoke(app, ["batch", "run", str(night), "--dry-run"])
    assert bad.exit_code == 2 and "must add up to 1" in bad.output


def test_a_night_with_a_blend_makes_its_output(night, tmp_path):
    clip = BLEND.replace('"mix"', '"clip"').replace('"photos"', '"clips/beach.mp4"')
    night.write_text(BLEND.replace('"photos"', '"photos/a.jpg"') + "style_blend = [0.7, 0.3]\n"
                     "steps = 4\nmax_size = 32\n" + clip + "steps = 4\nsteps_next = 2\n"
                     "max_size = 32\n")  # fmt: skip
    methods = []

    def factory(method):
        methods.append(method)
        return tiny_engine(method)

    result = batch.run(night, engine_factory=factory)
    assert (result.done, result.failed) == (2, 0)
    out = tmp_path / "styled/mix/starry+scream/a.jpg"
    assert out.is_file() and Image.open(out).size == (32, 24)
    assert (tmp_path / "styled/clip/starry+scream/beach.mp4").is_file()  # equal weights
    assert [m.style_blend for m in methods] == [(0.7, 0.3), ()]
    row, clip_row = ledger_rows(night)
    assert clip_row.status == "done" and clip_row.detail["summary"]["frames"] == 4
    assert row.status == "done" and row.style.splitlines() == [
        str(tmp_path / "styles/starry.jpg"), str(tmp_path / "styles/scream.jpg")]  # fmt: skip
    report = (tmp_path / "night.vidstyle-run" / "report.html").read_text()
    assert "starry+scream" in report
    assert batch.run(night, engine_factory=factory).done == 0  # done: not redone


def test_a_blend_and_a_single_style_are_two_tasks_per_input(night, tmp_path):
    text = BLEND.replace('"styles/scream.jpg"]]', '"styles/scream.jpg"], "styles/scream.jpg"]')
    tasks = _plan(night, text)
    assert sorted(t.output.relative_to(tmp_path).as_posix() for t in tasks) == [
        "styled/mix/scream/a.jpg", "styled/mix/scream/b b.png",
        "styled/mix/starry+scream/a.jpg", "styled/mix/starry+scream/b b.png"]  # fmt: skip
    assert "2 weights for 1 style image (scream.jpg)" in plan_error(
        night, text + "style_blend = [0.7, 0.3]\n"
    )


def test_a_worker_in_this_process_gets_a_blend_by_value_and_tells_its_levels(night, tmp_path):
    from conftest import textured

    from vidstyle.jobs.worker import Unit, Worker

    Image.fromarray(textured(64, 96, seed=7)).save(tmp_path / "photos" / "big.png")
    text = BLEND.replace('"photos"', '"photos/big.png"')
    [task] = _plan(night, text + "style_blend = [0.7, 0.3]\nsteps = 20\nmax_size = 0\nscales = 2\n")
    worker = Worker(tiny_engine)  # in this process: what a Ray actor runs
    styles = [path.read_bytes() for path in task.styles]
    out = worker.run(Unit((task,), carry=True), styles, [task.source.read_bytes()])
    [(detail, error)] = out["ran"].outcomes
    assert error is None, out
    assert Image.open(io.BytesIO(detail["output"])).size == (96, 64)
    events = [(kind, args[0]) for kind, *args in worker.poll()]
    assert events == [("start", task.label), ("level", 0), ("step", 10), ("level", 1),
                      ("step", 20)]  # fmt: skip
    assert worker.executor.engines[task.method].method.style_blend == (0.7, 0.3)
