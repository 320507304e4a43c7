"""Campaign analysis of N simulated rows: DuckDB (Ibis) vs plain pandas vs Spark local mode.

The pandas version computes the same per-account counts (request flags, hourly volume,
template reuse) from the same prepared rows; the benchmark checks it agrees with the Ibis
result, then prints the seconds of each and the ratio. ``BENCH_TRAFFIC_ROWS`` (default
1,000,000) sets N. Run with
``.venv/bin/python -m pytest tests/benchmarks/bench_traffic_analysis.py -m bench -s``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from core.traffic.campaigns import analyse
from core.traffic.engine import open_engine, spark_session
from core.traffic.indicators import prepared
from core.traffic.simulate import SimulationConfig, simulate
from core.traffic.thresholds import AnalysisParams
from core.traffic.validation import validate

BASE_ROWS = 5500  # rows of the default SimulationConfig, roughly


def pandas_counts(rows: pd.DataFrame, params: AnalysisParams) -> pd.DataFrame:
    """The per-account counts of :mod:`core.traffic.indicators`, in plain pandas."""
    th = params.thresholds
    flags = [c for c in rows.columns if c.startswith("is_")]
    agg = rows.groupby("account_id").agg(
        n=("request_id", "size"),
        input_tokens=("in_tok", "sum"),
        output_tokens=("out_tok", "sum"),
        **{f"s_{c}": (c, "sum") for c in flags},
    )
    per_hour = rows.groupby(["account_id", "hour"]).size().rename("c").reset_index()
    low = th.near_limit_low * params.rate_limit_per_hour
    per_hour["near"] = (per_hour.c >= low) & (per_hour.c <= params.rate_limit_per_hour)
    hourly = per_hour.groupby("account_id").agg(
        hours_active=("c", "size"), hours_near=("near", "sum")
    )
    per_skel = rows.groupby(["account_id", "skeleton"]).size().rename("c").reset_index()
    reused = per_skel[per_skel.c >= th.template_min_repeat]
    templ = reused.groupby("account_id").c.sum().rename("n_templated")
    return agg.join(hourly).join(templ).fillna(0)


def run(folder: Path, rows: int) -> dict[str, Any]:
    cfg = SimulationConfig(seed=0).scaled(rows / BASE_ROWS)
    path = folder / "bench.logs.duckdb"
    t0 = time.perf_counter()
    truth = simulate(path, cfg)
    out: dict[str, Any] = {"rows": truth.rows, "simulate_s": time.perf_counter() - t0}
    params = AnalysisParams(
        release_dates=cfg.release_dates,
        served_regions=cfg.served_regions,
        rate_limit_per_hour=cfg.rate_limit_per_hour,
    )
    engine = open_engine(path)
    t0 = time.perf_counter()
    result = analyse(engine, params)
    out["duckdb_s"] = time.perf_counter() - t0
    out["campaigns_flagged"] = len(result.flagged)
    checked = validate(result, truth)
    out["precision"] = checked.precision.describe()
    out["recall"] = checked.recall.describe()
    out["hard_negatives_flagged"] = sum(checked.hard_negatives.values())
    # pandas: the same prepared columns, fetched once, then grouped in pandas.
    t0 = time.perf_counter()
    frame = engine.execute(prepared(engine.table, params))
    out["pandas_fetch_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    counts = pandas_counts(frame, params)
    out["pandas_s"] = time.perf_counter() - t0
    engine.close()
    for account, row in counts.iterrows():
        ibis_row = result.account_counts[str(account)]
        assert ibis_row["n"] == row["n"] and ibis_row["n_templated"] == row["n_templated"]
        assert ibis_row["hours_near"] == row["hours_near"]
    out["ratio_pandas_over_duckdb"] = out["pandas_s"] / out["duckdb_s"]
    if os.environ.get("BENCH_TRAFFIC_SPARK", "1") == "1":
        session = spark_session("local[2]")
        t0 = time.perf_counter()
        spark = open_engine(path, "spark", spark=session)
        out["spark_load_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        on_spark = analyse(spark, params)
        out["spark_s"] = time.perf_counter() - t0
        assert [c.accounts for c in on_spark.campaigns] == [c.accounts for c in result.campaigns]
        session.stop()
    return out


@pytest.mark.bench
@pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")
@pytest.mark.filterwarnings("ignore:The 'future.infer_string' option is deprecated")
@pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_bench_traffic_analysis(tmp_path: Path) -> None:
    rows = int(os.environ.get("BENCH_TRAFFIC_ROWS", "1000000"))
    figures = run(tmp_path, rows)
    print()
    for key, value in figures.items():
        print(f"{key:>26}: {value:.3f}" if isinstance(value, float) else f"{key:>26}: {value}")
    assert figures["campaigns_flagged"] >= 1
