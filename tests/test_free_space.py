"""The suite's own disk check: a run that cannot fit says so before it starts."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.services import free_space_problem

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_a_folder_with_room_passes_and_one_without_is_named(tmp_path):
    assert free_space_problem(tmp_path, need=1) is None
    problem = free_space_problem(tmp_path, need=2**62)
    assert problem is not None
    assert str(tmp_path) in problem and "GiB free" in problem


def test_make_test_stops_with_one_line_when_the_disk_is_too_small(tmp_path):
    """The CI run that filled /tmp failed 595 tests with ENOSPC; a run that starts short of
    space is stopped by pytest_configure with a usage error (exit 4) naming the folder."""
    env = {
        **os.environ,
        "WEIGHTWATCH_REQUIRE_SERVICES": "1",
        "TMPDIR": str(tmp_path),
        "WEIGHTWATCH_TEST_NEED_BYTES": str(2**62),
    }
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "--co", "tests/test_free_space.py"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 4, run.stdout + run.stderr
    assert str(tmp_path) in run.stderr and "GiB free" in run.stderr
