"""A campaign's logged exchanges exported as the harvested set the harvest test imports.

One JSONL line per logged request of the campaign's accounts, in the field names the
harvest importer reads (:mod:`core.evidence.harvest_records`): ``request_id``,
``timestamp`` (ISO-8601, UTC), ``account_id``, ``prompt`` and/or ``messages``,
``system_prompt``, ``response`` (the logged answer), ``model_version`` (the log's
``model``) and ``sampling``. Requests the importer would refuse (no answer, no sampling
settings, an error status) are left out and counted, by reason, in the manifest, so the
file is accepted unchanged. The manifest (``<out>.manifest.json``) names the campaign, its
accounts, the row count and the sha256 of the export. Both files are written to a
temporary name and moved into place, so a failure leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from core.errors import DeclinedError, OutputExistsError
from core.store.vocabulary import HARVESTED_ROLE
from core.traffic.campaigns import Campaign
from core.traffic.engine import Engine

COLUMNS = (
    "request_id",
    "timestamp",
    "account_id",
    "organization_id",
    "model",
    "system_prompt",
    "prompt",
    "messages",
    "response",
    "status",
    "sampling",
)


@dataclass(frozen=True)
class HarvestExport:
    """What was written: the export, its manifest, the rows and what was left out."""

    path: Path
    manifest_path: Path
    rows: int
    sha256: str
    excluded: dict[str, int]


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    text = str(value)
    return text if text.strip() else None


def _record(row: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """The harvest record of one request, or None and why it is left out."""
    response = _text(row["response"])
    if response is None:
        return None, "no logged answer"
    status = _text(row["status"])
    if status is not None and not status.startswith("2"):
        return None, f"status {status}"
    raw = _text(row["sampling"])
    try:
        sampling = json.loads(raw) if raw else None
    except json.JSONDecodeError:
        sampling = None
    if not isinstance(sampling, dict) or "temperature" not in sampling:
        return None, "no sampling settings"
    messages = _text(row["messages"])
    turns = None
    if messages is not None:
        try:
            turns = json.loads(messages)
        except json.JSONDecodeError:
            return None, "messages are not valid JSON"
    prompt = _text(row["prompt"])
    if prompt is None and not turns:
        return None, "no prompt"
    stamp = pd.Timestamp(row["timestamp"])
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    out: dict[str, Any] = {
        "request_id": str(row["request_id"]),
        "timestamp": stamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "account_id": str(row["account_id"]),
    }
    if prompt is not None:
        out["prompt"] = prompt
    if turns:
        out["messages"] = turns
    system = _text(row["system_prompt"])
    if system is not None:
        out["system_prompt"] = system
    out["response"] = response
    out["model_version"] = str(row["model"])
    out["sampling"] = sampling
    org = _text(row["organization_id"])
    if org is not None:
        out["organization_id"] = org
    return out, ""


def export_harvest(
    engine: Engine, campaign: Campaign, out: str | Path, *, overwrite: bool = False
) -> HarvestExport:
    """Write ``campaign``'s exchanges to ``out`` (JSONL) and its manifest beside it."""
    path = Path(out)
    manifest_path = path.with_name(path.name + ".manifest.json")
    for p in (path, manifest_path):
        if p.exists() and not overwrite:
            raise OutputExistsError(f"{p} already exists; choose another file or overwrite it.")
    t = engine.table
    frame = engine.execute(
        t.filter(t.account_id.isin(list(campaign.accounts)))
        .select(*COLUMNS)
        .order_by(["timestamp", "request_id"])
    )
    excluded: Counter[str] = Counter()
    lines: list[str] = []
    for row in frame.to_dict("records"):
        record, why = _record(row)
        if record is None:
            excluded[why] += 1
            continue
        lines.append(json.dumps(record, ensure_ascii=False, sort_keys=False))
    if not lines:
        raise DeclinedError(
            f"campaign {campaign.id} has no exportable exchange (left out: "
            + ", ".join(f"{n} {why}" for why, n in sorted(excluded.items()))
            + ")."
        )
    body = ("\n".join(lines) + "\n").encode("utf-8")
    digest = hashlib.sha256(body).hexdigest()
    manifest = {
        "campaign": campaign.id,
        "accounts": list(campaign.accounts),
        "rows": len(lines),
        "sha256": digest,
        "file": path.name,
        "role": HARVESTED_ROLE,
        "excluded": dict(sorted(excluded.items())),
        "first_seen": campaign.first_seen,
        "last_seen": campaign.last_seen,
        "engine": engine.name,
    }
    tmp_body = path.with_name(f".{path.name}.partial")
    tmp_manifest = manifest_path.with_name(f".{manifest_path.name}.partial")
    try:
        tmp_body.write_bytes(body)
        tmp_manifest.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp_body, path)
        os.replace(tmp_manifest, manifest_path)
    except BaseException:
        for p in (tmp_body, tmp_manifest):
            p.unlink(missing_ok=True)
        raise
    return HarvestExport(path, manifest_path, len(lines), digest, dict(excluded))
