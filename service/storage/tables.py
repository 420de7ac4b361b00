"""The database schema (SQLAlchemy Core). The migrations in `migrations/versions` build exactly this; a
test compares the two."""

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

# Computed advice, stored once however many studies share it: repeated declared profiles get the same
# answer, so a new study is usually one small row in `studies` (the answer is about 5 kB). Keyed by the
# sha256 of what it holds.
advice = Table(
    "advice",
    metadata,
    Column("hash", String(64), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("answer", Text, nullable=False),
    Column("descriptors", Text, nullable=False),
    Column("measured", Text, nullable=True),
)

# One row per answered POST /v1/recommendations. `seq` orders studies (newest first) and pages them;
# `id` is the public name; `request` is what was asked (without gradients), `advice` what was answered.
studies = Table(
    "studies",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(32), nullable=False, unique=True),
    Column("owner", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("request", Text, nullable=False),
    Column("advice", String(64), ForeignKey("advice.hash"), nullable=False),
    Column("method", String(16), nullable=False),
    Index("ix_studies_owner_seq", "owner", "seq"),
    Index("ix_studies_created_at", "created_at"),
    Index("ix_studies_advice", "advice"),
)

# One row per reported run. A client-supplied Idempotency-Key is unique within its study, so a retried
# report is stored once; `fingerprint` tells a retry from a different report reusing the key.
outcomes = Table(
    "outcomes",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(32), nullable=False, unique=True),
    Column("study_id", String(32), ForeignKey("studies.id", ondelete="CASCADE"), nullable=False),
    Column("idempotency_key", String(255), nullable=True),
    Column("fingerprint", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("body", Text, nullable=False),
    Column("method", String(16), nullable=True),
    Column("configuration", String(32), nullable=True),
    Column("metric", Float, nullable=True),
    Column("lower_is_better", Boolean, nullable=False),
    Column("diverged", Boolean, nullable=False),
    UniqueConstraint("study_id", "idempotency_key", name="uq_outcomes_study_idempotency_key"),
    Index("ix_outcomes_study_seq", "study_id", "seq"),
)

# Each snapshot of cross-study evidence an answer named (`evidence_version`), kept so the answer can be
# recomputed.
evidence_snapshots = Table(
    "evidence_snapshots",
    metadata,
    Column("version", String(16), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("content", Text, nullable=False),
)
