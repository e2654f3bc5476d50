"""Retention questions and their answers: ``RetentionFacts`` in, ``RetentionVerdict`` out.

When must this candidate's record be anonymised? The answer takes three steps (docs/retention.md):

1. **Read the dates.** Timestamps become Europe/Stockholm calendar dates (A-27); the latest
   application is the maximum, whatever the input order; the trigger is the first withdrawal, written
   (or documented) objection or erasure request on or after it (A-03, A-06, A-10). The reading checks
   the facts for consistency and reduces them to the yes/no facts of ``_ruleset.facts.retention_schema``.
2. **Ask the rules.** The retention rules (``rules/retention.yaml``), compiled to durable-rules, decide
   from those facts which mode applies and which anchor and period govern each date. The engine's
   answer is memoised by the yes/no facts alone, so a million candidates cost a few engine calls.
3. **Compute the dates** the rules name, the Swedish way (Lag 1930:173 1 §, ``_dates``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, cast

from pydantic import BeforeValidator, StrictBool
from pydantic_core import PydanticCustomError

from policykit._dates import (
    add_months_sv,
    add_years_sv,
    local_date,
    next_working_day_sv,
    parse_day,
    parse_moment,
    today_in,
)
from policykit._input import DATE_ERROR, TERM_ERROR, InputModel, parse_input
from policykit._serial import JsonSpec, to_data
from policykit.errors import (
    EngineError,
    InvalidDateError,
    RequestValidationError,
    did_you_mean,
    short_repr,
)

if TYPE_CHECKING:
    from policykit._engine.context import AnswerContext
    from policykit._ruleset.loading import Citations, Parameters
    from policykit._ruleset.retention import DateSpec, RetentionRule, RetentionRules
    from policykit._ruleset.ruleset import RuleSet

__all__ = [
    "OBJECTION_FORMS",
    "WRITTEN_FORMS",
    "BookkeepingRecord",
    "BookkeepingStatus",
    "Dispute",
    "Reading",
    "RecordingStatus",
    "RetentionFacts",
    "RetentionOutcome",
    "RetentionVerdict",
    "SpecialCategoryItem",
    "SpecialCategoryStatus",
    "VideoInterview",
    "combine_retention",
    "compute_verdict",
    "read_facts",
]

OBJECTION_FORMS = ("email", "letter", "portal", "phone", "in_person")
WRITTEN_FORMS = frozenset({"email", "letter", "portal"})
DISPUTE_STATUSES = ("pending", "resolved")
# how explanations name the events that end consent-based retention
TRIGGER_WORDS = {
    "consent_withdrawn": "consent withdrawn",
    "objection": "written objection",
    "erasure_request": "erasure request",
    "consent_lapsed": "the review period ran out unconfirmed",
}


# ------------------------------------------------------------------------------------------------
# facts


def _date_error(message: str) -> PydanticCustomError:
    return PydanticCustomError(DATE_ERROR, "{message}", {"message": message})


def _event(value: Any) -> Any:
    """A date or an aware timestamp (ISO strings accepted); naive timestamps are refused."""
    try:
        return parse_moment(value, field="")
    except InvalidDateError as exc:
        raise _date_error(exc.message.removeprefix(": ")) from None


def _day(value: Any) -> Any:
    """A calendar date (ISO ``YYYY-MM-DD`` accepted); timestamps and other forms are refused."""
    try:
        return parse_day(value, field="")
    except InvalidDateError as exc:
        raise _date_error(exc.message.removeprefix(": ")) from None


def _events(value: Any) -> Any:
    """One date, a list of dates, or nothing."""
    if value is None:
        return ()
    if isinstance(value, (list, tuple)):
        return tuple(value)
    return (value,)


def _choice(choices: Sequence[str], what: str) -> Any:
    def check(value: Any) -> Any:
        if isinstance(value, str) and value not in choices:
            raise PydanticCustomError(
                TERM_ERROR,
                "{message}",
                {"message": f"expected {what} ({', '.join(choices)}), got {short_repr(value)}"
                 + did_you_mean(value, choices)},
            )
        return value

    return check


EventDate = Annotated[dt.date | dt.datetime, BeforeValidator(_event)]
Day = Annotated[dt.date, BeforeValidator(_day)]
ObjectionForm = Literal["email", "letter", "portal", "phone", "in_person"]
DisputeStatus = Literal["pending", "resolved"]


class Dispute(InputModel):
    """A discrimination claim, DO investigation or court case about the candidate's recruitment."""

    opened_on: Day
    status: Annotated[DisputeStatus, BeforeValidator(_choice(DISPUTE_STATUSES, "a dispute status"))]
    resolved_on: Day | None = None


class BookkeepingRecord(InputModel):
    """An accounting record that names the candidate (räkenskapsinformation): an expense refund, say.

    The retention period runs from the end of its financial year; give ``financial_year_end``, or
    ``financial_year_start`` (a 12-month financial year is assumed), or only ``dated`` (a calendar
    financial year is assumed).
    """

    type: str | None = None
    dated: Day | None = None
    financial_year_start: Day | None = None
    financial_year_end: Day | None = None


class SpecialCategoryItem(InputModel):
    """Special-category (Art. 9) data held about the candidate, e.g. a health adjustment.

    ``category`` is a free label (``health``, ``ethnic_origin``...); ``process_closed_on`` defaults to
    the facts' ``process_closed_on``.
    """

    category: str
    process_id: str | None = None
    explicit_consent: StrictBool = False
    process_closed_on: Day | None = None


class VideoInterview(InputModel):
    """A recorded video interview: the day it was held and, if so, the day the candidate withdrew consent
    to the recording (dates or timestamps with a zone)."""

    interviewed_on: EventDate
    recording_consent_withdrawn_on: EventDate | None = None


class RetentionFacts(InputModel):
    """What is known about one candidate's record: the fields of a retention question (docs/retention.md).

    Dates are ISO ``YYYY-MM-DD``; applications, withdrawals, the objection and the erasure request may
    also be ISO 8601 timestamps with a zone, which become calendar dates in ``timezone`` (default: the
    policy's). Input order never matters. ``as_of`` defaults to today in the policy's time zone.
    """

    applications: Annotated[tuple[EventDate, ...], BeforeValidator(_events)] = ()
    timezone: str | None = None
    consent_withdrawn_on: Annotated[tuple[EventDate, ...], BeforeValidator(_events)] = ()
    objection_received_on: EventDate | None = None
    objection_form: Annotated[ObjectionForm, BeforeValidator(_choice(OBJECTION_FORMS, "an objection form"))] = (
        "email"
    )
    objection_documented_in_writing_by_controller: StrictBool = False
    erasure_requested_on: EventDate | None = None
    process_closed_on: Day | None = None
    interest_confirmed_on: Annotated[tuple[EventDate, ...], BeforeValidator(_events)] = ()
    video_interviews: tuple[VideoInterview, ...] = ()
    disputes: tuple[Dispute, ...] = ()
    bookkeeping_records: tuple[BookkeepingRecord, ...] = ()
    special_category_items: tuple[SpecialCategoryItem, ...] = ()
    as_of: EventDate | None = None

    @classmethod
    def parse(cls, data: RetentionFacts | Mapping[str, Any]) -> RetentionFacts:
        """Build facts from a mapping shaped like a retention case's ``inputs``. A malformed date raises
        :class:`~policykit.errors.InvalidDateError`, an unknown term
        :class:`~policykit.errors.UnknownRequestTermError`, any other problem
        :class:`~policykit.errors.RequestValidationError`; each names the field."""
        if isinstance(data, RetentionFacts):
            return data
        return parse_input(cls, data, what="retention facts", expected="RetentionFacts")


# ------------------------------------------------------------------------------------------------
# reading the dates


@dataclass(slots=True)
class Reading:
    """The facts as read: local dates, the trigger, the window, the yes/no facts, and notes."""

    as_of: dt.date
    as_of_given: bool
    zone: str
    anchor_mode: str
    applications: tuple[dt.date, ...] = ()
    latest: dt.date | None = None
    trigger_date: dt.date | None = None
    trigger_kinds: tuple[str, ...] = ()
    superseded: tuple[tuple[dt.date, str], ...] = ()
    window_anchor: dt.date | None = None
    window_end: dt.date | None = None
    latest_activity: dt.date | None = None
    review_end: dt.date | None = None
    lapse_on: dt.date | None = None
    recordings: tuple[tuple[dt.date, dt.date | None], ...] = ()
    resolution: dt.date | None = None
    facts: dict[str, bool] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: the citation roles the notes rely on (the verdict's clauses include their clauses)
    cited: list[str] = field(default_factory=list)


def _check_not_after(day: dt.date, as_of: dt.date, where: str, given: bool) -> None:
    # judged alike whether as_of was given or defaults to today: a later event cannot be known yet
    if day > as_of:
        which = "as_of" if given else "today (as_of left out)"
        raise InvalidDateError(
            f"{where}: expected a date on or before {which} ({as_of}), got {day}: the verdict is given as of "
            f"{as_of} and cannot know later events"
        )


_KNOWN_ZONES: set[str] = set()


def read_facts(
    facts: RetentionFacts, rules: RetentionRules, params: Parameters, today: dt.date, *, cite: Citations,
    controller: str,
) -> Reading:
    """Check the facts for consistency and reduce them to dates and yes/no facts."""
    # an empty string is refused (check_zone), never taken for "no zone given"
    zone = params.timezone if facts.timezone is None else facts.timezone
    # a timestamp is the verdict's date in the policy's time zone
    as_of = today if facts.as_of is None else local_date(facts.as_of, zone, field="as_of")
    given = facts.as_of is not None
    r = Reading(as_of=as_of, as_of_given=given, zone=zone, anchor_mode=params.retention_anchor)
    if zone not in _KNOWN_ZONES:
        today_in(zone)  # an unknown zone fails here, naming the field
        _KNOWN_ZONES.add(zone)

    _read_applications(facts, r)
    triggers, oral_undocumented = _read_triggers(facts, r, cite=cite, controller=controller)
    _check_consistency(facts, r)
    counted = _settle_triggers(r, triggers, cite)
    counted = _talent_pool(facts, r, rules, params, counted)
    anchor_closed = _place_window(facts, r, rules, params)
    if rules.has_recordings:
        _read_recordings(facts, r, params)
    latest = r.latest
    pending, resolution = _disputes(facts, r, latest)
    triggered = r.trigger_date is not None
    expired = triggered and r.window_end is not None and r.trigger_date is not None and r.trigger_date > r.window_end
    if triggered and resolution is not None:
        r.resolution = resolution
    r.facts = {
        "has_applications": bool(r.applications),
        "triggered": triggered,
        "window_expired_at_trigger": expired,
        "dispute_pending": pending,
        "dispute_resolved_after_window": triggered and resolution is not None,
        "erasure_requested": "erasure_request" in {k for _, k in counted},
        "superseded_trigger": bool(r.superseded),
        "oral_objection_undocumented": oral_undocumented,
        "anchor_process_closed": anchor_closed,
        "has_bookkeeping": bool(facts.bookkeeping_records),
        "has_special_category": any(i.explicit_consent for i in facts.special_category_items),
        "special_category_without_consent": any(not i.explicit_consent for i in facts.special_category_items),
        "consent_lapsed": "consent_lapsed" in r.trigger_kinds,
        "has_recordings": bool(facts.video_interviews),
    }
    return r


def _read_applications(facts: RetentionFacts, r: Reading) -> None:
    """The application dates, as local dates, in order; the latest anchors the evidence window."""
    apps = []
    for i, a in enumerate(facts.applications):
        day = local_date(a, r.zone, field=f"applications[{i}]")
        _check_not_after(day, r.as_of, f"applications[{i}]", r.as_of_given)
        apps.append(day)
    r.applications = tuple(sorted(apps))
    r.latest = r.applications[-1] if apps else None


def _read_triggers(
    facts: RetentionFacts, r: Reading, *, cite: Citations, controller: str
) -> tuple[list[tuple[dt.date, str]], bool]:
    """The events that may end consent (withdrawals, a written objection, an erasure request), checked
    against the applications; and whether an oral objection is still undocumented."""
    zone, as_of, given = r.zone, r.as_of, r.as_of_given
    first = r.applications[0] if r.applications else None
    triggers: list[tuple[dt.date, str]] = []
    many = len(facts.consent_withdrawn_on) > 1
    for i, w in enumerate(facts.consent_withdrawn_on):
        where = f"consent_withdrawn_on[{i}]" if many else "consent_withdrawn_on"
        day = local_date(w, zone, field=where)
        _check_not_after(day, as_of, where, given)
        if first is None:
            raise RequestValidationError(
                f"applications: expected at least one application date, since {where} is given: consent is "
                f"given by applying ({cite('consent_by_applying')})"
            )
        if day < first:
            raise InvalidDateError(
                f"{where}: expected a date on or after the first application ({first}), got {day}: consent "
                f"is given by applying ({cite('consent_by_applying')}), so it cannot be withdrawn before it"
            )
        triggers.append((day, "consent_withdrawn"))

    oral_undocumented = False
    set_fields = facts.model_fields_set
    if facts.objection_received_on is None:
        # the default form (email) and an unset flag may be spelt out; anything else needs a date
        spelt = [
            name for name, value in (
                ("objection_form", facts.objection_form != "email"),
                ("objection_documented_in_writing_by_controller", facts.objection_documented_in_writing_by_controller),
            ) if value and name in set_fields
        ]
        if spelt:
            raise RequestValidationError(
                f"objection_received_on: expected the date the objection was received, since {spelt[0]} is "
                "given, found none"
            )
    else:
        day = local_date(facts.objection_received_on, zone, field="objection_received_on")
        _check_not_after(day, as_of, "objection_received_on", given)
        if first is None:
            raise RequestValidationError(
                "applications: expected at least one application date, since objection_received_on is given"
            )
        written = facts.objection_form in WRITTEN_FORMS or facts.objection_documented_in_writing_by_controller
        if written:
            triggers.append((day, "objection"))
            if facts.objection_form not in WRITTEN_FORMS:
                r.cited.append("written_objection")
                r.notes.append(
                    f"The objection of {day} was made by {facts.objection_form.replace('_', ' ')} and documented "
                    f"in writing by {controller}, so it counts as a written objection ({cite('written_objection')})."
                )
        elif r.latest is not None and day >= r.latest:
            oral_undocumented = True
            r.cited.append("written_objection")
            r.notes.append(
                f"The objection of {day} was made by {facts.objection_form.replace('_', ' ')} and has not been "
                f"documented in writing: {controller} must confirm it back in writing; until then it does not end "
                f"consent or start the evidence window ({cite('written_objection')})."
            )
        else:
            r.notes.append(
                f"The oral objection of {day} came before the latest application ({r.latest}), which renewed "
                "consent; it has no effect on retention."
            )

    if facts.erasure_requested_on is not None:
        day = local_date(facts.erasure_requested_on, zone, field="erasure_requested_on")
        _check_not_after(day, as_of, "erasure_requested_on", given)
        if first is None:
            raise RequestValidationError(
                "applications: expected at least one application date, since erasure_requested_on is given"
            )
        triggers.append((day, "erasure_request"))
    return triggers, oral_undocumented


def _check_consistency(facts: RetentionFacts, r: Reading) -> None:
    """Facts that cannot be judged together: records without an application, a process closed before it."""
    apps = r.applications
    first = apps[0] if apps else None
    if not apps and not facts.bookkeeping_records and not facts.special_category_items:
        raise RequestValidationError(
            "applications: expected at least one application date (or bookkeeping_records or "
            "special_category_items to judge on their own), found none"
        )
    if not apps and facts.disputes:
        raise RequestValidationError(
            "applications: expected at least one application date, since disputes are given: a "
            "discrimination dispute concerns a recruitment"
        )
    if facts.process_closed_on is not None and first is not None and facts.process_closed_on < first:
        raise InvalidDateError(
            f"process_closed_on: expected a date on or after the first application ({first}), got "
            f"{facts.process_closed_on}: a recruitment process cannot close before anyone applied"
        )


def _settle_triggers(r: Reading, triggers: list[tuple[dt.date, str]], cite: Citations) -> list[tuple[dt.date, str]]:
    """The trigger: the first event on or after the latest application; earlier ones are superseded."""
    latest = r.latest
    counted = sorted(t for t in triggers if latest is not None and t[0] >= latest)
    r.superseded = tuple(sorted(t for t in triggers if latest is not None and t[0] < latest))
    if counted:
        r.trigger_date = counted[0][0]
        r.trigger_kinds = tuple(dict.fromkeys(k for d, k in counted if d == r.trigger_date))
    for day, kind in r.superseded:
        r.cited.append("fresh_consent")
        r.notes.append(
            f"The {TRIGGER_WORDS[kind]} of {day} was superseded by the later application of {latest}: a new "
            f"application is fresh consent ({cite('fresh_consent')})."
        )
    return counted


def _place_window(facts: RetentionFacts, r: Reading, rules: RetentionRules, params: Parameters) -> bool:
    """Where the evidence window starts and ends; whether the process-closed date moved its start."""
    latest = r.latest
    closed = facts.process_closed_on
    anchor_closed = False
    r.window_anchor = latest
    stricter = params.retention_anchor == "latest_application_or_process_closed"
    before = params.evidence_anchor_before
    if stricter and before is not None and r.trigger_date is not None and r.trigger_date < before:
        # a transitional provision: consent that ended under an earlier version keeps its window
        stricter = False
        r.notes.append(
            f"Consent ended on {r.trigger_date}, before {before}: the evidence window keeps the anchor "
            "of the earlier version, the latest application date (transitional provision)."
        )
    if latest is not None and stricter and closed is not None and closed > latest:
        r.window_anchor = closed
        anchor_closed = True
    if latest is not None:
        r.window_end = apply_date(rules.evidence_window, {"window_anchor": r.window_anchor}, params)
    return anchor_closed


def _talent_pool(
    facts: RetentionFacts, r: Reading, rules: RetentionRules, params: Parameters, counted: list[tuple[dt.date, str]]
) -> list[tuple[dt.date, str]]:
    """The latest activity the review period counts from and, when the policy makes consent lapse after
    an unconfirmed period (parameter consent_lapses_after_review), the confirmations that restart it
    and the lapse, which ends consent like a withdrawal when it comes before every other trigger."""
    latest = r.latest
    if latest is None:
        return counted
    closed = facts.process_closed_on
    activity = max(latest, closed) if closed is not None else latest
    floor = params.review_period_from
    if floor is not None and activity < floor:
        # a transitional provision: no period of this version counts from before it existed
        r.notes.append(
            f"The review period is counted from {floor}, not from the latest activity ({activity}): this "
            f"version counts it from {floor} at the earliest (transitional provision)."
        )
        activity = floor
    period = rules.review_period
    if not params.consent_lapses_after_review or period is None:
        r.latest_activity = activity
        return counted
    explicit = r.trigger_date  # the first withdrawal, written objection or erasure request, if any
    many = len(facts.interest_confirmed_on) > 1
    confirmations = []
    for i, c in enumerate(facts.interest_confirmed_on):
        where = f"interest_confirmed_on[{i}]" if many else "interest_confirmed_on"
        day = local_date(c, r.zone, field=where)
        _check_not_after(day, r.as_of, where, r.as_of_given)
        confirmations.append(day)
    for day in sorted(set(confirmations)):
        end = apply_date(period, {"latest_activity": activity, "latest_application": latest}, params)
        if explicit is not None and day >= explicit:
            r.notes.append(
                f"The confirmation of interest of {day} came after consent had ended on {explicit}; it has no "
                "effect (only a new application renews consent)."
            )
        elif end is not None and day > end:
            r.notes.append(
                f"The confirmation of interest of {day} came after the review period had ended on {end}, when "
                "consent had already lapsed; it has no effect (only a new application renews consent)."
            )
        elif day > activity:
            r.notes.append(f"The candidate confirmed their interest on {day}: the review period runs again from then.")
            activity = day
    r.latest_activity = activity
    r.review_end = apply_date(period, {"latest_activity": activity, "latest_application": latest}, params)
    if r.review_end is None:
        return counted
    r.lapse_on = r.review_end + dt.timedelta(days=1)
    if r.lapse_on > r.as_of or (explicit is not None and explicit < r.lapse_on):
        if explicit is None:
            r.notes.append(
                f"The review period ends on {r.review_end} (inclusive): unless the candidate confirms their "
                f"interest by then, consent lapses on {r.lapse_on}."
            )
        return counted
    r.notes.append(
        f"The review period ended on {r.review_end} without a confirmation of interest, so consent lapsed on "
        f"{r.lapse_on}, whether or not a reminder was sent; the lapse is judged like a withdrawal."
    )
    if explicit == r.lapse_on:
        r.trigger_kinds = (*r.trigger_kinds, "consent_lapsed")
    else:
        r.trigger_date = r.lapse_on
        r.trigger_kinds = ("consent_lapsed",)
    return sorted([*counted, (r.lapse_on, "consent_lapsed")])


def _read_recordings(facts: RetentionFacts, r: Reading, params: Parameters) -> None:
    """The recorded interviews as local dates, checked: none before the policy allows recordings
    (parameter recordings_from) or after ``as_of``, and no withdrawal before its interview."""
    days = []
    start = params.recordings_from
    for i, item in enumerate(facts.video_interviews):
        where = f"video_interviews[{i}]"
        held = local_date(item.interviewed_on, r.zone, field=f"{where}.interviewed_on")
        _check_not_after(held, r.as_of, f"{where}.interviewed_on", r.as_of_given)
        if start is not None and held < start:
            raise InvalidDateError(
                f"{where}.interviewed_on: expected a date on or after {start}, got {held}: this version of the "
                f"policy allows recordings from {start} only"
            )
        withdrawn = None
        if item.recording_consent_withdrawn_on is not None:
            withdrawn = local_date(
                item.recording_consent_withdrawn_on, r.zone, field=f"{where}.recording_consent_withdrawn_on"
            )
            _check_not_after(withdrawn, r.as_of, f"{where}.recording_consent_withdrawn_on", r.as_of_given)
            if withdrawn < held:
                raise InvalidDateError(
                    f"{where}.recording_consent_withdrawn_on: expected a date on or after interviewed_on ({held}), "
                    f"got {withdrawn}: consent to a recording is withdrawn after the interview was recorded"
                )
        days.append((held, withdrawn))
    r.recordings = tuple(days)


def _disputes(facts: RetentionFacts, r: Reading, latest: dt.date | None) -> tuple[bool, dt.date | None]:
    """Whether a dispute is pending as of ``as_of``, and the latest resolution that kept the data past
    both the window end and the trigger."""
    pending = False
    resolution: dt.date | None = None
    for i, d in enumerate(facts.disputes):
        where = f"disputes[{i}]"
        if d.status == "resolved" and d.resolved_on is None:
            raise RequestValidationError(
                f"{where}.resolved_on: expected the date a resolved dispute was resolved, found none"
            )
        if d.status == "pending" and d.resolved_on is not None:
            raise RequestValidationError(
                f"{where}.resolved_on: expected no resolution date for a pending dispute, got {d.resolved_on}; "
                "set status: resolved"
            )
        if d.resolved_on is not None and d.resolved_on < d.opened_on:
            raise InvalidDateError(
                f"{where}.resolved_on: expected a date on or after opened_on ({d.opened_on}), got {d.resolved_on}"
            )
        if d.opened_on > r.as_of:
            r.notes.append(
                f"The dispute opened on {d.opened_on} ({where}) is after {r.as_of}, the date of the verdict, "
                "so it does not hold the record yet."
            )
            continue
        due = _due_for_anonymisation(r)
        if due is not None and d.opened_on > due[0]:
            r.notes.append(
                f"The dispute opened on {d.opened_on} ({where}) came after {due[1]} on {due[0]}: by then the "
                'data were due for anonymisation ("Därefter"), and a dispute raised afterwards does '
                "not hold or revive them (A-09, A-47)."
            )
            continue
        if d.status == "pending" or (d.resolved_on is not None and d.resolved_on > r.as_of):
            if d.status == "resolved":
                r.notes.append(
                    f"The dispute {where} is resolved only on {d.resolved_on}, after {r.as_of}: as of the "
                    "verdict it is still pending."
                )
            pending = True
            continue
        assert d.resolved_on is not None
        end = r.window_end
        if end is not None and d.resolved_on > end and (r.trigger_date is None or d.resolved_on > r.trigger_date):
            resolution = d.resolved_on if resolution is None else max(resolution, d.resolved_on)
        elif latest is not None:
            r.notes.append(
                f"The dispute {where} was resolved on {d.resolved_on}, before the record would otherwise have "
                "been released, so it does not move any date."
            )
    return pending, resolution


def _due_for_anonymisation(r: Reading) -> tuple[dt.date, str] | None:
    """The last day a dispute can still hold the record, and what ended then: the end of the evidence
    window, or, when consent ended after the window had already run out, the day consent ended (A-47).
    None while consent is in force."""
    if r.trigger_date is None or r.window_end is None:
        return None
    if r.trigger_date > r.window_end:
        return r.trigger_date, "consent ended after the evidence window had already run out"
    return r.window_end, "the evidence window ended"


# ------------------------------------------------------------------------------------------------
# dates the rules name


def apply_date(spec: DateSpec | None, anchors: Mapping[str, dt.date | None], params: Parameters) -> dt.date | None:
    """The date ``spec`` names: the earliest known of its anchors, plus years and months the Swedish
    way, plus days; ``None`` when none of its anchors is known."""
    if spec is None:
        return None
    if spec.alternatives:
        options = [d for alt in spec.alternatives if (d := apply_date(alt, anchors, params)) is not None]
        return min(options) if options else None
    known = [d for a in spec.anchors if (d := anchors.get(a)) is not None]
    if not known:
        return None
    day = min(known)
    if spec.years:
        day = add_years_sv(day, spec.years)
    months = spec.months
    if spec.months_parameter is not None:
        months += int(getattr(params, spec.months_parameter))
    if months:
        day = add_months_sv(day, months)
    day += dt.timedelta(days=spec.days)
    return next_working_day_sv(day) if spec.working_day else day


# ------------------------------------------------------------------------------------------------
# outcomes and verdicts


class RetentionOutcome:
    """What the rules say for one combination of yes/no facts; shared by every candidate with them."""

    __slots__ = ("clauses", "mode_rule", "rule_ids", "rules", "tracks")

    def __init__(self, rules: tuple[RetentionRule, ...]) -> None:
        self.rules = rules
        modes = [r for r in rules if r.decides == "mode"]
        if len(modes) != 1:  # the loader proves this cannot happen; fail closed if it does
            raise EngineError(f"expected exactly one retention mode rule to fire, got {[r.id for r in modes]}")
        self.mode_rule = modes[0]
        self.tracks: dict[str, RetentionRule] = {r.decides: r for r in rules if r.decides not in ("mode", "note")}
        self.rule_ids = tuple(r.id for r in rules)
        self.clauses = tuple(dict.fromkeys(c for r in rules for c in r.clauses))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RetentionOutcome):
            return NotImplemented
        return self.rule_ids == other.rule_ids

    def __hash__(self) -> int:
        return hash(self.rule_ids)

    def __repr__(self) -> str:
        return f"RetentionOutcome(mode={self.mode_rule.mode!r}, rule_ids={self.rule_ids})"


def combine_retention(rules: RetentionRules, fired_indexes: Iterable[int]) -> RetentionOutcome:
    """The outcome for the rules that fired (indexes into ``rules.rules``), in file order."""
    return RetentionOutcome(tuple(rules.rules[i] for i in sorted(set(fired_indexes))))


@dataclass(frozen=True, slots=True)
class BookkeepingStatus:
    """One accounting record: its financial year end, how long it is kept, and whether it is due."""

    index: int
    type: str | None
    financial_year_end: dt.date
    assumed: str | None
    retain_until: dt.date | None
    erase_on: dt.date | None
    due: bool


@dataclass(frozen=True, slots=True)
class SpecialCategoryStatus:
    """One special-category item: when it must be erased, and whether that is now."""

    index: int
    category: str
    process_id: str | None
    explicit_consent: bool
    erase_on: dt.date | None
    due: bool
    rule_id: str | None


@dataclass(frozen=True, slots=True)
class RecordingStatus:
    """One recorded interview: when the recording must be erased, and whether that is now.

    ``erase_on`` is None while a discrimination dispute pending on its erasure day keeps it
    (``held_for_dispute``)."""

    index: int
    interviewed_on: dt.date
    recording_consent_withdrawn_on: dt.date | None
    erase_on: dt.date | None
    due: bool
    held_for_dispute: bool
    rule_id: str


def _dispute_hold(disputes: Sequence[Dispute], day: dt.date, as_of: dt.date) -> tuple[dt.date | None, bool]:
    """An item due on ``day`` while a dispute known by ``as_of`` is pending is kept until every such
    dispute is resolved: the latest resolution, or None while one is still pending."""
    pending = [
        d for d in disputes
        if d.opened_on <= day and d.opened_on <= as_of
        and (d.status == "pending" or (d.resolved_on is not None and d.resolved_on > day))
    ]
    if not pending:
        return day, False
    if any(d.resolved_on is None for d in pending):
        return None, True
    return max(d.resolved_on for d in pending if d.resolved_on is not None), True


def _recordings(
    facts: RetentionFacts, reading: Reading, rule: RetentionRule | None, anchors: Mapping[str, dt.date | None],
    *, params: Parameters, notes: list[str],
) -> tuple[RecordingStatus, ...]:
    """Each recorded interview by the recording rule that fired (none fired: nothing is judged)."""
    if rule is None:
        return ()
    out = []
    for i, (held, withdrawn) in enumerate(reading.recordings):
        local = {**anchors, "interview": held, "recording_consent_withdrawn": withdrawn}
        day = apply_date(rule.erase_on, local, params)
        kept = False
        if rule.until_dispute_resolved and day is not None:
            planned = day
            day, kept = _dispute_hold(facts.disputes, planned, reading.as_of)
            if kept:
                notes.append(
                    f"Recording {i} (interview of {held}) would have been erased on {planned}, but a "
                    "discrimination dispute is pending on that day: it is kept until the dispute is resolved"
                    + (f", on {day}." if day is not None else "; no erasure date can be set yet.")
                )
        out.append(RecordingStatus(
            i, held, withdrawn, day, day is not None and reading.as_of >= day, kept, rule.id,
        ))
    return tuple(out)


def _recorded_items(
    facts: RetentionFacts, reading: Reading, outcome: RetentionOutcome, anchors: Mapping[str, dt.date | None],
    erase: list[str], *, params: Parameters, notes: list[str],
) -> tuple[tuple[RecordingStatus, ...], list[str]]:
    """The recorded items, each by its own date, and what is erased now: their category goes when one of
    them is due, not before (whatever the mode's attribute-chosen list says)."""
    rule = outcome.tracks.get("recording")
    recordings = _recordings(facts, reading, rule, anchors, params=params, notes=notes)
    if rule is not None and rule.category is not None and recordings:
        erase = [c for c in erase if c != rule.category]
        if any(rec.due for rec in recordings):
            erase.append(rule.category)
    return recordings, erase


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day is not None else None


class RetentionVerdict:
    """When a candidate's record must be anonymised, and why, citing the policy.

    The public attributes: ``retention_mode``, ``latest_application_date``, ``retain_until``
    (inclusive), ``anonymise_on`` (the first day no identifying datum may exist), ``deadline`` (the
    latest day to confirm anonymisation when it is due at once), ``permitted_purposes``, ``reasons``,
    ``clauses`` and ``explain()``. Also: ``rule_ids``, ``erase_now`` (what the rules erase at once,
    decided by the facts, plus special-category items and accounting records whose own date has come
    by ``as_of``), ``erase_on_anonymisation`` (what goes on ``anonymise_on``), ``review_on``, ``due``,
    ``legal_hold``, ``trigger_date``, ``trigger``, ``window_anchor``, ``anchor``,
    ``bookkeeping_retain_until``, ``bookkeeping``, ``special_category_erase_on``,
    ``special_category``, ``video_recording_erase_on`` (the earliest day a recorded interview must no
    longer exist; None when none is held or a pending dispute keeps it), ``video_recordings``,
    ``ambiguities``, ``as_of``, ``policy_version`` and ``to_dict()``.
    """

    __slots__ = (
        "_cited",
        "_context",
        "_reason_parts",
        "_reasons",
        "anchor",
        "anonymise_on",
        "as_of",
        "bookkeeping",
        "bookkeeping_retain_until",
        "deadline",
        "due",
        "erase_now",
        "erase_on_anonymisation",
        "facts",
        "latest_application_date",
        "legal_hold",
        "outcome",
        "parameters",
        "permitted_purposes",
        "reading",
        "retain_until",
        "retention_mode",
        "review_on",
        "special_category",
        "special_category_erase_on",
        "trigger",
        "trigger_date",
        "video_recording_erase_on",
        "video_recordings",
        "window_anchor",
    )

    retention_mode: str
    latest_application_date: dt.date | None
    retain_until: dt.date | None
    anonymise_on: dt.date | None
    deadline: dt.date | None
    review_on: dt.date | None
    permitted_purposes: tuple[str, ...]
    erase_now: tuple[str, ...]
    erase_on_anonymisation: tuple[str, ...]
    legal_hold: bool
    due: bool
    as_of: dt.date
    trigger_date: dt.date | None
    trigger: tuple[str, ...]
    window_anchor: dt.date | None
    anchor: str
    bookkeeping_retain_until: dt.date | None
    bookkeeping: tuple[BookkeepingStatus, ...]
    special_category_erase_on: dt.date | None
    special_category: tuple[SpecialCategoryStatus, ...]
    video_recording_erase_on: dt.date | None
    video_recordings: tuple[RecordingStatus, ...]
    outcome: RetentionOutcome
    _reasons: tuple[str, ...] | None
    _reason_parts: tuple[Any, ...]
    _cited: tuple[str, ...]
    reading: Reading
    facts: RetentionFacts
    parameters: Parameters
    _context: AnswerContext[RetentionVerdict]

    _JSON: ClassVar[JsonSpec] = (
        "retention_mode",
        "latest_application_date",
        "retain_until",
        "anonymise_on",
        "deadline",
        "review_on",
        "due",
        "legal_hold",
        "erase_now",
        "erase_on_anonymisation",
        "permitted_purposes",
        "trigger_date",
        "trigger",
        "anchor",
        "window_anchor",
        "bookkeeping_retain_until",
        "special_category_erase_on",
        "video_recording_erase_on",
        "reasons",
        "rule_ids",
        "clauses",
        "ambiguities",
        "as_of",
        "policy_version",
    )

    def __init__(self, **values: Any) -> None:
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"RetentionVerdict is immutable: cannot set {name!r}")

    @property
    def reasons(self) -> tuple[str, ...]:
        """Why, in plain English: the deciding reason first, then what else applies. (Worded when
        first asked, so a nightly job that only reads the dates does not pay for the text.)"""
        reasons = self._reasons
        if reasons is None:
            reasons = _word_reasons(self._reason_parts, self._context.rules.citations)
            object.__setattr__(self, "_reasons", reasons)
        return reasons

    @property
    def permitted_purposes_during_window(self) -> tuple[str, ...]:
        """The same as ``permitted_purposes`` (the worked examples' name for it)."""
        return self.permitted_purposes

    @property
    def rule_ids(self) -> tuple[str, ...]:
        """The rules that fired, in file order."""
        return self.outcome.rule_ids

    @property
    def clauses(self) -> tuple[str, ...]:
        """The clause ids behind the verdict: the rules', then those its reasons and notes rely on
        (fresh consent, a written objection, anonymisation...)."""
        base = self.outcome.clauses
        if not self._cited:
            return base
        rules = self._context.rules
        known = {c.id for c in rules.clauses}
        extra = [i for role in dict.fromkeys(self._cited) for i in rules.citations.of(role) if i in known]
        return tuple(dict.fromkeys((*base, *extra)))

    @property
    def ambiguities(self) -> tuple[str, ...]:
        """The interpretations (docs/policy/interpretations.md) the verdict relies on."""
        return tuple(dict.fromkeys(a for r in self.outcome.rules for a in r.ambiguities))

    @property
    def mode_rule(self) -> str:
        """The rule that decided the mode."""
        return self.outcome.mode_rule.id

    @property
    def policy_version(self) -> str:
        """The version of the policy that decided, e.g. ``2022-06-22``."""
        return self._context.version

    def explain(self) -> str:
        """A plain-English account: the facts as read, the rules that fired, the dates and how they were
        computed, what is erased now, and the clauses quoted."""
        return self._context.explain(self)

    def to_dict(self) -> dict[str, Any]:
        """The verdict as JSON-ready data (dates as ISO strings)."""
        return cast("dict[str, Any]", to_data(self))

    def __repr__(self) -> str:
        return (
            f"<RetentionVerdict {self.retention_mode} retain_until={_iso(self.retain_until)} "
            f"anonymise_on={_iso(self.anonymise_on)} rules={list(self.rule_ids)}>"
        )


def _fy_end(record: BookkeepingRecord, where: str) -> tuple[dt.date, str | None]:
    start, end_given = record.financial_year_start, record.financial_year_end
    if start is not None and end_given is not None and start > end_given:
        raise InvalidDateError(
                f"{where}.financial_year_end: expected a date after financial_year_start "
                f"({record.financial_year_start}), got {record.financial_year_end}"
            )
    if record.financial_year_end is not None:
        return record.financial_year_end, None
    if record.financial_year_start is not None:
        end = add_months_sv(record.financial_year_start, 12) - dt.timedelta(days=1)
        return end, f"a 12-month financial year from {record.financial_year_start} (ending {end}) was assumed"
    if record.dated is not None:
        end = dt.date(record.dated.year, 12, 31)
        return end, f"no financial year was given, so a calendar financial year (ending {end}) was assumed"
    raise RequestValidationError(
        f"{where}.financial_year_end: expected the end of the record's financial year (or its dated day), "
        "found neither"
    )


def compute_verdict(
    facts: RetentionFacts, reading: Reading, outcome: RetentionOutcome, *, rules: RuleSet, params: Parameters,
    context: AnswerContext[RetentionVerdict],
) -> RetentionVerdict:
    """Compute the dates the fired rules name and assemble the verdict."""
    retention = rules.retention
    as_of = reading.as_of
    anchors: dict[str, dt.date | None] = {  # the days a rule's dates may count from
        "latest_application": reading.latest,
        "window_anchor": reading.window_anchor,
        "trigger": reading.trigger_date,
        "resolution": reading.resolution,
        "latest_activity": reading.latest_activity,
        "as_of": as_of,
        "process_closed": facts.process_closed_on,
    }
    notes = list(reading.notes)
    cited = list(reading.cited)

    books = _bookkeeping(facts, outcome, as_of, params=params, notes=notes)
    kept = [b.retain_until for b in books if b.retain_until is not None]
    bookkeeping_until = max(kept) if kept else None
    anchors["bookkeeping_retain_until"] = bookkeeping_until

    rule = outcome.mode_rule
    retain_until = apply_date(rule.retain_until, anchors, params)
    anchors["retain_until"] = retain_until
    anonymise_on = apply_date(rule.anonymise_on, anchors, params)
    deadline = apply_date(rule.deadline, anchors, params)
    review_on = apply_date(rule.review_on, anchors, params)
    due = anonymise_on is not None and as_of >= anonymise_on

    specials = _special_items(facts, outcome, anchors, rules=rules, params=params, notes=notes, cited=cited)
    erase_dates = [s.erase_on for s in specials if s.erase_on is not None]
    special_erase_on = min(erase_dates) if erase_dates else None

    on_anonymisation = (
        () if anonymise_on is None
        else ("bookkeeping_record",) if rule.mode == "bookkeeping" else retention.anonymisation_erase.all
    )
    erase, recordings = _erase_now(facts, reading, outcome, anchors, specials=specials, books=books, params=params,
                                   notes=notes)
    recording_dates = [rec.erase_on for rec in recordings if rec.erase_on is not None]

    holds = any(r.legal_hold for r in outcome.rules)
    reason_parts = (
        rule, reading, outcome, notes, retain_until, anonymise_on, deadline, review_on, bookkeeping_until,
        due, as_of, on_anonymisation,
    )
    return RetentionVerdict(
        _context=context,
        retention_mode=rule.mode or "",
        latest_application_date=reading.latest,
        retain_until=retain_until,
        anonymise_on=anonymise_on,
        deadline=deadline,
        review_on=review_on,
        permitted_purposes=rule.permitted_purposes or (),
        erase_now=erase,
        erase_on_anonymisation=on_anonymisation,
        legal_hold=holds,
        due=due,
        as_of=as_of,
        trigger_date=reading.trigger_date,
        trigger=reading.trigger_kinds,
        window_anchor=reading.window_anchor,
        anchor=reading.anchor_mode,
        bookkeeping_retain_until=bookkeeping_until,
        bookkeeping=tuple(books),
        special_category_erase_on=special_erase_on,
        special_category=tuple(specials),
        video_recording_erase_on=min(recording_dates) if recording_dates else None,
        video_recordings=recordings,
        _reasons=None,
        _reason_parts=reason_parts,
        _cited=(*cited, *_reason_roles(rule.mode or "", reading, due)),
        outcome=outcome,
        reading=reading,
        facts=facts,
        parameters=params,
    )


def _erase_now(
    facts: RetentionFacts, reading: Reading, outcome: RetentionOutcome, anchors: Mapping[str, dt.date | None], *,
    specials: Sequence[SpecialCategoryStatus], books: Sequence[BookkeepingStatus], params: Parameters,
    notes: list[str],
) -> tuple[tuple[str, ...], tuple[RecordingStatus, ...]]:
    """What is erased at once: what the deciding rule erases (decided by the facts), plus the
    parallel tracks that are due (special-category items, recordings, accounting records); and the
    recordings, each by its own date."""
    erase: list[str] = list(outcome.mode_rule.erase_now.all)
    if any(s.due for s in specials):
        erase.append("special_category_data")
    recordings, erase = _recorded_items(facts, reading, outcome, anchors, erase, params=params, notes=notes)
    if any(b.due for b in books):
        erase.append("bookkeeping_record")
    return tuple(dict.fromkeys(erase)), recordings


def _bookkeeping(
    facts: RetentionFacts, outcome: RetentionOutcome, as_of: dt.date, *, params: Parameters, notes: list[str],
) -> list[BookkeepingStatus]:
    """The accounting records: a parallel track, each kept from the end of its own financial year
    (an assumed financial year is noted in ``notes``)."""
    books: list[BookkeepingStatus] = []
    track = outcome.tracks.get("bookkeeping")
    if track is None:
        return books
    for i, rec in enumerate(facts.bookkeeping_records):
        end, assumed = _fy_end(rec, f"bookkeeping_records[{i}]")
        year_end: dict[str, dt.date | None] = {"bfl_year_end": dt.date(end.year, 12, 31)}
        keep = apply_date(track.retain_until, year_end, params)
        drop = apply_date(track.erase_on, {"retain_until": keep}, params)
        books.append(BookkeepingStatus(i, rec.type, end, assumed, keep, drop, drop is not None and as_of >= drop))
        if assumed:
            notes.append(f"Bookkeeping record {i}: {assumed}.")
    return books


def _special_items(
    facts: RetentionFacts, outcome: RetentionOutcome, anchors: Mapping[str, dt.date | None], *, rules: RuleSet,
    params: Parameters, notes: list[str], cited: list[str],
) -> list[SpecialCategoryStatus]:
    """The special-category items, each by the rule of its track (an item kept while its process is
    open is noted in ``notes``, and its citation role added to ``cited``)."""
    as_of = anchors["as_of"]
    assert as_of is not None
    specials: list[SpecialCategoryStatus] = []
    for i, item in enumerate(facts.special_category_items):
        srule = outcome.tracks.get("special_category" if item.explicit_consent else "special_category_without_consent")
        local: dict[str, dt.date | None] = dict(anchors)
        local["process_closed"] = item.process_closed_on or facts.process_closed_on
        gone = apply_date(srule.erase_on, local, params) if srule is not None else None
        specials.append(
            SpecialCategoryStatus(
                i, item.category, item.process_id, item.explicit_consent, gone,
                gone is not None and as_of >= gone, srule.id if srule is not None else None,
            )
        )
        if srule is not None and srule.erase_on is not None and gone is None:
            cited.append("special_category_retention")
            notes.append(
                f"Special-category item {i} ({item.category}): the process has not closed, so it is kept while "
                "relevant to the process and erased when the process ends "
                f"({rules.citations('special_category_retention')})."
            )
    return specials


def _word_reasons(parts: tuple[Any, ...], cite: Citations) -> tuple[str, ...]:
    """The verdict's reasons, in plain English, from what ``compute_verdict`` kept for them."""
    (rule, reading, outcome, notes, retain_until, anonymise_on, deadline, review_on, bookkeeping_until,
     due, as_of, on_anonymisation) = parts
    reasons = [
        _lead(
            rule.mode or "", reading, retain_until=retain_until, anonymise_on=anonymise_on, deadline=deadline,
            review_on=review_on, bookkeeping_until=bookkeeping_until, cite=cite,
        )
    ]
    reasons.extend(r.title + "." for r in outcome.rules if r is not rule)
    reasons.extend(notes)
    if due:
        reasons.append(
            f"As of {as_of} the anonymisation date {anonymise_on} has come: anonymise now, erasing "
            f"{', '.join(on_anonymisation)} ({cite('anonymisation')})."
        )
    return tuple(reasons)


def _reason_roles(mode: str, r: Reading, due: bool) -> tuple[str, ...]:
    """The citation roles the reasons cite (as ``_lead`` and ``_word_reasons`` word them), known
    without wording them."""
    roles: list[str] = []
    if mode == "evidence_window":
        roles.append("evidence_then_anonymise")
    elif mode == "anonymise_now":
        if r.resolution is None:
            roles.append("anonymisation")
    elif mode not in ("legal_hold", "bookkeeping"):
        roles.append("special_category_retention" if r.latest is None else "relevance_review")
    if due:
        roles.append("anonymisation")
    return tuple(roles)


def _lead(
    mode: str, r: Reading, *, retain_until: dt.date | None, anonymise_on: dt.date | None, deadline: dt.date | None,
    review_on: dt.date | None, bookkeeping_until: dt.date | None, cite: Citations,
) -> str:
    """The deciding reason, in one sentence with the dates."""
    ended = ""
    if r.trigger_date is not None:
        kinds = " and ".join(TRIGGER_WORDS[k] for k in r.trigger_kinds)
        ended = f"Consent ended on {r.trigger_date} ({kinds}), on or after the latest application ({r.latest})"
    if mode == "evidence_window":
        return (
            f"{ended}: the record is kept as evidence until {retain_until} inclusive and anonymised on "
            f"{anonymise_on} ({cite('evidence_then_anonymise')})."
        )
    if mode == "anonymise_now":
        if r.resolution is not None:
            return (
                f"{ended}; a discrimination dispute held the record until it was resolved on {r.resolution}, "
                f"after the evidence window had ended on {retain_until}: anonymise on {anonymise_on}, "
                f"confirmed by {deadline}."
            )
        return (
            f"{ended}, after the evidence window had already ended on {retain_until}: anonymise at once, on "
            f"{anonymise_on}, confirmed by {deadline} ({cite('anonymisation')}, GDPR Art. 12(3))."
        )
    if mode == "legal_hold":
        return (
            f"{ended}, but a discrimination dispute is pending: the record is kept until it is finally "
            f"resolved (the evidence window alone would end on {retain_until}); no anonymisation date can be "
            "set yet (A-09)."
        )
    if mode == "bookkeeping":
        return (
            f"Only accounting records name the person: kept under Bokföringslagen 7 kap. 2 § until "
            f"{bookkeeping_until} inclusive and erased on {anonymise_on} (A-08)."
        )
    if r.latest is None:
        return (
            "No application is on file; only the special-category items are judged "
            f"({cite('special_category_retention')})."
        )
    return (
        f"Consent given by applying (latest application {r.latest}) is in force: the record is kept while the "
        f"candidate is of interest, with no fixed end date; review relevance by {review_on} "
        f"({cite('relevance_review')})."
    )
