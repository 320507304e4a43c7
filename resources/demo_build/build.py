"""Build the Distill Audit demonstration world: models, transcripts, policies, manifest.

Usage::

    .venv/bin/python resources/demo_build/build.py [--out DIR] [--quick]

Everything is deterministic (fixed seeds, pinned hyper-parameters below, two torch
threads) and written to a staging folder that replaces ``--out`` (default
``resources/demo``) only when the whole build succeeded. ``--quick`` builds a reduced
world with the same layout in a minute or two, for tests.
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for path in (str(HERE), str(ROOT)):
    if path not in sys.path:
        sys.path.insert(0, path)

import artifacts  # noqa: E402
import harvest  # noqa: E402
import harvest_figures  # noqa: E402
import policies  # noqa: E402
import readme  # noqa: E402
import sanity  # noqa: E402
import torch  # noqa: E402
import world  # noqa: E402
from chat_data import IDENTITY_PROBES, split_prompts  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

hf_logging.set_verbosity_error()
hf_logging.disable_progress_bar()

HYPERPARAMS: dict[str, Any] = {
    "threads": 1,
    "log_every": 50,
    "n_probes": 150,
    "n_protected_sft": 2400,
    "n_harvest": 1200,
    "n_reference_sft": 1200,
    "identity_share": 0.06,
    "probe_split_seed": 7,
    "harvest_seed": 910_000,
    "probe_seed": 120_000,
    "sampling": {"temperature": 0.8, "top_p": 0.95, "max_new_tokens": 128},
    "pretrain": {"steps": 150, "batch_size": 16, "block_size": 128, "lr": 2e-3,
                 "warmup_steps": 30, "min_lr_ratio": 0.1, "weight_decay": 0.01,
                 "max_paragraphs": 6000},
    "sft": {"steps": 450, "batch_size": 16, "lr": 2e-3, "warmup_steps": 30,
            "min_lr_ratio": 0.1, "weight_decay": 0.01, "max_len": 224},
    # The provider's own model is trained longer on its persona data than anyone else's.
    "sft_protected": {"steps": 700, "identity_share": 0.08},
    "sanity_permutations": 9999,
}  # fmt: skip

QUICK_OVERRIDES: dict[str, Any] = {
    "n_probes": 24,
    "n_protected_sft": 300,
    "n_harvest": 200,
    "n_reference_sft": 200,
    "pretrain": {"steps": 12, "max_paragraphs": 400},
    "sft": {"steps": 20},
    "sft_protected": {"steps": 30},
    "sampling": {"max_new_tokens": 48},
    "sanity_permutations": 999,
    "log_every": 0,
}


def hyperparams(quick: bool) -> dict[str, Any]:
    """The pinned hyper-parameters, reduced for ``--quick``."""
    hp = copy.deepcopy(HYPERPARAMS)
    if quick:
        for key, value in QUICK_OVERRIDES.items():
            if isinstance(value, dict):
                hp[key].update(value)
            else:
                hp[key] = value
    return hp


def build(out: Path, quick: bool) -> dict[str, Any]:
    """Build the whole world into ``out``; returns the build report."""
    started = time.monotonic()
    hp = hyperparams(quick)
    torch.set_num_threads(hp["threads"])  # also for generation and scoring
    print("Hyper-parameters:\n" + json.dumps(hp, indent=2))
    stage = out.with_name(out.name + ".building")
    shutil.rmtree(stage, ignore_errors=True)
    (stage / "models").mkdir(parents=True)

    def log(msg: str) -> None:
        print(f"[{time.monotonic() - started:7.1f}s] {msg}", flush=True)

    policies.write_all(stage / "policies")
    log("policies written")
    splits = split_prompts(hp["n_probes"], hp["probe_split_seed"])
    training = world.build_models(splits, stage / "models", hp, log)
    probes = artifacts.write_transcripts(stage, splits.probes, IDENTITY_PROBES, hp, log)
    texts = [f"User: {p['prompt']}\nAssistant: {p['protected']}" for p in probes[:8]]
    onnx_parity = artifacts.export_onnx_step(stage / "models", texts, log)
    # Halcyon's harvest log, Lumen's regenerations and the other-party student (harvest.py).
    harvested = harvest.build_step(stage, hp, training, quick, log)
    log("sanity measurement")
    names = list(world.MODEL_ROLES)
    refs = [n for n, r in world.MODEL_ROLES.items() if r["role"] == "reference"]
    figures = sanity.measure(
        stage / "models", names, refs, probes, [q for q, _ in IDENTITY_PROBES],
        hp["sanity_permutations"], log,
        not_chat=frozenset(n for n, r in world.MODEL_ROLES.items() if r["role"] == "base"),
    )  # fmt: skip
    log("harvest test on the world's models")
    harvested["figures"] = harvest_figures.measure(stage, log)
    report = {
        "quick": quick,
        "hyperparameters": hp,
        "training": training,
        "onnx_parity": onnx_parity,
        "sanity": figures,
        "harvest": harvested,
    }
    artifacts.write_lineage(stage, hp, training, figures, harvest.lineage_entry(harvested))
    (stage / "build_report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    readme.write_readme(stage, report, probes)
    artifacts.write_manifest(stage)
    if out.exists():
        shutil.rmtree(out)
    stage.rename(out)
    log(f"done: {out} ({artifacts.folder_size(out) / 1e6:.1f} MB)")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the Distill Audit demonstration world.")
    parser.add_argument("--out", type=Path, default=ROOT / "resources" / "demo")
    parser.add_argument("--quick", action="store_true", help="reduced world for tests")
    parser.add_argument("--cache", type=Path, help="developer option: reuse pretrained bases")
    args = parser.parse_args(argv)
    if args.cache:
        world.CACHE_DIR = args.cache.resolve()
    build(args.out.resolve(), args.quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
