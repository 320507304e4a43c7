"""The store's fixed words: the roles evidence can play in a case and the case-file suffix.

They are store-level data (the ``role`` columns hold them) but everything above the
store reads them too, so they live here with no imports: core.store.models, the
importer, the CLI's choices and the GUI's pickers all use these one definitions.
"""

from __future__ import annotations

ARTIFACT_ROLES = ("protected", "suspect", "reference", "base", "experiment-student")
HARVESTED_ROLE = "harvested-exchanges"  # the provider's log of answers sent to suspect accounts
REGENERATIONS_ROLE = "regenerations"  # K fresh answers per logged prompt, same model and settings
# A model known only by its answers to the probe prompts (an API-only suspect or reference):
# the text-only checks (identity, similarity) run on them; one set per model.
SUSPECT_ANSWERS_ROLE = "suspect-answers"
REFERENCE_ANSWERS_ROLE = "reference-answers"
ANSWERS_ROLES = (SUSPECT_ANSWERS_ROLE, REFERENCE_ANSWERS_ROLE)
TRANSCRIPT_ROLES = (
    "protected-answers",
    "control-answers",
    SUSPECT_ANSWERS_ROLE,
    REFERENCE_ANSWERS_ROLE,
    "probes",
    HARVESTED_ROLE,
    REGENERATIONS_ROLE,
    "other",
)
CASE_FILE_SUFFIX = ".dacase"
