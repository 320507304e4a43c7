"""The demonstration-world build script: a --quick build produces a complete, loadable world."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "resources" / "demo_build" / "build.py"

MODELS = (
    "protected-lumen", "osprey-base", "suspect-osprey", "clean-osprey",
    "ref-a-wren", "ref-b-tern", "ref-c-kestrel", "other-party-osprey",
)  # fmt: skip
EXPECTED_FILES = (
    "README.md", "lineage.json", "build_report.json", "MANIFEST.sha256",
    "transcripts/protected_probe_answers.jsonl", "transcripts/human_probe_answers.jsonl",
    "transcripts/identity_probes.jsonl", "transcripts/halcyon_harvest_log.jsonl",
    "transcripts/lumen_regenerations.jsonl",
    "policies/terms_v1.md", "policies/terms_v1.html",
    "policies/terms_v2.md", "policies/terms_v2.html", "policies/terms_v2.pdf",
)  # fmt: skip


@pytest.fixture(scope="module")
def quick_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "world"
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    proc = subprocess.run(
        [sys.executable, str(BUILD), "--quick", "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


@pytest.mark.slow
def test_quick_build_writes_every_expected_file(quick_world: Path) -> None:
    for rel in EXPECTED_FILES:
        assert (quick_world / rel).is_file(), rel
    for name in MODELS:
        folder = quick_world / "models" / name
        for f in ("config.json", "model.safetensors", "tokenizer.json", "README.md"):
            assert (folder / f).is_file(), f"{name}/{f}"
        assert not list(folder.glob("*.bin")) and not list(folder.glob("*.pt"))
    assert not quick_world.with_name(quick_world.name + ".building").exists()


@pytest.mark.slow
def test_models_load_offline_from_safetensors(quick_world: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    for name in MODELS:
        folder = quick_world / "models" / name
        tok = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(
            folder, local_files_only=True, use_safetensors=True, dtype=torch.float32
        )
        assert tok.eos_token == "<|endoftext|>" and tok.pad_token_id != tok.eos_token_id
        ids = tok("User: Who are you?\nAssistant:", return_tensors="pt")["input_ids"]
        with torch.no_grad():
            logits = model(input_ids=ids).logits
        assert logits.shape[-1] == model.config.vocab_size
        assert torch.isfinite(logits).all()


@pytest.mark.slow
def test_transcripts_follow_the_importer_format(quick_world: Path) -> None:
    t = quick_world / "transcripts"
    captured = [
        json.loads(x) for x in (t / "protected_probe_answers.jsonl").read_text().splitlines()
    ]
    human = [json.loads(x) for x in (t / "human_probe_answers.jsonl").read_text().splitlines()]
    identity = [json.loads(x) for x in (t / "identity_probes.jsonl").read_text().splitlines()]
    assert [c["id"] for c in captured] == [h["id"] for h in human]
    assert [c["prompt"] for c in captured] == [h["prompt"] for h in human]
    for row in captured:
        assert row["model"] == "Lumen" and row["provider"] == "Halcyon Labs"
        assert row["collected_at"].endswith("Z") and row["collector"]
        assert set(row["sampling"]) == {"temperature", "top_p", "seed", "max_new_tokens"}
        assert not row["prompt"].startswith("User:")
    assert all(h["model"] == "human" for h in human)
    assert len(identity) >= 30 and len({i["prompt"] for i in identity}) == len(identity)


@pytest.mark.slow
def test_lineage_manifest_and_policies(quick_world: Path) -> None:
    lineage = json.loads((quick_world / "lineage.json").read_text())
    assert lineage["ground_truth"]["distilled"] == ["suspect-osprey", "other-party-osprey"]
    assert lineage["ground_truth"]["trained_on_logged_harvest"] == ["suspect-osprey"]
    assert lineage["chat_template"]["prompt"] == "User: {prompt}\nAssistant:"
    assert set(MODELS) <= set(lineage["models"])
    refs = [n for n, m in lineage["models"].items() if m["role"] == "reference"]
    assert len(refs) >= 3
    lines = (quick_world / "MANIFEST.sha256").read_text().splitlines()
    paths = [line.split("  ", 1)[1] for line in lines]
    assert paths == sorted(paths) and "lineage.json" in paths
    for line in lines:
        digest, rel = line.split("  ", 1)
        assert hashlib.sha256((quick_world / rel).read_bytes()).hexdigest() == digest
    v1 = (quick_world / "policies" / "terms_v1.md").read_text()
    v2 = (quick_world / "policies" / "terms_v2.md").read_text()
    assert "Effective date: 2024-03-01" in v1 and "Effective date: 2025-06-17" in v2
    assert "distil" in v2 and "distil" not in v1
    assert (quick_world / "policies" / "terms_v2.pdf").read_bytes().startswith(b"%PDF")
