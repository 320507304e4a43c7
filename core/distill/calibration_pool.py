"""The record pool of a calibration sweep: matched teacher and control answers, staged once.

Every student of a sweep reads the same two transcript files (``pool/teacher.jsonl`` and
``pool/control.jsonl``, line ``i`` of both answering the same prompt), so a distilled
student and its control twin are trained on the very same prompts, and the held-out
probes that the checks use are records no student ever trains on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from core.checks.probes import ChatTemplate, Probe
from core.distill.data import ControlIndex, Selection, read_items, stage_items, usable
from core.jobs import JobState

if TYPE_CHECKING:
    from core.distill.spec import CalibrationSpec


@dataclass(frozen=True)
class Pool:
    """The sweep's matched records: teacher and control answers to the same prompts."""

    available: int
    teacher_file: Path
    control_file: Path


def stage_pool(spec: CalibrationSpec, folder: Path, state: JobState) -> Pool:
    """Matched (prompt, teacher answer, control answer) records as two transcript files.

    Staged once per sweep (a prompt set is answered by the teacher here, once, so every
    student sees the same answers); a resumed sweep finds the files and reuses them.
    """
    pool = folder / "pool"
    teacher_file, control_file = pool / "teacher.jsonl", pool / "control.jsonl"
    if teacher_file.is_file() and control_file.is_file():
        with teacher_file.open(encoding="utf-8") as fh:
            return Pool(sum(1 for _ in fh), teacher_file, control_file)
    pool.mkdir(parents=True, exist_ok=True)
    kind: Literal["prompts", "transcripts"] = "transcripts" if spec.transcripts else "prompts"
    source = spec.transcripts or spec.prompts or ""
    index = ControlIndex(spec.controls, pool / ".controls")
    try:
        available = sum(1 for _ in usable(source, kind, index))
        items = pool / "items.jsonl"
        stage_items(
            usable(source, kind, index), Selection(tuple(range(available)), (), available), items
        )
    finally:
        index.close()
    answers = None
    if kind == "prompts":
        from core.backends import load_model
        from core.distill.sequence import generate_answers

        teacher = load_model(spec.teacher or "", num_threads=spec.training.threads)
        try:
            answers = pool / "answers.jsonl"
            generate_answers(
                teacher,
                items,
                answers,
                ChatTemplate(spec.template, spec.response_prefix),
                spec.generation,
                spec.seed,
                state,
            )
        finally:
            teacher.release()
    tmp_t, tmp_c = teacher_file.with_suffix(".partial"), control_file.with_suffix(".partial")
    with tmp_t.open("w", encoding="utf-8") as ft, tmp_c.open("w", encoding="utf-8") as fc:
        for rec in read_items(items, None, answers):
            key = f"r{rec.index:06d}"
            ft.write(
                json.dumps(
                    {"id": key, "prompt": rec.prompt, "response": rec.teacher}, ensure_ascii=False
                )
                + "\n"
            )
            fc.write(
                json.dumps(
                    {"id": key, "prompt": rec.prompt, "response": rec.control}, ensure_ascii=False
                )
                + "\n"
            )
    tmp_c.replace(control_file)
    tmp_t.replace(teacher_file)
    return Pool(available, teacher_file, control_file)


def held_out_probes(folder: Path, held: set[int]) -> list[Probe]:
    """The probes of the checks: the held-out records with both answers, in file order."""
    probes: list[Probe] = []
    with (
        (folder / "pool" / "teacher.jsonl").open(encoding="utf-8") as ft,
        (folder / "pool" / "control.jsonl").open(encoding="utf-8") as fc,
    ):
        for i, (lt, lc) in enumerate(zip(ft, fc, strict=True)):
            if i in held:
                t, c = json.loads(lt), json.loads(lc)
                probes.append(Probe(t["id"], t["prompt"], t["response"], c["response"]))
    return probes


def pool_prompts(folder: Path) -> list[str]:
    """The prompt of every pool record, by index."""
    with (folder / "pool" / "teacher.jsonl").open(encoding="utf-8") as fh:
        return [str(json.loads(line)["prompt"]) for line in fh]


def stage_arms(spec: CalibrationSpec, folder: Path) -> dict[str, Any]:
    """The extra training files of a sweep, line ``i`` answering pool prompt ``i``.

    ``laundered``: the teacher's answers paraphrased (:mod:`core.distill.paraphrase`);
    ``other``: the same teacher's *other* samples (``spec.other_answers``, matched by
    prompt; ``other_ok`` holds the records that have one; the others keep the teacher's
    answer and are never trained on). Staged once; a resumed sweep reuses the files.
    """
    from core.distill.paraphrase import paraphrase_file

    pool = folder / "pool"
    arms: dict[str, Any] = {}
    if spec.laundered:
        target = pool / "laundered.jsonl"
        if not target.is_file():
            paraphrase_file(pool / "teacher.jsonl", target)
        arms["laundered"] = target
    if spec.other_answers:
        target, ok_file = pool / "other.jsonl", pool / "other_ok.json"
        if not (target.is_file() and ok_file.is_file()):
            index = ControlIndex(spec.other_answers, pool / ".other")
            ok: list[int] = []
            try:
                tmp = target.with_suffix(".partial")
                with (
                    (pool / "teacher.jsonl").open(encoding="utf-8") as fin,
                    tmp.open("w", encoding="utf-8") as fout,
                ):
                    for i, line in enumerate(fin):
                        rec = json.loads(line)
                        other = index.get(rec["prompt"])
                        if other is not None and other.strip() != str(rec["response"]).strip():
                            rec["response"] = other
                            ok.append(i)
                        fout.write(json.dumps(rec, ensure_ascii=False) + "\n")
                tmp.replace(target)
            finally:
                index.close()
            ok_file.write_text(json.dumps(ok), encoding="utf-8")
        arms["other"] = target
        arms["other_ok"] = set(json.loads(ok_file.read_text(encoding="utf-8")))
    return arms
