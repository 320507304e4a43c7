"""What each table column means, in plain words: the header tooltips of every table.

One table, column header → explanation, read by
:meth:`app.views.table_model.RecordTableModel.headerData`; a header missing here simply
has no tooltip (``tests/gui/test_tables.py`` checks that every header shown has one).
"""

from __future__ import annotations

COLUMN_HELP: dict[str, str] = {
    "#": "The event's number in the audit log (events are numbered in the order they happened)",
    "Action": "What was done (import, run, review decision, …)",
    "Actor": "Who did it: the reviewer name from Settings, or the program for automatic steps",
    "At (UTC)": "When it happened, in Coordinated Universal Time",
    "Case": "The case the event belongs to (empty: the case file as a whole)",
    "Categories": "The kinds of restriction the clause was tagged with (e.g. no model training)",
    "Change": "How the clause differs between the two versions: added, removed or reworded",
    "Check": "The check that was run (each answers one question about the suspect model)",
    "Checks and verdicts": "The checks the run performed and what each concluded",
    "Model tested": "The model the run examined and its role in the case (suspect, control, …)",
    "Clauses": "How many clauses the document has, or which clauses a finding is linked to",
    "Description": "What the evidence is, as described when it was added",
    "Document": "The title of the terms document (e.g. Terms of Use, Usage Policies)",
    "Effect": "How large the difference is (its unit depends on the check; see its reason)",
    "Entity": "What the action changed: the kind of record and its number",
    "Hash": "The event's SHA-256 fingerprint; each event's hash covers the one before it",
    "Heading": "The clause's heading in the terms document",
    "Holm p": "The p-value after the Holm correction for running several checks at once",
    "ID": "The finding's number in this case",
    "Imported at (UTC)": "When the evidence was added to the case, in Universal Time",
    "Imported by": "Who added the evidence (the reviewer name from Settings)",
    "In force from": "The date this version of the terms took effect",
    "Kind": "What sort of evidence: a model, a set of transcripts, or a terms document",
    "Name": "The evidence's name; hover to see where the file was read from",
    "New no.": "The clause's number in the newer version",
    "No.": "The clause's number in the document",
    "Old no.": "The clause's number in the older version",
    "Probes": "How many prompts (probes) the check measured",
    "Provider": "The company whose terms these are",
    "Reference": "The case's own reference (as printed on the report)",
    "Refs": "How many reference models the suspect was compared with",
    "Role": "The evidence's part in the case: suspect, protected (teacher) or reference model",
    "Run": "The run's number in this case (as cited in findings and the report)",
    "Runs": "The runs (analyses) the finding rests on",
    "SHA-256": "The file's fingerprint when imported; any change to the file changes it",
    "Similarity": "How alike the two versions of a clause are (1 = identical wording)",
    "Started (UTC)": "When the run started, in Universal Time",
    "Statement": "The finding as it would appear in the report",
    "Status": "Where it stands: draft, accepted or rejected (findings); running or done (runs)",
    "Strength": "How strongly the result supports the prosecution's hypothesis (Hp) over Hd",
    "Title": "The case's title",
    "Until": "The date this version was replaced (— while it is still in force)",
    "Verdict": "What the check concluded, in words",
    "Verified": "Whether the file still matches its recorded fingerprint (Evidence → Verify)",
    "Version": "The version or date printed on the terms document",
    "Words": "The words that changed between the two versions of the clause",
    "p": "The p-value: how often a result at least this extreme arises if Hd holds",
    "95% CI": "The 95% confidence interval of the effect",
}


def column_help(header: str) -> str | None:
    """The plain-words explanation of a column header, or None."""
    return COLUMN_HELP.get(header)
