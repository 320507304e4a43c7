"""Column mappings: how a provider's log columns become the canonical request fields.

A mapping is YAML (the shipped default covers OpenAI-style logs:
``resources/traffic/default_mapping.yaml``; a user passes their own with ``--mapping``).
Each canonical field names a column (or alternatives, the first the file has wins), a path
into nested records (``usage.prompt_tokens``, ``choices[0].message.content``), a constant,
or an object built from several columns. :func:`bind` fixes the mapping to one file: a
column the mapping requires but the file lacks is refused there, naming the column and
the file, before any row is read for import; what the file lacks of the optional fields is
reported. The bound mapping turns one record into one tuple of canonical values, or raises
:class:`RowRejected` with the reason that is counted in the error report.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from core.errors import LogMappingError
from core.resources import resource_path
from core.traffic.schema import FIELD_NAMES, FIELDS, PROMPT_FIELDS, REQUIRED
from core.traffic.schema import field as field_of

DEFAULT_MAPPING = ("traffic", "default_mapping.yaml")
TIME_FORMATS = ("auto", "iso", "epoch_s", "epoch_ms")
SAMPLE_ROWS = 1000  # rows looked at to decide which columns a file has
MISSING: Any = object()  # a column or path the record does not have
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


class RowRejected(Exception):
    """One record fails validation: ``reason`` is counted, ``detail`` says it in full."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason
        self.detail = detail or reason


@dataclass(frozen=True)
class Rule:
    """How one canonical field is filled: from a column (or alternatives), a constant, or
    a JSON object of several columns."""

    field: str
    columns: tuple[str, ...] = ()
    constant: Any = None
    object_columns: tuple[tuple[str, str], ...] = ()
    time: str = "auto"
    optional: bool = False

    def describe(self) -> str:
        if self.constant is not None:
            return f"the constant {self.constant!r}"
        if self.object_columns:
            return "an object of columns " + ", ".join(repr(c) for _, c in self.object_columns)
        return " or ".join(repr(c) for c in self.columns)


@dataclass(frozen=True)
class ColumnMapping:
    """A parsed mapping: its name, where it came from, the hash of its YAML, its rules."""

    name: str
    source: str
    sha256: str
    rules: tuple[Rule, ...]
    naive_timezone: str = "UTC"


def default_mapping_path() -> Path:
    return resource_path(*DEFAULT_MAPPING)


def load_mapping(path: str | os.PathLike[str] | None = None) -> ColumnMapping:
    """Read a mapping file (the shipped default when ``path`` is None)."""
    p = Path(path) if path is not None else default_mapping_path()
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise LogMappingError(f"The column mapping {p} cannot be read: {exc.strerror}.") from exc
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise LogMappingError(f"The column mapping {p} is not valid YAML: {first}.") from exc
    return parse_mapping(data, source=str(p), sha256=hashlib.sha256(raw).hexdigest())


def parse_mapping(data: Any, *, source: str, sha256: str) -> ColumnMapping:
    """Check a mapping's structure; every problem names the field and the mapping file."""

    def bad(text: str) -> LogMappingError:
        return LogMappingError(f"The column mapping {source}: {text}")

    if not isinstance(data, dict) or not isinstance(data.get("fields"), dict):
        raise bad("it must hold a 'fields:' section mapping canonical fields to columns.")
    tz_name = str(data.get("naive_timezone", "UTC"))
    try:
        ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise bad(f"naive_timezone {tz_name!r} is not a time zone name like UTC.") from exc
    rules: list[Rule] = []
    for name, spec in data["fields"].items():
        if name not in FIELD_NAMES:
            raise bad(
                f"{name!r} is not a canonical field; the fields are {', '.join(FIELD_NAMES)}."
            )
        rules.append(_rule(str(name), spec, bad))
    mapped = {r.field for r in rules}
    lacking = [f for f in REQUIRED if f not in mapped]
    if lacking:
        raise bad(f"it does not map the required field(s) {', '.join(lacking)}.")
    for r in rules:
        if r.optional and r.field in REQUIRED:
            raise bad(f"{r.field} is required by every log and cannot be optional.")
    return ColumnMapping(
        name=str(data.get("name") or Path(source).stem),
        source=source,
        sha256=sha256,
        rules=tuple(rules),
        naive_timezone=tz_name,
    )


def _rule(name: str, spec: Any, bad: Callable[[str], LogMappingError]) -> Rule:
    if isinstance(spec, (str, list)):
        spec = {"column": spec}
    if not isinstance(spec, dict):
        raise bad(f"{name}: give a column name, a list of alternatives or a table of options.")
    unknown = set(spec) - {"column", "constant", "object", "time", "optional"}
    if unknown:
        raise bad(f"{name}: unknown option(s) {', '.join(sorted(map(str, unknown)))}.")
    kinds = [k for k in ("column", "constant", "object") if k in spec]
    if len(kinds) != 1:
        raise bad(f"{name}: give exactly one of column, constant or object.")
    time = str(spec.get("time", "auto"))
    if "time" in spec and name != "timestamp":
        raise bad(f"{name}: 'time' applies to the timestamp field only.")
    if time not in TIME_FORMATS and "%" not in time:
        raise bad(
            f"{name}: time {time!r} is not one of {', '.join(TIME_FORMATS)} or a strptime "
            "format such as '%Y-%m-%d %H:%M:%S%z'."
        )
    optional = bool(spec.get("optional", False))
    if "constant" in spec:
        return Rule(name, constant=spec["constant"], time=time, optional=optional)
    if "object" in spec:
        obj = spec["object"]
        if not isinstance(obj, dict) or not obj:
            raise bad(f"{name}: object must map keys to column names.")
        pairs = tuple((str(k), str(v)) for k, v in obj.items())
        return Rule(name, object_columns=pairs, optional=optional)
    cols = spec["column"]
    cols = [cols] if isinstance(cols, str) else cols
    if not isinstance(cols, list) or not cols or not all(isinstance(c, str) and c for c in cols):
        raise bad(f"{name}: column must be a name or a list of names.")
    return Rule(name, columns=tuple(cols), time=time, optional=optional)


# --- reading values out of a record ---------------------------------------------------


def _steps(path: str) -> list[str | int]:
    steps: list[str | int] = []
    for key, index in _STEP.findall(path):
        steps.append(int(index) if index else key)
    return steps


def getter(column: str) -> Callable[[Mapping[str, Any]], Any]:
    """A function reading ``column`` from a record: the literal key first (a CSV header may
    contain dots), else the path through nested objects, lists and JSON text."""
    steps = _steps(column)
    if len(steps) == 1 and steps[0] == column:
        return lambda row: row.get(column, MISSING)

    def get(row: Mapping[str, Any]) -> Any:
        if column in row:
            return row[column]
        cur: Any = row
        for step in steps:
            if isinstance(cur, str) and cur[:1] in ("{", "["):
                try:
                    cur = json.loads(cur)
                except ValueError:
                    return MISSING
            if isinstance(step, int):
                if not isinstance(cur, list) or step >= len(cur):
                    return MISSING
                cur = cur[step]
            else:
                if not isinstance(cur, dict) or step not in cur:
                    return MISSING
                cur = cur[step]
        return cur

    return get


_to_json = json.JSONEncoder(ensure_ascii=False, default=str).encode


def _text(value: Any) -> str | None:
    if value.__class__ is str:
        return value  # type: ignore[no-any-return]
    if value is None or value is MISSING:
        return None
    if isinstance(value, (dict, list, bool)):
        return _to_json(value)
    return str(value)


def _integer(name: str, value: Any) -> int | None:
    if value is None or value is MISSING or value == "":
        return None
    if isinstance(value, bool):
        raise RowRejected(f"{name} is not a whole number", f"{name} is not a whole number: {value}")
    if isinstance(value, int):
        if not -_INT64 <= value < _INT64:
            raise RowRejected(f"{name} out of range", f"{name} {value} is out of range")
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if number != number or number != int(number):
        raise RowRejected(
            f"{name} is not a whole number", f"{name} is not a whole number: {str(value)[:40]!r}"
        )
    if not -_INT64 <= number < _INT64:
        raise RowRejected(f"{name} out of range", f"{name} {str(value)[:40]} is out of range")
    return int(number)


def _zone(name: str) -> tzinfo:
    return UTC if name == "UTC" else ZoneInfo(name)


def time_parser(fmt: str, naive_timezone: str) -> Callable[[Any], int]:
    """A function turning a logged time into microseconds since the epoch, in UTC. Times
    with an offset are converted; times without one are read in ``naive_timezone``."""
    zone = _zone(naive_timezone)

    def from_number(x: float, unit: str) -> int:
        if unit == "auto":
            unit = "epoch_ms" if abs(x) > 1e11 else "epoch_s"
        micros = x * (1_000 if unit == "epoch_ms" else 1_000_000)
        if not _MIN_MICROS <= micros <= _MAX_MICROS:  # NaN fails too
            raise ValueError(f"{x} is outside the years 1 to 9999")
        return round(micros)

    def from_datetime(dt: datetime) -> int:
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=zone)
        return (dt - _EPOCH) // _MICRO

    def parse(value: Any) -> int:
        if isinstance(value, datetime):
            return from_datetime(value)
        if isinstance(value, bool):
            raise ValueError(value)
        if isinstance(value, (int, float)):
            if fmt not in ("auto", "epoch_s", "epoch_ms"):
                raise ValueError(value)
            return from_number(float(value), fmt)
        text = str(value).strip()
        if fmt in ("epoch_s", "epoch_ms"):
            return from_number(float(text), fmt)
        if fmt == "auto":
            try:
                return from_number(float(text), fmt)
            except ValueError:
                pass
        if fmt in ("auto", "iso"):
            return from_datetime(datetime.fromisoformat(text))
        return from_datetime(datetime.strptime(text, fmt))

    return parse


_MICRO = datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC) - _EPOCH
_MIN_MICROS = -62_135_596_800_000_000  # 0001-01-01T00:00:00Z
_MAX_MICROS = 253_402_300_799_999_999  # 9999-12-31T23:59:59.999999Z
_INT64 = 2**63


# --- binding a mapping to one file ----------------------------------------------------


@dataclass
class BoundMapping:
    """A mapping fixed to one file: which column fills each field, and the row converter."""

    mapping: ColumnMapping
    used: dict[str, str] = field(default_factory=dict)  # canonical field -> what fills it
    present: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    _readers: list[Callable[[Mapping[str, Any]], Any]] = field(default_factory=list)

    def convert(self, row: Mapping[str, Any]) -> list[Any]:
        """The values of the present fields of one record, in :attr:`present` order (the
        fields the file lacks are null in every row); RowRejected if the row is invalid."""
        return [read(row) for read in self._readers]


def _present(get: Callable[[Mapping[str, Any]], Any], sample: Sequence[Mapping[str, Any]]) -> bool:
    return any(get(r) is not MISSING for r in sample)


def bind(mapping: ColumnMapping, sample: Sequence[Mapping[str, Any]], file: str) -> BoundMapping:
    """Fix ``mapping`` to a file whose first records are ``sample``: refuse a column the
    mapping needs and the file lacks (naming both), note the fields the file lacks."""
    bound = BoundMapping(mapping)
    rules = {r.field: r for r in mapping.rules}
    for f in FIELDS:
        rule = rules.get(f.name)
        reader: Callable[[Mapping[str, Any]], Any] | None = None
        if rule is not None:
            reader = _reader_for(rule, sample, file, mapping, bound)
        if reader is None:
            bound.missing.append(f.name)
        else:
            bound.present.append(f.name)
            bound._readers.append(reader)
    if not any(p in bound.present for p in PROMPT_FIELDS):
        raise LogMappingError(
            f"{file} has neither a prompt nor a messages column under the mapping "
            f"{mapping.name!r} ({mapping.source}), so no request says what was asked; "
            "nothing was imported. Map prompt or messages to the file's column."
        )
    return bound


def _reader_for(
    rule: Rule,
    sample: Sequence[Mapping[str, Any]],
    file: str,
    mapping: ColumnMapping,
    bound: BoundMapping,
) -> Callable[[Mapping[str, Any]], Any] | None:
    name = rule.field
    if rule.constant is not None:
        bound.used[name] = rule.describe()
        constant = rule.constant
        return _converter(name, rule, mapping, lambda row: constant)
    if rule.object_columns:
        parts = [(k, getter(c)) for k, c in rule.object_columns]
        parts = [(k, g) for k, g in parts if _present(g, sample)]
        if not parts:
            _lacking(rule, file, mapping)
            return None
        bound.used[name] = "object of " + ", ".join(k for k, _ in parts)

        def build(row: Mapping[str, Any]) -> Any:
            obj = {k: v for k, g in parts if (v := g(row)) is not MISSING and v is not None}
            return obj or None

        return _converter(name, rule, mapping, build)
    for column in rule.columns:
        get = getter(column)
        if _present(get, sample):
            bound.used[name] = column
            return _converter(name, rule, mapping, get)
    _lacking(rule, file, mapping)
    return None


def _lacking(rule: Rule, file: str, mapping: ColumnMapping) -> None:
    """Refuse a non-optional rule none of whose columns the file has."""
    if rule.optional:
        return None
    raise LogMappingError(
        f"The column mapping {mapping.name!r} ({mapping.source}) takes {rule.field} from "
        f"column {rule.describe()}, but {file} has no such column (looked for in its first "
        f"{SAMPLE_ROWS:,} rows); nothing was imported. Fix the mapping or mark the field "
        "'optional: true'."
    )


def _converter(
    name: str, rule: Rule, mapping: ColumnMapping, get: Callable[[Mapping[str, Any]], Any]
) -> Callable[[Mapping[str, Any]], Any]:
    sql_type = field_of(name).sql_type
    required = name in REQUIRED
    if sql_type == "TIMESTAMPTZ":
        parse = time_parser(rule.time, mapping.naive_timezone)

        def read_time(row: Mapping[str, Any]) -> Any:
            value = get(row)
            if value is MISSING or value is None or value == "":
                if required:
                    raise RowRejected(f"{name} missing", f"{name} is missing or empty")
                return None
            try:
                return parse(value)
            except (ValueError, TypeError, OverflowError) as exc:
                raise RowRejected(
                    f"{name} unparseable", f"{name} {str(value)[:60]!r} is not a time"
                ) from exc

        return read_time
    if sql_type == "BIGINT":
        return lambda row: _integer(name, get(row))
    if required:

        def read_required(row: Mapping[str, Any]) -> Any:
            text = _text(get(row))
            if not text:
                raise RowRejected(f"{name} missing", f"{name} is missing or empty")
            return text

        return read_required
    return lambda row: _text(get(row))
