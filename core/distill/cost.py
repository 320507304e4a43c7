"""What harvesting N answers would have cost: tokens sent and received, priced, and compute.

Tokens are counted on the prompts (sent) and the teacher's answers (received) with the
teacher's own tokenizer when it is available — the closest local stand-in for how the
provider bills — and otherwise estimated as UTF-8 bytes / 4, a common rule of thumb for
English text; the estimate always says which. Chat formatting and system prompts add a
few tokens per request that are not counted. Prices per million input and output tokens
come from an editable list of public list prices (``resources/pricing/api_prices.yaml``,
each with the date it applied from) or from a rate the user enters. Compute time is the
wall-clock time measured on this machine for generating, training and exporting.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from core.errors import DistillAuditError
from core.resources import resource_path

BYTES_PER_TOKEN = 4.0


@dataclass(frozen=True)
class PricePreset:
    """A public list price per million tokens, with the date it applied from and its source."""

    key: str
    label: str
    provider: str
    input: float
    output: float
    as_of: str
    source: str = ""
    currency: str = "USD"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_price_presets(path: str | Path | None = None) -> list[PricePreset]:
    """The price presets in ``path`` (default: the shipped ``api_prices.yaml``)."""
    p = Path(path) if path else resource_path("pricing", "api_prices.yaml")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
        currency = str(data.get("currency", "USD"))
        return [
            PricePreset(
                str(e["key"]),
                str(e.get("label", e["key"])),
                str(e.get("provider", "")),
                float(e["input"]),
                float(e["output"]),
                str(e.get("as_of", "")),
                str(e.get("source", "")),
                currency,
            )
            for e in data["presets"]
        ]
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise DistillAuditError(f"{p} is not a usable price list: {exc}") from exc


def custom_price(
    input_per_million: float,
    output_per_million: float,
    label: str = "entered by the user",
    currency: str = "USD",
) -> PricePreset:
    if input_per_million < 0 or output_per_million < 0:
        raise DistillAuditError("Prices per million tokens cannot be negative.")
    return PricePreset(
        "custom", label, "", float(input_per_million), float(output_per_million), "", "", currency
    )


@dataclass(frozen=True)
class TokenCount:
    """Tokens of ``samples`` (prompt, answer) pairs and how they were counted."""

    samples: int
    tokens_in: int
    tokens_out: int
    method: str  # "teacher tokenizer" or "UTF-8 bytes / 4"

    def per_sample(self) -> tuple[float, float]:
        if not self.samples:
            return 0.0, 0.0
        return self.tokens_in / self.samples, self.tokens_out / self.samples

    def scaled(self, n: int) -> TokenCount:
        """The expected count for ``n`` samples like these (mean per sample times n)."""
        if n == self.samples:
            return self
        pin, pout = self.per_sample()
        return TokenCount(n, round(pin * n), round(pout * n), self.method)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def count_tokens(
    pairs: Iterable[tuple[str, str]], tokenizer: Any = None, chunk: int = 256
) -> TokenCount:
    """Count tokens sent (prompts) and received (answers), streamed ``chunk`` pairs at a time."""
    samples, tin, tout = 0, 0, 0
    buffer: list[tuple[str, str]] = []

    def flush() -> None:
        nonlocal samples, tin, tout
        if not buffer:
            return
        samples += len(buffer)
        if tokenizer is not None:
            enc_in = tokenizer([p for p, _ in buffer], add_special_tokens=False)["input_ids"]
            enc_out = tokenizer([a for _, a in buffer], add_special_tokens=False)["input_ids"]
            tin += sum(len(x) for x in enc_in)
            tout += sum(len(x) for x in enc_out)
        else:
            tin += sum(math.ceil(len(p.encode("utf-8")) / BYTES_PER_TOKEN) for p, _ in buffer)
            tout += sum(math.ceil(len(a.encode("utf-8")) / BYTES_PER_TOKEN) for _, a in buffer)
        buffer.clear()

    for pair in pairs:
        buffer.append(pair)
        if len(buffer) >= chunk:
            flush()
    flush()
    method = "teacher tokenizer" if tokenizer is not None else "UTF-8 bytes / 4"
    return TokenCount(samples, tin, tout, method)


def price(count: TokenCount, preset: PricePreset) -> float:
    """Cost of ``count`` at ``preset``'s rates, in its currency."""
    return (count.tokens_in * preset.input + count.tokens_out * preset.output) / 1_000_000


def cost_table(
    count: TokenCount, sample_counts: Sequence[int], presets: Sequence[PricePreset]
) -> list[dict[str, Any]]:
    """For each N: expected tokens in/out (scaled from ``count``) and the price at each preset."""
    rows = []
    for n in sample_counts:
        c = count.scaled(int(n))
        rows.append(
            {
                "n": int(n),
                "tokens_in": c.tokens_in,
                "tokens_out": c.tokens_out,
                "measured": c is count,
                "prices": {p.key: round(price(c, p), 6) for p in presets},
            }
        )
    return rows


def cost_estimate(
    count: TokenCount,
    sample_counts: Sequence[int],
    presets: Sequence[PricePreset],
    compute_seconds: dict[str, float] | None = None,
) -> dict[str, Any]:
    """The cost block stored in a run's summary and quoted by the report."""
    return {
        "counted_with": count.method,
        "note": "Prompts and answers only; chat formatting and system prompts add a few tokens "
        "per request. Prices are list prices per million tokens as of the date given; "
        "discounts (batch, cached input) are not applied.",
        "measured": count.to_dict(),
        "per_sample": dict(zip(("tokens_in", "tokens_out"), count.per_sample(), strict=True)),
        "presets": [p.to_dict() for p in presets],
        "by_samples": cost_table(count, sample_counts, presets),
        "compute_seconds": dict(compute_seconds or {}),
    }
