"""Experiment provenance: which run produced an artifact, where a run checkpoints.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("checkpoint_dir", sa.Text(), nullable=True))
    with op.batch_alter_table("model_artifacts") as batch:
        batch.add_column(sa.Column("produced_by_run_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_model_artifacts_produced_by_run_id_runs", "runs", ["produced_by_run_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("model_artifacts") as batch:
        batch.drop_constraint("fk_model_artifacts_produced_by_run_id_runs", type_="foreignkey")
        batch.drop_column("produced_by_run_id")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("checkpoint_dir")
