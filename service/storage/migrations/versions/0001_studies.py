"""Studies, the advice they share, and their reported outcomes.

Revision ID: 0001
Revises: None
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "advice",
        sa.Column("hash", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("descriptors", sa.Text, nullable=False),
        sa.Column("measured", sa.Text, nullable=True),
    )
    op.create_table(
        "studies",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(32), nullable=False, unique=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request", sa.Text, nullable=False),
        sa.Column("advice", sa.String(64), sa.ForeignKey("advice.hash"), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
    )
    op.create_index("ix_studies_owner_seq", "studies", ["owner", "seq"])
    op.create_index("ix_studies_created_at", "studies", ["created_at"])
    op.create_index("ix_studies_advice", "studies", ["advice"])
    op.create_table(
        "outcomes",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(32), nullable=False, unique=True),
        sa.Column("study_id", sa.String(32), sa.ForeignKey("studies.id", ondelete="CASCADE"), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("method", sa.String(16), nullable=True),
        sa.Column("configuration", sa.String(32), nullable=True),
        sa.Column("metric", sa.Float, nullable=True),
        sa.Column("lower_is_better", sa.Boolean, nullable=False),
        sa.Column("diverged", sa.Boolean, nullable=False),
        sa.UniqueConstraint("study_id", "idempotency_key", name="uq_outcomes_study_idempotency_key"),
    )
    op.create_index("ix_outcomes_study_seq", "outcomes", ["study_id", "seq"])


def downgrade() -> None:
    op.drop_table("outcomes")
    op.drop_table("studies")
    op.drop_table("advice")
