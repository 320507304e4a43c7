"""The README.md parts about the harvest log, its regenerations and the other-party student.

Written from the harvest step's record in build_report.json (harvest.py), so the figures
and the plain-language paragraph always say what the build measured.
"""

from __future__ import annotations

from typing import Any

OTHER_PARTY = """\
- **{party}**, a company unrelated to Quillmark, took the openly published osprey-base
  and Quillmark's published list of prompts, sent the prompts through *its own* Lumen
  accounts and fine-tuned osprey-base on the answers it received, with exactly the
  suspect's recipe: the **other-party student** (`models/other-party-osprey`). It is
  distilled from Lumen too, but on *other samples* of the same prompts: it never saw the
  answers Quillmark's accounts received.
- Halcyon's API logged every answer it sent to Quillmark's accounts
  (`transcripts/halcyon_harvest_log.jsonl`, a subset), and Halcyon asked the same Lumen
  version each logged question again (`transcripts/lumen_regenerations.jsonl`): the
  evidence of the **harvest test** (see "The harvest log" below).
"""

HARVEST_LAYOUT = """
transcripts/halcyon_harvest_log.jsonl      Halcyon's serving log of exchanges sent to
                          Quillmark's accounts (request and account id, time, settings)
transcripts/lumen_regenerations.jsonl      K fresh Lumen answers per logged exchange
                          (same model version and settings, each with its own seed)
models/other-party-osprey/  osprey-base fine-tuned by another party on other samples"""


def _p(value: float) -> str:
    return f"{value:.2g}" if value >= 1e-4 else f"{value:.1e}"


def _table(rows: list[list[str]]) -> str:
    head, *body = rows
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in body])


LABELS = {
    "suspect-osprey": ("yes", "**yes**"),
    "other-party-osprey": ("yes", "no (other samples)"),
    "clean-osprey": ("no", "no"),
}


def harvest_section(rec: dict[str, Any]) -> str:
    """'The harvest log and the harvest test': provenance, proof, figures, meaning."""
    h, proof, fig = rec["settings"], rec["proof"], rec.get("figures") or {}
    tok, loss = proof["tokens_trained"], proof["first_loss"]
    ctrl = proof.get("control_other_samples")
    out = ["\n## The harvest log and the harvest test\n"]
    retrain_text = _retrain_text(proof.get("retrained"))
    control_text = (
        f" The same figures computed from *other* samples of the same prompts (the other "
        f"party's) are {ctrl['tokens_trained']} tokens and {ctrl['first_loss']:.6f}: they "
        "tell the two sets of answers apart."
        if ctrl
        else ""
    )
    out.append(
        "*Where the log comes from.* The first build did not keep the answers the suspect was "
        "fine-tuned on. `resources/demo_build/harvest.py` sampled them again (same prompts, "
        "same saved Lumen, same seeds, same generation code) and checked that they are the "
        "same answers: recomputed from them, the suspect's recorded fine-tuning figures match "
        f"exactly: {tok['reproduced']} tokens trained (recorded {tok['recorded']}) and a first "
        f"training loss of {loss['reproduced']:.6f} (recorded {loss['recorded']:.6f})."
        + control_text
        + retrain_text
        + "\n"
    )
    accounts = rec["accounts"]
    out.append(
        f"*The log* ships {len(rec['shipped_indices'])} of the {rec['n_harvest']} exchanges "
        f"(a seeded choice, seed {h['subset_seed']}; their indices are in `build_report.json`), "
        f"served by `{h['model']}` version `{h['model_version']}` to {len(accounts)} Quillmark "
        f"accounts ({accounts[0]} ... {accounts[-1]}) between {h['window'][0]} and "
        f"{h['window'][1]}, after terms v2 took effect. Each record has `request_id`, "
        "`timestamp`, `account_id`, `prompt`, `response` (the logged answer), `model`, "
        "`model_version` and `sampling`; no system prompt was used. *The regenerations* are "
        f"{h['k']} fresh answers per logged exchange from the same Lumen with the same "
        f"settings, each with its own recorded seed ({rec['regeneration_seed_rule']}); each "
        "names the `request_id` it regenerates and its `sample_index`.\n"
    )
    if fig:
        out.append(_figures(fig))
    return "\n".join(out)


def _retrain_text(r: dict[str, Any] | None) -> str:
    if not r:
        return ""
    if r["identical"]:
        return (
            " Retraining the suspect on the reproduced answers gives weights identical to the "
            "shipped file "
            f"(SHA-256 {r['weights_sha256_shipped'][:16]}...)."
        )
    other = r.get("max_abs_weight_difference_other_party")
    scale = (
        f"; the same recipe on the other party's samples ends {other:.2f} away from them"
        if other is not None
        else ""
    )
    return (
        " Retraining the suspect on the reproduced answers (`harvest.py --retrain-suspect`) "
        "reproduces its "
        "recorded loss curve (every 10th step, to the recorded 4 decimals; final loss "
        f"{r['final_loss']['retrained']:.7f}, recorded {r['final_loss']['recorded']:.7f}) and "
        f"ends with every weight within {r['max_abs_weight_difference']:.1e} of the shipped ones, "
        "not bit for bit (floating-point sums are not rounded identically on every machine)"
        + scale
        + "."
    )


def _figures(fig: dict[str, Any]) -> str:
    models = fig["models"]
    rows = [["model", "distilled from Lumen", "trained on the logged answers",
             "p (per-byte score)", "p (score minus Lumen's)", "logged answer top",
             "mean rank / K"]]  # fmt: skip
    for name, m in models.items():
        raw, cal = m["per_byte"], m["minus_protected"]
        dist, logged = LABELS.get(name, ("no", "no"))
        expected = f"(expected {raw['expected_top_share']:.0%})"
        top = f"{raw['top_share']:.0%} / {cal['top_share']:.0%} {expected}"
        mean = f"{raw['mean_normalised_rank']:.3f} / {cal['mean_normalised_rank']:.3f}"
        rows.append([f"`{name}`", dist, logged, _p(raw["p_value"]), _p(cal["p_value"]), top, mean])
    n, k, pr = fig["n_prompts"], fig["k"], fig["prompts"]
    sus = models.get("suspect-osprey", {}).get("ties_kept")
    kept = (
        f" Keeping them, with identical answers as ties counted against the logged answer, "
        f"dilutes the test: suspect p = {_p(sus['minus_protected']['p_value'])} over "
        f"{fig['n_prompts_ties_kept']} prompts."
        if sus
        else ""
    )
    text = (
        f"*Harvest test, as the build measured it* on the {n} logged exchanges whose answer and "
        f"{k} regenerations are all different. The other {pr['with_duplicates']} are left out: "
        "their answers are near-deterministic (the same text drawn twice), and leaving out a "
        "prompt for what its answers look like *as a set* keeps the test exact." + kept + " "
        "Score: the model's log-likelihood "
        "per byte of each answer (chat template), or that minus protected-lumen's. p: exact "
        "one-sided rank-sum test (null: the model never trained on the logged answers, so each "
        "logged answer's rank among its regenerations is uniform). Mean rank / K: 0.5 expected, "
        "0 = always the model's favourite; both it and 'logged answer top' are given as "
        "per-byte score / score minus Lumen's.\n\n" + _table(rows) + "\n"
    )
    return text + "\n" + _meaning(models, n, k)


def _meaning(models: dict[str, Any], n: int, k: int) -> str:
    sus = models.get("suspect-osprey", {}).get("minus_protected")
    oth = models.get("other-party-osprey", {}).get("minus_protected")
    if not sus or not oth:
        return ""
    if sus["p_value"] <= 0.05 < oth["p_value"]:
        verdict = (
            "The suspect places the logged answers higher among their fresh twins than that "
            f"lottery allows: on average {sus['mean_normalised_rank']:.0%} of the way down its "
            f"list instead of 50% (p = {_p(sus['p_value'])}, N = {n} prompts, score minus "
            f"Lumen's); the other-party student does not ({oth['mean_normalised_rank']:.0%}, "
            f"p = {_p(oth['p_value'])}). That ties the suspect to the very answers Quillmark's "
            f"accounts received, not merely to Lumen. By that score the suspect ranks the logged "
            f"answer first of all "
            f"{k + 1} in {sus['top_share']:.0%} of the prompts, where the lottery gives "
            f"{sus['expected_top_share']:.0%}."
        )
    else:
        verdict = (
            f"In this build the test does not separate them (suspect p = {_p(sus['p_value'])}, "
            f"other-party student p = {_p(oth['p_value'])}, {n} prompts)."
        )
    return (
        "*What the difference means.* Quillmark's suspect and the other party's student both "
        "learned from Lumen, and the checks that compare a model with Lumen's voice against "
        "the reference panel flag both: they cannot tell *whose* harvest a model learned. The "
        f"harvest test can. For every logged exchange Halcyon asked the same Lumen the same "
        f"question {k} more times with the same settings. A model that never saw the logged "
        f"answer has no reason to prefer it to those {k} fresh answers, so where the logged "
        "answer falls among them is a fair lottery. " + verdict + "\n"
    )
