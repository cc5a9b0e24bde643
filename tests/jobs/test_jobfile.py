"""Job files: every mistake is one line naming the file, the job and the key; nothing runs."""

import pytest
from nightmaker import make_night, plan_error

from vidstyle.jobs.jobfile import load
from vidstyle.jobs.plan import plan


@pytest.fixture
def night(tmp_path):
    return make_night(tmp_path)


def test_a_good_file_loads_with_its_sweep(night):
    jobs = load(night)
    holiday, beach = jobs.jobs
    assert holiday.name == "holiday" and len(holiday.styles) == 2
    assert holiday.sweep == {"style_weight": [1e-2, 1e-1]}
    assert holiday.options == {"max_size": 32, "steps": 4}  # from [defaults]
    assert beach.options["steps_next"] == 2
    assert jobs.run_dir == night.with_name("night.vidstyle-run")


BASE = 'input = "photos"\nstyles = ["styles/starry.jpg"]\n'


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[[job]]\nname = "x"\n' + BASE + "style_wieght = 1\n",
         "job 'x': unknown key 'style_wieght' (did you mean 'style_weight'?)"),
        ('[[job]]\nname = "x"\n' + BASE + 'max_size = "big"\n',
         "job 'x': key 'max_size' must be an integer, got 'big'"),
        ('[[job]]\nname = "x"\n' + BASE + "keep_size = 1\n",
         "job 'x': key 'keep_size' must be true or false, got 1"),
        ('[[job]]\nname = "x"\ninput = "nowhere"\nstyles = ["styles/starry.jpg"]\n',
         "job 'x': key 'input': no such file or folder"),
        ('[[job]]\nname = "x"\ninput = "photos"\nstyles = ["styles/none.jpg"]\n',
         "job 'x': key 'styles': no such file"),
        ('[defaults]\noutput = "out/{path}"\n[[job]]\nname = "x"\n' + BASE
         + '[[job]]\nname = "y"\n' + BASE,
         "jobs 'x' and 'y' both write"),
        ('[[job]]\nname = "x"\n' + BASE + 'output = "out/{nme}"\n',
         "job 'x': key 'output': unknown placeholder 'nme'"),
        ('[[job]]\nname = "x"\n' + BASE + "optimizer = \"sgd\"\n",
         "job 'x': optimizer must be one of adam, lbfgs"),
        ("[[job]]\nname = \"x\"\ninput = photos\n", "TOML syntax error"),
        ("[defaults]\nmax_size = 32\n", "no [[job]] tables"),
    ],
)  # fmt: skip
def test_each_mistake_is_one_line(night, text, words):
    assert words in plan_error(night, text)


def test_a_syntax_error_gives_its_line(night):
    message = plan_error(night, '[[job]]\nname = "x"\n\ninput = photos\n')
    assert "line 4" in message


def test_original_colours_and_the_own_size_in_a_job_file(night):
    night.write_text('[[job]]\nname = "x"\n' + BASE + 'max_size = 0\n'
                     'preserve_colors = ["luminance", "histogram"]\n')  # fmt: skip
    tasks = plan(load(night))
    assert sorted(t.method.preserve_colors for t in tasks) == ["histogram"] * 2 + ["luminance"] * 2
    assert {t.method.max_size for t in tasks} == {0}
    assert {t.pixels for t in tasks} == {30 * 40, 36 * 24}  # the photos' own sizes
    assert "preserve_colors-luminance" in str(tasks[0].output)
    assert "preserve_colors must be one of" in plan_error(
        night, '[[job]]\nname = "x"\n' + BASE + 'preserve_colors = "chroma"\n'
    )
    assert "key 'style_blend': 2 weights for 1 style image (starry.jpg)" in plan_error(
        night, '[[job]]\nname = "x"\n' + BASE + 'style_blend = "0.5,0.5"\n'
    )  # a blend's weights: see test_blends.py


def test_the_dry_run_shows_each_tasks_levels_tiles_and_memory(night):
    from typer.testing import CliRunner

    from vidstyle._cli import app

    night.write_text('[[job]]\nname = "x"\n' + BASE + "max_size = 0\nmemory_limit = 0.01\n")
    tasks = plan(load(night))
    assert {t.work for t in tasks} == {"40x30: 0.0 GiB at most", "24x36: 0.0 GiB at most"}
    result = CliRunner().invoke(app, ["batch", "run", str(night), "--dry-run"],
                                env={"COLUMNS": "250"})  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "levels (tiles): memory" in result.output and "40x30: 0.0 GiB at most" in result.output


def test_a_glob_input_keeps_the_paths_below_its_fixed_part(night, tmp_path):
    (tmp_path / "photos" / "more").mkdir()
    (tmp_path / "photos" / "more" / "c.png").write_bytes(
        (tmp_path / "photos" / "b b.png").read_bytes()
    )
    night.write_text(
        '[[job]]\nname = "g"\ninput = "photos/**/*.png"\nstyles = ["styles/starry.jpg"]\n'
    )
    outputs = [t.output.relative_to(tmp_path).as_posix() for t in plan(load(night))]
    assert outputs == ["styled/g/starry/b b.png", "styled/g/starry/more/c.png"]


def test_a_job_file_takes_long_term_and_passes(tmp_path):
    night = make_night(tmp_path)
    text = night.read_text() + 'long_term = "1,2,4"\npasses = 2\nsteps_pass = 5\n'
    night.write_text(text)
    (clip,) = [task for task in plan(load(night)) if task.kind == "video"]
    assert (clip.video.long_term, clip.video.passes, clip.video.steps_pass) == ((1, 2, 4), 2, 5)
    assert clip.steps == 4 + 3 * 2 + 4 * 5  # the first frame, 3 later frames, then pass 2
    for bad, words in (("long_term = \"0\"", "long_term offsets must be 1 or more"),
                       ("passes = 1.5", "key 'passes' must be an integer"),
                       ("long_term = true", "key 'long_term' must be")):  # fmt: skip
        message = plan_error(night, text.replace('long_term = "1,2,4"\npasses = 2\n', bad + "\n"))
        assert "job 'beach'" in message and words in message, message


def test_an_image_tasks_key_takes_a_folder_option_that_changes_its_output(night, monkeypatch):
    """The folder options reach a night's image keys by their declarations: none changes an
    output today (keys as before: test_fingerprint_pins.py); one that did would count."""
    from vidstyle.jobs import plan as planning

    night.write_text('[[job]]\nname = "x"\n' + BASE + 'format = "webp"\n')
    before = [task.key for task in plan(load(night))]
    monkeypatch.setattr(planning, "folder_part", lambda config: {"sharpen": 0.5})
    assert not set(before) & {task.key for task in plan(load(night))}
    assert {task.output.suffix for task in plan(load(night))} == {".webp"}
