"""The ``vidstyle`` command line (private): Typer apps over the library, the only place that
prints with rich, speaks of ``--flags`` and picks exit codes (0 success, 1 failure, 2 usage
error, 3 work remains, 130 interrupted, 143 terminated).

- :mod:`~vidstyle._cli.app`: the app and ``main``;
- :mod:`~vidstyle._cli.common`: consoles, shared options, error reporting, the engine;
- :mod:`~vidstyle._cli.params`: Typer parameters generated from :mod:`vidstyle.options`;
- :mod:`~vidstyle._cli.commands`, :mod:`~vidstyle._cli.batch`: the commands;
- :mod:`~vidstyle._cli.summaries`, :mod:`~vidstyle._cli.reporters`: what they print.
"""

from vidstyle._cli.app import app, main

__all__ = ["app", "main"]
