"""Load the clause taxonomy (resources/taxonomy/clause_taxonomy.yaml) into compiled rules.

The YAML is the single place where categories, cue phrases, weights and the
exception/negation vocabulary live, so that a reviewer can read (and a report can
quote, by ``version``) exactly which rules tagged a clause. Loading validates every
regular expression and reference up front: a broken taxonomy fails at start-up with
the offending category named, never halfway through tagging a document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from core.errors import DistillAuditError
from core.resources import resource_path

_FLAGS = re.IGNORECASE


class TaxonomyError(DistillAuditError):
    """The clause taxonomy file is missing or invalid."""


@dataclass(frozen=True)
class Cue:
    """One cue phrase: a named, weighted regular expression."""

    name: str
    weight: float
    pattern: re.Pattern[str]
    topic: bool = False  # anchors the modality check (the action that is banned/allowed)


@dataclass(frozen=True)
class Category:
    """A taxonomy category with its rules and exemplar sentences."""

    id: str
    label: str
    description: str
    cues: tuple[Cue, ...]
    modality: str | None = None  # "prohibition", "permission" or None
    requires_any: tuple[str, ...] = ()
    negations: tuple[re.Pattern[str], ...] = ()
    exemplars: tuple[str, ...] = ()


@dataclass(frozen=True)
class Modality:
    """Shared vocabulary for splitting sentences and reading bans and permissions."""

    split: re.Pattern[str]
    exception_mask: tuple[re.Pattern[str], ...]
    negated_prohibition: tuple[re.Pattern[str], ...]
    prohibition_active: tuple[re.Pattern[str], ...]
    prohibition_passive: tuple[re.Pattern[str], ...]
    permission_active: tuple[re.Pattern[str], ...]
    permission_passive: tuple[re.Pattern[str], ...]
    provider_subjects: frozenset[str]


@dataclass(frozen=True)
class Taxonomy:
    """All categories plus the threshold and modality rules, as loaded from YAML."""

    version: str
    threshold: float
    modality: Modality
    categories: tuple[Category, ...]
    source: str = ""
    provider_names: tuple[str, ...] = ()
    _by_id: dict[str, Category] = field(default_factory=dict, compare=False, repr=False)

    def category(self, category_id: str) -> Category:
        """The category with this id (KeyError names the unknown id)."""
        if not self._by_id:
            self._by_id.update({c.id: c for c in self.categories})
        return self._by_id[category_id]

    @property
    def ids(self) -> list[str]:
        return [c.id for c in self.categories]

    def for_provider(self, names: tuple[str, ...]) -> Taxonomy:
        """The same taxonomy with the provider's own names ("Acme", "Acme Inc.") treated
        like "we"/"our", so its promises are not read as obligations on the user."""
        names = tuple(sorted({n.strip() for n in names if n and n.strip()}))
        if names == self.provider_names or not self.source:
            return self
        return load_taxonomy(self.source, provider_names=names)


def default_taxonomy_path() -> Path:
    return resource_path("taxonomy", "clause_taxonomy.yaml")


def load_taxonomy(path: str | Path | None = None, provider_names: tuple[str, ...] = ()) -> Taxonomy:
    """Load and compile a taxonomy (the shipped one by default); cached per path/names."""
    names = tuple(sorted({n.strip() for n in provider_names if n and n.strip()}))
    return _load_cached(str(Path(path) if path else default_taxonomy_path()), names)


@lru_cache(maxsize=32)
def _load_cached(path: str, names: tuple[str, ...]) -> Taxonomy:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise TaxonomyError(f"Clause taxonomy not found at {path}.") from exc
    except yaml.YAMLError as exc:
        raise TaxonomyError(f"Clause taxonomy {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or "version" not in data or "categories" not in data:
        raise TaxonomyError(f"Clause taxonomy {path} needs 'version' and 'categories'.")
    raw_modality = data.get("modality") or {}
    placeholders = _placeholders(raw_modality, names)
    modality = _modality(raw_modality, names)
    categories = tuple(_category(c, placeholders) for c in data["categories"])
    ids = [c.id for c in categories]
    if len(set(ids)) != len(ids):
        raise TaxonomyError(f"Clause taxonomy {path} repeats a category id.")
    return Taxonomy(
        str(data["version"]),
        float(data.get("threshold", 0.5)),
        modality,
        categories,
        source=path,
        provider_names=names,
    )


def _placeholders(raw: dict[str, Any], names: tuple[str, ...]) -> dict[str, str]:
    """Regex text for {WE} and {OUR}, extended with the provider's own names."""
    escaped = [re.escape(n).replace("\\ ", r"\s+") for n in names]
    we = "|".join([raw.get("provider_pattern") or "we|us", *escaped])
    our = "|".join([raw.get("provider_possessive") or "our", *[f"{n}(?:'s)?" for n in escaped]])
    return {"{WE}": f"(?:{we})", "{OUR}": f"(?:{our})"}


def _compile(
    pattern: str, where: str, placeholders: dict[str, str] | None = None
) -> re.Pattern[str]:
    for key, value in (placeholders or {}).items():
        pattern = pattern.replace(key, value)
    try:
        return re.compile(pattern, _FLAGS)
    except re.error as exc:
        raise TaxonomyError(f"Bad regular expression in {where}: {pattern!r} ({exc})") from exc


def _modality(raw: dict[str, Any], names: tuple[str, ...]) -> Modality:
    def many(key: str) -> tuple[re.Pattern[str], ...]:
        return tuple(_compile(p, f"modality.{key}") for p in raw.get(key) or [])

    split = "|".join(f"(?:{p})" for p in raw.get("split") or []) or r"(?!x)x"
    return Modality(
        split=_compile(split, "modality.split"),
        exception_mask=many("exception_mask"),
        negated_prohibition=many("negated_prohibition"),
        prohibition_active=many("prohibition_active"),
        prohibition_passive=many("prohibition_passive"),
        permission_active=many("permission_active"),
        permission_passive=many("permission_passive"),
        provider_subjects=frozenset(
            [s.lower() for s in raw.get("provider_subjects") or []]
            + [w.lower().strip(".,") for n in names for w in n.split()]
        ),
    )


def _category(raw: dict[str, Any], placeholders: dict[str, str]) -> Category:
    cid = str(raw.get("id") or "")
    if not cid or not raw.get("cues"):
        raise TaxonomyError(f"Taxonomy category {cid or raw!r} needs an id and cues.")
    cues = []
    for c in raw["cues"]:
        weight = float(c.get("weight", 0.5))
        if not 0.0 < weight <= 1.0:
            raise TaxonomyError(f"Cue {c.get('name')!r} in {cid}: weight must be in (0, 1].")
        pattern = _compile(c["pattern"], f"{cid}.{c['name']}", placeholders)
        cues.append(Cue(str(c["name"]), weight, pattern, bool(c.get("topic", False))))
    names = {c.name for c in cues}
    requires = tuple(raw.get("requires_any") or [])
    unknown = [r for r in requires if r not in names]
    if unknown:
        raise TaxonomyError(f"Category {cid}: requires_any names unknown cues {unknown}.")
    modality = raw.get("modality")
    if modality not in (None, "prohibition", "permission"):
        raise TaxonomyError(f"Category {cid}: modality must be prohibition or permission.")
    if modality and not any(c.topic for c in cues):
        raise TaxonomyError(f"Category {cid}: a modality category needs a topic cue.")
    return Category(
        id=cid,
        label=str(raw.get("label", cid)),
        description=str(raw.get("description", "")),
        cues=tuple(cues),
        modality=modality,
        requires_any=requires,
        negations=tuple(
            _compile(p, f"{cid}.negations", placeholders) for p in raw.get("negations") or []
        ),
        exemplars=tuple(str(e) for e in raw.get("exemplars") or []),
    )
