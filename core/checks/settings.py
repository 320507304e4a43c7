"""What a check run compares (:class:`CheckInputs`) and every setting that can change a number.

Kept apart from the runner so each check module can type what it reads from the settings
without importing the runner (which imports the checks).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.checks import registry
from core.checks.distribution import DEFAULT_TOP_K
from core.checks.probes import DEFAULT_RESPONSE_PREFIX, DEFAULT_TEMPLATE


@dataclass(frozen=True)
class CheckInputs:
    """What to compare, by case-file id (artifacts and transcript sets of one case)."""

    suspect_id: int | None  # None: the suspect is given by its answers (suspect_answers_id)
    reference_ids: tuple[int, ...]
    protected_answers_id: int | None  # None: only checks that need no probes can run
    control_answers_id: int | None = None
    protected_model_id: int | None = None
    base_model_id: int | None = None
    harvested_id: int | None = None  # the harvest test's logged exchanges (transcript set)
    regenerations_id: int | None = None  # and their regenerations (transcript set)
    # Models known only by their answers to the probe prompts (transcript sets of role
    # suspect-answers / reference-answers): the text-only checks run on them.
    suspect_answers_id: int | None = None
    reference_answers_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class CheckSettings:
    """Every setting that can change a number; all recorded in the Run's parameters."""

    checks: tuple[str, ...] = field(default_factory=registry.check_names)  # default: all
    seed: int | None = None  # None: derived from the evidence hashes (core.checks.runner)
    alpha: float = 0.05
    template: str = DEFAULT_TEMPLATE  # the plain template: models without their own
    response_prefix: str = DEFAULT_RESPONSE_PREFIX
    chat_templates: str = "model"  # "model": each model's own chat template; "fixed": plain
    template_file: str | None = None  # a Jinja chat template for models without their own
    dtype: str = "auto"  # auto, float32, bfloat16, float16, int8 (core.backends.precision)
    protected_names: tuple[str, ...] = ()
    n_resamples: int = 10_000
    max_probes: int | None = None
    max_new_tokens: int = 96
    identity_suite: str | None = None  # path of a suite YAML; None: the shipped identity_v1
    identity_samples: int = 2
    identity_temperature: float = 0.8
    identity_top_p: float = 0.95
    identity_max_new_tokens: int = 32
    min_k: float = 0.2
    top_k: int = DEFAULT_TOP_K
    lineage_resamples: int = 999
    lineage_max_layers: int = 4
    learn_phrases: bool = True
    reuse_measurements: bool = (
        True  # reuse identical per-model measurements made earlier in this process
    )
    semantic: bool = True  # use the optional sentence-embedding model when it is installed
    num_threads: int | None = None
    harvest_min_regenerations: int = 19  # K: fewer regenerations exclude a prompt (19: p 0.05)
    harvest_reference: str | None = None  # a reference model's name: its score is subtracted
    harvest_max_prompts: int | None = None  # the first N usable prompts in log order
