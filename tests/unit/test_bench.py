"""The benchmarks run where only the suite is installed: no pytest, no test support."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Imports each benchmark module with the test-only packages made unimportable, as on a machine
# where the suite was installed without its test extras.
PROBE = """
import importlib.abc, sys

class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"pytest", "_pytest", "tests", "testcontainers"}:
            raise ModuleNotFoundError(f"No module named {name!r}")
        return None

sys.meta_path.insert(0, Absent())
import bench.bare, bench.bus, bench.http, bench.registry, bench.servers, bench.tickets
print("ok")
"""


def test_the_benchmarks_import_without_the_test_dependencies():
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_bench_http_says_how_to_get_wrk_when_it_is_missing():
    done = subprocess.run([sys.executable, "-m", "bench.http", "--seconds", "1"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env={"PATH": "/nonexistent"})
    assert done.returncode == 2
    assert "apt-get install -y wrk" in done.stderr
