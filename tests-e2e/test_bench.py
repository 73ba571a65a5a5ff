"""`just bench` as a developer runs it, made short: it starts its own stack, measures the fake
upstream directly and through the gateway, and writes the table. Speed is not asserted here
(the benchmark's figures are read, never tested); that it runs and answers without errors is."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
BENCH = Path(__file__).parents[1] / "gateway" / "bench" / "inference_bench.py"


def test_bench_measures_direct_and_through_the_gateway_and_writes_the_table(
    tmp_path: Path,
) -> None:
    table = tmp_path / "bench.md"
    command = [
        sys.executable, str(BENCH), "--duration", "0.5", "--repeat", "2",
        "--connections", "1,4", "--output", str(table),
    ]  # fmt: skip
    finished = subprocess.run(command, capture_output=True, text=True, timeout=110)
    assert finished.returncode == 0, finished.stdout[-2000:] + finished.stderr[-2000:]
    rows = [line for line in table.read_text().splitlines() if line.startswith("| ")][1:]
    cells = [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]
    assert [(c[0], c[1]) for c in cells] == [
        ("non-stream", "1"),
        ("non-stream", "4"),
        ("stream (TTFB)", "1"),
        ("stream (TTFB)", "4"),
    ]
    for cell in cells:
        direct_rps, gateway_rps, errors = float(cell[2]), float(cell[3]), int(cell[8])
        assert direct_rps > 0 and gateway_rps > 0 and errors == 0, cell
    assert "median of 2 runs" in table.read_text()
