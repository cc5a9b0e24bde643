"""Job files: a night's work in TOML, read and checked before anything runs.

A job file has an optional ``[defaults]`` table and one ``[[job]]`` table per job::

    [defaults]
    max_size = 768
    optimizer = "lbfgs"
    output = "styled/{job}/{style}/{path}"

    [[job]]
    name = "holiday"
    input = "photos/holiday"          # an image, a folder, a glob, or a video / frame folder
    styles = ["styles/starry.jpg", "styles/scream.jpg"]
    style_weight = [1e-2, 1e-1]       # a list makes a sweep: one variant per value

    [[job]]
    name = "mix"
    priority = 1                      # claimed before the jobs of a lower priority (default 0)
    input = "photos/holiday"
    styles = [["styles/starry.jpg", "styles/scream.jpg"]]   # an inner list: one blended style
    style_blend = [0.7, 0.3]          # its weights (a list of such lists makes a sweep)

Option names are the command line's, with ``_`` for ``-``. Paths are relative to the job file's
folder. Every mistake is one :class:`UsageError` naming the file, the job and the key.
"""

from __future__ import annotations

import difflib
import itertools
import string
from dataclasses import dataclass, field
from pathlib import Path

from vidstyle.config import FolderConfig, MethodConfig, VideoConfig
from vidstyle.errors import UsageError
from vidstyle.options import blend_problem, jobfile_types

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

DEFAULT_OUTPUT = "styled/{job}/{style}/{path}"
PLACEHOLDERS = ("job", "style", "path", "name", "variant")

# Options and the TOML types they take (a list of them makes a sweep): the method's, the
# video's and the folder's from their declarations (see vidstyle.options), and one of the
# planner's own.
METHOD_OPTIONS: dict[str, tuple[type, ...]] = jobfile_types(MethodConfig)
VIDEO_OPTIONS: dict[str, tuple[type, ...]] = jobfile_types(VideoConfig)
FOLDER_OPTIONS: dict[str, tuple[type, ...]] = jobfile_types(FolderConfig)
OTHER_OPTIONS: dict[str, type | tuple[type, ...]] = {"sequence": bool}
OPTIONS = METHOD_OPTIONS | VIDEO_OPTIONS | FOLDER_OPTIONS | OTHER_OPTIONS
JOB_KEYS = {"name", "input", "styles", "style", "output", "priority"}
DEFAULT_KEYS = {"output", "priority"}
# Keys of the queue, not of the output: ``priority`` (an integer; higher first, default 0).
QUEUE_KEYS: dict[str, type] = {"priority": int}
_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


@dataclass(frozen=True)
class Job:
    """One ``[[job]]`` after checking.

    Attributes:
        name: the job's name (``job1``, ``job2``, ... when not given).
        input: the input path or glob, absolute.
        styles: the style images, absolute: each entry a path, or a tuple of paths blended
            into one style (with the ``style_blend`` option's weights, equal by default).
        output: the output template (``{job}``, ``{style}``, ``{path}``, ``{name}``,
            ``{variant}``), relative to the job file's folder unless absolute.
        options: option values that are the same for every variant.
        sweep: options given as lists, each with its values, in the file's order.
        root: the job file's folder, which relative outputs are under.
        priority: the job's tasks are claimed before those of jobs of a lower priority.
    """

    name: str
    input: Path
    styles: tuple[Path | tuple[Path, ...], ...]
    output: str
    root: Path
    options: dict = field(default_factory=dict)
    sweep: dict = field(default_factory=dict)
    priority: int = 0

    def variants(self) -> list[dict]:
        """Every combination of the swept values, as option dicts (one empty dict: no sweep)."""
        names = list(self.sweep)
        return [dict(zip(names, values)) for values in itertools.product(*self.sweep.values())]


@dataclass(frozen=True)
class JobFile:
    """A checked job file: where it is and its jobs."""

    path: Path
    jobs: tuple[Job, ...]

    @property
    def run_dir(self) -> Path:
        """The run folder beside the job file: ``night.toml`` -> ``night.vidstyle-run/``."""
        return self.path.with_name(self.path.stem + ".vidstyle-run")


def load(path: str | Path) -> JobFile:
    """Read and check a job file.

    Raises:
        UsageError: naming the file, and the job and key where there is one: a TOML syntax error
            (with its line), an unknown key, a wrong type, a missing input or style.
    """
    path = Path(path).resolve()  # every message names the file one way: absolute
    if path.is_dir():
        raise UsageError(path, "is a folder, not a job file", hint="give the .toml file")
    if not path.is_file():
        raise UsageError(path, "no such job file")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise UsageError(path, f"TOML syntax error: {error}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(path, f"cannot read job file: {error}") from None
    unknown = set(data) - {"defaults", "job"}
    if unknown:
        raise UsageError(path, f"unknown table {sorted(unknown)[0]!r} (use [defaults], [[job]])")
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise UsageError(path, "[defaults] must be a table")
    _check_keys(path, "[defaults]", defaults, set(OPTIONS) | DEFAULT_KEYS)
    for key, value in defaults.items():  # a default's mistake is the default's, not a job's
        _check_default(path, key, value)
    jobs = data.get("job", [])
    if not isinstance(jobs, list) or not jobs:
        raise UsageError(path, "no [[job]] tables", hint="see README: batch jobs")
    checked = [_job(path, i, table, defaults) for i, table in enumerate(jobs, 1)]
    names = [job.name for job in checked]
    for name in names:
        if names.count(name) > 1:
            raise UsageError(path, f"two jobs are named {name!r}")
    return JobFile(path, tuple(checked))


def _job(path: Path, index: int, table: dict, defaults: dict) -> Job:
    name = str(table.get("name", f"job{index}"))
    where = f"job {name!r}"
    _check_keys(path, where, table, set(OPTIONS) | JOB_KEYS)
    base = path.resolve().parent
    if "input" not in table:
        raise UsageError(path, f"{where}: key 'input' is missing")
    source = _string(path, where, "input", table["input"])
    if "styles" in table and "style" in table:
        raise UsageError(path, f"{where}: give 'styles' or 'style', not both")
    styles = table.get("styles", table.get("style"))
    if styles is None:
        raise UsageError(path, f"{where}: key 'styles' is missing")
    styles = [styles] if isinstance(styles, str) else styles
    if not isinstance(styles, list) or not styles:
        raise UsageError(path, f"{where}: key 'styles' must be a list of image files")
    style_paths = tuple(_style(path, where, base, entry) for entry in styles)
    options, sweep = {}, {}
    for key, value in (defaults | table).items():
        if key not in OPTIONS:
            continue
        if key == "style_blend":
            values = _blends(path, where, value, style_paths)
        else:
            values = value if isinstance(value, list) else [value]
        if not values:
            raise UsageError(path, f"{where}: key {key!r} is an empty list")
        for one in values if key != "style_blend" else ():
            _check_type(path, where, key, one)
        if len(values) > 1:
            sweep[key] = values
        else:
            options[key] = values[0]
    if isinstance(options.get("network"), str):  # a trained network, beside the job file
        options["network"] = str(base / options["network"])
    output = _string(
        path, where, "output", table.get("output", defaults.get("output")) or DEFAULT_OUTPUT
    )
    _check_template(path, where, output)
    priority = table.get("priority", defaults.get("priority", 0))
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise UsageError(path, f"{where}: key 'priority' must be an integer, got {priority!r}")
    return Job(name, base / source, style_paths, output, base, options, sweep, priority)


def _check_default(path: Path, key: str, value) -> None:
    """A ``[defaults]`` value's type (a list: each value of the sweep), named as the default's."""
    where = "[defaults]"
    if key == "output":
        _string(path, where, key, value)
        _check_template(path, where, value)
    elif key in QUEUE_KEYS and (not isinstance(value, int) or isinstance(value, bool)):
        raise UsageError(path, f"{where}: key {key!r} must be an integer, got {value!r}")
    elif key in OPTIONS and key != "style_blend":
        for one in value if isinstance(value, list) else [value]:
            _check_type(path, where, key, one)


def _style(path: Path, where: str, base: Path, entry) -> Path | tuple[Path, ...]:
    """One entry of ``styles``: an image file, or a list of two or more to blend (a tuple)."""
    blended = isinstance(entry, list)
    names = entry if blended else [entry]
    if blended and (len(names) < 2 or any(isinstance(n, list) for n in names)):
        raise UsageError(path, f"{where}: key 'styles': a blend is a list of two or more image "
                         f"files, got {entry!r}")  # fmt: skip
    paths = tuple(base / _string(path, where, "styles", name) for name in names)
    for style in paths:
        if not style.is_file():
            raise UsageError(path, f"{where}: key 'styles': no such file {style}")
    return paths if blended else paths[0]


def _blends(path: Path, where: str, value, styles) -> list[tuple[float, ...]]:
    """``style_blend``: one list of weights (``[0.7, 0.3]``, or ``"0.7,0.3"``), or a list of
    such lists (a sweep); each must give one weight per image of every style entry, 0 or more,
    adding up to 1."""
    key = f"{where}: key 'style_blend'"
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",")]
        try:
            value = [float(part) for part in value]
        except ValueError:
            raise UsageError(path, f"{key}: cannot read {','.join(value)!r}",
                             hint="give weights such as [0.7, 0.3]") from None  # fmt: skip
    if not isinstance(value, list) or not value:
        raise UsageError(path, f"{key} must be a list of weights, got {value!r}")
    blends = value if all(isinstance(v, list) for v in value) else [value]
    out = []
    for weights in blends:
        if not weights or not all(isinstance(w, (int, float)) and not isinstance(w, bool)
                                  for w in weights):  # fmt: skip
            raise UsageError(path, f"{key} must be a list of numbers, got {weights!r}")
        if problem := blend_problem(weights):
            raise UsageError(path, f"{key}: {problem}")
        for style in styles:
            count = len(style) if isinstance(style, tuple) else 1
            if count != len(weights):
                names = "+".join(p.name for p in (style if count > 1 else (style,)))
                images = "style image" if count == 1 else "style images"
                raise UsageError(path, f"{key}: {len(weights)} weights for {count} {images} "
                                 f"({names})", hint="blend styles in an inner list: "
                                 'styles = [["a.jpg", "b.jpg"]]')  # fmt: skip
        out.append(tuple(float(w) for w in weights))
    return out


def _check_template(path: Path, where: str, output: str) -> None:
    """Refuse an output template with an unknown or malformed placeholder (messages name them
    without braces, which error messages keep for parameters)."""
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(output) if name is not None]
    except ValueError as error:
        raise UsageError(path, f"{where}: key 'output': {error}") from None
    for name in names:
        if name not in PLACEHOLDERS:
            raise UsageError(path, f"{where}: key 'output': unknown placeholder {name!r}",
                             hint="use " + ", ".join(PLACEHOLDERS))  # fmt: skip


def _check_keys(path: Path, where: str, table: dict, allowed: set[str]) -> None:
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(key, sorted(allowed), n=1)
            hint = f"did you mean {close[0]!r}?" if close else None
            raise UsageError(path, f"{where}: unknown key {key!r}", hint=hint)


def _check_type(path: Path, where: str, key: str, value) -> None:
    wanted = OPTIONS[key]
    wanted = wanted if isinstance(wanted, tuple) else (wanted,)
    # bool is an int in Python; TOML keeps them apart, and so do we
    if isinstance(value, bool) != (bool in wanted) or not isinstance(value, wanted):
        names = " or ".join(dict.fromkeys(_TYPE_NAMES[t] for t in wanted))
        raise UsageError(path, f"{where}: key {key!r} must be {names}, got {value!r}")


def _string(path: Path, where: str, key: str, value) -> str:
    if not isinstance(value, str) or not value:
        raise UsageError(path, f"{where}: key {key!r} must be a non-empty string, got {value!r}")
    return value
