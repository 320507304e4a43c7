"""``python -m core.cli`` runs the CLI (same as the ``distill-audit`` command)."""

from __future__ import annotations

import sys

from core.cli import main

sys.exit(main())
