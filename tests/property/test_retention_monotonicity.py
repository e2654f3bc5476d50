"""More retention properties, over the public ``retention_facts()`` strategy: a dispute only delays,
a fresh application renews consent, and how a timestamp is written does not matter."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

import policykit
from policykit.testing import retention_facts

POLICY = policykit.load_policy()
DAYS = st.dates(min_value=dt.date(2015, 1, 1), max_value=dt.date(2035, 12, 31))


def _raw(facts: policykit.RetentionFacts) -> dict[str, Any]:
    return facts.model_dump(mode="json")


@given(retention_facts(as_of="2040-01-01"), DAYS)
def test_a_pending_dispute_never_brings_anonymisation_forward(facts: policykit.RetentionFacts, opened: dt.date) -> None:
    """A discrimination claim can only keep data longer (legal hold, A-09), never shorten the window."""
    raw = _raw(facts)
    before = POLICY.retention(raw)
    after = POLICY.retention({**raw, "disputes": [*raw["disputes"], {"opened_on": opened.isoformat(),
                                                                       "status": "pending"}]})
    if after.anonymise_on is not None:
        assert before.anonymise_on is not None
        assert after.anonymise_on >= before.anonymise_on


@given(retention_facts(as_of="2045-01-01"))
def test_an_application_after_every_withdrawal_renews_consent(facts: policykit.RetentionFacts) -> None:
    """Applying again after every withdrawal, objection and erasure request is fresh consent
    (P-INTRO-3, A-06 ii): the candidate is active again, with no fixed anonymisation date."""
    raw = _raw(facts)
    triggers = [d for d in (*raw["consent_withdrawn_on"], raw["objection_received_on"], raw["erasure_requested_on"]) if d]
    latest = max([*(a[:10] for a in raw["applications"]), *triggers])
    fresh = (dt.date.fromisoformat(latest) + dt.timedelta(days=1)).isoformat()
    verdict = POLICY.retention({**raw, "applications": [*raw["applications"], fresh]})
    assert verdict.retention_mode == "indefinite_while_relevant"
    assert verdict.anonymise_on is None


@given(retention_facts(), st.sampled_from(["+01:00", "+02:00", "-05:00", "+09:30"]))
def test_the_zone_a_timestamp_is_written_in_does_not_matter(facts: policykit.RetentionFacts, offset: str) -> None:
    """The same instants written with another UTC offset give the same verdict."""
    raw = _raw(facts)
    moved = []
    for a in raw["applications"]:
        if "T" not in a:
            moved.append(a)
            continue
        instant = dt.datetime.fromisoformat(a.replace("Z", "+00:00"))
        sign = 1 if offset[0] == "+" else -1
        hours, minutes = int(offset[1:3]), int(offset[4:6])
        zone = dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))
        moved.append(instant.astimezone(zone).isoformat())
    a, b = POLICY.retention(raw), POLICY.retention({**raw, "applications": moved})
    assert (a.retention_mode, a.latest_application_date, a.retain_until, a.anonymise_on, a.rule_ids) == (
        b.retention_mode, b.latest_application_date, b.retain_until, b.anonymise_on, b.rule_ids)
