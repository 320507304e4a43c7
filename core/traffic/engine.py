"""Where the Ibis expressions run: DuckDB (the default, on the log file) or Spark.

Both give an Ibis table ``requests`` with the canonical columns; the analysis never knows
which engine it runs on. DuckDB opens the log store read-only. Spark (local mode or a
cluster URL) reads the same rows, handed over as an Arrow table, into a temporary view:
the grouping and joins then run in Spark. Times are handled as epoch seconds in UTC (both
sessions are set to UTC), so the engines agree to the row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
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
        .getOrCreate()
    )


def _spark_schema(table: ir.Table) -> Any:
    """The Spark schema of the requests table (given, so all-empty columns keep their type)."""
    from pyspark.sql import types as st

    def spark_type(dtype: Any) -> Any:
        if dtype.is_timestamp():
            return st.TimestampType()
        if dtype.is_integer():
            return st.LongType()
        if dtype.is_floating():
            return st.DoubleType()
        return st.StringType()

    return st.StructType(
        [st.StructField(name, spark_type(dtype), True) for name, dtype in table.schema().items()]
    )


def _spark_rows(arrow: Any) -> list[tuple[Any, ...]]:
    """Plain Python rows (None for missing, UTC datetimes without zone) for Spark."""
    columns = []
    for name in arrow.column_names:
        values = arrow.column(name).to_pylist()
        if name == "timestamp":
            values = [v.astimezone(UTC).replace(tzinfo=None) if v else None for v in values]
        columns.append(values)
    return list(zip(*columns, strict=True))


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
    try:
        arrow = table.to_pyarrow()
    finally:
        raw.close()
    session = spark or spark_session(spark_master or "local[2]")
    session.createDataFrame(_spark_rows(arrow), _spark_schema(table)).createOrReplaceTempView(
        REQUESTS_TABLE
    )
    backend = ibis.pyspark.connect(session)
    return Engine("spark", backend, backend.table(REQUESTS_TABLE))
