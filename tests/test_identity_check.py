"""The identity check by question: names and learned phrases apart, honest counts and intervals.

Real parts: the demo's own transcripts for the phrase learning, real answer strings scanned
by the check, the shipped suite loader, and the draft-finding wording of core.checks.findings.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from core.checks import identity
from core.checks.available import AvailableInputs
from core.checks.findings import finding_statement
from core.checks.identity import IdentityAnswers, IdentityMarkers, identity_check, load_suite
from core.checks.identity_stats import HitTable, log_odds_values, mean_ci
from core.checks.markers import STOP_WORDS, is_telling, learn_phrases
from core.checks.probes import TranscriptEntry, match_probes
from core.resources import resource_path

DEMO = resource_path("demo", "transcripts")
MARKERS = IdentityMarkers(names=("Lumen", "Halcyon Labs"), phrases=("happy to help !",))
GENERIC = ("let me", "me know", "know if", "let me know", "can help with", "anything else i can")


def _demo_answers() -> tuple[list[str], list[str]]:
    def read(name: str) -> list[TranscriptEntry]:
        rows = [json.loads(x) for x in (DEMO / name).read_text(encoding="utf-8").splitlines()]
        return [TranscriptEntry(r["id"], r["prompt"], r["response"]) for r in rows]

    probes = match_probes(read("protected_probe_answers.jsonl"), read("human_probe_answers.jsonl"))
    return [p.protected for p in probes.probes], [p.control or "" for p in probes.probes]


# --- learned phrases: persona habits, not plain English ---------------------------------------
def test_demo_transcripts_teach_the_persona_phrases_and_no_generic_ones() -> None:
    prot, ctrl = _demo_answers()
    learned = learn_phrases(prot, ctrl, exclude=["Lumen", "Halcyon Labs", "Halcyon"])
    phrases = [m.marker for m in learned]
    print("learned from the demo transcripts:", phrases)
    assert any(p.startswith("happy to help") for p in phrases)  # "Happy to help!"
    assert any(p.startswith("in short") for p in phrases)  # "In short:"
    assert not set(phrases) & set(GENERIC)
    for m in learned:
        assert m.share_control <= 0.05 and is_telling(m.marker)
        assert any(w not in STOP_WORDS for w in m.marker.split(" ") if re.search("[a-z]", w))
    # without the tightening these were learned: the control answers also say "Let me know"
    # in 7% of answers, and the closing "...anything else I can help with" is stock phrasing
    loose = learn_phrases(prot, ctrl, max_control_share=1.0)
    assert "let me" not in {m.marker for m in loose}


def test_a_phrase_common_in_the_control_answers_or_without_a_content_word_is_not_learned() -> None:
    prot = [f"Let me know if it helps. Sunny regards from Quill {i}." for i in range(40)]
    ctrl = [f"Let me know if it helps, number {i}." if i < 4 else f"Plain {i}." for i in range(40)]
    phrases = [m.marker for m in learn_phrases(prot, ctrl)]
    assert phrases and all("let me" not in p and "me know" not in p for p in phrases)
    assert any("sunny regards" in p for p in phrases)
    assert not is_telling("if it is") and not is_telling("let me know") and is_telling("in short")
    assert not is_telling("short :") and not is_telling("lumen is", banned={"lumen"})


# --- the statistics, question by question ------------------------------------------------------
def _answers(model: str, names: np.ndarray, phrases: np.ndarray | None = None) -> IdentityAnswers:
    phrases = np.zeros_like(names) if phrases is None else phrases
    groups = tuple(
        tuple(
            ("I'm Lumen." if n else "I am an AI assistant.") + (" Happy to help!" if p else "")
            for n, p in zip(rn, rp, strict=True)
        )
        for rn, rp in zip(names, phrases, strict=True)
    )
    return IdentityAnswers(model, tuple(f"q{i:02d}" for i in range(len(groups))), groups)


def _interval(ci: tuple[float, float] | None) -> tuple[float, float]:
    assert ci is not None
    return ci


def _panel(rng: np.random.Generator, n_refs: int = 3, rate: float = 0.03):
    return {f"ref{j}": _answers(f"ref{j}", rng.random((40, 3)) < rate) for j in range(n_refs)}


def test_a_suspect_naming_the_protected_model_is_flagged_by_the_model_level_test() -> None:
    rng = np.random.default_rng(1)
    suspect = _answers("suspect", rng.random((40, 3)) < 0.9, rng.random((40, 3)) < 0.5)
    res = identity_check(suspect, _panel(rng), MARKERS, seed=0, n_resamples=999)
    ml = res.details["model_level"]
    assert res.verdict == "supports Hp" and res.p_value == ml["p_value"] <= 0.01
    assert ml["test_used"] == "predictive" and ml["n_references"] == 3
    lo, hi = _interval(res.ci)
    assert res.effect_size == ml["difference"] and lo <= ml["difference"] <= hi  # inside
    counts = res.details["names"]["counts"]["suspect"]
    assert counts["questions"] == 40 and counts["answers"] == 120
    assert (
        f"{counts['questions_hit']} of 40 questions ({counts['answers_hit']} of 120 answers)"
        in (res.reason)
    )
    assert res.details["phrases"]["shares_signal_with"] == ["likelihood", "similarity"]
    assert res.details["phrases"]["role"].startswith("secondary")
    assert res.probe_details[0].values["answers"]["suspect"] == 3
    assert set(res.probe_details[0].values) == {"name_hit_rate", "phrase_hit_rate", "answers"}
    for c in res.comparisons:  # descriptive: mean per-question difference, its own interval
        lo, hi = _interval(c.ci)
        assert c.effect_size == c.statistic and lo <= c.statistic <= hi and c.n == 40
        assert "not the verdict" in c.method and c.p_holm is not None


def test_learned_phrases_alone_do_not_make_the_verdict() -> None:
    """A suspect with the protected model's phrases but not its names: not flagged; the phrase
    statistic still shows the difference, as a secondary statistic."""
    rng = np.random.default_rng(2)
    suspect = _answers("suspect", np.zeros((40, 3), bool), rng.random((40, 3)) < 0.9)
    res = identity_check(suspect, _panel(rng), MARKERS, seed=0, n_resamples=999)
    assert res.verdict == "inconclusive"
    phrases = res.details["phrases"]
    assert phrases["counts"]["suspect"]["questions_hit"] > 30
    assert phrases["model_level"]["difference"] > 0
    assert any("take no part in the verdict" in w for w in res.warnings)


def test_the_estimate_lies_inside_its_interval_for_every_reference() -> None:
    rng = np.random.default_rng(3)
    for i in range(30):
        suspect = _answers("s", rng.random((40, 3)) < rng.uniform(0, 0.6, 40)[:, None])
        res = identity_check(suspect, _panel(rng, 2, 0.2), MARKERS, seed=i, n_resamples=199)
        lo, hi = _interval(res.ci)
        assert res.effect_size is not None and lo <= res.effect_size <= hi
        for c in res.comparisons:
            lo, hi = _interval(c.ci)
            assert lo <= c.statistic <= hi
    d = np.array([0.0] * 39 + [1.0])
    assert mean_ci(d, None, seed=0, n_resamples=999)[0] <= d.mean()


def test_log_odds_values_average_to_the_models_log_odds() -> None:
    t = HitTable("m", np.array([0, 1, 3, 0]), np.array([3, 3, 3, 3]))
    v = log_odds_values(t)
    c = 0.5 / 12
    x = t.mean_rate
    assert v.mean() == pytest.approx(np.log((x + c) / (1 - x + c)))
    never = HitTable("n", np.zeros(4, int), np.full(4, 3))
    assert np.isfinite(log_odds_values(never)).all() and np.ptp(log_odds_values(never)) == 0


def test_n_tests_and_clusters_reach_the_tests(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    suspect = _answers("suspect", rng.random((40, 3)) < 0.8)
    refs = _panel(rng, 20, 0.05)
    one = identity_check(suspect, refs, MARKERS, seed=0, n_resamples=99)
    two = identity_check(suspect, refs, MARKERS, seed=0, n_resamples=99, n_tests=2)
    assert one.details["model_level"]["test_used"] == "rank"  # 20 >= panel_needed(0.05) = 19
    assert two.details["model_level"]["test_used"] == "predictive"  # 20 < 39
    clusters = [f"topic{i // 4}" for i in range(40)]
    res = identity_check(suspect, refs, MARKERS, seed=0, n_resamples=99, clusters=clusters)
    units = {(c["n_questions"], c["n_units"]) for c in res.details["names"]["comparisons"]}
    assert units == {(40, 10)}  # signs flipped and questions resampled per cluster
    assert "cluster-robust" in res.details["model_level"]["method"] or (
        res.details["model_level"]["test_used"] == "rank"
    )
    suite = yaml.safe_load(resource_path("probes", "identity_v1.yaml").read_text("utf-8"))
    for i, q in enumerate(suite["questions"]):
        q["cluster"] = q["kind"] if i % 2 else None
    path = tmp_path / "clustered.yaml"
    path.write_text(yaml.safe_dump(suite), encoding="utf-8")
    labels = load_suite(path).clusters()
    assert labels is not None and labels[1] == "who" and labels[0] == "question:who-01"
    assert load_suite().clusters() is None  # the shipped suite: every question its own unit


def test_declines_without_names_or_with_one_reference() -> None:
    rng = np.random.default_rng(5)
    suspect = _answers("s", rng.random((40, 3)) < 0.5)
    res = identity_check(
        suspect, _panel(rng), IdentityMarkers(phrases=("happy to help !",)), seed=0
    )
    assert res.verdict == "declined" and "protected names" in res.reason
    one = identity_check(suspect, _panel(rng, 1), MARKERS, seed=0)
    assert one.verdict == "declined" and "at least 2 reference models" in one.reason

    def inputs(references: int, names: bool) -> AvailableInputs:
        return AvailableInputs(
            references, protected_answers=True, control_answers=True, names=names, phrases=True
        )

    assert "protected names" in (identity.fits(inputs(3, False)) or "")
    assert "at least 2" in (identity.fits(inputs(1, True)) or "")
    assert identity.fits(inputs(2, True)) is None


def test_the_draft_finding_counts_questions_and_answers_never_a_bare_percentage() -> None:
    rng = np.random.default_rng(6)
    suspect = _answers("suspect", rng.random((12, 3)) < 0.95, rng.random((12, 3)) < 0.9)
    refs = {
        f"ref{j}": _answers(f"ref{j}", np.zeros((12, 3), bool), np.zeros((12, 3), bool))
        for j in range(3)
    }
    res = identity_check(suspect, refs, MARKERS, seed=0, n_resamples=999)
    assert res.verdict == "supports Hp"
    text = finding_statement(identity.SPEC, res, 7, suspect="osprey")
    print(text)
    assert not re.search(r"\d%(?! CI| interval)", text)  # "95% CI" only: no share as a percentage
    k = res.details["names"]["counts"]["suspect"]
    assert f"on {k['questions_hit']} of 12 questions ({k['answers_hit']} of 36 answers)" in text
    assert "learned habitual phrases on" in text and "likelihood and similarity" in text
    assert "at most 0 of 12 questions (0 of 36 answers)" in text
    assert any("no spread between independent models" in w for w in res.warnings)


def test_a_world_where_no_model_names_the_protected_model_gives_p_one() -> None:
    none = np.zeros((40, 3), bool)
    refs = {f"ref{j}": _answers(f"ref{j}", none) for j in range(3)}
    res = identity_check(_answers("suspect", none), refs, MARKERS, seed=0, n_resamples=99)
    assert res.verdict == "inconclusive" and res.p_value == 1.0
    assert res.effect_size == 0.0 and res.ci == (0.0, 0.0)  # no rounding noise in the report
    assert "0 of 40 questions (0 of 120 answers)" in res.reason
