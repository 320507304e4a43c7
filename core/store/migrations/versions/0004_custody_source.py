"""Custody from the source: producer, collection, production number, hashes, transfers.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "custody_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("item_kind", sa.String(length=30), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("produced_by", sa.String(length=300), nullable=False),
        sa.Column("collected_at", sa.String(length=40), nullable=False),
        sa.Column("collection_method", sa.String(length=30), nullable=False),
        sa.Column("production_no", sa.String(length=120), nullable=False),
        sa.Column("source_sha256", sa.String(length=64), nullable=False),
        sa.Column("receipt_sha256", sa.String(length=64), nullable=False),
        sa.Column("discrepancy", sa.Text(), nullable=False),
        sa.Column("transfers", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("item_kind", "item_id", name="uq_custody_item"),
    )
    with op.batch_alter_table("custody_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_custody_records_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("custody_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_custody_records_case_id"))
    op.drop_table("custody_records")
