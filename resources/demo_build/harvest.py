"""Halcyon's harvest log, Lumen's regenerations and the other-party student of the world.

The suspect was fine-tuned on Lumen's sampled answers to Quillmark's harvesting prompts
(world.build_models). Halcyon, the provider, logged exactly those answers as its API sent
them to Quillmark's accounts; this step reproduces them (same prompts, same saved Lumen,
same seeds, the same ``world.sample_protected`` code path) and *proves* it did, from what
the build recorded about the suspect's training data: the number of tokens the suspect
trained on (a function of every example's length and of the seeded batch order) and its
very first training loss (a forward pass of osprey-base over the first batch), both
recomputed from the reproduced answers. ``--retrain-suspect`` goes further: it trains the
suspect again on them and compares the weights' SHA-256 with the shipped file.

It then writes, into the world:

* ``transcripts/halcyon_harvest_log.jsonl``: a seeded subset of the logged exchanges with
  account ids, request ids and timestamps (the provider's serving log);
* ``transcripts/lumen_regenerations.jsonl``: for each, K fresh answers from the same Lumen
  with the same settings and other, recorded seeds (the harvest test's exchangeable twins);
* ``models/other-party-osprey``: osprey-base fine-tuned with the suspect's exact recipe on
  Lumen's answers to the same prompts drawn with other seeds: distilled from Lumen, but
  never on the logged answers. The panel checks flag it; the harvest test must not.

Runs as a step of build.py, or on its own over an existing world without touching any
existing model or transcript::

    .venv/bin/python resources/demo_build/harvest.py --world resources/demo
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import json
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for _path in (str(HERE), str(ROOT)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import artifacts  # noqa: E402
import torch  # noqa: E402
import world  # noqa: E402
from chat_data import split_prompts  # noqa: E402
from lm_tools import chat_examples, load_model  # noqa: E402

from core.distill.train import batch_order, train_causal_lm  # noqa: E402

Log = Callable[[str], None]

LOG_FILE = "transcripts/halcyon_harvest_log.jsonl"
REGEN_FILE = "transcripts/lumen_regenerations.jsonl"
OTHER_PARTY_MODEL = "other-party-osprey"

# Pinned settings of the harvest step (stored in build_report.json under "harvest").
HARVEST: dict[str, Any] = {
    "shipped": 200,  # logged exchanges shipped (of n_harvest), a seeded choice
    "subset_seed": 914_000,
    "k": 19,  # regenerations per shipped prompt: one prompt alone can reach p = 0.05
    "regeneration_seed": 920_000,  # seed of regeneration k of exchange i: base + 20 i + k
    "other_party_seed": 950_000,  # seed of the other party's sample of prompt i: base + i
    "log_seed": 913_000,  # accounts, request ids and timestamps of the log
    "accounts": 36,
    "window": ["2025-07-14T08:00:00Z", "2025-08-08T20:00:00Z"],  # after terms v2 (2025-06-17)
    "model": "lumen-1",
    "model_version": "lumen-1-20250701",
}
QUICK_HARVEST: dict[str, Any] = {"shipped": 40, "k": 5}
REGEN_STRIDE = 20  # > k: the seeds of different exchanges never overlap


def settings(quick: bool) -> dict[str, Any]:
    """The harvest step's pinned settings, reduced for ``--quick``."""
    return HARVEST | (QUICK_HARVEST if quick else {})


def _sha256_json(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, ensure_ascii=False).encode()).hexdigest()


def _iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- reproduce and prove ---------------------------------------------------------------


def reproduce_harvest(models_dir: Path, hp: dict[str, Any]) -> list[tuple[str, str]]:
    """The (prompt, answer) pairs the suspect was fine-tuned on, sampled again."""
    splits = split_prompts(hp["n_probes"], hp["probe_split_seed"])
    prompts = [p.text for p in world.harvest_prompts(splits, hp)]
    seeds = [hp["harvest_seed"] + i for i in range(len(prompts))]
    return list(zip(prompts, world.sample_protected(models_dir, prompts, hp, seeds), strict=True))


def training_fingerprint(
    models_dir: Path, pairs: list[tuple[str, str]], hp: dict[str, Any]
) -> dict[str, Any]:
    """What the suspect's recorded training would have been on ``pairs``.

    ``tokens_trained``: response tokens over all steps of the seeded batch order (depends
    on every example's tokenised length); ``first_loss``: the loss of osprey-base on the
    first batch, through the training loop itself (one step).
    """
    base, tok = load_model(models_dir / "osprey-base")
    examples = chat_examples(tok, pairs, hp["sft"]["max_len"])
    config = world._train_config(hp, "sft", world.SUSPECT_SFT_SEED)
    batches = batch_order([len(e.input_ids) for e in examples], config, random.Random(config.seed))
    tokens = 0
    for _ in range(config.steps):
        for i in next(batches):
            tokens += sum(examples[i].loss_mask[1:])
    first = train_causal_lm(base, examples, dataclasses.replace(config, steps=1), tok.pad_token_id)
    return {"tokens_trained": tokens, "first_loss": first.losses[0]}


def prove_reproduction(
    models_dir: Path,
    pairs: list[tuple[str, str]],
    hp: dict[str, Any],
    recorded: dict[str, Any],
    log: Log,
) -> dict[str, Any]:
    """Recompute the suspect's recorded training figures from ``pairs``; raise on mismatch."""
    got = training_fingerprint(models_dir, pairs, hp)
    proof = {
        "method": "the suspect's recorded fine-tuning figures (build_report.json training."
        "suspect-osprey.sft) recomputed from the reproduced answers: tokens trained over all "
        f"{hp['sft']['steps']} steps of the seeded batch order, and the first step's loss",
        "tokens_trained": {"recorded": recorded["tokens_trained"],
                           "reproduced": got["tokens_trained"]},
        "first_loss": {"recorded": recorded["first_loss"], "reproduced": got["first_loss"]},
    }  # fmt: skip
    ok = got["tokens_trained"] == recorded["tokens_trained"] and (
        abs(got["first_loss"] - recorded["first_loss"]) < 1e-5
    )
    proof["match"] = ok
    log(f"[harvest] proof: tokens {got['tokens_trained']} (recorded "
        f"{recorded['tokens_trained']}), first loss {got['first_loss']:.6f} (recorded "
        f"{recorded['first_loss']:.6f}): {'MATCH' if ok else 'MISMATCH'}")  # fmt: skip
    if not ok:
        raise RuntimeError(
            "The reproduced harvest is not the suspect's training data: " + json.dumps(proof)
        )
    return proof


def max_weight_difference(a: Path, b: Path) -> float:
    """Largest absolute difference between two saved models' weights (same architecture)."""
    from safetensors.torch import load_file

    wa = load_file(str(a / "model.safetensors"))
    wb = load_file(str(b / "model.safetensors"))
    return max(float((wa[k].float() - wb[k].float()).abs().max()) for k in sorted(wb))


def retrain_proof(
    models_dir: Path,
    pairs: list[tuple[str, str]],
    hp: dict[str, Any],
    recorded: dict[str, Any],
    log: Log,
) -> dict[str, Any]:
    """Fine-tune osprey-base on ``pairs`` again; compare the loss curve and the weights.

    ``recorded`` is the suspect's training record (build_report.json). Weights are compared
    bit for bit (SHA-256) and, when they differ, by the largest absolute difference.
    """
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(models_dir / "osprey-base", Path(tmp) / "osprey-base")
        rec = world.tune_osprey("suspect-osprey", pairs, hp, world.SUSPECT_SFT_SEED, Path(tmp), log)
        folder = Path(tmp) / "suspect-osprey"
        got = artifacts._sha256(folder / "model.safetensors")
        max_diff = max_weight_difference(folder, models_dir / "suspect-osprey")
    shipped = artifacts._sha256(models_dir / "suspect-osprey" / "model.safetensors")
    curve_new = rec["sft"]["loss_curve_every_10"]
    curve_old = recorded["sft"]["loss_curve_every_10"]
    curve_diff = max(abs(a - b) for a, b in zip(curve_new, curve_old, strict=True))
    out = {
        "weights_sha256_shipped": shipped,
        "weights_sha256_retrained": got,
        "identical": got == shipped,
        "max_abs_weight_difference": max_diff,
        "tokens_trained": rec["sft"]["tokens_trained"],
        "final_loss": {"recorded": recorded["sft"]["final_loss"],
                       "retrained": rec["sft"]["final_loss"]},
        "loss_curve_every_10_max_abs_difference": round(curve_diff, 6),
        # for scale: the same recipe on other samples (the other party's student)
        "max_abs_weight_difference_other_party": (
            max_weight_difference(models_dir / OTHER_PARTY_MODEL, models_dir / "suspect-osprey")
            if (models_dir / OTHER_PARTY_MODEL).is_dir()
            else None
        ),
        "seconds": round(time.monotonic() - started, 1),
    }  # fmt: skip
    log(f"[harvest] retrained suspect: weights {'IDENTICAL' if out['identical'] else 'differ'} "
        f"(max |dw| {max_diff:.2e}), loss curve max |d| {curve_diff:.2e}")  # fmt: skip
    return out


# --- the log and the regenerations --------------------------------------------------------


def exchange_records(pairs: list[tuple[str, str]], hp: dict[str, Any], h: dict[str, Any]):
    """Every harvested exchange as the provider's serving log holds it (in harvest order)."""
    rng = random.Random(h["log_seed"])
    accounts = [f"acct-qm-{n:03d}" for n in sorted(rng.sample(range(1, 100), h["accounts"]))]
    start, end = (dt.datetime.fromisoformat(w.replace("Z", "+00:00")) for w in h["window"])
    span = (end - start).total_seconds()
    times = sorted(start + dt.timedelta(seconds=rng.uniform(0, span)) for _ in pairs)
    ids: set[str] = set()
    s = hp["sampling"]
    sampling = {"temperature": s["temperature"], "top_p": s["top_p"],
                "max_new_tokens": s["max_new_tokens"]}  # fmt: skip
    rows = []
    for (prompt, answer), t in zip(pairs, times, strict=True):
        rid = f"req-{rng.getrandbits(64):016x}"
        assert rid not in ids
        ids.add(rid)
        rows.append({
            "request_id": rid, "timestamp": _iso(t), "account_id": rng.choice(accounts),
            "prompt": prompt, "response": answer, "model": h["model"],
            "model_version": h["model_version"], "sampling": dict(sampling),
        })  # fmt: skip
    return rows


def shipped_indices(n: int, h: dict[str, Any]) -> list[int]:
    """The seeded choice of exchanges shipped in the log (sorted: log order)."""
    return sorted(random.Random(h["subset_seed"]).sample(range(n), min(h["shipped"], n)))


def regenerate(
    models_dir: Path,
    rows: list[dict[str, Any]],
    indices: list[int],
    hp: dict[str, Any],
    h: dict[str, Any],
) -> list[dict[str, Any]]:
    """K fresh answers per shipped exchange: same Lumen, prompt and settings, other seeds."""
    jobs = [(i, k) for i in indices for k in range(1, h["k"] + 1)]
    seeds = [h["regeneration_seed"] + REGEN_STRIDE * i + k for i, k in jobs]
    prompts = [rows[i]["prompt"] for i, _ in jobs]
    answers = world.sample_protected(models_dir, prompts, hp, seeds)
    return [
        {"request_id": rows[i]["request_id"], "sample_index": k, "prompt": rows[i]["prompt"],
         "response": a, "model": rows[i]["model"], "model_version": rows[i]["model_version"],
         "sampling": dict(rows[i]["sampling"]), "seed": seed}
        for (i, k), a, seed in zip(jobs, answers, seeds, strict=True)
    ]  # fmt: skip


def other_party_pairs(
    models_dir: Path, pairs: list[tuple[str, str]], hp: dict[str, Any], h: dict[str, Any]
) -> list[tuple[str, str]]:
    """Lumen's answers to the same harvesting prompts, drawn with the other party's seeds."""
    prompts = [p for p, _ in pairs]
    seeds = [h["other_party_seed"] + i for i in range(len(prompts))]
    return list(zip(prompts, world.sample_protected(models_dir, prompts, hp, seeds), strict=True))


# --- the step ------------------------------------------------------------------------------


def build_step(
    stage: Path,
    hp: dict[str, Any],
    training: dict[str, Any],
    quick: bool,
    log: Log,
    retrain: bool = False,
) -> dict[str, Any]:
    """Reproduce and prove the harvest, write the log and regenerations, train the other party.

    ``training`` is the build's training record (build_report.json "training"); the other
    party's record is added to it. Returns the harvest record for build_report.json.
    """
    h = settings(quick)
    models_dir = stage / "models"
    timings: dict[str, float] = {}

    def timed(key: str, t0: float) -> None:
        timings[key] = round(time.monotonic() - t0, 1)

    t0 = time.monotonic()
    log(f"[harvest] reproducing the {hp['n_harvest']} harvested answers")
    pairs = reproduce_harvest(models_dir, hp)
    timed("reproduce_harvest_s", t0)
    proof = prove_reproduction(models_dir, pairs, hp, training["suspect-osprey"]["sft"], log)
    if retrain:
        proof["retrained"] = retrain_proof(models_dir, pairs, hp, training["suspect-osprey"], log)

    rows = exchange_records(pairs, hp, h)
    indices = shipped_indices(len(rows), h)
    t0 = time.monotonic()
    log(f"[harvest] {h['k']} regenerations for each of {len(indices)} logged exchanges")
    regens = regenerate(models_dir, rows, indices, hp, h)
    timed("regenerations_s", t0)
    artifacts._jsonl(stage / LOG_FILE, [rows[i] for i in indices])
    artifacts._jsonl(stage / REGEN_FILE, regens)

    t0 = time.monotonic()
    log(f"[{OTHER_PARTY_MODEL}] sampling {len(pairs)} other answers, fine-tune osprey-base")
    other = other_party_pairs(models_dir, pairs, hp, h)
    timed("other_party_samples_s", t0)
    t0 = time.monotonic()
    training[OTHER_PARTY_MODEL] = world.tune_osprey(
        OTHER_PARTY_MODEL, other, hp, world.SUSPECT_SFT_SEED, models_dir, log
    )
    timed("other_party_training_s", t0)
    same = sum(a == b for (_, a), (_, b) in zip(pairs, other, strict=True))
    # Control: the same fingerprint from other samples of the same prompts must not match.
    proof["control_other_samples"] = training_fingerprint(models_dir, other, hp)
    return {
        "settings": h,
        "n_harvest": len(pairs),
        "harvest_seed_rule": f"harvest_seed + i = {hp['harvest_seed']} + i (i: harvest order)",
        "regeneration_seed_rule": f"{h['regeneration_seed']} + {REGEN_STRIDE} i + k, k = 1..K",
        "other_party_seed_rule": f"{h['other_party_seed']} + i",
        "harvest_sha256": _sha256_json(pairs),
        "shipped_indices": indices,
        "shipped_log_sha256": artifacts._sha256(stage / LOG_FILE),
        "regenerations": len(regens),
        "accounts": sorted({r["account_id"] for r in rows}),
        "protected_weights_sha256": artifacts._sha256(
            models_dir / "protected-lumen" / "model.safetensors"
        ),
        "other_party_answers_identical_to_logged": same,
        "proof": proof,
        "timings": timings,
    }


def lineage_entry(record: dict[str, Any]) -> dict[str, Any]:
    """What lineage.json says about the harvest (files and ground truth)."""
    return {
        "files": {"harvested_exchanges": LOG_FILE, "regenerations": REGEN_FILE},
        "ground_truth": {
            "trained_on_logged_harvest": ["suspect-osprey"],
            "distilled_on_other_samples": [OTHER_PARTY_MODEL],
            "harvest_log": {
                "file": LOG_FILE, "exchanges_shipped": len(record["shipped_indices"]),
                "of": record["n_harvest"], "regenerations": REGEN_FILE,
                "k": record["settings"]["k"], "model_version": record["settings"]["model_version"],
                "note": "the logged exchanges are a seeded subset of the answers the suspect "
                        "was fine-tuned on (reproduced and proven, see build_report.json harvest)",
            },
        },
    }  # fmt: skip


# --- standalone: add the harvest to an existing world ---------------------------------------


def _probe_triples(world_dir: Path) -> list[dict[str, str]]:
    t = world_dir / "transcripts"
    read = lambda name: [json.loads(x) for x in (t / name).read_text().splitlines() if x]  # noqa: E731
    return [
        {"id": c["id"], "prompt": c["prompt"], "protected": c["response"], "human": h["response"]}
        for c, h in zip(read("protected_probe_answers.jsonl"), read("human_probe_answers.jsonl"),
                        strict=True)
    ]  # fmt: skip


def _manifest(world_dir: Path) -> dict[str, str]:
    lines = (world_dir / "MANIFEST.sha256").read_text(encoding="utf-8").splitlines()
    return {rel: digest for digest, rel in (line.split("  ", 1) for line in lines if line)}


DOCS = ("README.md", "lineage.json", "build_report.json")  # rewritten; everything else kept


def write_docs(stage: Path, report: dict[str, Any]) -> None:
    """build_report.json, lineage.json, README.md and MANIFEST.sha256 from the report."""
    import readme

    hp, training, figures = report["hyperparameters"], report["training"], report["sanity"]
    artifacts.write_lineage(stage, hp, training, figures, harvest=lineage_entry(report["harvest"]))
    (stage / "build_report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    readme.write_readme(stage, report, _probe_triples(stage))
    artifacts.write_manifest(stage)


def _recheck_sanity(stage: Path, report: dict[str, Any], log: Log) -> dict[str, Any]:
    """Sanity figures of every model, the new one included; the old ones must not change."""
    import sanity
    from chat_data import IDENTITY_PROBES

    hp = report["hyperparameters"]
    names = list(world.MODEL_ROLES)
    refs = [n for n, r in world.MODEL_ROLES.items() if r["role"] == "reference"]
    figures = sanity.measure(
        stage / "models", names, refs, _probe_triples(stage), [q for q, _ in IDENTITY_PROBES],
        hp["sanity_permutations"], log,
        not_chat=frozenset(n for n, r in world.MODEL_ROLES.items() if r["role"] == "base"),
    )  # fmt: skip
    old = report["sanity"]
    changed = [
        n
        for n in old["models"]
        if figures["models"][n] != old["models"][n]
        or figures["tests_vs_references"][n] != old["tests_vs_references"][n]
    ]
    if changed:
        raise RuntimeError(f"Re-measured sanity figures differ for {changed}: not the same world")
    return figures


def add_to_world(
    world_dir: Path,
    log: Log,
    retrain: bool = False,
    docs_only: bool = False,
    refigure: bool = False,
) -> dict[str, Any] | None:
    """Add the harvest files and the other party to a built world, leaving the rest as is.

    Works on a copy and replaces the world only when everything succeeded and no existing
    file but the three documents changed. ``docs_only`` rewrites the documents from the
    stored report (after editing readme.py or harvest_readme.py); with ``refigure`` it first
    measures the harvest figures again, with ``retrain`` it (re)runs the retraining proof
    of a world that already has its harvest.
    """
    import harvest_figures

    report = json.loads((world_dir / "build_report.json").read_text(encoding="utf-8"))
    hp = report["hyperparameters"]
    torch.set_num_threads(hp["threads"])
    old = _manifest(world_dir)
    stage = world_dir.with_name(world_dir.name + ".harvest-building")
    shutil.rmtree(stage, ignore_errors=True)
    shutil.copytree(world_dir, stage)
    if not docs_only:
        record = build_step(stage, hp, report["training"], report["quick"], log, retrain=retrain)
        log("[harvest] sanity measurement (all models, so the existing figures are re-checked)")
        figures = _recheck_sanity(stage, report, log)
        record["sanity_recheck"] = {"models_rechecked": list(report["sanity"]["models"]),
                                    "figures_changed": []}  # fmt: skip
        log("[harvest] harvest test on the world's models")
        record["figures"] = harvest_figures.measure(stage, log)
        report["sanity"], report["harvest"] = figures, record
    elif refigure:
        log("[harvest] harvest test on the world's models")
        report["harvest"]["figures"] = harvest_figures.measure(stage, log)
    if docs_only and retrain:
        pairs = reproduce_harvest(stage / "models", hp)
        suspect = report["training"]["suspect-osprey"]
        prove_reproduction(stage / "models", pairs, hp, suspect["sft"], log)
        retrained = retrain_proof(stage / "models", pairs, hp, suspect, log)
        report["harvest"]["proof"]["retrained"] = retrained
    write_docs(stage, report)
    new = _manifest(stage)
    touched = sorted(rel for rel, d in old.items() if rel not in DOCS and new.get(rel) != d)
    if touched:
        raise RuntimeError(f"The harvest step changed existing world files: {touched}")
    shutil.rmtree(world_dir)
    stage.rename(world_dir)
    log(f"[harvest] done: {world_dir} ({artifacts.folder_size(world_dir) / 1e6:.1f} MB); "
        f"added {sorted(set(new) - set(old))}")  # fmt: skip
    return report.get("harvest")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--world", type=Path, default=ROOT / "resources" / "demo")
    parser.add_argument(
        "--retrain-suspect", action="store_true",
        help="also retrain the suspect on the reproduced harvest and compare its weights",
    )  # fmt: skip
    parser.add_argument(
        "--docs-only", action="store_true",
        help="only rewrite README.md, lineage.json and the manifest from build_report.json",
    )  # fmt: skip
    parser.add_argument(
        "--refigure", action="store_true",
        help="with --docs-only: measure the harvest test figures again first",
    )  # fmt: skip
    args = parser.parse_args(argv)
    started = time.monotonic()

    def log(msg: str) -> None:
        print(f"[{time.monotonic() - started:7.1f}s] {msg}", flush=True)

    add_to_world(args.world.resolve(), log, args.retrain_suspect, args.docs_only, args.refigure)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
