"""`vidstyle image`, `weights` and the CLI's error handling."""

import pytest
from conftest import textured
from PIL import Image
from typer.testing import CliRunner

from vidstyle._cli import app

runner = CliRunner()


@pytest.fixture
def pair(tmp_path):
    content, style = tmp_path / "photo.png", tmp_path / "paint.jpg"
    Image.fromarray(textured(30, 40, seed=1)).save(content)
    Image.fromarray(textured(40, 40, seed=2)).save(style)
    return content, style


def test_help_lists_the_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("image", "folder", "weights", "demo"):
        assert command in result.output


@pytest.mark.parametrize(
    ("command", "configs"),
    [("image", ("MethodConfig",)), ("folder", ("MethodConfig",)),
     ("video", ("VideoConfig", "MethodConfig"))],
)  # fmt: skip
def test_every_declared_option_is_in_the_help_with_its_default(command, configs):
    from vidstyle import config
    from vidstyle.errors import flag as as_flag
    from vidstyle.errors import render
    from vidstyle.options import cli_default, declared

    result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    lines = {line.split()[1]: line for line in result.output.splitlines() if "│ --" in line}
    for name in configs:
        for one in declared(getattr(config, name)):
            flag = "--" + one.key.replace("_", "-")
            if command in one.option.not_in:
                assert flag not in lines
                continue
            assert render(one.option.help, as_flag) in lines[flag]
            shown = render(one.option.show_default or "", as_flag) or cli_default(one)
            if isinstance(shown, bool):
                shown = flag.replace("--", "no-" if not shown else "", 1)
            if shown is not None:
                assert f"[default: {shown}" in lines[flag].replace("(", ""), lines[flag]


@pytest.mark.real_weights
def test_image_default_output_name_in_current_folder(pair, tmp_path, monkeypatch):
    content, style = pair
    monkeypatch.chdir(tmp_path)
    rgba = Image.fromarray(textured(30, 40, seed=3)).convert("RGBA")
    rgba.putalpha(128)
    rgba.save(tmp_path / "clear.png")
    result = runner.invoke(app, ["image", "clear.png", "-s", str(style), "--max-size", "24",
                                 "--steps", "2", "--quiet"])  # fmt: skip
    assert result.exit_code == 0, result.output
    out = Image.open(tmp_path / "clear_paint.png")
    assert out.size == (24, 18) and out.mode == "RGBA"  # alpha carried over
    assert out.getchannel("A").getextrema() == (128, 128)


def test_output_equal_to_input_is_refused_before_any_work(pair, monkeypatch):
    from vidstyle._cli import common

    def build(*args):
        raise AssertionError("an engine was built")

    monkeypatch.setattr(common, "engine_for", build)
    content, style = pair
    before = content.read_bytes()
    result = runner.invoke(app, ["image", str(content), "-s", str(style), "-o", str(content)])
    assert result.exit_code == 2  # a usage error, for every command
    assert "photo.png: output would overwrite an input" in result.output
    assert content.read_bytes() == before


def test_missing_content_is_one_line_naming_the_file(pair, tmp_path, real_weights):
    _, style = pair
    result = runner.invoke(app, ["image", str(tmp_path / "gone.jpg"), "-s", str(style),
                                 "-o", str(tmp_path / "o.png"), "--quiet"])  # fmt: skip
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == [f"error: {tmp_path / 'gone.jpg'}: no such file"]
    assert not (tmp_path / "o.png").exists()


def test_bad_option_values_exit_2(pair, tmp_path):
    content, style = pair
    base = ["image", str(content), "-s", str(style), "-o", str(tmp_path / "o.png")]
    assert runner.invoke(app, [*base, "--style-scale", "0"]).exit_code == 2
    assert runner.invoke(app, [*base, "--init", "nonsense"]).exit_code == 2
    assert runner.invoke(app, [*base, "--no-such-option"]).exit_code == 2


@pytest.mark.real_weights
def test_unknown_layer_exits_2_with_the_valid_names(pair, tmp_path):
    content, style = pair
    out = str(tmp_path / "o.png")
    args = ["image", str(content), "-s", str(style), "-o", out, "--style-layers", "block9_conv9"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "block9_conv9" in result.output and "block1_conv1" in result.output


@pytest.mark.real_weights
def test_weights_command_says_where_from(real_weights):
    result = runner.invoke(app, ["weights", "--offline"])
    assert result.exit_code == 0, result.output
    assert f"source: {real_weights.origin}" in result.output
    assert str(real_weights.path) in result.output


def test_steps_default_follows_the_optimizer_unless_given():
    from vidstyle.config import MethodConfig

    method_config = MethodConfig.from_options
    base = {"lr": 0.02, "content_layers": "block5_conv2", "style_layers": "block1_conv1"}
    assert method_config({**base, "steps": None, "optimizer": "adam"}).steps == 1000
    assert method_config({**base, "steps": None, "optimizer": "lbfgs"}).steps == 250
    assert method_config({**base, "steps": 7, "optimizer": "lbfgs"}).steps == 7


def test_unwritable_image_outputs_are_refused_before_building_an_engine(
    pair, tmp_path, monkeypatch
):
    import vidstyle._cli.common

    def build(*args):
        raise AssertionError("an engine was built")

    monkeypatch.setattr(vidstyle._cli.common, "engine_for", build)
    content, style = pair
    base = ["image", str(content), "-s", str(style), "--quiet", "-o"]
    gif = runner.invoke(app, [*base, str(tmp_path / "out.gif")])
    assert gif.exit_code == 2 and "cannot write '.gif' images" in gif.output
    assert "--output" in gif.output
    (tmp_path / "blocker").write_text("a file")
    under = runner.invoke(app, [*base, str(tmp_path / "blocker" / "out.png")])
    assert under.exit_code == 1 and "blocker is a file, not a folder" in under.output
    (tmp_path / "taken.png").mkdir()
    taken = runner.invoke(app, [*base, str(tmp_path / "taken.png")])
    assert taken.exit_code == 1 and "taken.png: is a folder, not a file" in taken.output


def test_a_decompression_bomb_is_refused_before_any_work(pair, tmp_path, monkeypatch):
    from conftest import png_header_only

    import vidstyle._cli.common

    def build(*args):
        raise AssertionError("an engine was built")

    monkeypatch.setattr(vidstyle._cli.common, "engine_for", build)
    _, style = pair
    bomb = png_header_only(tmp_path / "bomb.png", 60000, 60000)
    result = runner.invoke(app, ["image", str(bomb), "-s", str(style), "-o",
                                 str(tmp_path / "o.png"), "--quiet"])  # fmt: skip
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == [f"error: {bomb}: too large: 3600 MP, more than the 160 MP vidstyle reads "
                     "(shrink it first)"]  # fmt: skip


def test_an_unreadable_gpu_budget_is_a_one_line_note_even_when_quiet(monkeypatch, capsys):
    from vidstyle import weights
    from vidstyle._cli import common as cli
    from vidstyle.config import MethodConfig
    from vidstyle.engine import optimize

    note = "no size is refused up front: nvidia-smi reports the free memory as [N/A]; set {memory_limit} to check sizes"  # noqa: E501

    class Engine:
        memory_note = note

    monkeypatch.setattr(weights, "resolve", lambda path: None)
    monkeypatch.setattr(optimize, "build_engine", lambda method, source: Engine())
    cli.engine_for(MethodConfig(), None, quiet=True)
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [note.replace("{memory_limit}", "--memory-limit").join(["note: ", ""])]
