"""``python -m benchmarks.pastcompare``: an old commit (here HEAD) in a temporary git worktree
beside this tree, each through its own ``vidstyle video`` in a process of its own (real weights:
the point of the script is another tree's command line)."""

import subprocess

import benchlog
import pytest

from benchmarks import harness, pastcompare


def worktrees() -> list[str]:
    listed = subprocess.run(["git", "-C", str(harness.ROOT), "worktree", "list", "--porcelain"],
                            capture_output=True, text=True, check=True).stdout  # fmt: skip
    return [line for line in listed.splitlines() if line.startswith("worktree ")]


@pytest.mark.real_weights
def test_an_old_commit_beside_today_on_a_synthetic_clip(tmp_path, capsys, real_weights):
    before = worktrees()
    argv = ["synth:panocclude", "--style", str(harness.STYLE), "--old", "HEAD", "--size", "96",
            "--frames", "2", "--steps-first", "2", "--steps-next", "2",
            "--weights", str(real_weights.path)]  # fmt: skip
    out, entry = benchlog.run(pastcompare, argv, tmp_path, capsys,
                              make_engine=benchlog.tiny_engines())  # fmt: skip
    (table,) = entry["tables"]
    assert [row[0] for row in table] == ["row", "old", "today"]
    assert table[1][3] == "1.00" and table[2][8] == "1.00"  # each over its reference
    assert all(float(row[10]) >= 0 for row in table[1:])  # the true flow at the clip's size
    assert worktrees() == before  # the old tree's worktree is gone
