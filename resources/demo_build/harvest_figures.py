"""The build's own measurement of the harvest test on the world's models.

For every model that could be accused (the suspect, its clean twin, the other-party
student) and every independent reference: per shipped harvested prompt, the model's
per-byte log-likelihood of the logged answer and of its K regenerations (chat template,
scored through ``core.backends`` as the product scores), the logged answer's rank, and
the exact rank-sum test of ``core.checks.harvest_stats``; and the same with each score
minus protected-lumen's score of the same answer (Lumen produced the logs but never trained
on them, so this is a fixed function applied to all K+1 answers alike: the test stays exact
while the share of an answer's likelihood that is just "typical Lumen text" cancels out).
Prompts whose K+1 answers are not all distinct (near-deterministic answers, the same text
drawn twice) are left out: a rule symmetric in the K+1 answers, so the exact null is kept,
and the issue's rule for duplicates. For comparison the figures also keep them ("ties
kept": identical answers are ties counted against the logged answer, which is conservative
but dilutes the test). These figures check that the world behaves as designed; the
product's harvest check is separate and validated separately.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import world
from lm_tools import CHAT_PROMPT, RESPONSE_PREFIX

from core.backends.factory import load_model
from core.checks.harvest_stats import harvest_test, rank_of_logged

Log = Callable[[str], None]


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def groups(world_dir: Path) -> tuple[list[tuple[str, list[str]]], dict[str, int]]:
    """(prompt, [logged answer, regeneration 1..K]) per prompt with regenerations, and counts.

    ``all_distinct``: prompts whose K+1 answers are all different (the ones the test uses);
    ``with_duplicates``: the others; ``logged_repeated``: those where the logged answer
    itself occurs among its regenerations.
    """
    import harvest

    logged = _read(world_dir / harvest.LOG_FILE)
    regens: dict[str, list[dict[str, Any]]] = {}
    for r in _read(world_dir / harvest.REGEN_FILE):
        regens.setdefault(r["request_id"], []).append(r)
    out: list[tuple[str, list[str]]] = []
    counts = {"all_distinct": 0, "with_duplicates": 0, "logged_repeated": 0,
              "no_regenerations": 0}  # fmt: skip
    for row in logged:
        twins = sorted(regens.get(row["request_id"], []), key=lambda r: r["sample_index"])
        answers = [row["response"]] + [t["response"] for t in twins]
        if not twins:
            counts["no_regenerations"] += 1
            continue
        distinct = len(set(answers)) == len(answers)
        counts["all_distinct" if distinct else "with_duplicates"] += 1
        counts["logged_repeated"] += answers[0] in answers[1:]
        out.append((row["prompt"], answers))
    return out, counts


def per_byte_scores(folder: Path, items: list[tuple[str, list[str]]]) -> list[list[float]]:
    """Each answer's log-likelihood per UTF-8 byte under the model at ``folder``."""
    model = load_model(folder, num_threads=1)
    contexts = [CHAT_PROMPT.format(prompt=p) for p, answers in items for _ in answers]
    conts = [RESPONSE_PREFIX + a for _, answers in items for a in answers]
    scored = model.score(contexts, conts)
    model.release()
    flat = [s.total_logprob / max(1, s.n_bytes) for s in scored]
    out, pos = [], 0
    for _, answers in items:
        out.append(flat[pos : pos + len(answers)])
        pos += len(answers)
    return out


def _test(scores: list[list[float]]) -> dict[str, Any]:
    ranks = [rank_of_logged(s[0], s[1:], str(j)) for j, s in enumerate(scores)]
    test = harvest_test(ranks)
    return {
        "p_value": test.p_value,
        "rank_sum": test.rank_sum,
        "expected_rank_sum": test.expected_rank_sum,
        "top_share": round(test.top_share, 4),
        "top_share_ci": [round(x, 4) for x in test.top_share_ci],
        "expected_top_share": round(test.expected_top_share, 4),
        "mean_normalised_rank": round(test.mean_normalised_rank, 4),
        "mean_normalised_rank_ci": [round(x, 4) for x in test.mean_normalised_rank_ci],
        "histogram": list(test.histogram),
        "ties": test.ties,
    }


def measure(world_dir: Path, log: Log) -> dict[str, Any]:
    """Harvest-test figures of every chat model of the world except the protected one."""
    items, counts = groups(world_dir)
    use = [j for j, (_, answers) in enumerate(items) if len(set(answers)) == len(answers)]
    names = [n for n, i in world.MODEL_ROLES.items() if i["role"] not in ("protected", "base")]
    lumen = per_byte_scores(world_dir / "models" / "protected-lumen", items)
    out: dict[str, Any] = {}
    for name in names:
        scores = per_byte_scores(world_dir / "models" / name, items)
        calibrated = [
            [a - b for a, b in zip(s, r, strict=True)] for s, r in zip(scores, lumen, strict=True)
        ]
        raw, cal = _test([scores[j] for j in use]), _test([calibrated[j] for j in use])
        out[name] = {
            "per_byte": raw,
            "minus_protected": cal,
            "ties_kept": {"per_byte": _test(scores), "minus_protected": _test(calibrated)},
            "mean_ll_per_byte_logged": round(sum(scores[j][0] for j in use) / len(use), 4),
            "mean_ll_per_byte_regenerations": round(
                sum(sum(scores[j][1:]) / len(scores[j][1:]) for j in use) / len(use), 4
            ),
        }
        tk = out[name]["ties_kept"]["minus_protected"]["p_value"]
        log(f"  harvest test {name:18s} p = {raw['p_value']:.3g} (minus Lumen "
            f"{cal['p_value']:.3g}; ties kept {tk:.3g}); mean rank/K "
            f"{raw['mean_normalised_rank']:.3f} ({cal['mean_normalised_rank']:.3f})")  # fmt: skip
    k = len(items[0][1]) - 1 if items else 0
    return {
        "score": "log-likelihood per UTF-8 byte of ' ' + answer given 'User: {prompt}\\n"
        "Assistant:', core.backends (torch); minus_protected: the same minus protected-lumen's",
        "test": "core.checks.harvest_stats.harvest_test: rank sum of #{regenerations scoring >= "
        "the logged answer}, exact null (convolution of discrete uniforms), one-sided",
        "null": "the model never trained on the logged answers (each logged answer is "
        "exchangeable with its regenerations)",
        "rule": "prompts whose K+1 answers are not all distinct are left out (symmetric in the "
        "K+1 answers: the null stays exact); ties_kept: all prompts, ties against the logged",
        "n_prompts": len(use),
        "n_prompts_ties_kept": len(items),
        "k": k,
        "prompts": counts,
        "models": out,
    }
