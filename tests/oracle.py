"""An independent normaliser: a disclosure request reduced to the facts the rules test, written
separately from policykit's own (``policykit._disclosure.decision.Normaliser``) from the documented meaning of
each field and the policy text, with its own tables of countries and jurisdictions.

The reference evaluator (``policykit._disclosure.reference``) judges the rules from facts; in the tests it takes
them from here, so a normalisation bug in policykit (a country on the wrong side of the EU/EEA border,
Norwegian law counted as EU law, a same-day withdrawal treated as superseded) is a disagreement
between the engine and the reference instead of a bug both share. Only the vocabulary ids (which
purposes exist, the referee context) and the aggregate cell size are read from the rule files; they
are data, not logic.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml

from policykit import DisclosureRequest, Policy
from policykit._disclosure.decision import Outcome
from policykit._disclosure.reference import ReferenceEvaluator

__all__ = [
    "EEA",
    "ISO_3166_ALPHA_2",
    "oracle_facts",
    "oracle_jurisdiction",
    "oracle_outcome",
    "stockholm_day",
]

# every ISO 3166-1 alpha-2 code in use (249: states and territories), as CLDR lists them
ISO_3166_ALPHA_2 = frozenset(["AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ", "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS", "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN", "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE", "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF", "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM", "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM", "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC", "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK", "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA", "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG", "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW", "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS", "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO", "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI", "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW"])

# the 27 member states of the EU
EU = frozenset(["AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE"])
# the EFTA states in the EEA Agreement (Switzerland is not)
EFTA_EEA = frozenset({"IS", "LI", "NO"})
# parts of the EU that ISO 3166 codes on their own: Åland (Finland) and the outermost regions of
# Art. 349 TFEU that have a code (French Guiana, Guadeloupe, Martinique, Réunion, Mayotte,
# Saint-Martin). The overseas countries and territories (Saint-Barthélemy since 2012, Greenland, New
# Caledonia, French Polynesia, ...), the Faroes, Svalbard and Jan Mayen, Bouvet Island, Gibraltar,
# the Crown dependencies and Monaco, San Marino, Andorra and the Vatican are outside.
EU_TERRITORIES = frozenset({"AX", "GF", "GP", "MQ", "RE", "YT", "MF"})
EEA = EU | EFTA_EEA | EU_TERRITORIES
# other spellings in use: EL (the EU's code for Greece), UK (reserved by ISO for the United Kingdom)
ALIASES = {"EL": "GR", "UK": "GB"}

def _rules_dir(policy: Policy) -> Path:
    return Path(policy.rules.directory)


def _vocabulary(policy: Policy) -> dict[str, Any]:
    cached = _VOCAB.get(id(policy))
    if cached is None or cached[0] is not policy:
        directory = _rules_dir(policy)
        vocab = yaml.safe_load((directory / "vocabulary.yaml").read_text(encoding="utf-8"))
        params = yaml.safe_load((directory / "policy.yaml").read_text(encoding="utf-8"))["parameters"]
        cached = (policy, {
            "purposes": {p["id"] for p in vocab["purposes"]} | {p["id"] for p in vocab["out_of_policy_purposes"]},
            "context": set(vocab["referee_identification_context"]),
            "min_cell": int(params["aggregate_min_cell"]),
        })
        _VOCAB[id(policy)] = cached
    return cached[1]


_VOCAB: dict[int, tuple[Policy, dict[str, Any]]] = {}


def in_eea(country: str) -> bool:
    """Whether a recipient in ``country`` (a code as the caller wrote it) is inside the EU/EEA."""
    code = country.strip().upper()
    return ALIASES.get(code, code) in EEA


def oracle_jurisdiction(value: str | None) -> str:
    """Whose law compels: ``SE`` (Swedish law) and ``EU`` (Union law) count as such; the law of any
    other state, the EEA EFTA states' included (their law is not Union law), is ``other``; nothing
    given is ``none``."""
    if value is None or value.strip() == "":
        return "none"
    code = value.strip().upper()
    if code == "SE":
        return "SE"
    if code == "EU":
        return "EU"
    return "other"


def _in_force(given: bool, on: dt.date | None, as_of: dt.date, applied: dt.date | None) -> bool:
    """A withdrawal or objection is in force as of ``as_of`` when it was given, its date (if any) is
    not after ``as_of``, and no application made strictly after it, and by ``as_of``, renewed consent.
    On the same day as an application it stands: only a later application is fresh consent."""
    if not given:
        return False
    if on is None:
        return True
    if as_of < on:
        return False
    renewed = applied is not None and on < applied <= as_of
    return not renewed


def oracle_facts(policy: Policy, request: DisclosureRequest, today: dt.date) -> dict[str, Any]:
    """The facts of a request (keyed by field name, without ``category``) as of ``request.as_of`` or,
    when that is not given, ``today``."""
    vocab = _vocabulary(policy)
    r = request.recipient
    c = request.candidate
    as_of = request.as_of if request.as_of is not None else today
    operation = request.operation
    if operation in {"show", "disclose"} and r.receives_copy is True:
        operation = "transfer"  # a copy stays with the recipient
    return {
        "operation": operation,
        "purpose": request.purpose if request.purpose in vocab["purposes"] else "unlisted",
        "recipient.kind": r.kind,
        "recipient.in_eea": in_eea(r.country),
        "recipient.subprocessors_in_eea": r.subprocessors_in_eea,
        "recipient.active_assignment": r.active_assignment,
        "recipient.confidentiality_undertaking": r.confidentiality_undertaking,
        "recipient.data_agreement_signed": r.data_agreement_signed,
        "recipient.relevant_to_candidate_competence": r.relevant_to_candidate_competence,
        "recipient.specific_process_requirement": r.specific_process_requirement,
        "recipient.legitimate_need_kul": r.legitimate_need_kul,
        "recipient.legal_obligation": r.legal_obligation,
        "recipient.legal_obligation_jurisdiction": oracle_jurisdiction(r.legal_obligation_jurisdiction),
        "recipient.acts_as_controller": r.role == "controller",
        "data.contains_special_category": request.contains_special_category,
        "data.contains_criminal_data": request.contains_criminal_data,
        "data.art10_statutory_basis": request.art10_statutory_basis,
        "data.identifiable": request.identifiable,
        "data.min_cell_size_met": request.min_cell_size is not None and request.min_cell_size >= vocab["min_cell"],
        "data.context_beyond_identification": not set(request.disclosed_context) <= vocab["context"],
        "candidate.consent_withdrawn": _in_force(
            c.consent_status == "withdrawn" or c.consent_withdrawn_on is not None,
            c.consent_withdrawn_on, as_of, c.latest_application,
        ),
        "candidate.objected": _in_force(
            c.objection_in_writing or c.objection_received_on is not None,
            c.objection_received_on, as_of, c.latest_application,
        ),
        "candidate.explicit_consent_special_category": c.explicit_consent_special_category,
        "candidate.special_category_relevant": c.special_category_relevant,
        "candidate.anonymised": c.anonymised,
        # optional facts: a rule set that declares one reads it from the request field of its name
        **({"candidate.portability_request_on_file": c.portability_request_on_file}
           if "candidate.portability_request_on_file" in policy.rules.disclosure.facts else {}),
    }


def oracle_outcome(policy: Policy, request: DisclosureRequest, today: dt.date | None = None) -> Outcome:
    """What the rules say about ``request``: the reference evaluator (plain Python, rule by rule) on
    the facts of this module. ``today`` defaults to the policy's today."""
    day = policy.today() if today is None else today
    facts = oracle_facts(policy, request, day)
    return _reference(policy).outcome(facts, tuple(dict.fromkeys(request.data_categories)))


_REFERENCES: dict[int, tuple[Policy, ReferenceEvaluator]] = {}


def _reference(policy: Policy) -> ReferenceEvaluator:
    got = _REFERENCES.get(id(policy))
    if got is None or got[0] is not policy:
        got = (policy, ReferenceEvaluator(policy.rules))
        _REFERENCES[id(policy)] = got
    return got[1]


def stockholm_day(instant: dt.datetime) -> dt.date:
    """The Stockholm calendar day of an aware instant, by the rule of the Swedish summer-time
    ordinance (SFS 1996:2), written out instead of read from a zone database: UTC+1, and UTC+2 from
    01:00 UTC on the last Sunday of March until 01:00 UTC on the last Sunday of October."""
    utc = instant.astimezone(dt.UTC)

    def last_sunday(month: int) -> dt.datetime:
        day = dt.date(utc.year, month, 31)
        day -= dt.timedelta(days=(day.weekday() + 1) % 7)
        return dt.datetime(day.year, day.month, day.day, 1, tzinfo=dt.UTC)

    summer = last_sunday(3) <= utc < last_sunday(10)
    return (utc + dt.timedelta(hours=2 if summer else 1)).date()
