"""Where the Ibis expressions run: DuckDB (the default, on the log file) or Spark.

Both give an Ibis table ``requests`` with the canonical columns; the analysis never knows
which engine it runs on. DuckDB opens the log store read-only. Spark (local mode or a
cluster URL) reads the same rows from a Parquet copy DuckDB writes, into a temporary view
(on a cluster the temporary folder must be one the workers can read): the grouping and joins
then run in Spark. Times are handled as epoch seconds in UTC (both
sessions are set to UTC), so the engines agree to the row.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from core.errors import DeclinedError, EvidenceError, FileAccessError
from core.traffic.schema import REQUESTS_TABLE, REQUIRED

ENGINES = ("duckdb", "spark")


@dataclass
class Engine:
    """An Ibis backend holding the ``requests`` table, and how to run an expression."""

    name: str
    backend: Any
    table: ir.Table
    scratch: Path | None = None

    def execute(self, expr: ir.Table) -> pd.DataFrame:
        """The expression's rows (through Arrow: ibis's own pandas conversion warns)."""
        return expr.to_pyarrow().to_pandas()

    def materialise(self, expr: ir.Table, name: str) -> ir.Table:
        """``expr`` computed once and kept for the session: a temporary table on DuckDB
        (the log file itself stays read-only), a cached DataFrame on Spark."""
        if self.name == "duckdb":
            # Plain SQL: ibis 12's create_table emits DDL that DuckDB 2 no longer parses.
            sql = ibis.to_sql(expr, dialect="duckdb")
            self.backend.con.execute(f'CREATE OR REPLACE TEMP TABLE "{name}" AS {sql}')
            return self.backend.table(name)
        return expr.cache()

    def close(self) -> None:
        if self.name == "duckdb":
            self.backend.con.close()
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)


def spark_session(master: str = "local[2]", app: str = "distill-audit-traffic") -> Any:
    """A Spark session in UTC with small shuffles (the analysis is many small group-bys)."""
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master(master)
        .appName(app)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "false")
        .config("spark.driver.memory", "4g")
        .getOrCreate()
    )


def _check_columns(columns: list[str], path: Path) -> None:
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise EvidenceError(
            f"{path.name} has no {', '.join(missing)} in its {REQUESTS_TABLE} table; "
            "import the logs again with this version."
        )


def open_engine(
    path: str | Path,
    engine: str = "duckdb",
    *,
    spark_master: str | None = None,
    spark: Any = None,
) -> Engine:
    """The log store at ``path`` on ``engine``; typed errors when it cannot be read."""
    p = Path(path)
    if engine not in ENGINES:
        raise DeclinedError(f"unknown engine {engine!r}; choose duckdb or spark.")
    if not p.is_file():
        raise FileAccessError(f"{p} is not a log store; import the request logs first.")
    import duckdb

    try:
        raw = duckdb.connect(str(p), read_only=True)
        raw.execute("SET TimeZone = 'UTC'")
        found = raw.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
            [REQUESTS_TABLE],
        ).fetchone()
    except duckdb.Error as exc:
        raise EvidenceError(f"{p.name} is not a readable DuckDB log store ({exc}).") from exc
    if not found or not found[0]:
        raw.close()
        raise EvidenceError(f"{p.name} holds no {REQUESTS_TABLE} table: no logs imported.")
    con = ibis.duckdb.from_connection(raw)
    table = con.table(REQUESTS_TABLE)
    _check_columns(list(table.columns), p)
    if engine == "duckdb":
        return Engine("duckdb", con, table)
    # Spark reads the rows from a Parquet copy written by DuckDB (no rows pass through
    # Python); the copy lives in a temporary folder removed by close().
    folder = Path(tempfile.mkdtemp(prefix="distill-audit-traffic-"))
    parquet = folder / "requests.parquet"
    try:
        raw.execute(f"COPY {REQUESTS_TABLE} TO '{parquet}' (FORMAT PARQUET)")
    except duckdb.Error as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise EvidenceError(f"{p.name} could not be handed to Spark ({exc}).") from exc
    finally:
        raw.close()
    session = spark or spark_session(spark_master or "local[2]")
    session.read.parquet(str(parquet)).createOrReplaceTempView(REQUESTS_TABLE)
    backend = ibis.pyspark.connect(session)
    return Engine("spark", backend, backend.table(REQUESTS_TABLE), folder)
