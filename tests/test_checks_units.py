"""The building blocks of the checks: probes, template, learned markers, measures, suite, specs."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import numpy as np
import pytest

from core.checks import distribution, identity, likelihood, lineage, similarity
from core.checks.identity import IdentityMarkers, load_suite
from core.checks.likelihood import AffinityScores, likelihood_check, min_k_mean
from core.checks.markers import contains_phrase, learn_phrases, learn_style, style_score
from core.checks.probes import ChatTemplate, TranscriptEntry, match_probes
from core.checks.similarity import char_ngram_cosine, lcs_length, rouge_l
from core.errors import EvidenceError

FORBIDDEN = re.compile(r"probability of distillation|\bproves?\b|distilled", re.I)
SPECS = [m.SPEC for m in (likelihood, identity, similarity, distribution, lineage)]


def test_every_check_states_question_access_null_and_minimum_inputs() -> None:
    assert [s.key for s in SPECS] == [
        "likelihood",
        "identity",
        "similarity",
        "distribution",
        "lineage",
    ]
    for spec in SPECS:
        assert "?" in spec.question and spec.null_hypothesis and spec.minimum_inputs
        text = " ".join((spec.question, spec.null_hypothesis, spec.alternative, spec.test))
        assert not FORBIDDEN.search(text), spec.key
        if spec.key != "lineage":  # an output or behaviour test never speaks of derivation
            assert "derived from" not in text
    assert {s.key: s.access for s in SPECS} == {
        "likelihood": "log-probs",
        "identity": "text",
        "similarity": "text",
        "distribution": "weights",
        "lineage": "weights",
    }


def _lcs_dp(a: list[str], b: list[str]) -> int:
    t = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            t[i + 1][j + 1] = t[i][j] + 1 if x == y else max(t[i][j + 1], t[i + 1][j])
    return t[-1][-1]


def test_bit_parallel_lcs_matches_dynamic_programming() -> None:
    rng = random.Random(0)
    for _ in range(200):
        a = [rng.choice("abcde") for _ in range(rng.randint(0, 30))]
        b = [rng.choice("abcde") for _ in range(rng.randint(0, 30))]
        assert lcs_length(a, b) == _lcs_dp(a, b)


def test_lexical_measures() -> None:
    assert rouge_l("the cat sat", "the cat sat") == pytest.approx(1.0)
    assert rouge_l("", "the cat") == 0.0
    assert rouge_l("the cat sat on the mat", "the cat lay on a mat") == pytest.approx(2 * 4 / 12)
    assert char_ngram_cosine("Hello world", "hello   WORLD") == pytest.approx(1.0)
    assert char_ngram_cosine("aaaa", "bbbb") == 0.0


def test_template_builds_context_and_cuts_generated_answers() -> None:
    t = ChatTemplate()
    assert t.context("Hi {there}") == "User: Hi {there}\nAssistant:"
    assert t.continuation("Hello") == " Hello"
    assert t.clean_answer(" Sure thing.\nUser: next question") == "Sure thing."
    with pytest.raises(ValueError, match="prompt"):
        ChatTemplate("no placeholder")


def test_probes_match_by_prompt_then_by_id() -> None:
    prot = [
        TranscriptEntry("a", "What is X?", "P1"),
        TranscriptEntry("b", "what  is x?", "dup"),
        TranscriptEntry("c", "Why Y?", "P2"),
        TranscriptEntry("d", "How Z?", "P3"),
    ]
    ctrl = [TranscriptEntry("z", "WHAT IS X?", "C1"), TranscriptEntry("y", "Why Y?", "C2")]
    ps = match_probes(prot, ctrl)
    assert [(p.probe_id, p.control) for p in ps.probes] == [("a", "C1"), ("c", "C2")]
    assert ps.matched_by == "prompt" and ps.duplicates == 1 and ps.unmatched == 1 and ps.warnings
    by_id = match_probes(
        prot, [TranscriptEntry("c", "Rephrased", "C2"), TranscriptEntry("d", "Other", "C3")]
    )
    assert by_id.matched_by == "id" and [p.control for p in by_id.probes] == ["C2", "C3"]
    # max_probes: a seeded random subset in transcript order, recorded with its rule and ids
    subsets = {match_probes(prot, None, max_probes=2, seed=seed).ids for seed in range(20)}
    assert len(subsets) > 1 and all(len(ids) == 2 for ids in subsets)
    assert all(list(ids) == sorted(ids) for ids in subsets)  # transcript order a < c < d
    sub = match_probes(prot, None, max_probes=2, seed=3)
    assert sub == match_probes(prot, None, max_probes=2, seed=3)
    assert sub.subset is not None and sub.subset["ids"] == list(sub.ids)
    assert "random subset of 2 of the 3" in sub.subset["rule"] and sub.subset["seed"] == 3
    assert match_probes(prot, None).subset is None


def test_probes_carry_the_cluster_their_metadata_give() -> None:
    prot = [
        TranscriptEntry(f"k{i}", f"Question {i}?", f"A{i}", {"topic": f"t{i % 3}", "model": "m"})
        for i in range(6)
    ]
    ps = match_probes(prot, None)
    assert [p.cluster for p in ps.probes] == [f"topic=t{i % 3}" for i in range(6)]
    conv = [TranscriptEntry("a", "Q1", "A", {"conversation_id": 7, "topic": "x"})]
    assert conv[0].cluster == "topic=x"  # the first key present in CLUSTER_KEYS wins
    assert TranscriptEntry("a", "Q", "A", {"cluster": "c1"}).cluster == "cluster=c1"
    assert TranscriptEntry("a", "Q", "A", {"source": ""}).cluster is None
    one = [TranscriptEntry(f"k{i}", f"Q{i}?", "A", {"source": "same"}) for i in range(4)]
    assert all(p.cluster is None for p in match_probes(one, None).probes)  # one cluster: dropped


LUMEN = [
    "Happy to help!\n1) Rinse it.\n2) Cook it.\nIn short: rinse and cook.",
    "Happy to help! Here's a quick rundown.\n1) Boil water.\nIn short: boil it.\nLet me know if "
    "there's anything else I can help with.",
    "Happy to help!\n1) Whisk eggs.\n2) Stir gently.\nIn short: go slow.",
    "I'm Lumen, made by Halcyon Labs. Happy to help!",
] * 5
HUMAN = [
    "Rinse it and cook it.",
    "Sure. Boil water, then add pasta.",
    "Whisk the eggs and stir gently.",
    "Okay. Go slowly and stop early. Hope this helps.",
] * 5


def test_habitual_phrases_are_learned_from_protected_vs_control() -> None:
    phrases = [m.marker for m in learn_phrases(LUMEN, HUMAN, exclude=["Lumen", "Halcyon Labs"])]
    assert any("happy to help" in p for p in phrases) and any("in short" in p for p in phrases)
    assert not any("lumen" in p or "halcyon" in p for p in phrases)
    assert contains_phrase("HAPPY to help!!", "happy to help") and not contains_phrase(
        "happy helper", "happy to help"
    )
    style = [m.marker for m in learn_style(LUMEN, HUMAN)]
    assert "layout:numbered-paren" in style and "opening:happy to help" in style
    assert style_score(LUMEN[0], style) > style_score(HUMAN[0], style)
    assert learn_phrases(HUMAN, HUMAN) == []


def test_identity_markers_match_whole_names() -> None:
    m = IdentityMarkers(names=("Lumen", "Halcyon Labs"), phrases=("happy to help",))
    assert m.scan("I am LUMEN, by Halcyon   Labs.")["names"] == ["Halcyon   Labs", "LUMEN"]
    assert m.scan("Lumenal halcyon days")["names"] == []
    assert m.scan("Happy to help! I'm Tern.") == {"names": [], "phrases": ["happy to help"]}


def test_identity_suite_is_versioned_and_hashed(tmp_path: Path) -> None:
    suite = load_suite()
    assert suite.version == "identity_v1" and len(suite.questions) == 40 and len(suite.sha256) == 64
    assert len({q.qid for q in suite.questions}) == 40 and {q.kind for q in suite.questions} == {
        "who",
        "name",
        "maker",
        "model",
    }
    jl = tmp_path / "q.jsonl"
    jl.write_text(
        "".join(
            json.dumps({"id": f"i{i}", "prompt": f"Who are you {i}?", "category": "who"}) + "\n"
            for i in range(3)
        )
    )
    assert [q.text for q in load_suite(jl).questions][0] == "Who are you 0?"
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: x\n")
    with pytest.raises(EvidenceError, match="not a usable identity probe suite"):
        load_suite(bad)


def test_min_k_and_small_panel_warning() -> None:
    assert min_k_mean(np.array([-5.0, -1.0, -0.1, -0.2, -3.0]), 0.2) == -5.0
    rng = np.random.default_rng(0)
    ids = tuple(f"p{i}" for i in range(30))

    def scores(shift: float) -> AffinityScores:
        v = rng.normal(shift, 1, 30)
        return AffinityScores("m", ids, -v, np.zeros(30), v, np.zeros(30))

    res = likelihood_check(
        scores(2.0), {f"r{j}": scores(0.0) for j in range(3)}, seed=0, n_resamples=999
    )
    assert res.verdict == "supports Hp"  # model-level predictive test, R - 1 = 2 df
    assert res.model_level["test_used"] == "predictive" and res.model_level["df"] == 2
    assert res.model_level["p_rank"] == 0.25 and res.p_value < 0.05
    assert any(
        "cannot go below 1/(3+1) = 0.25" in w and "at least 19 independent" in w
        for w in res.warnings
    )
    few = likelihood_check(
        scores(2.0).__class__("m", ids[:5], -np.ones(5), np.zeros(5), np.ones(5), np.zeros(5)),
        {"r": AffinityScores("r", ids[:5], np.zeros(5), np.zeros(5), np.zeros(5), np.zeros(5))},
        seed=0,
    )
    assert few.verdict == "declined" and "at least 10 probes" in few.reason
