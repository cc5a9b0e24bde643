"""For the benchmarks' smoke tests (``tests/benchmarks``): each script runs end to end at tiny
sizes, prints its table and appends one well-formed entry to a results log of the test's own."""

from __future__ import annotations

import re
from pathlib import Path

HEADING = re.compile(
    r"^### (?P<script>[a-z0-9_]+) · \d{4}-\d\d-\d\d \d\d:\d\d UTC · "
    r"commit (?:[0-9a-f]{7,}(?:\+dirty)?|unknown) · "
    r"cpu (?:none|(?:amx_bf16|avx512_bf16)(?: (?:amx_bf16|avx512_bf16))?) · (?P<precision>\S.*)$"
)


def entries(path: Path) -> list[dict]:
    """The entries of a results log: script, precision, command and tables (lists of rows,
    each a list of cells), checked for form on the way."""
    out = []
    for block in re.split(r"\n(?=### )", path.read_text().strip()):
        lines = block.splitlines()
        heading = HEADING.match(lines[0])
        assert heading, f"malformed heading: {lines[0]!r}"
        assert lines[2].startswith(f"`python -m benchmarks.{heading['script']}"), lines[2]
        tables, current = [], None
        for line in lines[3:]:
            if line.startswith("|"):
                cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip()[1:-1])]
                if current is None:
                    current = [cells]
                    tables.append(current)
                elif set("".join(cells)) <= {"-"}:
                    assert len(current) == 1, f"separator inside a table: {line!r}"
                else:
                    assert len(cells) == len(current[0]), f"{line!r} under {current[0]}"
                    current.append(cells)
            else:
                current = None
        assert tables and all(len(t) > 1 for t in tables), f"no table rows in:\n{block}"
        out.append({"script": heading["script"], "precision": heading["precision"],
                    "command": lines[2], "tables": tables})  # fmt: skip
    return out


def run(module, argv: list[str], tmp_path: Path, capsys, **kwargs) -> tuple[str, dict]:
    """``module.main(argv + --results LOG, **kwargs)`` with a log in ``tmp_path``; it must
    return None or 0 (a script's exit code).

    Returns:
        (what it printed, the one entry it logged: see :func:`entries`).
    """
    log = tmp_path / "results.md"
    code = module.main([*argv, "--results", str(log)], **kwargs)
    assert code in (None, 0), f"exit code {code}"
    found = entries(log)
    assert len(found) == 1, f"{len(found)} entries logged"
    return capsys.readouterr().out, found[0]


_ENGINES: list = []


def tiny_engines():
    """``make_engine`` over one tiny random-weight network for the whole session (its features
    built once per set of layers and precision): :class:`benchmarks.harness.Engines`."""
    if not _ENGINES:
        from tinyvgg import tiny_vgg

        from benchmarks.harness import Engines

        _ENGINES.append(Engines(vgg=tiny_vgg()))
    return _ENGINES[0]
