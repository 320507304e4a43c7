"""Log import throughput and peak memory: ``import_logs`` vs a plain pandas baseline.

The same synthetic OpenAI-style JSONL log (tests/traffic_logs.py) is imported twice in
one run, each in its own process so each peak RSS is its own: (a) by
:func:`core.traffic.import_logs.import_logs` (streamed, every line validated, rejects
counted, all or nothing), and (b) by a plain pandas baseline: ``read_json(lines=True)``
of the whole file, the same field mapping and checks (required fields, UTC timestamps,
duplicate ids dropped), then one DuckDB ``CREATE TABLE AS`` from the frame. The benchmark
prints rows/s and peak RSS of each and their ratios.

``BENCH_TRAFFIC_ROWS`` sets the size (default 1,000,000); ``BENCH_TRAFFIC_10M=1`` runs
10,000,000 (about 4.4 GB of JSONL: the baseline then needs tens of GB of memory). Run with
``make bench`` or
``.venv/bin/python -m pytest tests/benchmarks/bench_traffic_import.py -m bench -s``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.traffic_logs import write_log

ROOT = Path(__file__).resolve().parents[2]

_OURS = """
import resource, sys, time
from pathlib import Path
from core.traffic.import_logs import import_logs
t0 = time.perf_counter()
report = import_logs(Path(sys.argv[1]), [Path(sys.argv[2])])
dt = time.perf_counter() - t0
print(report.rows_accepted, dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

_PANDAS = """
import json, resource, sys, time
import duckdb, pandas as pd
t0 = time.perf_counter()
df = pd.read_json(sys.argv[2], lines=True)
out = pd.DataFrame({
    "timestamp": pd.to_datetime(df["created"], unit="s", utc=True),
    "request_id": df["id"].astype(str),
    "account_id": df["user"].astype(str),
    "model": df["model"].astype(str),
    "ip": df["ip"],
    "messages": df["messages"].map(lambda m: json.dumps(m, ensure_ascii=False)),
    "response": df["choices"].map(lambda c: c[0]["message"]["content"]),
    "input_tokens": df["usage"].map(lambda u: u.get("prompt_tokens")),
    "output_tokens": df["usage"].map(lambda u: u.get("completion_tokens")),
    "sampling": [json.dumps({"temperature": t, "top_p": p}) for t, p in
                 zip(df["temperature"], df["top_p"])],
})
del df
out["source_line"] = range(1, len(out) + 1)
out = out.dropna(subset=["timestamp", "request_id", "account_id", "model"])
out = out.drop_duplicates("request_id")
con = duckdb.connect(sys.argv[1])
con.execute("SET enable_progress_bar = false")
con.execute("CREATE TABLE requests AS SELECT * FROM out")
n = con.execute("SELECT count(*) FROM requests").fetchone()[0]
con.close()
dt = time.perf_counter() - t0
print(n, dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _run(script: str, *args: str) -> tuple[int, float, float]:
    out = (
        subprocess.run(
            [sys.executable, "-c", script, *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.splitlines()[-1]
        .split()
    )
    return int(out[0]), float(out[1]), int(out[2]) / 1024  # rows, seconds, peak MiB


@pytest.mark.bench
def test_traffic_import_vs_pandas(tmp_path: Path) -> None:
    rows = 10_000_000 if os.environ.get("BENCH_TRAFFIC_10M") else 1_000_000
    rows = int(os.environ.get("BENCH_TRAFFIC_ROWS", rows))
    log = write_log(tmp_path / "log.jsonl", rows, accounts=25_000)
    ours = _run(_OURS, str(tmp_path / "case.dacase"), str(log))
    base = _run(_PANDAS, str(tmp_path / "pandas.duckdb"), str(log))
    assert ours[0] == base[0] == rows
    size_mb = log.stat().st_size / 1e6
    print(
        f"\ntraffic import, {rows:,} rows ({size_mb:,.0f} MB of JSONL)"
        f"\n  import_logs:     {ours[1]:.1f} s, {rows / ours[1]:,.0f} rows/s, "
        f"peak RSS {ours[2]:,.0f} MiB"
        f"\n  pandas baseline: {base[1]:.1f} s, {rows / base[1]:,.0f} rows/s, "
        f"peak RSS {base[2]:,.0f} MiB"
        f"\n  ratio import_logs / pandas: speed {base[1] / ours[1]:.2f}x, "
        f"peak RSS {ours[2] / base[2]:.2f}x"
    )
    assert ours[1] > 0 and base[1] > 0
