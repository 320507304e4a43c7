"""The body of an experiment Run: stage, answer, build, train (checkpointed), save, export, import.

Every stage is idempotent and leaves its output in the run folder, so running the body
again — ``experiment resume`` after a cancel or a killed process — skips what is done:
staged records and generated answers are reused, tokenized data are reused, training
continues from the latest checkpoint, and the student is saved, exported and imported
only once it is complete. See :mod:`core.distill.experiment` for the entry points.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select as sql_select

from core.checks.probes import ChatTemplate
from core.distill import presets
from core.distill.agreement import EvalSet, summarise_curve, teacher_agreement
from core.distill.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from core.distill.data import ChatEncoder, ControlIndex, TokenStore, read_items, stage_items, usable
from core.distill.spec import ExperimentOutcome, Prepared
from core.distill.train import (
    StepContext,
    TrainConfig,
    TrainHooks,
    capture_resume_state,
    train_causal_lm,
)
from core.errors import DistillAuditError
from core.jobs import JobState
from core.store import runs
from core.store.db import CaseFile
from core.store.models import ModelArtifact


def execute(
    cf: CaseFile, run_id: int, prep: Prepared, folder: Path, state: JobState
) -> ExperimentOutcome:
    """Run (or continue) the experiment's stages inside the Run's life cycle."""
    try:
        with runs.running(cf, run_id) as handle:
            return _Body(cf, handle, prep, folder, state).run()
    finally:
        if prep.teacher is not None:
            prep.teacher.release()


class _Body:
    def __init__(
        self, cf: CaseFile, handle: runs.RunHandle, prep: Prepared, folder: Path, state: JobState
    ) -> None:
        self.cf, self.handle, self.prep, self.spec = cf, handle, prep, prep.spec
        self.folder, self.state = folder, state
        self.data = folder / "data"
        self.template = ChatTemplate(self.spec.template, self.spec.response_prefix)
        self.seconds: dict[str, float] = {}

    # --- stages ---------------------------------------------------------------------
    def run(self) -> ExperimentOutcome:
        self.data.mkdir(parents=True, exist_ok=True)
        items, teacher_file = self._stage()
        model, tokenizer = self._student(items, teacher_file)
        max_len = min(self.spec.training.max_len, presets.context_window(model))
        encoder = ChatEncoder(tokenizer, self.template, max_len)
        store = self._tokenized(items, teacher_file, encoder)
        evalset, eval_texts = self._evalset(items, teacher_file, encoder)
        steps = self.spec.training.steps_for(len(store))
        self.handle.save_summary(
            data={
                "available": self.prep.selection.available,
                "train_records": len(self.prep.selection.train),
                "eval_records": len(self.prep.selection.eval),
                "examples": len(store),
                "dropped_too_long": store.dropped,
                "answer_tokens": store.n_tokens,
                "max_len": max_len,
                "answers": self.spec.answers,
            },
            steps_planned=steps,
        )
        training = self._train(model, tokenizer, store, evalset, steps)
        student_dir = self._save(model, tokenizer, training)
        onnx = self._export(student_dir, eval_texts)
        cost = self._cost(items, teacher_file)
        artifact_id = self._import(student_dir)
        # The student is complete and in the case: its checkpoints are no longer needed
        # (a finished run is never resumed) and are three times its size.
        shutil.rmtree(self.folder / "checkpoints", ignore_errors=True)
        summary = {
            "student": {"path": str(student_dir), "artifact_id": artifact_id},
            "onnx": onnx,
            "cost": cost,
            "compute_seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }
        self.handle.save_summary(**summary)
        self.state.set_progress(100)
        return ExperimentOutcome(
            self.handle.run_id, artifact_id, str(student_dir), {"training": training, **summary}
        )

    def _stage(self) -> tuple[Path, Path | None]:
        spec, items = self.spec, self.data / "items.jsonl"
        if not items.is_file():
            self.state.set_status("Staging the selected records")
            controls = (
                ControlIndex(spec.controls, self.data / ".controls") if spec.controls else None
            )
            try:
                counts = stage_items(
                    usable(spec.source, spec.source_kind, controls), self.prep.selection, items
                )
            finally:
                if controls is not None:
                    controls.close()
            (self.data / "selection.json").write_text(
                json.dumps(self.prep.selection.to_dict()), encoding="utf-8"
            )
            self.handle.save_summary(staged=counts)
        self.state.set_progress(3)
        if spec.source_kind != "prompts":
            return items, None
        from core.distill.sequence import generate_answers

        out = self.data / "teacher.jsonl"
        self.state.set_status("The teacher is answering the prompts")
        info = generate_answers(
            self.prep.teacher,
            items,
            out,
            self.template,
            spec.generation,
            spec.seed,
            self.state.sub(3, 25),
        )
        self.seconds["teacher_generation"] = info["seconds"]
        self.handle.save_summary(teacher_generation=info | {"settings": spec.generation.to_dict()})
        return items, out

    def _pairs(self, items: Path, teacher_file: Path | None, split: str, answers: str) -> Any:
        for rec in read_items(items, split, teacher_file):  # type: ignore[arg-type]
            answer = rec.teacher if answers == "teacher" else rec.control
            if answer and answer.strip():
                yield rec.prompt, answer

    def _student(self, items: Path, teacher_file: Path | None) -> tuple[Any, Any]:
        spec = self.spec
        self.state.set_status("Building the student")
        if spec.student:
            return presets.load_base(spec.student)
        chosen = presets.preset(spec.student_preset or "tiny")
        tok_dir = self.data / "tokenizer"
        if (tok_dir / "tokenizer_config.json").is_file():
            tokenizer = presets.borrowed_tokenizer(tok_dir)
        else:
            if spec.tokenizer == "fresh":
                texts = (
                    t
                    for pair in self._pairs(items, teacher_file, "train", spec.answers)
                    for t in pair
                )
                tokenizer = presets.train_bpe(texts, chosen.vocab_size)
            else:
                source = self.prep.teacher.folder if spec.tokenizer == "teacher" else spec.tokenizer
                tokenizer = presets.borrowed_tokenizer(source)
            tokenizer.save_pretrained(tok_dir)
        return presets.new_student(chosen, tokenizer, spec.seed), tokenizer

    def _tokenized(
        self, items: Path, teacher_file: Path | None, encoder: ChatEncoder
    ) -> TokenStore:
        store_dir = self.data / f"train-{self.spec.answers}"
        if TokenStore.exists(store_dir):
            return TokenStore(store_dir)
        self.state.set_status("Tokenizing the training answers")
        return TokenStore.write(
            store_dir, self._pairs(items, teacher_file, "train", self.spec.answers), encoder
        )

    def _evalset(
        self, items: Path, teacher_file: Path | None, encoder: ChatEncoder
    ) -> tuple[EvalSet, list[str]]:
        """Held-out teacher answers (for agreement) and texts for the ONNX parity check."""
        pairs = list(self._pairs(items, teacher_file, "eval", "teacher"))
        if not pairs:  # no hold-out: parity on training text, no agreement figure
            source = self._pairs(items, teacher_file, "train", self.spec.answers)
            texts = [
                self.template.context(p) + self.template.continuation(a)
                for _, (p, a) in zip(range(self.spec.parity_texts), source, strict=False)
            ]
            if not texts:  # nothing trained and nothing held out: parity on a fixed sentence
                texts = [self.template.context("Hello!") + self.template.continuation("Hi there.")]
            return EvalSet((), 0), texts
        examples = tuple(encoder.encode(pairs))
        n_bytes = sum(len(self.template.continuation(a).encode("utf-8")) for _, a in pairs)
        texts = [
            self.template.context(p) + self.template.continuation(a)
            for p, a in pairs[: self.spec.parity_texts]
        ]
        return EvalSet(examples, n_bytes), texts

    # --- training -------------------------------------------------------------------
    def _train(
        self, model: Any, tokenizer: Any, store: TokenStore, evalset: EvalSet, steps: int
    ) -> dict[str, Any]:
        spec, t = self.spec, self.spec.training
        pad = presets.pad_id(tokenizer)
        ck_dir = self.folder / "checkpoints"
        fingerprint = {
            "examples": len(store),
            "answer_tokens": store.n_tokens,
            "steps": steps,
            "seed": spec.seed,
            "method": spec.method,
        }
        hooks = TrainHooks()
        evals: list[dict[str, Any]] = []
        resumed: list[int] = []
        before = 0.0  # training seconds of earlier sessions (before a cancel or a crash)
        latest = latest_checkpoint(ck_dir) if steps else None
        if latest is not None:
            resumed_at = load_checkpoint(latest, model)
            if resumed_at.extra.get("fingerprint") != fingerprint:
                raise DistillAuditError(
                    f"The checkpoint {latest} belongs to different training data "
                    "or settings; it cannot be resumed here."
                )
            hooks.resume = resumed_at.resume
            evals = list(resumed_at.extra.get("evals", []))
            resumed = [*resumed_at.extra.get("resumed_from", []), resumed_at.resume.step]
            before = float(resumed_at.extra.get("train_seconds", 0.0))
        else:
            evals.append({"step": 0, **teacher_agreement(model, evalset, pad)})
        config = TrainConfig(
            steps=steps,
            batch_size=t.batch_size,
            lr=t.lr_for(spec.student is None),
            weight_decay=t.weight_decay,
            warmup_steps=t.warmup_for(steps),
            schedule="cosine",
            seed=spec.seed,
            threads=t.threads,
            max_len=None,
        )
        if spec.method == "logit":
            from core.distill.logit import LogitDistillLoss

            hooks.loss_fn = LogitDistillLoss(
                self.prep.teacher.torch_model, spec.logit, len(tokenizer)
            )
        saved = {"step": hooks.resume.step if hooks.resume else -1}
        started = time.monotonic()
        sub = self.state.sub(25, 85)

        def curves(ctx: StepContext) -> dict[str, Any]:
            return {
                "steps_planned": steps,
                "steps_done": ctx.step,
                "losses": ctx.result.losses,
                "evals": evals,
                "resumed_from": resumed,
                "tokens_trained": ctx.result.tokens_trained,
            }

        def checkpoint(ctx: StepContext) -> None:
            extra = {
                "fingerprint": fingerprint,
                "evals": evals,
                "resumed_from": resumed,
                "train_seconds": before + time.monotonic() - started,
            }
            save_checkpoint(ck_dir, ctx.model, capture_resume_state(ctx), extra)
            saved["step"] = ctx.step
            self.handle.save_summary(training=curves(ctx), teacher_agreement=summarise_curve(evals))

        def after_step(ctx: StepContext) -> None:
            if ctx.step % max(1, t.eval_every) == 0 or ctx.step == steps:
                evals.append({"step": ctx.step, **teacher_agreement(ctx.model, evalset, pad)})
            # No ETA here: the front ends estimate the whole job's time left (one estimate).
            sub.set_status(f"Training step {ctx.step}/{steps} · loss {ctx.result.losses[-1]:.3f}")
            if ctx.step % max(1, t.checkpoint_every) == 0 or ctx.step == steps:
                checkpoint(ctx)

        def on_cancel(ctx: StepContext) -> None:
            if ctx.step > saved["step"]:
                checkpoint(ctx)

        hooks.after_step, hooks.on_cancel = after_step, on_cancel
        result = None
        if steps:
            try:
                result = train_causal_lm(model, store, config, pad, state=sub, hooks=hooks)
            except ValueError as exc:
                raise DistillAuditError(f"Training could not continue: {exc}.") from exc
        seconds = time.monotonic() - started
        self.seconds["training"] = before + seconds
        trained_now = (result.tokens_trained if result else 0) - (
            hooks.resume.tokens_trained if hooks.resume else 0
        )
        record = {
            "steps_planned": steps,
            "steps_done": result.steps if result else 0,
            "losses": result.losses if result else [],
            "evals": evals,
            "resumed_from": resumed,
            "tokens_trained": result.tokens_trained if result else 0,
            "tokens_per_second": round(trained_now / seconds, 1)
            if seconds > 0 and trained_now
            else None,
            "seconds": round(before + seconds, 3),
            "seconds_this_session": round(seconds, 3),
            "config": {**config.__dict__},
            "method": spec.method,
            "logit": spec.logit.__dict__ if spec.method == "logit" else None,
        }
        self.handle.save_summary(training=record, teacher_agreement=summarise_curve(evals))
        return record

    # --- outputs --------------------------------------------------------------------
    def _save(self, model: Any, tokenizer: Any, training: dict[str, Any]) -> Path:
        from core.distill.student import model_card, save_student

        spec = self.spec
        self.state.set_status("Saving the student")
        about = {
            "teacher": spec.teacher or "(captured transcripts)",
            "method": spec.method,
            "trained on": f"{spec.answers} answers",
            "samples": len(self.prep.selection.train),
            "steps": training["steps_done"],
            "seed": spec.seed,
            "student start": spec.student or f"fresh {spec.student_preset} preset",
        }
        target = save_student(
            model, tokenizer, self.folder / "student", model_card(self.handle.run_id, about)
        )
        self.state.set_progress(88)
        return target

    def _export(self, student_dir: Path, texts: list[str]) -> dict[str, Any] | None:
        if not self.spec.onnx:
            return None
        from core.distill.student import export_and_check

        self.state.set_status("Exporting the student to ONNX")
        started = time.monotonic()
        info = export_and_check(
            student_dir, self.folder / "student-onnx", texts, self.state.sub(88, 96)
        )
        self.seconds["onnx_export_and_parity"] = time.monotonic() - started
        self.handle.save_summary(onnx=info)
        return info

    def _cost(self, items: Path, teacher_file: Path | None) -> dict[str, Any] | None:
        if self.spec.answers != "teacher":
            return None  # the control twin harvested nothing
        from core.distill.cost import (
            cost_estimate,
            count_tokens,
            custom_price,
            load_price_presets,
        )

        tokenizer = (
            presets.borrowed_tokenizer(self.prep.teacher.folder)
            if self.prep.teacher is not None
            else None
        )
        count = count_tokens(self._pairs(items, teacher_file, "train", "teacher"), tokenizer)
        prices = load_price_presets(self.spec.price_file)
        if self.spec.price_in is not None or self.spec.price_out is not None:
            prices.insert(0, custom_price(self.spec.price_in or 0.0, self.spec.price_out or 0.0))
        return cost_estimate(count, [count.samples], prices, self.seconds)

    def _import(self, student_dir: Path) -> int:
        from core.distill.student import import_student

        with self.cf.read_session() as s:
            existing = (
                s.execute(
                    sql_select(ModelArtifact.id).where(
                        ModelArtifact.produced_by_run_id == self.handle.run_id
                    )
                )
                .scalars()
                .first()
            )
        if existing is not None:
            return int(existing)
        self.state.set_status("Importing the student into the case")
        spec = self.spec
        name = f"student-run{self.handle.run_id}-{spec.answers}-n{len(self.prep.selection.train)}"
        provenance = {
            "experiment_run_id": self.handle.run_id,
            "teacher": spec.teacher,
            "method": spec.method,
            "answers": spec.answers,
            "samples": len(self.prep.selection.train),
            "seed": spec.seed,
            "label": spec.label,
        }
        return import_student(
            self.cf,
            self.handle.case_id,
            self.handle.run_id,
            student_dir,
            name,
            provenance,
            self.state.sub(96, 100),
        )
