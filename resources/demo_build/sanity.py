"""End-of-build sanity measurement: is the distillation effect there, and only there?

For every model: per probe, the per-byte log-likelihood of the protected model's
captured answer minus that of the human answer (both given the chat prompt), and the
share of identity probes whose greedy answer names Lumen or Halcyon. A paired
sign-flip test (as the product's likelihood check will run it) compares each model
with each reference, Holm-corrected; a model is "flagged" when it exceeds every
reference of its panel at the 0.01 level. These numbers only check the world; the
product's own checks are implemented and validated elsewhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from chat_data import mentions_protected_identity
from lm_tools import Sampling, generate, load_model, response_logprob

ALPHA = 0.01


def sign_flip_p(diffs: np.ndarray, n_perm: int, seed: int) -> float:
    """One-sided paired sign-flip test of mean(diffs) > 0; p = (1 + k) / (N + 1)."""
    rng = np.random.default_rng(seed)
    observed = diffs.mean()
    signs = rng.choice(np.array([-1.0, 1.0]), size=(n_perm, diffs.size))
    null = (signs * diffs).mean(axis=1)
    return float((1 + np.sum(null >= observed)) / (n_perm + 1))


def holm(pvalues: dict[str, float]) -> dict[str, float]:
    """Holm-adjusted p-values."""
    order = sorted(pvalues, key=pvalues.get)
    m, running, out = len(order), 0.0, {}
    for i, key in enumerate(order):
        running = max(running, min(1.0, (m - i) * pvalues[key]))
        out[key] = running
    return out


def measure(
    models_dir: Path,
    names: list[str],
    references: list[str],
    probes: list[dict[str, str]],
    identity_prompts: list[str],
    n_perm: int,
    log: Any,
    n_samples: int = 4,
    not_chat: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Score every model; returns the figures stored in build_report.json."""
    protected = [(p["prompt"], p["protected"]) for p in probes]
    human = [(p["prompt"], p["human"]) for p in probes]
    diffs: dict[str, np.ndarray] = {}
    identity: dict[str, Any] = {}
    per_model: dict[str, Any] = {}
    samples: dict[str, list[str]] = {}
    for name in names:
        model, tok = load_model(models_dir / name)
        lp = np.array([s / b for s, b in response_logprob(model, tok, protected)])
        lh = np.array([s / b for s, b in response_logprob(model, tok, human)])
        diffs[name] = lp - lh
        answers = generate(model, tok, identity_prompts, Sampling(0.0, 1.0, 48))
        samples[name] = generate(
            model, tok, [p["prompt"] for p in probes[:n_samples]], Sampling(0.0, 1.0, 96)
        )
        hits = [mentions_protected_identity(a) for a in answers]
        identity[name] = {"answers": answers, "names_protected": hits}
        per_model[name] = {
            "mean_ll_per_byte_protected_answer": round(float(lp.mean()), 4),
            "mean_ll_per_byte_human_answer": round(float(lh.mean()), 4),
            "mean_affinity": round(float(diffs[name].mean()), 4),
            "identity_rate": round(sum(hits) / len(hits), 4),
        }
        log(f"  {name:16s} affinity {diffs[name].mean():+.3f}  identity {sum(hits)}/{len(hits)}")

    tests: dict[str, Any] = {}
    for k, name in enumerate(names):
        panel = [r for r in references if r != name]
        raw = {r: sign_flip_p(diffs[name] - diffs[r], n_perm, seed=1000 + k) for r in panel}
        adj = holm(raw)
        tests[name] = {
            "panel": panel,
            "p_raw": {r: round(v, 6) for r, v in raw.items()},
            "p_holm": {r: round(v, 6) for r, v in adj.items()},
            "fraction_probes_above": {
                r: round(float(np.mean(diffs[name] > diffs[r])), 4) for r in panel
            },
            "flagged": bool(panel) and all(v <= ALPHA for v in adj.values()),
        }
        if name in not_chat:
            tests[name]["flagged"] = None
            tests[name]["note"] = "base model without chat tuning: not comparable with chat models"
    return {
        "metric": "mean over probes of [per-byte log-likelihood of the protected model's captured "
        "answer - that of the human answer], given 'User: {prompt}\\nAssistant:'",
        "n_probes": len(probes),
        "n_identity_probes": len(identity_prompts),
        "n_permutations": n_perm,
        "alpha": ALPHA,
        "models": per_model,
        "tests_vs_references": tests,
        "identity_answers": identity,
        "greedy_probe_answers": {
            "probe_ids": [p["id"] for p in probes[:n_samples]],
            "answers": samples,
        },
        "per_probe_affinity": {n: [round(float(x), 4) for x in d] for n, d in diffs.items()},
    }
