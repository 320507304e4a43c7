"""The Run a check wizard: question → evidence → checks → settings → run → results.

The wizard offers only the checks that fit the question and the evidence, each with one
sentence on what it can and cannot show; warns when the reference panel is too small for
the chosen alpha and checks (core.checks.stats.panel_adequacy, the one panel number the
Analyses tab and the report also give); then runs
core.checks.runner.run_checks as a job — the same function as ``distill-audit check`` —
and lands on the verdicts and the report's charts. Closing the wizard during the run
leaves the job running in the jobs panel; its results appear in the Analyses tab.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from app.jobs import Job
from app.wizards.check_context import (
    QUESTIONS,
    CheckContext,
    hints,
    load_check_context,
    question,
)
from app.wizards.common import WARNING_STYLE, HostWizard, JobPage, explanation
from app.wizards.run_check_results import ResultsPage
from core.checks.available import AvailableInputs
from core.store.vocabulary import REFERENCE_ANSWERS_ROLE, SUSPECT_ANSWERS_ROLE

if TYPE_CHECKING:
    from app.host import Host

NONE = "(none)"
ANSWERS_ITEM = Qt.ItemDataRole.UserRole + 1  # a reference item that is a set of answers
SHIPPED_SUITE = "Shipped identity questions (identity_v1)"


def _combo(name: str, parent: QWidget) -> QComboBox:
    box = QComboBox(parent)
    box.setAccessibleName(name)
    box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    box.setMinimumContentsLength(30)
    return box


class QuestionPage(JobPage):
    """Step 1: the question (the case's evidence loads meanwhile, off the UI thread)."""

    def __init__(self, wizard: RunCheckWizard) -> None:
        super().__init__(
            "Which question?",
            "A check answers one question; the wizard then offers only the checks that answer it.",
            wizard.start_context,
            wizard,
            compact=True,
        )
        self.group = QButtonGroup(self)
        self.buttons: dict[str, QRadioButton] = {}
        for q in QUESTIONS:
            button = QRadioButton(q.text, self)
            button.setAccessibleName(q.text)
            button.setAccessibleDescription(q.explanation)
            self.group.addButton(button)
            self.buttons[q.key] = button
            self.body.addWidget(button)
            note = explanation(q.explanation, self)
            note.setContentsMargins(24, 0, 0, 6)
            self.body.addWidget(note)
        self.buttons["outputs"].setChecked(True)
        self.body.addStretch(1)

    def question(self) -> str:
        return next(k for k, b in self.buttons.items() if b.isChecked())


class EvidencePage(QWizardPage):
    """Step 2: the suspect, the reference panel and the transcripts to compare against."""

    def __init__(self, wizard: RunCheckWizard) -> None:
        super().__init__(wizard)
        self.setTitle("Which models and answers?")
        self.setSubTitle(
            "The suspect is compared with every reference model you tick: a "
            "panel of models known to be independent of the protected model."
        )
        self.suspect = _combo("Suspect model", self)
        self.suspect_answers = _combo("Suspect's recorded answers (an API-only suspect)", self)
        self.references = QListWidget(self)
        self.references.setAccessibleName("Reference models (the control panel)")
        self.protected_answers = _combo("Protected model's captured answers", self)
        self.control_answers = _combo("Control answers", self)
        self.protected_model = _combo("Protected model itself", self)
        self.base_model = _combo("Base model", self)
        self.harvested = _combo("Harvested exchanges (the provider's log)", self)
        self.regenerations = _combo("Regenerations of the logged prompts", self)
        self.names = QLineEdit(self)
        self.names.setAccessibleName("Names of the protected model, comma-separated")
        self.names.setPlaceholderText("e.g. Lumen, Halcyon Labs")
        form = QFormLayout(self)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.rows: dict[str, tuple[QLabel, QWidget]] = {}
        for key, text, widget in (
            ("suspect", "&Suspect:", self.suspect),
            ("suspect_answers", "Suspect's &answers:", self.suspect_answers),
            ("references", "&Reference models:", self.references),
            ("protected_answers", "&Protected answers:", self.protected_answers),
            ("control_answers", "&Control answers:", self.control_answers),
            ("protected_model", "Protected &model:", self.protected_model),
            ("base_model", "Base mo&del:", self.base_model),
            ("names", "Names of the pro&tected model:", self.names),
            ("harvested", "&Harvested exchanges:", self.harvested),
            ("regenerations", "Re&generations:", self.regenerations),
        ):
            label = QLabel(text, self)
            label.setBuddy(widget)
            form.addRow(label, widget)
            self.rows[key] = (label, widget)
        self.suspect.currentIndexChanged.connect(lambda _i: self._fill_references())
        self.protected_answers.currentIndexChanged.connect(lambda _i: self._default_names())
        self.references.itemChanged.connect(lambda _i: self.completeChanged.emit())
        for box in (self.protected_answers, self.harvested, self.suspect_answers):
            box.currentIndexChanged.connect(lambda _i: self.completeChanged.emit())

    def context(self) -> CheckContext:
        wizard = self.wizard()
        assert isinstance(wizard, RunCheckWizard) and wizard.context is not None
        return wizard.context

    def initializePage(self) -> None:
        ctx, question_key = self.context(), self._question()
        harvest_only = any(e.role == "harvested-exchanges" for e in ctx.transcripts)
        for box, items, roles, optional in (
            (self.suspect, ctx.models, ("suspect",), False),
            (self.protected_answers, ctx.transcripts, ("protected-answers",), harvest_only),
            (self.control_answers, ctx.transcripts, ("control-answers",), True),
            (self.protected_model, ctx.models, ("protected",), True),
            (
                self.base_model,
                ctx.models,
                ("protected",) if question(question_key).protected_as_base else ("base",),
                True,
            ),
        ):
            box.blockSignals(True)
            box.clear()
            if optional:
                box.addItem(NONE, None)
            preferred = [e for e in items if e.role in roles]
            for e in preferred + [e for e in items if e not in preferred]:
                box.addItem(e.label, e.id)
            box.setCurrentIndex(1 if optional and preferred else 0)
            box.blockSignals(False)
        for box, role in (
            (self.harvested, "harvested-exchanges"),
            (self.regenerations, "regenerations"),
            (self.suspect_answers, SUSPECT_ANSWERS_ROLE),
        ):  # the harvest test's two sets, an API-only suspect: only sets of that role fit
            box.blockSignals(True)
            box.clear()
            box.addItem(NONE, None)
            for e in ctx.transcripts:
                if e.role == role:
                    box.addItem(e.label, e.id)
            box.setCurrentIndex(1 if box.count() > 1 and box is not self.suspect_answers else 0)
            box.blockSignals(False)
        self._fill_references()
        self._default_names()
        needs = ctx.evidence_rows(question(question_key))
        if self.suspect_answers.count() > 1 and "references" in needs:
            needs = needs | {"suspect_answers"}  # the case holds an API-only suspect's answers
        for key, (label, widget) in self.rows.items():
            label.setVisible(key in needs)
            widget.setVisible(key in needs)
        self.rows["base_model"][0].setText(
            "Protected mo&del (as base):"
            if question(question_key).protected_as_base
            else "Base mo&del:"
        )

    def _question(self) -> str:
        wizard = self.wizard()
        return wizard.question_page.question() if isinstance(wizard, RunCheckWizard) else "outputs"

    def _fill_references(self) -> None:
        ctx, suspect = self.context(), self.suspect.currentData()
        same = {e.sha256 for e in ctx.models if e.id == suspect and e.sha256}
        self.references.blockSignals(True)
        self.references.clear()
        for e in ctx.models:
            # never the suspect itself, a second record of its files (core refuses both) or
            # another model under test (its ONNX export, the clean twin): not independent
            if e.id == suspect or e.sha256 in same or e.role in ("protected", "base", "suspect"):
                continue
            item = QListWidgetItem(e.label, self.references)
            item.setData(Qt.ItemDataRole.UserRole, e.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(
                Qt.CheckState.Checked if e.role == "reference" else Qt.CheckState.Unchecked
            )
        for e in ctx.transcripts:  # references known only by their answers to the probes
            if e.role != REFERENCE_ANSWERS_ROLE:
                continue
            item = QListWidgetItem(f"{e.label} — answers only", self.references)
            item.setData(Qt.ItemDataRole.UserRole, e.id)
            item.setData(ANSWERS_ITEM, True)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
        self.references.blockSignals(False)
        self.completeChanged.emit()

    def _default_names(self) -> None:
        names = self.context().names.get(self.protected_answers.currentData() or -1, [])
        if names and not self.names.isModified():
            self.names.setText(", ".join(names))

    def _ticked(self, answers: bool) -> tuple[int, ...]:
        return tuple(
            int(self.references.item(i).data(Qt.ItemDataRole.UserRole))
            for i in range(self.references.count())
            if self.references.item(i).checkState() == Qt.CheckState.Checked
            and bool(self.references.item(i).data(ANSWERS_ITEM)) == answers
        )

    def reference_ids(self) -> tuple[int, ...]:
        """The ticked reference models."""
        return self._ticked(False)

    def reference_answers_ids(self) -> tuple[int, ...]:
        """The ticked references known only by their answers (transcript sets)."""
        return self._ticked(True)

    def suspect_answers_id(self) -> int | None:
        """The API-only suspect's answers, when chosen (they replace the suspect model)."""
        value = self.suspect_answers.currentData()
        return None if value is None else int(value)

    def set_references(self, ids: list[int]) -> None:
        for i in range(self.references.count()):
            item = self.references.item(i)
            item.setCheckState(
                Qt.CheckState.Checked
                if item.data(Qt.ItemDataRole.UserRole) in ids
                else Qt.CheckState.Unchecked
            )

    def protected_names(self) -> tuple[str, ...]:
        return tuple(n.strip() for n in self.names.text().split(",") if n.strip())

    def protected_model_id(self) -> int | None:
        """The protected model chosen (for "is it the same model", the base-model choice)."""
        box = (
            self.base_model
            if question(self._question()).protected_as_base
            else self.protected_model
        )
        return box.currentData()

    def available(self) -> AvailableInputs:
        """The chosen evidence, for the checks' ``fits`` (as the runner will see it)."""
        return AvailableInputs(
            references=len(self.reference_ids()),
            reference_answers=len(self.reference_answers_ids()),
            suspect_answers_only=self.suspect_answers_id() is not None,
            protected_answers=self.protected_answers.currentData() is not None,
            control_answers=self.control_answers.currentData() is not None,
            protected_model=self.protected_model_id() is not None,
            base_model=self.base_model.currentData() is not None,
            names=bool(self.protected_names()),
            harvested=self.harvested.currentData() is not None,
            regenerations=self.regenerations.currentData() is not None,
            hints=hints(question(self._question())),
        )

    def isComplete(self) -> bool:
        suspect = self.suspect.currentData() is not None or self.suspect_answers_id() is not None
        return suspect and (
            self.protected_answers.currentData() is not None
            or self.harvested.currentData() is not None
        )


class ChecksPage(QWizardPage):
    """Step 3: the checks that fit, each with what it can and cannot show."""

    def __init__(self, wizard: RunCheckWizard) -> None:
        super().__init__(wizard)
        self.setTitle("Which checks?")
        self.setSubTitle(
            "Only the checks that answer your question are listed; a check whose "
            "evidence is missing says what it needs."
        )
        self.boxes: dict[str, QCheckBox] = {}
        self.notes: dict[str, QLabel] = {}  # per check: what it can show, why it is unavailable
        self.layout_ = QVBoxLayout(self)

    def initializePage(self) -> None:
        wizard = self.wizard()
        assert isinstance(wizard, RunCheckWizard) and wizard.context is not None
        while self.layout_.count():
            item = self.layout_.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self.boxes, self.notes = {}, {}
        ctx, available = wizard.context, wizard.evidence.available()
        for check in ctx.checks_for(question(wizard.question_page.question())):
            key, spec = check.key, check.spec
            problem = ctx.fit_problem(key, available)
            box = QCheckBox(f"{spec.title} — access: {spec.access}", self)
            box.setAccessibleName(spec.title)
            box.setChecked(problem is None)
            box.setEnabled(problem is None)
            box.toggled.connect(self.completeChanged)
            note = explanation(
                spec.can_show + (f" Not available. {problem}" if problem else ""), self
            )
            note.setContentsMargins(24, 0, 0, 8)
            if problem:
                note.setStyleSheet(WARNING_STYLE)
            box.setToolTip(spec.question)
            self.layout_.addWidget(box)
            self.layout_.addWidget(note)
            self.boxes[key] = box
            self.notes[key] = note
        self.layout_.addStretch(1)

    def chosen(self) -> tuple[str, ...]:
        return tuple(k for k, b in self.boxes.items() if b.isChecked() and b.isEnabled())

    def isComplete(self) -> bool:
        return bool(self.chosen())


class SettingsPage(QWizardPage):
    """Step 4: probes, alpha and seed; a warning when the panel cannot reach alpha."""

    def __init__(self, wizard: RunCheckWizard) -> None:
        super().__init__(wizard)
        self.setTitle("Probes and significance level")
        self.setSubTitle(
            "Fixed before the run and recorded with it: the same evidence, "
            "settings and seed give the same numbers."
        )
        self.suite = _combo("Identity question suite", self)
        self.max_probes = QSpinBox(self)
        self.max_probes.setAccessibleName("Largest number of probes (0: all)")
        self.max_probes.setRange(0, 100_000)
        self.max_probes.setSpecialValueText("all")
        self.alpha = QDoubleSpinBox(self)
        self.alpha.setAccessibleName("Significance level alpha")
        self.alpha.setDecimals(3)
        self.alpha.setRange(0.001, 0.2)
        self.alpha.setSingleStep(0.005)
        self.alpha.valueChanged.connect(lambda _v: self._adequacy())
        self.seed = QSpinBox(self)
        self.seed.setAccessibleName("Random seed")
        self.seed.setRange(-1, 2**31 - 1)  # -1: derived from the evidence (the default)
        self.seed.setSpecialValueText("Derived from the evidence")
        self.seed.setValue(-1)
        self.seed.setToolTip(
            "Derived from the evidence hashes and the settings unless you give one; "
            "recorded with the run either way"
        )
        self.resamples = QSpinBox(self)
        self.resamples.setAccessibleName("Permutation and bootstrap resamples")
        self.resamples.setRange(99, 1_000_000)
        self.resamples.setValue(10_000)
        self.template = QLineEdit(self)
        self.template.setAccessibleName("Chat template")
        self.template.setToolTip(
            "How a prompt is shown to the models; {prompt} once, \\n for a line break"
        )
        self.adequacy = QLabel(self)
        self.adequacy.setAccessibleName("Reference panel adequacy")
        self.adequacy.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow("Identity &questions:", self.suite)
        form.addRow("&Probes (at most):", self.max_probes)
        form.addRow("&Alpha:", self.alpha)
        form.addRow("&Seed:", self.seed)
        advanced = QGroupBox("Advanced", self)
        aform = QFormLayout(advanced)
        aform.addRow("R&esamples:", self.resamples)
        aform.addRow("Chat &template:", self.template)
        form.addRow(advanced)
        form.addRow(self.adequacy)

    def initializePage(self) -> None:
        wizard = self.wizard()
        assert isinstance(wizard, RunCheckWizard) and wizard.context is not None
        ctx = wizard.context
        self.suite.clear()
        self.suite.addItem(SHIPPED_SUITE, None)
        for t in ctx.by_role("transcripts", "probes"):
            self.suite.addItem(f"{t.name} (probe set in this case)", t.path)
        if self.suite.count() > 1:
            self.suite.setCurrentIndex(1)
        self.alpha.setValue(wizard.host.settings.default_alpha)
        if not self.template.text():
            self.template.setText(ctx.template.replace("\n", "\\n"))
        self._adequacy()

    def _adequacy(self) -> None:
        from core.checks.stats import panel_adequacy

        wizard = self.wizard()
        if not isinstance(wizard, RunCheckWizard):
            return
        ev = wizard.evidence
        refs = len(ev.reference_ids()) + len(ev.reference_answers_ids())
        ctx = wizard.context
        # The Holm family: the chosen Hp checks that can run (core counts those that ran).
        tests = max(1, ctx.hp_count(wizard.checks_page.chosen(), ev.available()) if ctx else 0)
        verdict = panel_adequacy(refs, self.alpha.value(), n_tests=tests)
        if verdict.adequate:
            self.adequacy.setText(f"Reference panel: {verdict.message}")
            self.adequacy.setStyleSheet("")
        else:
            self.adequacy.setText(
                f"Warning — the reference panel is small. {verdict.message} "
                "Add references if you can."
            )
            self.adequacy.setStyleSheet(WARNING_STYLE)


class RunPage(JobPage):
    """Step 5: the check runs as a job; then the wizard moves to the results."""

    def __init__(self, wizard: RunCheckWizard) -> None:
        super().__init__(
            "Running the checks",
            "You can close the wizard: the run goes on in the "
            "jobs panel and its results appear in the Analyses tab.",
            wizard.start_run,
            wizard,
        )
        self.body.addStretch(1)

    def succeeded(self, result: Any) -> None:
        wizard = self.wizard()
        if isinstance(wizard, RunCheckWizard):
            wizard.run_id = result.run_id
            QTimer.singleShot(0, wizard, wizard.next)  # not after the wizard was closed


class RunCheckWizard(HostWizard):
    """Six steps; ``run_id`` is set once the run finished."""

    def __init__(self, host: Host, parent: QWidget | None = None) -> None:
        super().__init__(host, "Run a distillation check", "RunCheckWizard", parent)
        self.case_id = host.case_id
        self.context: CheckContext | None = None
        self.run_id: int | None = None
        self.question_page = QuestionPage(self)
        self.evidence = EvidencePage(self)
        self.checks_page = ChecksPage(self)
        self.settings_page = SettingsPage(self)
        self.run_page = RunPage(self)
        self.results = ResultsPage(self)
        for page in (
            self.question_page,
            self.evidence,
            self.checks_page,
            self.settings_page,
            self.run_page,
            self.results,
        ):
            self.addPage(page)
        self.settings_page.setButtonText(self.WizardButton.NextButton, "&Run")
        self.resize(820, 640)

    def start_context(self) -> Job | None:
        if self.host.case_file is None or self.case_id is None:
            return None
        job = self.host.runner.run(
            load_check_context,
            self.host.case_file,
            self.case_id,
            label="Read the case's evidence",
            quiet=True,
        )
        job.succeeded.connect(self._context_loaded)
        return job

    def _context_loaded(self, context: CheckContext) -> None:
        self.context = context

    def start_run(self) -> Job | None:
        from core.checks.runner import CheckInputs, CheckSettings

        ev, s = self.evidence, self.settings_page
        cf = self.host.case_file
        if cf is None or self.case_id is None:
            return None
        base = ev.base_model.currentData()
        answers = ev.suspect_answers_id()
        inputs = CheckInputs(
            suspect_id=None if answers is not None else int(ev.suspect.currentData()),
            reference_ids=ev.reference_ids(),
            suspect_answers_id=answers,
            reference_answers_ids=ev.reference_answers_ids(),
            protected_answers_id=ev.protected_answers.currentData(),
            control_answers_id=ev.control_answers.currentData(),
            protected_model_id=ev.protected_model_id(),
            base_model_id=base,
            harvested_id=ev.harvested.currentData(),
            regenerations_id=ev.regenerations.currentData(),
        )
        settings = CheckSettings(
            checks=self.checks_page.chosen(),
            seed=s.seed.value() if s.seed.value() >= 0 else None,
            alpha=s.alpha.value(),
            template=s.template.text().replace("\\n", "\n") or CheckSettings.template,
            protected_names=ev.protected_names(),
            n_resamples=s.resamples.value(),
            max_probes=s.max_probes.value() or None,
            identity_suite=s.suite.currentData(),
            num_threads=self.host.settings.cpu_threads,
            dtype=self.host.settings.model_dtype,
        )
        suspect = (
            ev.suspect_answers.currentText() if answers is not None else ev.suspect.currentText()
        ).split(" (")[0]
        return self.host.runner.run(
            self._run_checks,
            cf,
            self.case_id,
            inputs,
            settings,
            self.host.reviewer(),
            label=f"Check {suspect} against "
            f"{len(inputs.reference_ids) + len(inputs.reference_answers_ids)} reference(s)",
        )

    @staticmethod
    def _run_checks(
        cf: Any, case_id: int, inputs: Any, settings: Any, actor: str, state: Any
    ) -> Any:
        from core.checks.runner import run_checks
        from core.store.runs import recorded_action

        with recorded_action(f"GUI: Analysis > Run a check (wizard), by {actor}"):
            return run_checks(cf, case_id, inputs, settings, state, actor=actor)

    def background_jobs(self) -> list[Job]:
        return [j for j in (self.run_page.job,) if j is not None]
