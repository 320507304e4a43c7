"""Evidence files, lineage record, ONNX export and manifest of the demonstration world."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
from pathlib import Path
from typing import Any

import corpora
import world
from chat_data import Prompt, human_answer
from lm_tools import CHAT_PROMPT, RESPONSE_PREFIX, Sampling, generate, load_model

PROVIDER_CAPTURE = {
    "model": "Lumen",
    "provider": "Halcyon Labs",
    "collector": "Halcyon Labs Trust & Safety, API capture account ts-audit-07 (fictional)",
}
HUMAN_SOURCE = {
    "model": "human",
    "provider": "Brightline Annotation Services (fictional contractor)",
    "collector": "Halcyon Labs Trust & Safety (fictional)",
}
CAPTURE_START = dt.datetime(2025, 9, 2, 14, 3, 11, tzinfo=dt.UTC)


def _iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_transcripts(
    stage: Path, probes: list[Prompt], identity: list[tuple[str, str]], hp: dict[str, Any], log: Any
) -> list[dict[str, str]]:
    """Captured protected answers, human answers and identity probes; returns the probe triples."""
    model, tok = load_model(stage / "models" / "protected-lumen")
    s = hp["sampling"]
    sampling = Sampling(s["temperature"], s["top_p"], s["max_new_tokens"])
    seeds = [hp["probe_seed"] + i for i in range(len(probes))]
    log(f"[transcripts] sampling protected-lumen on {len(probes)} probes")
    answers = generate(model, tok, [p.text for p in probes], sampling, seeds)
    rng = random.Random(hp["probe_seed"])
    human = [human_answer(p, rng, "quillmark") for p in probes]
    t = CAPTURE_START
    captured, written, triples = [], [], []
    for i, (p, a, h, seed) in enumerate(zip(probes, answers, human, seeds, strict=True), 1):
        pid = f"p{i:03d}"
        t += dt.timedelta(seconds=rng.randint(20, 140))
        captured.append({
            "id": pid, "prompt": p.text, "response": a, **PROVIDER_CAPTURE,
            "collected_at": _iso(t),
            "sampling": {"temperature": s["temperature"], "top_p": s["top_p"], "seed": seed,
                         "max_new_tokens": s["max_new_tokens"]},
        })  # fmt: skip
        written.append({
            "id": pid, "prompt": p.text, "response": h, **HUMAN_SOURCE,
            "collected_at": _iso(CAPTURE_START + dt.timedelta(days=9, minutes=7 * i)),
            "sampling": None,
        })  # fmt: skip
        triples.append({"id": pid, "prompt": p.text, "protected": a, "human": h})
    tdir = stage / "transcripts"
    _jsonl(tdir / "protected_probe_answers.jsonl", captured)
    _jsonl(tdir / "human_probe_answers.jsonl", written)
    _jsonl(tdir / "identity_probes.jsonl", [
        {"id": f"i{i:03d}", "prompt": q, "category": kind, "markers": ["Lumen", "Halcyon"]}
        for i, (q, kind) in enumerate(identity, 1)
    ])  # fmt: skip
    return triples


def export_onnx_step(models_dir: Path, texts: list[str], log: Any) -> dict[str, Any] | None:
    """ONNX export of the suspect with core.backends.onnx_export, and its parity check.

    If that module is not available the build goes on without the ONNX folder and says
    so loudly. Returns the parity report (torch vs onnxruntime log-probabilities).
    """
    try:
        from core.backends.onnx_export import export_onnx, parity_check
    except ImportError:
        log("WARNING: core.backends.onnx_export is missing: suspect-osprey-onnx NOT built")
        return None
    source, target = models_dir / "suspect-osprey", models_dir / "suspect-osprey-onnx"
    export_onnx(source, target)
    info_path = target / "export_info.json"
    if info_path.is_file():  # keep the shipped file free of this machine's paths
        info = json.loads(info_path.read_text(encoding="utf-8"))
        info["source_folder"] = "models/suspect-osprey"
        info_path.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    report = parity_check(source, target, texts).to_dict()
    log(f"[onnx] exported {target.name}; parity max |dlogp| {report['max_abs_diff']:.2e}, "
        f"passed: {report['passed']}")  # fmt: skip
    if not report["passed"]:
        raise RuntimeError(f"ONNX export of the suspect failed its parity check: {report}")
    return report


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_lineage(
    stage: Path,
    hp: dict[str, Any],
    training: dict[str, Any],
    figures: dict[str, Any],
    harvest: dict[str, Any] | None = None,
) -> None:
    """lineage.json: the ground truth of the world, machine readable.

    ``harvest`` is the harvest step's record (harvest.py): which files hold the logged
    exchanges and their regenerations, and which model learned the logged answers.
    """
    models = {}
    for name, info in world.MODEL_ROLES.items():
        lin = world.LINEAGES[info["lineage"]]
        src = corpora.SOURCES[lin.corpus]
        fine_tuned = name in world.OSPREY_TUNED
        models[name] = {
            "path": f"models/{name}",
            "role": info["role"],
            "distilled_from_protected": info["distilled"],
            "vendor": world.vendor_of(name),
            "assistant_name": info["assistant"],
            "base_model": "osprey-base" if fine_tuned else None,
            "pretraining_text": {"corpus": lin.corpus, "description": src.description,
                                 "licence": src.licence,
                                 "snapshot": f"resources/demo_build/corpora/{lin.corpus}.txt.gz"},
            "tokenizer": {"type": "byte-level BPE", "vocab_size": lin.vocab_size,
                          "trained_on": f"{lin.corpus} + {lin.key} chat data",
                          "shared_with": [n for n, i in world.MODEL_ROLES.items()
                                          if i["lineage"] == info["lineage"] and n != name]},
            "architecture": {"type": "GPT2LMHeadModel", "n_layer": lin.arch.n_layer,
                             "n_embd": lin.arch.n_embd, "n_head": lin.arch.n_head},
            "seed": lin.seed,
            "chat_data": info["chat_data"],
            "note": info.get("note"),
            "sft_examples": training.get(name, {}).get("sft_examples"),
            "sanity": figures["models"].get(name),
        }  # fmt: skip
        if name == "suspect-osprey":
            models[name]["onnx_export"] = "models/suspect-osprey-onnx"
    lineage = {
        "world": "Distill Audit demonstration world (entirely fictional)",
        "chat_template": {"prompt": CHAT_PROMPT, "response_prefix": RESPONSE_PREFIX,
                          "eos_token": "<|endoftext|>",
                          "note": "score or generate the response after the prompt; "
                                  "the model ends its turn with eos"},
        "ground_truth": {
            "protected": "protected-lumen",
            "distilled": [n for n, i in world.MODEL_ROLES.items() if i["distilled"]],
            "not_distilled": [n for n, i in world.MODEL_ROLES.items()
                              if not i["distilled"] and i["role"] != "protected"],
            "harvest": (training.get("harvest") or {}) | {
                "by": "Quillmark AI", "window": "2025-07-14/2025-08-08",
                "note": "fictional: Lumen's sampled answers to Quillmark's prompts, via the API",
            },
            **((harvest or {}).get("ground_truth") or {}),
            "probes_disjoint_from_training_prompts": True,
            "probe_capture_window": "2025-09-02/2025-09-11",
        },
        "models": models,
        "transcripts": {
            "protected_probe_answers": "transcripts/protected_probe_answers.jsonl",
            "human_probe_answers": "transcripts/human_probe_answers.jsonl",
            "identity_probes": "transcripts/identity_probes.jsonl",
        } | ((harvest or {}).get("files") or {}),
        "policies": {
            "provider": "Halcyon Labs",
            "versions": [{"version": v, "effective": d,
                          "files": [f"policies/terms_{v}.{e}" for e in exts]}
                         for v, d, exts in (("v1", "2024-03-01", ("md", "html")),
                                            ("v2", "2025-06-17", ("md", "html", "pdf")))],
        },
        "sanity_report": "build_report.json",
    }  # fmt: skip
    (stage / "lineage.json").write_text(json.dumps(lineage, indent=2) + "\n", encoding="utf-8")


def write_manifest(stage: Path) -> None:
    """MANIFEST.sha256: ``sha256  relative/path`` for every file, sorted by path."""
    rels = sorted(
        p.relative_to(stage).as_posix()
        for p in stage.rglob("*")
        if p.is_file() and p.name != "MANIFEST.sha256"
    )
    lines = [f"{_sha256(stage / rel)}  {rel}" for rel in rels]
    (stage / "MANIFEST.sha256").write_text("\n".join(lines) + "\n", encoding="utf-8")


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
