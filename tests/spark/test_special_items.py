"""The Spark pass takes the SQL sweep's actions: anonymisation, erasures at once, special-category
items on their own dates, relevance reviews.

The richer schema of the SQL sweep's action tests (talent-pool tags, a marketing column,
special-category items, each worked by hand there) goes into SQLite, swept by
``policykit.sweep(..., apply=True)``, and into Spark DataFrames, passed by the Spark pass with the
same mapping. The SQL sweep is the oracle: the same verdicts (modes, rules, clauses), the same
problem for an item whose label cannot be read, the same actions reported, the same rows left in
every table and the same audit entries. Run again on its own output, the Spark pass changes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest

from tests.spark.support import require_spark

require_spark()

pytestmark = pytest.mark.slow  # a local Spark session: minutes, not seconds

import sqlalchemy as sa  # noqa: E402
from examples.sweep.generate import Population  # noqa: E402

import policykit  # noqa: E402
import policykit.spark  # noqa: E402
from tests.spark.test_anonymise import TYPES  # noqa: E402
from tests.sweep_support import Person, add_people  # noqa: E402
from tests.unit.test_sweep_actions import (  # noqa: E402
    EXTRA_SQL,
    MAPPING_EXTRA,
    PEOPLE,
    SEGMENTS,
    SPECIAL,
    TAGS,
    at,
    run_sql,
)

AS_OF = dt.date(2026, 11, 29)
# 14: due for anonymisation, with an item whose label is blank: neither pass can read it (a problem);
# 15: has applied only; its item was received without explicit consent (due at once, P-SAM-1)
MORE_PEOPLE = [
    Person(14, applications=[at("2021-01-10")], withdrawals=[at("2021-02-01")]),
    Person(15, applications=[at("2026-10-01")]),
]
MORE_SPECIAL = [(6, 14, "   ", True, None), (7, 15, "health", False, None)]
EXTRA_TYPES = {
    "candidates": TYPES["candidates"] + ", marketing_segment string",
    "talent_pool_tags": "id long, candidate_id long, tag string",
    "special_category_items": "id long, candidate_id long, category string, explicit_consent boolean, "
                              "process_closed_on date, detail string",
}
CHECKED = {  # the columns compared, per table
    "candidates": ("name", "email", "linkedin_url", "cv_text", "marketing_segment"),
    "applications": ("candidate_id", "position_family", "outcome", "cover_letter"),
    "talent_pool_tags": ("candidate_id", "tag"),
    "special_category_items": ("candidate_id", "category", "detail"),
    "reference_notes": ("candidate_id", "referee_name"),
}


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory, spark: Any) -> dict[str, Any]:
    return _sweep_both(tmp_path_factory.mktemp("special"), spark)


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory, spark: Any) -> dict[str, Any]:
    """The same, with an audit key: both passes keep HMAC-SHA256(key, id) in the audit log."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("POLICYKIT_AUDIT_KEY", "a secret of the controller")
        return _sweep_both(tmp_path_factory.mktemp("keyed"), spark)


def _sweep_both(folder: Path, spark: Any) -> dict[str, Any]:
    url = f"sqlite:///{folder / 'candidates.db'}"
    people = [*PEOPLE, *MORE_PEOPLE]
    special = [*SPECIAL, *MORE_SPECIAL]
    add_people(url, people)
    run_sql(url, EXTRA_SQL, [
        ("INSERT INTO talent_pool_tags VALUES (:i, :c, :t)", [{"i": i, "c": c, "t": t} for i, c, t in TAGS]),
        ("UPDATE candidates SET marketing_segment = :s WHERE id = :c",
         [{"s": s, "c": c} for c, s in SEGMENTS.items()]),
        ("INSERT INTO special_category_items VALUES (:i, :c, :k, :e, :p, 'a note about it')",
         [{"i": i, "c": c, "k": k, "e": e, "p": p} for i, c, k, e, p in special]),
    ])
    mapping = folder / "mapping.yaml"
    default = policykit.load_mapping().source
    assert default is not None
    mapping.write_text(Path(default).read_text(encoding="utf-8") + MAPPING_EXTRA, encoding="utf-8")

    pop = Population()
    for person in people:
        person.rows(pop)
    rows = dict(pop.tables())
    rows["candidates"] = [(*r, SEGMENTS.get(r[0])) for r in rows["candidates"]]
    rows["talent_pool_tags"] = list(TAGS)
    rows["special_category_items"] = [(*r, "a note about it") for r in special]
    frames = {name: spark.createDataFrame(data, EXTRA_TYPES.get(name) or TYPES[name]) for name, data in rows.items()}

    sql = policykit.sweep(url, as_of=AS_OF, mapping=mapping, apply=True, preselect=False)
    out = folder / "out"
    spk = policykit.spark.anonymise(frames, str(mapping), as_of=AS_OF, output=str(out))
    return {"url": url, "sql": sql, "spark": spk, "out": out, "mapping": mapping, "folder": folder, "rows": rows}


def _plain(value: Any) -> Any:
    if value == "":
        return None  # an erased NOT NULL text column holds '' in SQL, NULL in Parquet
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def test_the_verdicts_and_problems_agree(swept: dict[str, Any]) -> None:
    """Per mode and rule, the same counts; each anonymised candidate with the same rules and clauses
    (the special-category rules among them); the unreadable label the same problem."""
    sql, spk = swept["sql"], swept["spark"].report
    assert (spk.examined, spk.due, spk.anonymised, spk.problem_count) == (
        sql.examined, sql.due, sql.anonymised, sql.problem_count)
    assert dict(spk.by_mode) == dict(sql.by_mode)
    assert [a.to_dict() for a in spk.sample] == [a.to_dict() for a in sql.sample]
    assert [p.to_dict() for p in spk.problems] == [p.to_dict() for p in sql.problems]
    assert [(p.table, p.row_id, p.column) for p in sql.problems] == [("special_category_items", "6", "category")]
    assert {a.candidate_id for a in sql.sample} == {"12"}
    assert dict(spk.erases) == dict(sql.erases)


def test_the_other_actions_agree(swept: dict[str, Any]) -> None:
    """The erasures at once, special-category items and reviews: the same counts and the same
    actions (rules, clauses, what is erased and deleted, the day each became due), none skipped."""
    sql, spk = swept["sql"], swept["spark"].report
    assert sql.actions == {"erase_now": 2, "special_category": 4, "review_due": 2}  # the oracle took all three
    assert dict(spk.actions) == dict(sql.actions)
    assert [a.to_dict() for a in spk.action_sample] == [a.to_dict() for a in sql.action_sample]
    assert spk.skipped_actions == sql.skipped_actions == ()
    assert spk.to_dict().keys() == sql.to_dict().keys()
    assert "not looked for" not in spk.summary()


@pytest.mark.parametrize("table", sorted(CHECKED))
def test_the_tables_agree(swept: dict[str, Any], spark: Any, table: str) -> None:
    columns = CHECKED[table]
    engine = sa.create_engine(swept["url"])
    with engine.connect() as conn:
        want = {r[0]: tuple(_plain(v) for v in r[1:])
                for r in conn.execute(sa.text(f"SELECT id, {', '.join(columns)} FROM {table}"))}
    engine.dispose()
    got = {r[0]: tuple(_plain(v) for v in r[1:])
           for r in spark.read.parquet(str(swept["out"] / table)).select("id", *columns).collect()}
    assert got == want


@pytest.mark.parametrize("run", ["swept", "keyed"])
def test_the_audit_logs_agree(request: pytest.FixtureRequest, spark: Any, run: str) -> None:
    """Every action's audit row, field for field (the ids and times of a run aside); with an audit
    key, the keyed hashes, which are also checked against HMAC-SHA256 computed here."""
    swept = request.getfixturevalue(run)
    engine = sa.create_engine(swept["url"])
    with engine.connect() as conn:
        want = sorted(
            (r[0], r[1], r[2], json.loads(r[3]), json.loads(r[4]), json.loads(r[5]), json.loads(r[6]), r[7], r[8])
            for r in conn.execute(sa.text(
                "SELECT candidate_id, as_of, retention_mode, rule_ids, clauses, erased, deleted_rows, action, "
                "due_on FROM policykit_audit")))
    engine.dispose()
    got = sorted(
        (r["candidate_id"], r["as_of"].isoformat(), r["retention_mode"], r["rule_ids"], r["clauses"], r["erased"],
         dict(r["deleted_rows"]), r["action"], _plain(r["due_on"]))
        for r in spark.read.parquet(str(swept["out"] / "policykit_audit")).collect())
    assert got == want
    assert sorted({r[-2] for r in want}) == ["anonymise", "erase_now", "review_due", "special_category"]
    ids = {r[0] for r in want}
    people = {str(p.id) for p in [*PEOPLE, *MORE_PEOPLE]}
    if run == "keyed":
        assert ids <= {"hmac-sha256:" + hmac.new(b"a secret of the controller", c.encode(), hashlib.sha256).hexdigest()
                       for c in people}
    else:
        assert ids <= people


def test_a_rerun_on_its_own_output_changes_nothing(swept: dict[str, Any], spark: Any, tmp_path: Path) -> None:
    """Run again on its output: no action is due (every value erased, every item deleted, every review
    recorded), no audit row is added, every table is the same."""
    again = policykit.spark.anonymise(str(swept["out"]), str(swept["mapping"]), as_of=AS_OF,
                                      output=str(tmp_path / "again"))
    assert (again.report.due, dict(again.report.actions), again.audit.count()) == (0, {}, 0)
    for table in [*CHECKED, "policykit_audit"]:
        first = spark.read.parquet(str(swept["out"] / table))
        second = spark.read.parquet(str(tmp_path / "again" / table))
        assert sorted(map(tuple, second.collect())) == sorted(map(tuple, first.collect())), table


NAMED = {12: "anna@example.se", 5: "berit@example.se"}  # ids that may be personal data


def _named_frames(spark: Any, rows: dict[str, list[tuple[Any, ...]]]) -> dict[str, Any]:
    """The same rows with text candidate ids, two of them e-mail addresses."""
    def text(cid: Any) -> str:
        return NAMED.get(cid, str(cid))

    frames = {}
    for name, given in rows.items():
        types = (EXTRA_TYPES.get(name) or TYPES[name])
        if name == "candidates":
            types = types.replace("id long", "id string", 1)
            data = [(text(r[0]), *r[1:]) for r in given]
        else:
            types = types.replace("candidate_id long", "candidate_id string")
            data = [(r[0], text(r[1]), *r[2:]) for r in given]
        frames[name] = spark.createDataFrame(data, types)
    return frames


def test_an_id_that_may_be_personal_data_is_refused_without_an_audit_key(
    swept: dict[str, Any], spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Written without POLICYKIT_AUDIT_KEY, a candidate whose id is an e-mail address is left alone and
    reported, as the SQL sweep does: 12 (due) is not anonymised, 5 keeps its LinkedIn column, tags and
    health item; the others are taken as before, and no e-mail address reaches the audit log. A dry
    run writes nothing and refuses nothing; with a key, the keyed hash goes in and 12 is anonymised."""
    monkeypatch.delenv("POLICYKIT_AUDIT_KEY", raising=False)
    sql = swept["sql"]
    frames = _named_frames(spark, swept["rows"])
    mapping = str(swept["mapping"])
    dry = policykit.spark.anonymise(frames, mapping, as_of=AS_OF).report
    assert (dry.due, dry.problem_count, dict(dry.actions)) == (sql.due, sql.problem_count, dict(sql.actions))
    out = tmp_path / "out"
    report = policykit.spark.anonymise(frames, mapping, as_of=AS_OF, output=str(out)).report
    assert dict(report.by_mode) == dict(sql.by_mode)  # judged all the same
    assert (report.due, report.anonymised, report.problem_count) == (0, 0, sql.problem_count + 2)
    refused = [p for p in report.problems if "expected a surrogate key" in p.message]
    assert [(p.table, p.column, p.code, p.message.split(". ")[-1]) for p in refused] == [  # anna, then berit
        ("candidates", "id", "sweep.mapping", "Not anonymised."), ("candidates", "id", "sweep.mapping", "Not changed.")]
    assert [p.to_dict() for p in report.problems if p not in refused] == [p.to_dict() for p in sql.problems]
    assert dict(report.actions) == {"erase_now": 1, "special_category": 3, "review_due": 2}
    people = {r["id"]: r for r in spark.read.parquet(str(out / "candidates")).collect()}
    assert people[NAMED[12]]["anonymised_at"] is None and people[NAMED[12]]["name"] == "Person 12"
    assert people[NAMED[5]]["linkedin_url"] is not None and people[NAMED[5]]["marketing_segment"] == "tech"
    tags = {r["candidate_id"] for r in spark.read.parquet(str(out / "talent_pool_tags")).collect()}
    assert NAMED[5] in tags and NAMED[12] in tags
    items = {r["candidate_id"] for r in spark.read.parquet(str(out / "special_category_items")).collect()}
    assert NAMED[5] in items
    ids = {r["candidate_id"] for r in spark.read.parquet(str(out / "policykit_audit")).collect()}
    assert ids and not ids & set(NAMED.values())

    monkeypatch.setenv("POLICYKIT_AUDIT_KEY", "a secret of the controller")
    keyed = policykit.spark.anonymise(frames, mapping, as_of=AS_OF, output=str(tmp_path / "keyed")).report
    assert (keyed.anonymised, keyed.problem_count, dict(keyed.actions)) == (1, sql.problem_count, dict(sql.actions))
    anna = "hmac-sha256:" + hmac.new(b"a secret of the controller", NAMED[12].encode(), hashlib.sha256).hexdigest()
    audit = spark.read.parquet(str(tmp_path / "keyed" / "policykit_audit")).collect()
    assert [r["action"] for r in audit if r["candidate_id"] == anna] == ["anonymise"]
