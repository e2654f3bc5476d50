"""The example candidate database: an applicant-tracking system's tables, as SQLAlchemy Core.

``candidates`` holds one row per person (identifying columns, free text, two structured attributes
that survive anonymisation, and ``anonymised_at``); the other tables hold rows about a candidate by
``candidate_id``: applications (a timestamp with zone), withdrawals of consent (a timestamp),
objections, erasure requests and disputes (dates), reference-call notes (free text, deleted on
anonymisation) and accounting records (kept under Bokföringslagen, never touched by the sweep).
``mapping.yaml`` beside this file maps it for ``policykit sweep``.

On SQLite, dates and timestamps are ISO 8601 text (timestamps with their offset: SQLite has no
time zone type); on PostgreSQL they are ``date`` and ``timestamptz``.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["TABLES", "create_schema", "metadata"]

metadata = sa.MetaData()


def _child(name: str, *columns: sa.Column[object]) -> sa.Table:
    return sa.Table(
        name, metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("candidate_id", sa.Integer, sa.ForeignKey("candidates.id"), nullable=False, index=True),
        *columns,
    )


candidates = sa.Table(
    "candidates", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("email", sa.Text),
    sa.Column("phone", sa.Text),
    sa.Column("birth_date", sa.Date),
    sa.Column("photo_url", sa.Text),
    sa.Column("linkedin_url", sa.Text),
    sa.Column("cv_text", sa.Text),
    sa.Column("interview_notes", sa.Text),
    sa.Column("test_report", sa.Text),
    sa.Column("test_score_band", sa.Text),
    sa.Column("position_family", sa.Text),
    sa.Column("process_closed_on", sa.Date),
    sa.Column("anonymised_at", sa.DateTime(timezone=True)),
)

applications = _child(
    "applications",
    sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("position_family", sa.Text),
    sa.Column("outcome", sa.Text),
    sa.Column("cover_letter", sa.Text),
)
consent_withdrawals = _child(
    "consent_withdrawals", sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=False)
)
objections = _child(
    "objections",
    sa.Column("received_on", sa.Date, nullable=False),
    sa.Column("form", sa.Text, nullable=False),
    sa.Column("documented_in_writing", sa.Boolean, nullable=False),
)
erasure_requests = _child("erasure_requests", sa.Column("requested_on", sa.Date, nullable=False))
disputes = _child(
    "disputes",
    sa.Column("opened_on", sa.Date, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("resolved_on", sa.Date),
)
reference_notes = _child(
    "reference_notes",
    sa.Column("referee_name", sa.Text),
    sa.Column("referee_phone", sa.Text),
    sa.Column("statement", sa.Text),
)
bookkeeping_records = _child(
    "bookkeeping_records",
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("payee_name", sa.Text),
    sa.Column("amount_sek", sa.Numeric(12, 2)),
    sa.Column("dated", sa.Date, nullable=False),
    sa.Column("financial_year_end", sa.Date, nullable=False),
)

TABLES = tuple(metadata.sorted_tables)


def create_schema(engine: sa.Engine) -> None:
    """Create the example tables (and their indexes) if they do not exist."""
    metadata.create_all(engine)
