"""Clause structure: own-text end, citation path and numbering style.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clauses") as batch:
        batch.add_column(sa.Column("body_end", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("number_path", sa.Text(), nullable=True))
        batch.add_column(
            sa.Column("style", sa.String(length=30), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("clauses") as batch:
        batch.drop_column("style")
        batch.drop_column("number_path")
        batch.drop_column("body_end")
