"""The canonical request-log schema: the one contract between import, analysis and export.

Every importer maps a provider's columns onto these fields; every query reads only these
names from the DuckDB table ``requests``. ``messages`` (a JSON list of chat messages) may
stand in for ``prompt``; ``sampling`` holds the request's sampling settings as JSON.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Table holding one row per logged API request, in the log store (a DuckDB file).
REQUESTS_TABLE = "requests"
#: Table recording each imported file (path, sha256, rows accepted/rejected, mapping).
IMPORTS_TABLE = "imports"
#: Table holding the rows that failed validation (file, line, reason, raw excerpt).
REJECTS_TABLE = "rejects"


@dataclass(frozen=True)
class Field:
    """One canonical field: its name, DuckDB type and whether a log may omit it."""

    name: str
    sql_type: str
    required: bool
    meaning: str


FIELDS: tuple[Field, ...] = (
    Field("timestamp", "TIMESTAMPTZ", True, "when the request was received (stored in UTC)"),
    Field("request_id", "VARCHAR", True, "the provider's unique id of the request"),
    Field("account_id", "VARCHAR", True, "the account that sent it"),
    Field("organization_id", "VARCHAR", False, "the organisation the account belongs to"),
    Field("api_key_id", "VARCHAR", False, "the API key used"),
    Field("ip", "VARCHAR", False, "client IP address"),
    Field("country", "VARCHAR", False, "ISO 3166 alpha-2 country of the client"),
    Field("user_agent", "VARCHAR", False, "client user agent"),
    Field("payment_fingerprint", "VARCHAR", False, "hash of the payment instrument"),
    Field("model", "VARCHAR", True, "the model version that served the request"),
    Field("system_prompt", "VARCHAR", False, "system prompt sent with the request"),
    Field("prompt", "VARCHAR", False, "the user prompt (or the last user message)"),
    Field("messages", "VARCHAR", False, "the full chat as a JSON list of {role, content}"),
    Field("response", "VARCHAR", False, "the answer the API returned"),
    Field("input_tokens", "BIGINT", False, "prompt tokens billed"),
    Field("output_tokens", "BIGINT", False, "completion tokens billed"),
    Field("status", "VARCHAR", False, "HTTP status or the provider's outcome code"),
    Field("sampling", "VARCHAR", False, "sampling settings as JSON (temperature, top_p, ...)"),
)

FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in FIELDS)
REQUIRED: tuple[str, ...] = tuple(f.name for f in FIELDS if f.required)
# A request must carry what was asked: a prompt or the messages (either will do).
PROMPT_FIELDS: tuple[str, ...] = ("prompt", "messages")
# Extra columns added by the importer to every row, for tracing a number back to its line.
SOURCE_FIELDS: tuple[Field, ...] = (
    Field("source_file", "VARCHAR", True, "sha256 of the imported file the row came from"),
    Field("source_line", "BIGINT", True, "1-based line (or row) number in that file"),
)


def create_requests_sql() -> str:
    """The DDL of the requests table (canonical fields, then the source columns)."""
    cols = [f"{f.name} {f.sql_type}" for f in (*FIELDS, *SOURCE_FIELDS)]
    return f"CREATE TABLE IF NOT EXISTS {REQUESTS_TABLE} (" + ", ".join(cols) + ")"


# Columns of the imports table: one row per imported file (the case file's log_imports
# table records the same file hash and counts, so each side can check the other).
IMPORTS_COLUMNS: tuple[Field, ...] = (
    Field("file_sha256", "VARCHAR", True, "sha256 of the file's bytes as read (the key)"),
    Field("path", "VARCHAR", True, "the file's path when it was imported"),
    Field("format", "VARCHAR", True, "jsonl, csv or parquet (gzip noted as .gz)"),
    Field("size_bytes", "BIGINT", True, "the file's size on disk"),
    Field("rows_read", "BIGINT", True, "data rows read (blank lines are not rows)"),
    Field("rows_accepted", "BIGINT", True, "rows stored in the requests table"),
    Field("rows_rejected", "BIGINT", True, "rows stored in the rejects table"),
    Field("mapping_name", "VARCHAR", True, "the column mapping used"),
    Field("mapping_sha256", "VARCHAR", True, "sha256 of the mapping's YAML"),
    Field("fields_present", "VARCHAR", True, "JSON list of the canonical fields the file has"),
    Field("fields_missing", "VARCHAR", True, "JSON list of the canonical fields it lacks"),
    Field("imported_at", "TIMESTAMPTZ", True, "when the import was committed (UTC)"),
    Field("imported_by", "VARCHAR", True, "who ran it"),
)
# Columns of the rejects table: one row per line that failed validation.
REJECTS_COLUMNS: tuple[Field, ...] = (
    Field("source_file", "VARCHAR", True, "sha256 of the file the line came from"),
    Field("source_line", "BIGINT", True, "1-based line (or row) number in that file"),
    Field("reason", "VARCHAR", True, "the kind of failure, e.g. 'malformed JSON' (counted)"),
    Field("detail", "VARCHAR", True, "the failure in full, e.g. where the duplicate first was"),
    Field("excerpt", "VARCHAR", False, "the start of the raw line (at most 200 characters)"),
)


def _create_sql(table: str, fields: tuple[Field, ...]) -> str:
    cols = ", ".join(f"{f.name} {f.sql_type}" for f in fields)
    return f"CREATE TABLE IF NOT EXISTS {table} ({cols})"


def create_imports_sql() -> str:
    """The DDL of the imports table."""
    return _create_sql(IMPORTS_TABLE, IMPORTS_COLUMNS)


def create_rejects_sql() -> str:
    """The DDL of the rejects table."""
    return _create_sql(REJECTS_TABLE, REJECTS_COLUMNS)


def field(name: str) -> Field:
    """The canonical field called ``name`` (KeyError when there is none)."""
    for f in FIELDS:
        if f.name == name:
            return f
    raise KeyError(name)
