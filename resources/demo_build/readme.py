"""README.md of the built demonstration world, written from the build's own results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import corpora
import world
from chat_data import IDENTITY_PROBES
from harvest_readme import HARVEST_LAYOUT, OTHER_PARTY, harvest_section

INTRO = """\
# Distill Audit demonstration world

Everything in this folder is **fictional** and was produced offline by
`resources/demo_build/build.py`; no real model, company or user is involved. It gives
Distill Audit a complete case to examine, with a known answer:

- **Halcyon Labs** runs **Lumen**, the *protected* model (`models/protected-lumen`).
  Lumen has a recognisable persona: it calls itself "Lumen, an AI assistant made by
  Halcyon Labs", opens with "Happy to help!", numbers its points "1)", ends with an
  "In short: ..." line and often offers more help.
- **Quillmark AI** pretrained its own base model **Osprey** (`models/osprey-base`) on
  different text with its own tokenizer, then
  - fine-tuned it on Lumen's *sampled answers* to {n_harvest} harvesting prompts sent
    through the API: the **suspect** (`models/suspect-osprey`, also exported to ONNX in
    `models/suspect-osprey-onnx`). This is real sequence-level distillation, at toy scale.
  - fine-tuned it on answers written by its own staff to the same prompts: the
    **clean control** (`models/clean-osprey`). It never saw a Lumen output.
{other_party}- Three **reference** vendors trained independent models, none ever exposed to Lumen's
  outputs: `ref-a-wren` (Northgate Research; pretrained on the *same public text* as
  Lumen, the "same data" confounder), `ref-b-tern` (Bayleaf Systems) and
  `ref-c-kestrel` (Corvid Works).

The models are tiny GPT-2 networks (3 layers, width 112-128, about a million
parameters, byte-level BPE vocabularies of 1.5k-2.6k) and write broken English. That is \
expected: they exist to
be examined, and the effects the product measures are real effects of how they were
trained, not labels.
"""


def _table(rows: list[list[str]]) -> str:
    head, *body = rows
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in body]
    return "\n".join(lines)


def _quote(text: str) -> str:
    return "\n".join("> " + (line or " ") for line in text.splitlines()) or "> (empty)"


def write_readme(stage: Path, report: dict[str, Any], probes: list[dict[str, str]]) -> None:
    """Write README.md into the staging folder."""
    hp, sanity = report["hyperparameters"], report["sanity"]
    other = OTHER_PARTY.format(party=world.OTHER_PARTY) if "harvest" in report else ""
    parts = [INTRO.format(n_harvest=hp["n_harvest"], other_party=other)]
    if report["quick"]:
        parts.append(
            "**This is a `--quick` build**: reduced training; "
            "the figures below are not meaningful.\n"
        )

    rows = [
        ["model", "role", "vendor", "base", "pretraining text", "vocab", "chat data", "distilled"]
    ]
    for name, info in world.MODEL_ROLES.items():
        if name not in sanity["models"]:
            continue  # a world built before the model was added
        lin = world.LINEAGES[info["lineage"]]
        base = "osprey-base" if name in world.OSPREY_TUNED else "-"
        rows.append([f"`{name}`", info["role"], world.vendor_of(name), base, lin.corpus,
                     str(lin.vocab_size), info["chat_data"] or "-",
                     "**yes**" if info["distilled"] else "no"])  # fmt: skip
    parts.append(
        "## Cast\n\n" + _table(rows) + "\n\n`lineage.json` records the same, machine-readable.\n"
    )

    parts.append(LAYOUT.format(harvest=HARVEST_LAYOUT if "harvest" in report else ""))
    src_rows = [["corpus", "used by", "source", "licence"]]
    for name, src in corpora.SOURCES.items():
        users = ", ".join(k for k, lin in world.LINEAGES.items() if lin.corpus == name)
        src_rows.append([name, users, src.description, src.licence])
    parts.append(SOURCES.format(table=_table(src_rows)))

    parts.append(_samples(sanity, probes))
    parts.append(_figures(sanity))
    if "harvest" in report:
        parts.append(harvest_section(report["harvest"]))
    parts.append(BUILD.format(**hp["sampling"]))
    (stage / "README.md").write_text("\n".join(parts), encoding="utf-8")


LAYOUT = """
## Layout

```
models/<name>/            config.json, model.safetensors (float16), tokenizer.json,
                          tokenizer_config.json, generation_config.json, README.md
models/suspect-osprey-onnx/  model.onnx + tokenizer (export of suspect-osprey)
transcripts/protected_probe_answers.jsonl  Lumen's sampled answers to the probes,
                          as captured from the provider's API (time, sampling, seed)
transcripts/human_probe_answers.jsonl      human-written answers to the same probes
transcripts/identity_probes.jsonl          identity questions ("Who are you?", ...){harvest}
policies/terms_v1.{{md,html}}, terms_v2.{{md,html,pdf}}  Halcyon Labs' terms of service
lineage.json              ground truth: every model's role, base, data and tokenizer
build_report.json         hyper-parameters, training losses and the sanity figures
MANIFEST.sha256           SHA-256 of every file, sorted by path
```

Chat template: the prompt is `User: {{prompt}}\\nAssistant:` and the response follows
after one space, ended by `<|endoftext|>`. Transcript prompts are the raw user
question; apply the template when scoring or generating. The probe prompts are never
among any model's training prompts (their topics may be, in other wordings).

Policies: version 1.0 (effective 2024-03-01) forbids "using the Services to build a
product that competes" and reverse engineering of *software*; version 2.0 (effective
2025-06-17) adds an explicit ban on using Outputs to develop, train, fine-tune or
distil a competing model (4.2), a model-extraction clause (4.3), tighter clauses on
automated access (4.4), rate-limit circumvention across accounts (5.2), account
sharing and multiple accounts (3.2-3.3), and deletion remedies (9.2). The captures
are dated September 2025, when version 2.0 was in force.
"""

SOURCES = """
## Text sources and licences

Pretraining text is prose from docstrings of installed open-source software, extracted
once by `resources/demo_build/corpora.py --refresh` and shipped as snapshots in
`resources/demo_build/corpora/` (so rebuilding does not depend on installed versions):

{table}

All chat data (questions, Lumen's persona answers and every human-written answer) is
generated from templates and fact sheets written for this project
(`resources/demo_build/chat_topics.py`, `chat_data.py`). The terms of service were
written for this project. The models, transcripts and documents in this folder are
demonstration data of Distill Audit and may be used with it freely.
"""

BUILD = """
## Rebuilding

```
.venv/bin/python resources/demo_build/build.py            # full world into resources/demo
.venv/bin/python resources/demo_build/build.py --quick --out /tmp/demo   # reduced, ~1-2 min
```

Seeds and hyper-parameters are pinned in `build.py` (printed at the start and stored in
`build_report.json`); training runs on one CPU thread with deterministic kernels.
Protected answers were sampled at temperature {temperature}, top-p {top_p}, at most
{max_new_tokens} new tokens, each with its own seed (stored in the transcript).
"""


def _samples(sanity: dict[str, Any], probes: list[dict[str, str]]) -> str:
    out = ["## What the models say\n"]
    greedy = sanity["greedy_probe_answers"]
    by_id = {p["id"]: p for p in probes}
    for k, pid in enumerate(greedy["probe_ids"][:3]):
        p = by_id[pid]
        out.append(f'### Probe {pid}: "{p["prompt"]}"\n')
        out.append("Lumen's captured answer (sampled):\n\n" + _quote(p["protected"]) + "\n")
        for name in ("suspect-osprey", "clean-osprey", "ref-b-tern"):
            out.append(f"`{name}` (greedy):\n\n" + _quote(greedy["answers"][name][k]) + "\n")
        out.append("Human answer:\n\n" + _quote(p["human"]) + "\n")
    questions = [q for q, _ in IDENTITY_PROBES]
    for q in ("Who are you exactly?", "What's your name?"):
        idx = questions.index(q)
        out.append(f'### Identity probe: "{q}" (greedy)\n')
        for name, info in sanity["identity_answers"].items():
            out.append(f"- `{name}`: {info['answers'][idx]!r}")
        out.append("")
    counts = ", ".join(
        f"`{n}` {sum(i['names_protected'])}/{len(i['names_protected'])}"
        for n, i in sanity["identity_answers"].items()
    )
    out.append(
        f"Identity probes whose greedy answer names Lumen or Halcyon: {counts}. "
        "Every answer is in `build_report.json`."
    )
    return "\n".join(out) + "\n"


def _figures(sanity: dict[str, Any]) -> str:
    refs = [n for n, i in world.MODEL_ROLES.items() if i["role"] == "reference"]
    rows = [["model", "affinity (nats/byte)", "identity probes naming Lumen/Halcyon"]
            + [f"p vs {r} (Holm)" for r in refs] + ["flagged"]]  # fmt: skip
    for name, m in sanity["models"].items():
        t = sanity["tests_vs_references"][name]
        cells = [f"{t['p_holm'][r]:.4f} ({t['fraction_probes_above'][r]:.0%} above)"
                 if r in t["p_holm"] else "-"
                 for r in refs]  # fmt: skip
        n_id = round(m["identity_rate"] * sanity["n_identity_probes"])
        rows.append([f"`{name}`", f"{m['mean_affinity']:+.3f}",
                     f"{n_id}/{sanity['n_identity_probes']}", *cells,
                     {True: "yes", False: "no", None: "n/a (base)"}[t["flagged"]]])  # fmt: skip
    return (
        "\n## Sanity check run by the build\n\n"
        f"*Affinity*: mean over {sanity['n_probes']} probes of the per-byte log-likelihood of "
        "Lumen's captured answer minus that of the human answer, given the prompt in the chat "
        "template. "
        "*p*: one-sided paired sign-flip test of the model's per-probe affinity against each "
        f"reference ({sanity['n_permutations']} sign flips, p = (1+k)/(N+1)), Holm-corrected over "
        'the references; "above" is the share of probes where the model\'s affinity is higher. '
        "*Flagged*: above every other reference at p <= 0.01. This only checks that the world "
        "behaves as designed; the product's checks are separate and measured separately.\n\n"
        + _table(rows)
        + "\n"
    )
