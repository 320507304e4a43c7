"""The data of a distillation experiment, streamed from the user's files to the training loop.

Prompt sets and transcript files are read record by record (both through
:mod:`core.evidence.transcripts`), so memory does not grow with their size:

1. :func:`select` counts the usable records (a prompt, an answer when there must be
   one, and a control answer to the same prompt when controls are given) and picks, by
   record number, a seeded evaluation hold-out and the training records;
2. :func:`stage_items` writes the chosen records to ``items.jsonl`` in the run folder
   (control answers are looked up in an on-disk SQLite index, not a dict in memory);
3. :class:`TokenStore` keeps the tokenized training examples in a memory-mapped file,
   and the training loop reads one batch at a time from it.

Prompts and controls are matched like the checks match probes: by prompt, ignoring case
and runs of white space (:func:`core.checks.probes.normalise_prompt`).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from core.checks.probes import ChatTemplate, normalise_prompt
from core.distill.samples import check_training_samples
from core.distill.train import TrainExample, chat_example
from core.evidence.transcripts import read_prompts, read_transcripts

SourceKind = Literal["prompts", "transcripts"]
Split = Literal["train", "eval"]


@dataclass(frozen=True)
class Record:
    """One usable source record: its number among usable records, prompt and answers."""

    index: int
    key: str
    prompt: str
    teacher: str | None  # the teacher's answer (None for a prompt set until generated)
    control: str | None = None


@dataclass(frozen=True)
class Selection:
    """Which usable records train the student and which are held out for evaluation."""

    train: tuple[int, ...]
    eval: tuple[int, ...]
    available: int  # usable records in the source

    def to_dict(self) -> dict[str, Any]:
        return {"train": list(self.train), "eval": list(self.eval), "available": self.available}


# --- reading -------------------------------------------------------------------------


def read_source(path: str | Path, kind: SourceKind) -> Iterator[tuple[str, str, str | None]]:
    """``(key, prompt, answer or None)`` of every record with a prompt (and an answer)."""
    if kind == "prompts":
        for key, prompt in read_prompts(path):
            yield key, prompt, None
        return
    for rec in read_transcripts(Path(path)):
        if rec.prompt.strip() and rec.response.strip():
            yield rec.key, rec.prompt, rec.response


def prompt_hash(prompt: str) -> str:
    return hashlib.sha256(normalise_prompt(prompt).encode("utf-8")).hexdigest()


class ControlIndex:
    """Control answers by normalised prompt, in an SQLite file (constant memory)."""

    def __init__(self, controls: str | Path, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "controls.sqlite"
        self.path.unlink(missing_ok=True)
        self._db = sqlite3.connect(self.path)
        self._db.execute("CREATE TABLE c (h TEXT PRIMARY KEY, answer TEXT)")
        batch: list[tuple[str, str]] = []
        for rec in read_transcripts(Path(controls)):
            if rec.response.strip():
                batch.append((prompt_hash(rec.prompt), rec.response))
            if len(batch) >= 1000:
                self._db.executemany("INSERT OR IGNORE INTO c VALUES (?, ?)", batch)
                batch.clear()
        self._db.executemany("INSERT OR IGNORE INTO c VALUES (?, ?)", batch)
        self._db.commit()
        self.size = int(self._db.execute("SELECT COUNT(*) FROM c").fetchone()[0])

    def get(self, prompt: str) -> str | None:
        row = self._db.execute(
            "SELECT answer FROM c WHERE h = ?", (prompt_hash(prompt),)
        ).fetchone()
        return None if row is None else str(row[0])

    def close(self) -> None:
        self._db.close()
        self.path.unlink(missing_ok=True)


def usable(path: str | Path, kind: SourceKind, controls: ControlIndex | None) -> Iterator[Record]:
    """The usable records, numbered 0.. in file order (with their control answer)."""
    n = 0
    for key, prompt, answer in read_source(path, kind):
        control = None
        if controls is not None:
            control = controls.get(prompt)
            if control is None:
                continue
        yield Record(n, key, prompt, answer, control)
        n += 1


def select(
    available: int,
    n_train: int | None,
    n_eval: int,
    seed: int,
    sample: Literal["first", "random"] = "first",
) -> Selection:
    """A seeded evaluation hold-out of ``n_eval`` records and ``n_train`` training records.

    The hold-out takes at most a fifth of the records, so a small source still trains.
    Training records are the first ``n_train`` records not held out (file order) or a
    seeded random sample of them; ``None`` takes them all. Raises EvidenceError when
    the source has too few usable records.
    """
    rng = random.Random(seed)
    n_eval = max(0, min(n_eval, available // 5))
    held = sorted(rng.sample(range(available), n_eval)) if n_eval else []
    held_set = set(held)
    rest = [i for i in range(available) if i not in held_set]
    n_train = check_training_samples(n_train, available, len(held))
    train = rest[:n_train] if sample == "first" else sorted(rng.sample(rest, n_train))
    return Selection(tuple(train), tuple(held), available)


def stage_items(records: Iterator[Record], selection: Selection, out: Path) -> dict[str, int]:
    """Write the selected records to ``out`` (JSONL, file order, each with its split)."""
    train, held = set(selection.train), set(selection.eval)
    counts = {"train": 0, "eval": 0}
    tmp = out.with_name(out.name + ".partial")
    with tmp.open("w", encoding="utf-8") as fh:
        for rec in records:
            split = "eval" if rec.index in held else "train" if rec.index in train else None
            if split is None:
                continue
            counts[split] += 1
            fh.write(
                json.dumps(
                    {
                        "index": rec.index,
                        "split": split,
                        "key": rec.key,
                        "prompt": rec.prompt,
                        "teacher": rec.teacher,
                        "control": rec.control,
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
    os.replace(tmp, out)
    return counts


def read_items(
    path: Path, split: Split | None = None, teacher_answers: Path | None = None
) -> Iterator[Record]:
    """Staged records (optionally of one split); teacher answers from a side file if given.

    ``teacher_answers`` holds one ``{"answer": ...}`` line per staged record, in order
    (written by the teacher-generation step for a prompt set).
    """
    answers = teacher_answers.open(encoding="utf-8") if teacher_answers else None
    try:
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                obj = json.loads(line)
                teacher = obj["teacher"]
                if answers is not None:
                    side = answers.readline()
                    teacher = json.loads(side)["answer"] if side else None
                if split is None or obj["split"] == split:
                    yield Record(obj["index"], obj["key"], obj["prompt"], teacher, obj["control"])
    finally:
        if answers is not None:
            answers.close()


# --- tokenizing ----------------------------------------------------------------------


@dataclass(frozen=True)
class ChatEncoder:
    """Turns (prompt, answer) into a training example exactly as the checks score it.

    The context is the chat template around the prompt, the continuation the response
    prefix plus the answer and end-of-text; the two are tokenized separately (as in
    :mod:`core.backends.encoding`) and only the continuation is trained on.
    """

    tokenizer: Any
    template: ChatTemplate
    max_len: int

    def _prefix(self) -> list[int]:
        from core.backends.encoding import TextEncoder

        return list(TextEncoder(self.tokenizer, self.max_len).prefix)

    def encode(self, pairs: Sequence[tuple[str, str]]) -> list[TrainExample]:
        if not pairs:
            return []
        prefix = self._prefix()
        ctx = self.tokenizer(
            [self.template.context(p) for p, _ in pairs], add_special_tokens=False
        )["input_ids"]
        cont = self.tokenizer(
            [self.template.continuation(a) for _, a in pairs], add_special_tokens=False
        )["input_ids"]
        eos = self.tokenizer.eos_token_id
        tail = [eos] if eos is not None else []
        return [
            chat_example(prefix + list(c), list(a) + tail, self.max_len)
            for c, a in zip(ctx, cont, strict=True)
        ]


class TokenStore(Sequence[TrainExample]):
    """Tokenized examples in a memory-mapped int32 file plus an index (offset, length, context).

    Reading an example touches only its own tokens; ``lengths`` lets the training loop
    plan length-bucketed batches without reading the examples.
    """

    def __init__(self, folder: Path) -> None:
        index = np.load(folder / "index.npy")
        self._index = index
        self._ids = (
            np.memmap(folder / "ids.bin", dtype=np.int32, mode="r")
            if index.shape[0] and int(index[:, 1].sum())
            else np.zeros(0, np.int32)
        )
        self.lengths = [int(x) for x in index[:, 1]] if index.shape[0] else []
        self.folder = folder

    def __len__(self) -> int:
        return int(self._index.shape[0])

    def __getitem__(self, i: int) -> TrainExample:  # type: ignore[override]
        offset, length, context = (int(x) for x in self._index[i])
        ids = tuple(int(t) for t in self._ids[offset : offset + length])
        return TrainExample(ids, (False,) * context + (True,) * (length - context))

    @property
    def n_tokens(self) -> int:
        """Tokens trained on (continuation tokens) over all examples."""
        if not len(self):
            return 0
        return int((self._index[:, 1] - self._index[:, 2]).sum())

    @staticmethod
    def exists(folder: Path) -> bool:
        return (folder / "index.npy").is_file() and (folder / "ids.bin").is_file()

    @staticmethod
    def write(
        folder: Path, pairs: Iterator[tuple[str, str]], encoder: ChatEncoder, chunk: int = 256
    ) -> TokenStore:
        """Tokenize ``pairs`` (streamed, ``chunk`` at a time) into ``folder``; atomic."""
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("ids.bin", "index.npy", "meta.json"):
            (folder / name).unlink(missing_ok=True)
        rows: list[tuple[int, int, int]] = []
        offset, dropped = 0, 0
        with open(folder / "ids.bin.partial", "wb") as fh:
            buffer: list[tuple[str, str]] = []

            def flush() -> None:
                nonlocal offset, dropped
                for ex in encoder.encode(buffer):
                    if not any(ex.loss_mask):  # the context alone fills the window
                        dropped += 1
                        continue
                    fh.write(np.asarray(ex.input_ids, dtype=np.int32).tobytes())
                    rows.append((offset, len(ex.input_ids), ex.loss_mask.index(True)))
                    offset += len(ex.input_ids)
                buffer.clear()

            for pair in pairs:
                buffer.append(pair)
                if len(buffer) >= chunk:
                    flush()
            flush()
        index = np.asarray(rows, dtype=np.int64).reshape(-1, 3)
        os.replace(folder / "ids.bin.partial", folder / "ids.bin")
        with open(folder / "index.npy.partial", "wb") as fh:
            np.save(fh, index)
        (folder / "meta.json").write_text(
            json.dumps({"examples": len(rows), "dropped": dropped}), encoding="utf-8"
        )
        os.replace(folder / "index.npy.partial", folder / "index.npy")
        return TokenStore(folder)

    @property
    def dropped(self) -> int:
        """Examples left out because the prompt alone filled the context window."""
        meta = self.folder / "meta.json"
        return int(json.loads(meta.read_text(encoding="utf-8"))["dropped"]) if meta.is_file() else 0


@dataclass(frozen=True)
class TrainingLimit:
    """How many training samples one experiment on a source can have (for the wizard)."""

    available: int  # usable records (with a matching control answer when a twin is trained)
    held_out: int  # kept for evaluation
    most: int  # the largest training sample that fits

    @property
    def text(self) -> str:
        return (
            f"At most {self.most} training samples: the answers hold {self.available} usable "
            f"records, {self.held_out} of them held out for evaluation."
        )


def training_limit(
    source: str | Path, controls: str | Path | None = None, n_eval: int = 32
) -> TrainingLimit:
    """The training-sample limit :func:`select` will apply, counted the way it counts."""
    import shutil
    import tempfile

    work = Path(tempfile.mkdtemp(prefix=".limit-"))
    index = None
    try:
        index = ControlIndex(controls, work) if controls else None
        available = sum(1 for _ in usable(source, "transcripts", index))
    finally:
        if index is not None:
            index.close()
        shutil.rmtree(work, ignore_errors=True)
    held = max(0, min(n_eval, available // 5))
    return TrainingLimit(available, held, available - held)
