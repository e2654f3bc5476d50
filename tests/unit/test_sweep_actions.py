"""What the sweep does besides anonymising, on SQLite and PostgreSQL: the erasures a verdict makes at
once while the record is kept (``erase_now``: the LinkedIn column, talent-pool tags, marketing
attributes), special-category items on their own dates, and the relevance review of active
candidates (A-33), which is recorded and reported but never acted on.

Every expected date below is worked by hand from the policy text and the register:
- an active candidate's review falls 24 months after the latest activity (A-33);
- special-category data go when their process closes (P-SAM-2, A-20), when consent ends if that is
  earlier, at once if held without explicit consent (P-SAM-1, A-19), and not while a dispute is
  pending (A-09);
- consent ended within the window: the LinkedIn snapshot, talent-pool tags and marketing attributes
  are erased at once, the evidence set is kept (P-RET-3).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import policykit
from policykit.errors import MappingError, SweepError
from tests.sweep_support import Person, add_people, audit_rows, snapshot

AS_OF = dt.date(2026, 11, 29)
UTC = dt.UTC


@functools.cache
def _policy() -> policykit.Policy:
    return policykit.load_policy()


def at(day: str) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(10), UTC)


def d(day: str) -> dt.date:
    return dt.date.fromisoformat(day)


PEOPLE = [
    Person(3, applications=[at("2019-05-01")], closed=d("2019-09-01")),  # active; review 24 months after the close
    Person(4, applications=[at("2022-01-10")], withdrawals=[at("2022-03-01")],
           disputes=[(d("2022-05-01"), "pending", None)]),  # legal hold
    Person(5, applications=[at("2025-01-02")], withdrawals=[at("2025-01-10")]),  # in the evidence window
    Person(8, applications=[at("2020-01-01")], objections=[(d("2021-01-01"), "phone", False)]),  # active
    Person(10, applications=[at("2019-01-10"), at("2025-06-01")], withdrawals=[at("2020-01-01")]),  # reapplied
    Person(12, applications=[at("2021-01-10")], withdrawals=[at("2021-02-01")]),  # due for anonymisation
]
# the tables a richer schema adds: talent-pool tags (rows), a marketing column, special-category items
EXTRA_SQL = [
    "ALTER TABLE candidates ADD COLUMN marketing_segment TEXT",
    "CREATE TABLE talent_pool_tags (id INTEGER PRIMARY KEY, candidate_id INTEGER NOT NULL, tag TEXT)",
    "CREATE TABLE special_category_items (id INTEGER PRIMARY KEY, candidate_id INTEGER NOT NULL, "
    "category TEXT NOT NULL, explicit_consent BOOLEAN NOT NULL, process_closed_on DATE, detail TEXT)",
]
TAGS = [(1, 3, "java"), (2, 5, "java"), (3, 5, "stockholm"), (4, 12, "sales")]
SEGMENTS = {3: "tech", 5: "tech", 12: "sales"}
SPECIAL = [  # (id, candidate, category, explicit consent, process closed on)
    (1, 3, "health", True, d("2019-09-01")),   # active, process closed: due 2019-09-01
    (2, 10, "health", True, None),             # active, process open: kept
    (3, 5, "health", True, None),              # consent ended 2025-01-10: due then
    (4, 4, "health", True, None),              # a pending dispute: kept
    (5, 8, "ethnic_origin", False, None),      # no explicit consent: due at once, as of the sweep
]
MAPPING_EXTRA = """
items:
  - {item: talent_pool_tags, table: talent_pool_tags, candidate_id: candidate_id}
  - {item: marketing_attributes, table: candidates, columns: [marketing_segment]}
special_category_items:
  table: special_category_items
  candidate_id: candidate_id
  id: id
  category: category
  explicit_consent: explicit_consent
  process_closed_on: process_closed_on
  columns:
    detail: special_category_data
"""


def sweep(db: str, **options: Any) -> policykit.SweepReport:
    return policykit.sweep(db, policy=_policy(), as_of=AS_OF, **options)


def run_sql(url: str, statements: list[str], params: list[tuple[str, list[dict[str, Any]]]] = ()) -> None:  # type: ignore[assignment]
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)
            for statement, given in params:
                rows = given
                if url.startswith("sqlite"):
                    # SQLite has no date type: store dates as the ISO text that SQLAlchemy's Date
                    # writes (Python 3.12 deprecates sqlite3's implicit date adapter).
                    rows = [{k: v.isoformat() if isinstance(v, dt.date) else v for k, v in r.items()} for r in given]
                conn.execute(sa.text(statement), rows)
    finally:
        engine.dispose()


def rows(url: str, query: str) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.exec_driver_sql(query)]
    finally:
        engine.dispose()


@pytest.fixture
def plain_db(new_database: Callable[[], str]) -> str:
    url = new_database()
    add_people(url, PEOPLE)
    return url


@pytest.fixture
def rich(new_database: Callable[[], str], tmp_path: Path) -> tuple[str, Path]:
    """The example schema plus tags, a marketing column and special-category items, and its mapping."""
    url = new_database()
    add_people(url, PEOPLE)
    run_sql(url, EXTRA_SQL, [
        ("INSERT INTO talent_pool_tags VALUES (:i, :c, :t)", [{"i": i, "c": c, "t": t} for i, c, t in TAGS]),
        ("UPDATE candidates SET marketing_segment = :s WHERE id = :c",
         [{"s": s, "c": c} for c, s in SEGMENTS.items()]),
        ("INSERT INTO special_category_items VALUES (:i, :c, :k, :e, :p, 'a note about it')",
         [{"i": i, "c": c, "k": k, "e": e, "p": p} for i, c, k, e, p in SPECIAL]),
    ])
    mapping = tmp_path / "mapping.yaml"
    default = policykit.load_mapping().source
    assert default is not None
    mapping.write_text(Path(default).read_text(encoding="utf-8") + MAPPING_EXTRA, encoding="utf-8")
    return url, mapping


def by_action(report: policykit.SweepReport) -> dict[str, dict[str, policykit.CandidateAction]]:
    out: dict[str, dict[str, policykit.CandidateAction]] = {}
    for a in report.action_sample:
        out.setdefault(a.action, {})[a.candidate_id] = a
    return out


def test_the_linkedin_column_goes_at_once_while_the_record_is_kept(plain_db: str) -> None:
    """Consent ended within the window (5) or a dispute holds the record (4): the LinkedIn snapshot
    is not evidence and goes at once; the evidence set (name, CV, notes) stays, the record is not
    anonymised, and the erasure is audited with the day consent ended."""
    pristine = snapshot(plain_db)
    dry = sweep(plain_db)
    assert snapshot(plain_db) == pristine  # a dry run changes nothing
    erased = by_action(dry)["erase_now"]
    assert {cid: (a.erased, a.due_on, a.applied) for cid, a in erased.items()} == {
        "4": (("candidates.linkedin_url",), d("2022-03-01"), False),
        "5": (("candidates.linkedin_url",), d("2025-01-10"), False),
    }
    report = sweep(plain_db, apply=True)
    assert report.actions["erase_now"] == 2 and all(a.applied for a in report.action_sample)
    cols = ("id", "name", "linkedin_url", "cv_text", "anonymised_at")
    now = {r[0]: r for r in rows(plain_db, f"SELECT {', '.join(cols)} FROM candidates WHERE id IN (4, 5)")}
    for cid in (4, 5):
        assert now[cid][2] is None and now[cid][1] == f"Person {cid}" and now[cid][3] and now[cid][4] is None
    audit = {r["candidate_id"]: r for r in audit_rows(plain_db, "erase_now")}
    assert set(audit) == {"4", "5"}
    assert audit["5"]["erased"] == ["candidates.linkedin_url"] and audit["5"]["retention_mode"] == "evidence_window"
    assert audit["4"]["retention_mode"] == "legal_hold"
    assert str(audit["5"]["due_on"])[:10] == "2025-01-10"
    text = " ".join(str(v) for r in audit_rows(plain_db) for v in r.values())
    assert "linkedin.com" not in text and "Person " not in text  # no personal data in the log


def test_a_rerun_changes_nothing_and_logs_nothing(plain_db: str) -> None:
    """Idempotent: the second --apply finds nothing left to erase and no review unrecorded."""
    first = sweep(plain_db, apply=True)
    assert first.actions == {"erase_now": 2, "review_due": 2}
    after = snapshot(plain_db)
    logged = len(audit_rows(plain_db))
    second = sweep(plain_db, apply=True)
    assert (second.due, second.anonymised, second.actions) == (0, 0, {})
    assert snapshot(plain_db) == after and len(audit_rows(plain_db)) == logged
    assert "Nothing to do" in second.summary()


def test_a_due_review_is_recorded_and_reported_never_acted_on(plain_db: str) -> None:
    """Active candidates (3: applied 2019-05-01, process closed 2019-09-01, the latest activity; 8: applied
    2020-01-01, objected by telephone without
    a written record, A-03) are due a relevance review 24 months after: flagged, audited once, never
    anonymised; 10 applied again in 2025, so its review (2027-06-01) is not due."""
    report = sweep(plain_db, apply=True)
    reviews = by_action(report)["review_due"]
    assert {cid: a.due_on for cid, a in reviews.items()} == {"3": d("2021-09-01"), "8": d("2022-01-01")}
    assert all(a.erased == () and a.deleted_rows == {} for a in reviews.values())
    assert reviews["3"].rule_ids == ("RET-ACTIVE",)
    names = dict(rows(plain_db, "SELECT id, name FROM candidates WHERE id IN (3, 8) AND anonymised_at IS NULL"))
    assert names == {3: "Person 3", 8: "Person 8"}
    audit = audit_rows(plain_db, "review_due")
    assert sorted((r["candidate_id"], str(r["due_on"])[:10]) for r in audit) == [
        ("3", "2021-09-01"), ("8", "2022-01-01")]
    # a dry run afterwards sees them recorded
    assert "review_due" not in sweep(plain_db).actions


def test_items_and_special_category_items_on_their_own_dates(rich: tuple[str, Path]) -> None:
    """Talent-pool tags and the marketing column go at once when consent ends; each special-category
    item goes on its own date; the anonymised candidate (12) loses every item with the rest."""
    url, mapping = rich
    dry = sweep(url, mapping=mapping)
    assert rows(url, "SELECT count(*) FROM talent_pool_tags") == [(4,)]
    acts = by_action(dry)
    five = acts["erase_now"]["5"]
    assert set(five.erased) == {"candidates.linkedin_url", "candidates.marketing_segment"}
    assert five.deleted_rows == {"talent_pool_tags": 2}
    special = acts["special_category"]
    assert {cid: (a.due_on, dict(a.deleted_rows)) for cid, a in special.items()} == {
        "3": (d("2019-09-01"), {"special_category_items": 1}),
        "5": (d("2025-01-10"), {"special_category_items": 1}),
        "8": (AS_OF, {"special_category_items": 1}),
    }
    assert special["8"].rule_ids == ("RET-SPECIAL-CATEGORY-NO-CONSENT",)
    report = sweep(url, mapping=mapping, apply=True)
    assert report.anonymised == 1 and report.actions["special_category"] == 3
    assert sorted(rows(url, "SELECT id FROM special_category_items")) == [(2,), (4,)]
    assert sorted(rows(url, "SELECT id, candidate_id FROM talent_pool_tags")) == [(1, 3)]
    segments = dict(rows(url, "SELECT id, marketing_segment FROM candidates WHERE id IN (3, 5, 12)"))
    assert segments == {3: "tech", 5: None, 12: None}
    anon = audit_rows(url, "anonymise")
    assert [r["candidate_id"] for r in anon] == ["12"]
    assert anon[0]["deleted_rows"].get("talent_pool_tags") == 1
    assert "candidates.marketing_segment" in anon[0]["erased"]
    after = snapshot(url)
    logged = len(audit_rows(url))
    again = sweep(url, mapping=mapping, apply=True)
    assert (again.anonymised, again.actions) == (0, {})
    assert snapshot(url) == after and len(audit_rows(url)) == logged


def test_an_audit_table_of_an_earlier_release_gains_the_action_columns(plain_db: str) -> None:
    """An audit table without ``action`` and ``due_on`` gets them (its rows read as anonymisations)."""
    from policykit._sweep.sql import audit_table  # noqa: PLC0415

    legacy = audit_table("policykit_audit")
    engine = sa.create_engine(plain_db)
    try:
        with engine.begin() as conn:  # the table as an earlier release made it, without the two columns
            legacy.create(conn)
            for column in ("action", "due_on"):
                conn.exec_driver_sql(f"ALTER TABLE policykit_audit DROP COLUMN {column}")
        legacy = sa.Table("policykit_audit", sa.MetaData(), autoload_with=engine)
        with engine.begin() as conn:
            conn.execute(legacy.insert(), [{
                "run_id": "earlier", "candidate_id": "99", "as_of": d("2025-01-01"), "policy_version": "2022-06-22",
                "retention_mode": "evidence_window", "anonymise_on": d("2025-01-01"), "rule_ids": "[]",
                "clauses": "[]", "erased": "[]", "deleted_rows": "{}", "recorded_at": at("2025-01-01"),
            }])
    finally:
        engine.dispose()
    sweep(plain_db, apply=True)
    audit = audit_rows(plain_db)
    assert [r["action"] for r in audit if r["run_id"] == "earlier"] == ["anonymise"]
    assert {r["action"] for r in audit} == {"anonymise", "erase_now", "review_due"}


@pytest.mark.parametrize(("extra", "message"), [
    ("items:\n  - {item: talent_pool_tags, table: candidates}\n", r"items\[0\].columns: expected the columns"),
    ("items:\n  - {item: talent_pool_tags, table: candidates, columns: [name]}\n",
     r"items\[0\].columns\[0\]: candidates.name also has a data category"),
    ("items:\n  - {item: talent_pool_tags, table: talent_pool, candidate_id: candidate_id}\n",
     r"items\[0\].table: expected a table named 'talent_pool'"),
    ("items:\n  - {item: talent_pool_tag, table: talent_pool_tags}\n",
     r"items\[0\].item: expected an item that a retention rule erases at once .*did you mean 'talent_pool_tags'"),
    ("special_category_items: {table: special_category_items, explicit_consent: consent}\n",
     r"special_category_items.explicit_consent: expected a column named 'consent'"),
    ("items:\n" + "".join(f"  - {{item: talent_pool_tags, table: t{i}}}\n" for i in range(201)),
     r"items: .*at most 200"),
])
def test_a_wrong_extension_of_the_mapping_is_named(plain_db: str, tmp_path: Path, extra: str, message: str) -> None:
    """Untrusted mapping input: each mistake in the new keys is a MappingError naming it, before any
    row is read; nothing is created."""
    run_sql(plain_db, EXTRA_SQL[1:])
    default = policykit.load_mapping().source
    assert default is not None
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(Path(default).read_text(encoding="utf-8") + extra, encoding="utf-8")
    before = snapshot(plain_db)
    with pytest.raises(MappingError, match=message):
        sweep(plain_db, mapping=mapping, apply=True)
    assert snapshot(plain_db) == before


def test_actions_can_be_left_out_of_a_run(plain_db: str) -> None:
    """actions=() anonymises only, and says which actions it did not look for; a later full run
    takes them; an unknown action name is refused before anything is read."""
    only = sweep(plain_db, apply=True, actions=())
    assert only.anonymised == 1 and only.actions == {} and only.action_sample == ()
    assert only.skipped_actions == ("erase_now", "special_category", "review_due")
    assert "(not looked for in this run)" in only.summary()
    assert audit_rows(plain_db, "erase_now") == [] and audit_rows(plain_db, "review_due") == []
    reviews = sweep(plain_db, apply=True, actions=["review_due"])
    assert reviews.actions == {"review_due": 2} and reviews.skipped_actions == ("erase_now", "special_category")
    rest = sweep(plain_db, apply=True)
    assert rest.actions == {"erase_now": 2} and rest.skipped_actions == ()
    with pytest.raises(SweepError, match="actions: expected some of erase_now"):
        sweep(plain_db, actions=["erase"])


def test_with_an_audit_key_reviews_are_recorded_once_under_the_keyed_hash(
    plain_db: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With POLICYKIT_AUDIT_KEY set, every action's row keeps HMAC-SHA256(key, id), computed here on
    its own; the review lookup finds them by that hash, so a rerun records nothing again."""
    import hashlib  # noqa: PLC0415
    import hmac  # noqa: PLC0415

    monkeypatch.setenv("POLICYKIT_AUDIT_KEY", "a secret of the controller")
    first = sweep(plain_db, apply=True)
    assert first.actions == {"erase_now": 2, "review_due": 2}
    again = sweep(plain_db, apply=True)
    assert again.actions == {}

    def keyed(cid: str) -> str:
        return "hmac-sha256:" + hmac.new(b"a secret of the controller", cid.encode(), hashlib.sha256).hexdigest()

    assert sorted(r["candidate_id"] for r in audit_rows(plain_db, "review_due")) == sorted([keyed("3"), keyed("8")])
    assert {r["candidate_id"] for r in audit_rows(plain_db)} <= {keyed(c) for c in ("3", "4", "5", "8", "12")}
