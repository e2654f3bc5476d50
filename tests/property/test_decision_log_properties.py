"""Property: whatever questions and contexts are logged, the log holds no raw subject reference and
none of the free text the questions carried (only vocabulary ids, booleans, numbers and dates)."""

from __future__ import annotations

import copy as copying
import datetime as dt
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import policykit
from policykit import DisclosureRequest
from policykit.errors import QueryError
from policykit.log import DecisionLog, verify
from policykit.log._record import Recorder
from tests.property.strategies import disclosure_requests

# free text is built around a marker no policy term contains, so finding it in the log can only
# mean the text was stored
MARK = "qzx"
free_text = st.builds(lambda a, b: f"{a}{MARK}{b}", st.text(max_size=6), st.text(max_size=6))
dates = st.dates(min_value=dt.date(2015, 1, 1), max_value=dt.date(2027, 12, 31))
KINDS = ["recruitment_client", "background_check_provider", "authority", "reference", "prospective_client"]
POLICY = policykit.load_policy(memo_size=0)
PURPOSES = ["present_candidates_to_clients", "sell_recruitment_services", "obtain_reference_statements"]


@st.composite
def disclosure(draw: st.DrawFn) -> dict[str, Any]:
    recipient: dict[str, Any] = {
        "kind": draw(st.sampled_from(KINDS)),
        "country": draw(st.sampled_from(["SE", "se", "CH", "US", "NO", "UK"])),
        "active_assignment": draw(st.booleans()),
    }
    if draw(st.booleans()):
        recipient["legal_obligation"] = True
        recipient["legal_obligation_jurisdiction"] = draw(free_text | st.sampled_from(["SE", "EU", "se", " eu ", ""]))
    question: dict[str, Any] = {
        "operation": draw(st.sampled_from(["show", "disclose", "transfer", "sell"])),
        "data_categories": draw(st.lists(st.sampled_from(["name", "contact_info", "application_documents"]), min_size=1, max_size=3)),
        "purpose": draw(free_text | st.sampled_from(PURPOSES)),
        "recipient": recipient,
        "disclosed_context": draw(st.lists(free_text, max_size=2)),
    }
    if draw(st.booleans()):
        question["as_of"] = draw(dates).isoformat()
    return question


@st.composite
def retention(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "applications": [d.isoformat() for d in draw(st.lists(dates, min_size=1, max_size=2))],
        "special_category_items": [{"category": draw(free_text), "process_id": draw(free_text)}],
        "bookkeeping_records": [{"type": draw(free_text), "dated": draw(dates).isoformat()}],
        "as_of": "2026-06-01",
    }


@st.composite
def request(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "request": draw(st.sampled_from(["access", "erasure", "restriction", "rectification"])),
        "channel": "email",
        "received_on": draw(dates).isoformat(),
        "data_held": draw(st.lists(free_text, max_size=2)),
        "ground": draw(free_text),
        "sources": draw(st.lists(free_text, max_size=2)),
    }


contexts = st.none() | st.fixed_dictionaries(
    {"subject_ref": free_text}, optional={"service": st.sampled_from(["ats", "crm.web", "sweep-1"])}
)
questions = st.one_of(
    st.tuples(st.just("decide"), disclosure()),
    st.tuples(st.just("retention"), retention()),
    st.tuples(st.just("handle_request"), request()),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(asked=st.lists(st.tuples(questions, contexts), min_size=1, max_size=8))
def test_no_subject_ref_and_no_free_text_reach_the_log(tmp_path_factory: Any, asked: list[Any]) -> None:
    path = Path(tmp_path_factory.mktemp("log")) / "decisions.jsonl"
    given_text: list[str] = []
    answered = 0
    with policykit.load_policy(decision_log=DecisionLog(path, subject_key=b"s" * 32)) as policy:
        for (method, question), context in asked:
            given_text += _strings(question) + _strings(context)
            try:
                getattr(policy, method)(question, context=context)
                answered += 1
            except QueryError:
                pass  # a malformed question is refused, and nothing is logged for it
    text = path.read_text(encoding="utf-8")
    assert MARK not in text
    for value in given_text:
        if MARK in value:
            assert json.dumps(value)[1:-1] not in text
    assert len(text.splitlines()) == answered
    assert verify(path).ok


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


@settings(max_examples=80, deadline=None)
@given(question=disclosure() | disclosure_requests(), day=dates)
def test_records_written_directly_equal_the_general_path(question: dict[str, Any], day: dt.date) -> None:
    """The question and answer of a disclosure record are written field by field, for speed; they are
    the same bytes as the general path (model_dump, scrub, canonical JSON), which verify recomputes."""
    try:
        request = DisclosureRequest.parse(question)
        decision = POLICY.decide(request)
    except QueryError:
        return
    recorder = Recorder(POLICY)
    assert recorder.disclosure_question(request, day) == recorder.general_question(request, day)
    assert recorder.disclosure_answer(decision.outcome) == recorder.general_answer(decision.outcome)
    assert json.loads(recorder.disclosure_question(request, day))["as_of"] == (request.as_of or day).isoformat()


# spellings of a country as a caller may send them: codes, aliases, case and spaces, Unicode that folds
# to a code, codes of no country, free text
COUNTRY_SPELLINGS = ["SE", "se", " se\t", "SE\n", "\x0bno", "UK", "uk", "EL", "GR", "gb ", "\u017fe", "SE\u3000", "XX", "", "Sverige"]


@settings(max_examples=60, deadline=None)
@given(country=st.sampled_from(COUNTRY_SPELLINGS) | st.text(max_size=4), jurisdiction=st.none() | st.text(max_size=4),
       day=dates)
def test_a_recipients_country_is_recorded_as_the_vocabulary_reads_it(
    country: str, jurisdiction: str | None, day: dt.date
) -> None:
    """The question writer reads a country from plain tables (it runs without the policy in the writer
    process): a code, an alias, a lower-case or padded code, text that folds to a code under Unicode
    and text that is no code are recorded exactly as the general path records them, which asks the
    vocabulary."""
    recipient: dict[str, Any] = {"kind": "authority", "country": country, "legal_obligation": True}
    if jurisdiction is not None:
        recipient["legal_obligation_jurisdiction"] = jurisdiction
    try:
        request = DisclosureRequest.parse({"operation": "share", "data_categories": ["name"],
                                           "purpose": "comply_with_law", "recipient": recipient})
    except QueryError:
        return
    recorder = Recorder(POLICY)
    assert recorder.values(request, day) is not None  # the direct writer, not the general path
    assert recorder.disclosure_question(request, day) == recorder.general_question(request, day)


def clone(outcome: Any) -> Any:
    return copying.copy(outcome)


SHARED = Recorder(POLICY)  # its tables of written parts fill across examples, as in a service


@settings(max_examples=150, deadline=None)
@given(questions=st.lists(disclosure() | disclosure_requests(), min_size=1, max_size=6), day=dates)
def test_parts_kept_by_content_equal_the_general_path(questions: list[dict[str, Any]], day: dt.date) -> None:
    """The recorder keeps what it wrote (nested models and a request's plain members) by content: a
    question answered from those tables is the same bytes as the general path, whatever was asked
    before it."""
    for question in questions:
        try:
            request = DisclosureRequest.parse(question)
        except QueryError:
            continue
        assert SHARED.disclosure_question(request, day) == SHARED.general_question(request, day)
        # asked again (now from the tables), and as an equal copy (another object, the same content)
        assert SHARED.disclosure_question(request, day) == SHARED.general_question(request, day)
        copy = DisclosureRequest.parse(question)
        assert SHARED.disclosure_question(copy, day) == SHARED.general_question(request, day)
        # an answer, and an equal outcome that is another object (as an engine without a memo gives
        # one): written once, then found by value
        outcome = POLICY.decide(request).outcome
        assert SHARED.disclosure_answer(outcome) == SHARED.general_answer(outcome)
        twin = clone(outcome)
        assert twin is not outcome and twin == outcome
        assert SHARED.disclosure_answer(twin) == SHARED.general_answer(twin)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(questions=st.lists(disclosure() | disclosure_requests(), min_size=1, max_size=12))
def test_logged_bodies_equal_a_fresh_encoding(tmp_path: Path, questions: list[dict[str, Any]]) -> None:
    """Every body a cold policy logged (questions asked as dicts, as typed requests, and again) is what
    a recorder that never wrote anything before makes of the same request and answer."""
    path = tmp_path / f"{len(list(tmp_path.iterdir()))}.jsonl"
    asked: list[DisclosureRequest] = []
    with policykit.load_policy(memo_size=0, decision_log=DecisionLog(path)) as policy:
        for question in questions:
            try:
                request = DisclosureRequest.parse(question)
                for ask in (question, request, request):
                    policy.decide(ask)
                    asked.append(request)
            except QueryError:
                continue
    lines = path.read_text().splitlines() if path.exists() else []
    assert len(lines) == len(asked)
    for line, request in zip(lines, asked, strict=True):
        record = json.loads(line)
        fresh = Recorder(POLICY)
        day = dt.date.fromisoformat(record["question"]["as_of"])
        assert json.loads(fresh.general_question(request, day)) == record["question"]
        outcome = POLICY.decide(request.model_copy(update={"as_of": day})).outcome
        assert json.loads(fresh.general_answer(outcome)[0]) == record["answer"]
