"""``python -m vidstyle``: the same as the ``vidstyle`` command."""

from vidstyle.cli import main

main()
