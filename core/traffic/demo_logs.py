"""The demo world's API request log: Quillmark's campaign among benign traffic.

Shipping a month of a provider's log would make the demo world large, so it is drawn at
demo time from a seed with the simulator (:mod:`core.traffic.simulate`): benign accounts,
the four hard negatives (an evaluation company, a university class, a batch-translation
customer, a startup behind one NAT) and Quillmark's campaign. The campaign's accounts are
the ones in the shipped harvest log (the accounts that received the answers the suspect
was trained on): every exchange of that log is in the request log under its own request id,
account and time, and the same accounts also sent the simulator's harvesting sweep (the
templated, near-limit traffic through a few proxy ranges that a campaign shows).

The log is written as JSONL in the provider's own field names, so the demo imports it
through the ordinary import (:func:`core.traffic.import_logs.import_logs`) with the shipped
default mapping.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from core.errors import EvidenceError, OutputExistsError
from core.traffic.simulate import GroundTruth, SimulationConfig, _World
from core.traffic.thresholds import AnalysisParams

QUILLMARK = "quillmark"
#: The demo world's log: the month around the harvesting, Lumen-1's release on 1 July.
DEMO_LOG_CONFIG = SimulationConfig(
    seed=20250801,
    start=datetime(2025, 7, 10, tzinfo=UTC),
    days=30,
    release_dates=(date(2025, 7, 14),),
    rate_limit_per_hour=30,
    benign_accounts=120,
    campaigns=0,
    hard_negative_scale=0.5,
    model="lumen-1-20250701",
)


@dataclass(frozen=True)
class DemoLog:
    """The written log, its labels and the harvest log's request ids (all in the log)."""

    path: Path
    truth: GroundTruth
    harvest_request_ids: tuple[str, ...]
    config: SimulationConfig

    def params(self) -> AnalysisParams:
        """What the analysis is told about the service: the world's releases, regions, limit."""
        return AnalysisParams(
            release_dates=self.config.release_dates,
            served_regions=self.config.served_regions,
            rate_limit_per_hour=self.config.rate_limit_per_hour,
        )


def read_harvest_log(path: Path) -> list[dict[str, Any]]:
    """The shipped harvest log's exchanges (request id, time, account, prompt, response)."""
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            missing = [k for k in ("request_id", "timestamp", "account_id") if k not in row]
        except ValueError as exc:
            raise EvidenceError(f"{path.name} line {n} is not a harvest-log exchange.") from exc
        if missing:
            raise EvidenceError(f"{path.name} line {n} has no {', '.join(missing)}.")
        rows.append(row)
    return rows


def _provider_record(row: dict[str, Any]) -> dict[str, Any]:
    """A canonical row as the provider's JSONL writes it (the default mapping's names)."""
    out = {k: v for k, v in row.items() if k not in ("sampling", "timestamp") and v is not None}
    out["timestamp"] = row["timestamp"].strftime("%Y-%m-%dT%H:%M:%SZ")
    sampling = row.get("sampling")
    if isinstance(sampling, str):
        sampling = json.loads(sampling)
    for key, value in (sampling or {}).items():
        out["max_tokens" if key == "max_new_tokens" else key] = value
    return out


def _quillmark(world: _World, harvest: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The campaign's sweep from the harvest log's accounts, then the logged exchanges."""
    accounts = tuple(sorted({r["account_id"] for r in harvest}))
    sweep = list(world.campaign(1, account_ids=accounts, group=QUILLMARK))
    yield from sweep
    # Each account's network identity as the sweep drew it (proxy, agent, card, region).
    ident = {r["account_id"]: r for r in sweep}
    for h in harvest:
        base = ident[h["account_id"]]
        when = datetime.fromisoformat(h["timestamp"].replace("Z", "+00:00"))
        prompt, response = str(h["prompt"]), str(h["response"])
        yield {
            **base,
            "timestamp": when.astimezone(UTC),
            "request_id": h["request_id"],
            "model": h.get("model_version") or h.get("model") or world.cfg.model,
            "prompt": prompt,
            "response": response,
            "input_tokens": max(1, len(prompt) // 4),
            "output_tokens": max(1, len(response) // 4),
            "sampling": json.dumps(h.get("sampling") or {}),
        }


def write_demo_log(
    harvest_log: Path, out: Path, config: SimulationConfig = DEMO_LOG_CONFIG
) -> DemoLog:
    """Write the demo world's request log to ``out`` (JSONL); nothing partial on failure."""
    if out.exists():
        raise OutputExistsError(f"{out} already exists; choose a new file for the demo log.")
    harvest = read_harvest_log(harvest_log)
    world = _World(config)

    def rows() -> Iterator[dict[str, Any]]:
        yield from world.benign()
        yield from _quillmark(world, harvest)
        yield from world.eval_company()
        yield from world.university_class()
        yield from world.translation_customer()
        yield from world.startup()

    partial = out.with_name(f".{out.name}.partial")
    try:
        with partial.open("w", encoding="utf-8", newline="\n") as fh:
            for row in rows():
                fh.write(json.dumps(_provider_record(row), ensure_ascii=False) + "\n")
                world.truth.rows += 1
        partial.replace(out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return DemoLog(out, world.truth, tuple(r["request_id"] for r in harvest), config)
