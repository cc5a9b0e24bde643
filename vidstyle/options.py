"""Options declared once: each is a field of a config dataclass with an :class:`Option` beside it.

A field made with :func:`option` carries its type (the annotation), its default (the field's),
its help text, how it is written on the command line and in job files, how text is read into it,
and whether it changes the output. From these declarations come:

- the Typer parameters of the commands (see :mod:`vidstyle._cli.params`);
- the job-file schema (:func:`jobfile_types`);
- the parsing of option dicts into configs (:func:`from_options`);
- what decides an output's identity, its fingerprint (:func:`identity`).

Adding an option is adding one such field to :class:`vidstyle.config.MethodConfig` or
:class:`vidstyle.config.VideoConfig` (and using it); one that changes the output is declared
``later=True``, so that outputs made before it existed keep their fingerprints. Choices are
checked from the declaration (:func:`check_choices`); bounds, whose messages differ, are checked
beside it, in the config's ``__post_init__``. Fields without an :class:`Option` (Adam's
``beta_1``...) are settings of the library only: no flag, no job-file key, but they count in the
fingerprint.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vidstyle.errors import UsageError

BLEND_TOLERANCE = 1e-6  # how far from 1 the style blend's weights may add up to
_TOML_TYPES = {int: (int,), float: (int, float), str: (str,), bool: (bool,)}


@dataclass(frozen=True)
class Option:
    """How one config field is offered to users.

    Attributes:
        help: the help text (``--help``), naming other options as ``{name}`` (the command
            line shows ``--name``).
        key: the name on the command line (``--key``, ``_`` as ``-``) and in job files; None:
            the field's name.
        flags: extra spellings on the command line (``-s``).
        text: given as text (comma-separated lists, times): a string on the command line,
            read by ``parse``.
        parse: reads a command-line or job-file value into the field's value (None: as given).
        toml: the TOML types a job file may give (None: from the field's type); ``()``: not a
            job-file key.
        show_default: shown as the default in ``--help`` instead of the field's default.
        output: changes the output: counts in the fingerprint (False: left out of it).
        frames: with ``output``, a clip's frames depend on it (False: only the final video).
        later: added after outputs were first fingerprinted: left out of the fingerprint while
            at its default, so older work folders, manifests and ledgers are still recognised.
        not_in: the commands that do not offer it (``video``).
        choices: the values it may take (None: any of its type); see :func:`check_choices`.
        switch: on the command line it is absent (None) unless given, and giving it asks for
            its config at all (``--ray``); the field's default is the library's.
    """

    help: str
    key: str | None = None
    flags: tuple[str, ...] = ()
    text: bool = False
    parse: Callable | None = None
    toml: tuple[type, ...] | None = None
    show_default: str | None = None
    output: bool = True
    frames: bool = True
    later: bool = False
    not_in: tuple[str, ...] = ()
    choices: tuple[str, ...] | None = None
    switch: bool = False


@dataclass(frozen=True)
class Declared:
    """One declared option of a config class: its field's name, type, default and Option."""

    name: str
    type: object
    default: object
    option: Option

    @property
    def key(self) -> str:
        """The name on the command line and in job files."""
        return self.option.key or self.name


def option(default, help: str, **settings):
    """A dataclass field declaring an option (see :class:`Option` for ``settings``)."""
    return dataclasses.field(default=default, metadata={"option": Option(help, **settings)})


def declared(cls) -> tuple[Declared, ...]:
    """The options declared on a config class (or instance), in field order."""
    return _declared(cls if isinstance(cls, type) else type(cls))


@functools.cache
def _declared(cls: type) -> tuple[Declared, ...]:
    hints = typing.get_type_hints(cls)
    return tuple(
        Declared(f.name, hints[f.name], f.default, f.metadata["option"])
        for f in dataclasses.fields(cls)
        if "option" in f.metadata
    )


def from_options(cls, values: dict):
    """A config from option values named as on the command line and in job files (field names
    are accepted too); ``None`` values and other keys are ignored; text is parsed.

    Raises:
        UsageError: a value cannot be read, or the config refuses it.
    """
    fields = {f.name for f in dataclasses.fields(cls)}
    chosen = {k: v for k, v in values.items() if k in fields and v is not None}
    for one in declared(cls):
        if values.get(one.key) is not None:
            chosen[one.name] = values[one.key]
        if one.name in chosen and one.option.parse is not None:
            chosen[one.name] = one.option.parse(chosen[one.name])
    return cls(**chosen)


def check_choices(config) -> None:
    """Refuse a config whose options are not among their declared choices.

    Raises:
        UsageError: naming the first such option and its choices.
    """
    for one in declared(config):
        if one.option.choices and getattr(config, one.name) not in one.option.choices:
            choices = ", ".join(one.option.choices)
            raise UsageError(None, f"{{{one.name}}} must be one of {choices}")


def jobfile_types(cls) -> dict[str, tuple[type, ...]]:
    """The job-file keys of a config class's options and the TOML types each takes."""
    types_ = {}
    for one in declared(cls):
        wanted = one.option.toml
        if wanted is None:
            wanted = _TOML_TYPES[_plain(one.type)]
        if wanted:
            types_[one.key] = wanted
    return types_


def identity(config, *, unused: str = "none", frames: bool = False) -> dict:
    """What of a config decides an output, for its fingerprint: every field, but options that
    do not change the output are None (``unused="none"``) or left out (``"drop"``), and options
    added later are left out while at their default. With ``frames``, options that change only
    the final video, not a clip's frames, count as unused."""
    values = dataclasses.asdict(config)
    for one in declared(config):
        kept = one.option.output and (one.option.frames or not frames)
        if not kept and unused == "drop":
            del values[one.name]
        elif not kept:
            values[one.name] = None
        elif one.option.later and values[one.name] == one.default:
            del values[one.name]
    return values


def later_defaults(cls) -> dict:
    """The options added later, with their defaults (see :attr:`Option.later`)."""
    return {one.name: one.default for one in declared(cls) if one.option.later}


def cli_type(one: Declared):
    """The type of an option's command-line parameter: text options are strings (optional when
    their default is empty)."""
    if one.option.text:
        return str | None if one.default in (None, ()) else str
    return one.type | None if one.option.switch else one.type


def cli_default(one: Declared):
    """An option's default as the command line shows and takes it."""
    if one.option.switch:
        return None
    if one.option.text and isinstance(one.default, tuple):
        return ",".join(map(str, one.default)) or None
    return one.default


def _plain(hint) -> type:
    """``int`` of ``int | None``; ``str`` for what is given as text."""
    if isinstance(hint, types.UnionType):
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    return hint if hint in _TOML_TYPES else str


# Readers of option values given as text (command line) or in job files (TOML values).


def blend_problem(weights) -> str | None:
    """What is wrong with style blend weights, or None: each must be 0 or more (NaN is not), and
    they must add up to 1 within :data:`BLEND_TOLERANCE`. The text names no option: the config
    and the job file put it after their own names."""
    shown = ",".join(f"{w:g}" for w in weights)
    if not all(w >= 0 for w in weights):
        return f"weights must be 0 or more, got {shown}"
    if abs(sum(weights) - 1.0) > BLEND_TOLERANCE:
        return f"weights must add up to 1, got {shown} (sum {sum(weights):g})"
    return None


def check_blend(weights: tuple[float, ...]) -> None:
    """Refuse blend weights that are negative or do not add up to 1 (an empty blend is equal
    weights)."""
    if weights and (problem := blend_problem(weights)):
        raise UsageError(None, f"{{style_blend}} {problem}")


def parse_layers(value) -> tuple[str, ...]:
    """VGG19 layer names from ``"block1_conv1, block2_conv1"`` (a tuple stays as it is)."""
    if isinstance(value, str):
        return tuple(name.strip() for name in value.split(",") if name.strip())
    return value


def parse_blend(text) -> tuple[float, ...]:
    """``"0.7,0.3"`` (or a list from a ledger's JSON) as ``(0.7, 0.3)``.

    Raises:
        UsageError: for anything but comma-separated numbers.
    """
    if isinstance(text, list):
        return tuple(text)
    if not isinstance(text, str):
        return text
    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError:
        raise UsageError(
            None,
            f"cannot read {{style_blend}} {text!r}",
            hint="give comma-separated weights such as 0.7,0.3",
        ) from None


def parse_offsets(text: str | int | list) -> tuple[int, ...]:
    """The frame offsets of ``long_term`` from ``"1,2,4"`` (or an integer, or a list).

    Raises:
        UsageError: for anything but comma-separated whole numbers.
    """
    parts = [text] if isinstance(text, int) else text
    parts = parts.split(",") if isinstance(parts, str) else parts
    try:
        return tuple(_whole(part) for part in parts)
    except ValueError:
        raise UsageError(None, f"cannot read {{long_term}} {text!r}",
                         hint="give frame offsets such as 1,2,4") from None  # fmt: skip


def check_offsets(offsets) -> tuple[int, ...]:
    """``long_term`` sorted; refused unless whole numbers of 1 or more, with 1 among them."""
    offsets = parse_offsets(offsets if isinstance(offsets, str | int) else list(offsets))
    offsets = tuple(sorted(set(offsets)))
    if not offsets or offsets[0] < 1:
        shown = ",".join(map(str, offsets))
        raise UsageError(None, f"{{long_term}} offsets must be 1 or more, got {shown or 'none'}")
    if offsets[0] != 1:
        raise UsageError(None, "{long_term} must include 1 (the previous frame)")
    return offsets


def _whole(part) -> int:
    if isinstance(part, bool) or not isinstance(part, int | str):
        raise ValueError(part)
    return int(part.strip()) if isinstance(part, str) else part


def read_offsets(value) -> tuple[int, ...]:
    """``long_term`` as given: text, an integer or a list is parsed, a tuple stays."""
    return parse_offsets(value) if isinstance(value, str | int | list) else value


def parse_time(text: str | None) -> float | None:
    """Seconds from ``12.5``, ``1:02.5`` or ``01:00:02.5``; None stays None (so do numbers).

    Raises:
        UsageError: for anything else.
    """
    if not isinstance(text, str):
        return text
    parts = text.strip().split(":")
    try:
        seconds = 0.0
        for part in parts:
            seconds = seconds * 60 + float(part)
    except ValueError:
        seconds = -1.0
    if len(parts) > 3 or seconds < 0:
        raise UsageError(None, f"cannot read the time {text!r}", hint="use seconds or hh:mm:ss")
    return seconds


def check_network(config) -> None:
    """The network path's options of a :class:`vidstyle.config.VideoConfig`: a ``network`` given
    is made a path and chooses ``render`` network.

    Raises:
        UsageError: for fewer than 1 keyframe, a negative ``keyframe_every`` or a negative (or
            NaN) ``train_minutes``.
    """
    if config.network is not None:
        object.__setattr__(config, "network", Path(config.network))
        object.__setattr__(config, "render", "network")
    if config.keyframes < 1 or config.keyframe_every < 0:
        raise UsageError(None, "{keyframes} must be at least 1 and {keyframe_every} 0 or more")
    if not config.train_minutes >= 0:  # also rejects NaN
        raise UsageError(None, f"{{train_minutes}} must be 0 or more, got {config.train_minutes}")
