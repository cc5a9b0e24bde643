"""vidstyle's benchmarks: one script per question, run from the repository root as
``python -m benchmarks.NAME ...`` (``benchmarks/README.md`` says what each measures).

The shared parts:

- :mod:`benchmarks.harness`: the command line every script shares (``--results``, ``--json``,
  ``--weights``), the engines (one VGG19 per set of layers and precision), the inputs (loaded by
  vidstyle's own loaders), and the end of a run (print the tables, log them);
- :mod:`benchmarks.timing`: wall and CPU clocks, interleaved repeats and their medians, seconds
  per optimization step;
- :mod:`benchmarks.table`: the table printer (markdown, aligned);
- :mod:`benchmarks.results`: the results log, ``benchmarks/results.md``, one entry per run with
  its date, commit, CPU flags and precision;
- :mod:`benchmarks.yardstick`: the independent temporal yardstick;
- :mod:`benchmarks.synthclips`: synthetic clips with known flow and occlusions;
- :mod:`benchmarks.recipe`: the TensorFlow tutorial's recipe, the reference of speed and quality.

Adding a script: a module ``benchmarks/NAME.py`` whose ``main(argv=None, make_engine=None)``
parses ``harness.parser(__doc__)``, builds engines with ``make_engine or harness.Engines(...)``,
fills :class:`benchmarks.table.Table` objects and ends with :func:`benchmarks.harness.finish`;
a section in ``benchmarks/README.md``; and a smoke test at tiny sizes in
``tests/benchmarks/test_NAME_benchmark.py`` (see the others).
"""
