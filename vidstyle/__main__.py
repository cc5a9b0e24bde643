"""``python -m vidstyle``: the same as the ``vidstyle`` command."""

from vidstyle._cli import main

main()
