"""Create a realistic example candidate database for ``policykit sweep``.

    python examples/sweep/generate.py --candidates 100000 --db sqlite:///candidates.db [--seed 2022]
    python examples/sweep/generate.py --candidates 10000 --db postgresql+psycopg://user@host/db

The population (deterministic for a seed, with every date on or before ``--until``, 2026-11-29 by
default, so that a sweep as of that day or later judges every row):

- one to three applications per candidate, from 2017 on; timestamps with a zone, half written in
  UTC and half in Stockholm time, some within an hour of Stockholm midnight (where the UTC date and
  the Stockholm date differ, A-27), some on 29 February (A-05);
- about half active (no withdrawal, objection or erasure request); the rest withdrew consent
  (recently or long ago), objected (in writing, or by telephone or in person, documented or not),
  asked for erasure, or withdrew and applied again (fresh consent, A-06);
- discrimination disputes, pending and resolved, some resolved after the evidence window (A-09);
- reference-call notes (free text, deleted on anonymisation) and accounting records (kept, A-08);
- a few candidates anonymised by an earlier sweep.

The tables are created if absent (``schema.py``). A database that already holds candidates is left
as it is (so the command can be repeated), unless ``--add`` asks for more: their ids then continue
after the largest present. Rows go in with the driver's bulk paths
(``executemany`` on SQLite, ``COPY`` on PostgreSQL): a million candidates take a minute or two.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

if __package__ in (None, ""):  # run as a file: make the repository's examples package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from examples.sweep.schema import create_schema

__all__ = ["COLUMNS", "UNTIL", "Population", "generate", "main", "population", "write"]

UNTIL = dt.date(2026, 11, 29)
START = dt.date(2017, 1, 1)
UTC = dt.UTC
CET = dt.timezone(dt.timedelta(hours=1))
CEST = dt.timezone(dt.timedelta(hours=2))

FIRST = ("Anna", "Erik", "Maria", "Lars", "Karin", "Anders", "Eva", "Johan", "Sara", "Per", "Emma", "Nils",
         "Elin", "Oskar", "Sofia", "Ahmed", "Fatima", "Mikael", "Ida", "Jonas", "Linnea", "Hugo", "Amira", "Leo")
LAST = ("Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson", "Svensson",
        "Gustafsson", "Pettersson", "Lindqvist", "Berg", "Lindberg", "Hassan", "Ali", "Nyström", "Holm")
FAMILIES = ("finance", "it", "engineering", "sales", "hr", "logistics", "healthcare", "legal")
OUTCOMES = ("rejected", "rejected", "rejected", "withdrawn", "offer_declined", "hired", "pending")
BANDS = ("band-1", "band-2", "band-3", "band-4", "band-5")
ORAL = ("phone", "in_person")
WRITTEN = ("email", "email", "letter", "portal")


@dataclass
class Population:
    """Rows of every table, as tuples in each table's column order (Python values)."""

    candidates: list[tuple[Any, ...]] = field(default_factory=list)
    applications: list[tuple[Any, ...]] = field(default_factory=list)
    consent_withdrawals: list[tuple[Any, ...]] = field(default_factory=list)
    objections: list[tuple[Any, ...]] = field(default_factory=list)
    erasure_requests: list[tuple[Any, ...]] = field(default_factory=list)
    disputes: list[tuple[Any, ...]] = field(default_factory=list)
    reference_notes: list[tuple[Any, ...]] = field(default_factory=list)
    bookkeeping_records: list[tuple[Any, ...]] = field(default_factory=list)

    def tables(self) -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
        """``(table, rows)`` in an order that satisfies the foreign keys."""
        yield "candidates", self.candidates
        for name in ("applications", "consent_withdrawals", "objections", "erasure_requests", "disputes",
                     "reference_notes", "bookkeeping_records"):
            yield name, getattr(self, name)

    def clear(self) -> None:
        """Forget the rows (after they were written)."""
        for _, rows in self.tables():
            rows.clear()


COLUMNS = {
    "candidates": ("id", "name", "email", "phone", "birth_date", "photo_url", "linkedin_url", "cv_text",
                   "interview_notes", "test_report", "test_score_band", "position_family", "process_closed_on",
                   "anonymised_at"),
    "applications": ("id", "candidate_id", "submitted_at", "position_family", "outcome", "cover_letter"),
    "consent_withdrawals": ("id", "candidate_id", "withdrawn_at"),
    "objections": ("id", "candidate_id", "received_on", "form", "documented_in_writing"),
    "erasure_requests": ("id", "candidate_id", "requested_on"),
    "disputes": ("id", "candidate_id", "opened_on", "status", "resolved_on"),
    "reference_notes": ("id", "candidate_id", "referee_name", "referee_phone", "statement"),
    "bookkeeping_records": ("id", "candidate_id", "kind", "payee_name", "amount_sek", "dated", "financial_year_end"),
}


class _Ids:
    def __init__(self, start: dict[str, int]) -> None:
        self.next = dict(start)

    def __call__(self, table: str) -> int:
        value = self.next[table]
        self.next[table] = value + 1
        return value


def _stockholm_offset(day: dt.date) -> dt.timezone:
    # summer time from the last Sunday of March to the last Sunday of October (near enough for examples)
    def last_sunday(month: int) -> dt.date:
        d = dt.date(day.year, month, 31)
        return d - dt.timedelta(days=(d.weekday() + 1) % 7)

    return CEST if last_sunday(3) <= day < last_sunday(10) else CET


def _moment(rng: random.Random, day: dt.date) -> dt.datetime:
    """A timestamp on the Stockholm date ``day``: office hours mostly, sometimes just after midnight."""
    zone = _stockholm_offset(day)
    if rng.random() < 0.04:  # 00:00-00:59 Stockholm time: the UTC date is the day before
        local = dt.datetime.combine(day, dt.time(0, rng.randrange(60), rng.randrange(60)), zone)
    else:
        local = dt.datetime.combine(day, dt.time(rng.randint(7, 21), rng.randrange(60), rng.randrange(60)), zone)
    return local.astimezone(UTC) if rng.random() < 0.5 else local


def _day_between(rng: random.Random, low: dt.date, high: dt.date) -> dt.date:
    return low + dt.timedelta(days=rng.randrange((high - low).days + 1)) if high > low else low


def _candidate(rng: random.Random, cid: int, until: dt.date, ids: _Ids, pop: Population) -> None:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    family = rng.choice(FAMILIES)
    # applications: dates first (Stockholm calendar dates), then timestamps
    day = _day_between(rng, START, until)
    days = [day]
    for _ in range(rng.choices((0, 1, 2), (70, 22, 8))[0]):
        day = day + dt.timedelta(days=rng.randint(30, 500))
        if day > until:
            break
        days.append(day)
    if rng.random() < 0.006:  # a leap-day application
        leap = rng.choice((dt.date(2020, 2, 29), dt.date(2024, 2, 29)))
        if leap <= until and (len(days) == 1 or days[-2] < leap):
            days[-1] = leap
    latest = max(days)
    for d in days:
        pop.applications.append((
            ids("applications"), cid, _moment(rng, d), family, rng.choice(OUTCOMES),
            f"Dear We Select, I am applying for the {family} role. Regards, {first} {last}",
        ))

    def after(low: dt.date, spread: int) -> dt.date | None:
        d = low + dt.timedelta(days=rng.randrange(spread))
        return d if d <= until else None

    triggered = False
    roll = rng.random()
    if roll < 0.48:
        pass  # active
    elif roll < 0.70:  # withdrew consent, recently or long ago
        when = after(latest, 200 if rng.random() < 0.4 else 2400)
        if when is not None:
            pop.consent_withdrawals.append((ids("consent_withdrawals"), cid, _moment(rng, when)))
            triggered = True
    elif roll < 0.73 and len(days) > 1:  # withdrew, then applied again: fresh consent
        between = _day_between(rng, days[0], days[1] - dt.timedelta(days=1))
        pop.consent_withdrawals.append((ids("consent_withdrawals"), cid, _moment(rng, between)))
        if rng.random() < 0.5 and (when := after(latest, 900)) is not None:
            pop.consent_withdrawals.append((ids("consent_withdrawals"), cid, _moment(rng, when)))
            triggered = True
    elif roll < 0.85:  # an objection: written, or oral (documented in writing or not, A-03)
        when = after(latest, 1800)
        if when is not None:
            oral = rng.random() < 0.3
            documented = oral and rng.random() < 0.5
            pop.objections.append((ids("objections"), cid, when, rng.choice(ORAL if oral else WRITTEN), documented))
            triggered = not oral or documented
    elif roll < 0.92:  # an erasure request
        when = after(latest, 1800)
        if when is not None:
            pop.erasure_requests.append((ids("erasure_requests"), cid, when))
            triggered = True

    if triggered and rng.random() < 0.04:  # a discrimination dispute
        opened = after(latest, 300)
        if opened is not None:
            resolved = after(opened + dt.timedelta(days=30), 1000) if rng.random() < 0.6 else None
            pop.disputes.append((ids("disputes"), cid, opened, "resolved" if resolved else "pending", resolved))

    closed = after(latest + dt.timedelta(days=10), 120) if rng.random() < 0.6 else None
    anonymised = triggered and latest < until - dt.timedelta(days=4 * 365) and rng.random() < 0.3
    if anonymised:  # swept by an earlier run: the identifying columns are already gone
        for i in range(len(pop.applications) - len(days), len(pop.applications)):
            pop.applications[i] = (*pop.applications[i][:5], None)
        stamp = dt.datetime.combine(latest + dt.timedelta(days=3 * 365), dt.time(2, 0), UTC)
        pop.candidates.append((cid, "", None, None, None, None, None, None, None, None, rng.choice(BANDS), family,
                               closed, stamp))
        return
    birth = dt.date(rng.randint(1960, 2004), rng.randint(1, 12), rng.randint(1, 28))
    handle = f"{first}.{last}{cid}".lower()
    pop.candidates.append((
        cid, f"{first} {last}", f"{handle}@example.se", f"+46 7{rng.randrange(10)} {rng.randrange(10**6, 10**7)}",
        birth, f"https://files.example.se/photos/{cid}.jpg",
        f"https://www.linkedin.com/in/{handle}" if rng.random() < 0.7 else None,
        f"{first} {last}. {rng.randint(1, 25)} years in {family}; previously at Nordkontor AB.",
        f"Interviewed {latest}: {first} came across as well prepared." if rng.random() < 0.6 else None,
        f"Logical reasoning {rng.randint(3, 10)}/10; personality profile on file." if rng.random() < 0.5 else None,
        rng.choice(BANDS), family, closed, None,
    ))
    for _ in range(rng.choices((0, 1, 2), (65, 25, 10))[0]):
        referee = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        pop.reference_notes.append((
            ids("reference_notes"), cid, referee, f"+46 8 {rng.randrange(10**5, 10**6)}",
            f"{referee} worked with {first} for {rng.randint(1, 9)} years and recommends them.",
        ))
    if rng.random() < 0.02:  # an expense refund for travel to an interview (räkenskapsinformation)
        dated = days[0] + dt.timedelta(days=rng.randint(1, 20))
        if dated <= until:
            pop.bookkeeping_records.append((
                ids("bookkeeping_records"), cid, "expense_refund", f"{first} {last}", rng.randint(200, 3000),
                dated, dt.date(dated.year, 12, 31),
            ))


def population(n: int, *, seed: int = 2022, until: dt.date = UNTIL, first_id: int = 1,
               ids: dict[str, int] | None = None) -> Population:
    """``n`` candidates' rows (ids from ``first_id``), deterministic for a seed."""
    rng = random.Random(seed)
    counter = _Ids(ids or dict.fromkeys(COLUMNS, first_id))
    pop = Population()
    for cid in range(first_id, first_id + n):
        _candidate(rng, cid, until, counter, pop)
    return pop


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        text = value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


def write(conn: sa.Connection, pop: Population) -> None:
    """Insert the population's rows with the driver's bulk path."""
    dialect = conn.dialect.name
    for table, rows in pop.tables():
        if not rows:
            continue
        cols = COLUMNS[table]
        if dialect == "postgresql":
            raw = conn.connection.driver_connection
            with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:  # type: ignore[union-attr]
                for row in rows:
                    copy.write_row(row)
        elif dialect == "sqlite":
            sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
            conn.exec_driver_sql(sql, [tuple(_sqlite_value(v) for v in row) for row in rows])
        else:
            target = sa.table(table, *(sa.column(c) for c in cols))
            conn.execute(target.insert(), [dict(zip(cols, row, strict=True)) for row in rows])


def _next_ids(conn: sa.Connection) -> dict[str, int]:
    out = {}
    for table in COLUMNS:
        top = conn.execute(sa.text(f"SELECT max(id) FROM {table}")).scalar()
        out[table] = int(top or 0) + 1
    return out


def generate(url: str, n: int, *, seed: int = 2022, until: dt.date = UNTIL, chunk: int = 50_000,
             progress: bool = False, add: bool = True) -> dict[str, int]:
    """Create the schema at ``url`` (if absent) and add ``n`` candidates; returns rows added per table.
    With ``add=False`` a database that already holds candidates is left as it is."""
    engine = sa.create_engine(url)
    try:
        create_schema(engine)
        counts = dict.fromkeys(COLUMNS, 0)
        with engine.begin() as conn:
            ids = _next_ids(conn)
        if not add and ids["candidates"] > 1:
            return counts
        rng_seed = seed
        done = 0
        started = time.perf_counter()
        while done < n:
            size = min(chunk, n - done)
            pop = population(size, seed=rng_seed, until=until, first_id=ids["candidates"], ids=ids)
            rng_seed += 1
            with engine.begin() as conn:
                write(conn, pop)
            for table, rows in pop.tables():
                counts[table] += len(rows)
                if rows:
                    ids[table] = rows[-1][0] + 1
            done += size
            if progress:
                print(f"\r{done:,} / {n:,} candidates ({time.perf_counter() - started:.0f} s)", end="", file=sys.stderr)
        if progress:
            print(file=sys.stderr)
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("ANALYZE")
        elif engine.dialect.name == "sqlite":
            with engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
        return counts
    finally:
        engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candidates", type=int, default=100_000, help="how many candidates (default 100,000)")
    parser.add_argument("--db", default="sqlite:///candidates.db", help="database URL (default sqlite:///candidates.db)")
    parser.add_argument("--seed", type=int, default=2022, help="random seed (default 2022)")
    parser.add_argument("--until", type=dt.date.fromisoformat, default=UNTIL,
                        help=f"no event after this day (default {UNTIL})")
    parser.add_argument("--add", action="store_true",
                        help="add candidates to a database that already has some (default: leave it as it is)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    counts = generate(args.db, args.candidates, seed=args.seed, until=args.until, progress=sys.stderr.isatty(),
                      add=args.add)
    if not any(counts.values()):
        print(f"{args.db} already holds candidates: left as it is (--add adds more)")
        return 0
    rows = ", ".join(f"{n:,} {table}" for table, n in counts.items())
    print(f"{args.db}: added {rows} in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
