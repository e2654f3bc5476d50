"""The fact schemas: the finite, normalised facts that rules are written over.

A question (a disclosure request, say) is reduced to these facts before any rule sees it: dates
become booleans judged as of the question's date, a country becomes "inside the EU/EEA or not", an
unknown purpose becomes ``unlisted``. Every field has a finite domain, which is what makes the
decision space enumerable (``policykit verify``) and the memo sound.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from policykit._ruleset.conditions import Field
from policykit._ruleset.vocabulary import Vocabulary

__all__ = ["OPTIONAL_FACTS", "OPTIONAL_FACT_PARAMETERS", "UNLISTED_PURPOSE", "disclosure_schema", "retention_schema"]

UNLISTED_PURPOSE = "unlisted"
_B = (False, True)


def with_words(schema: dict[str, Field], words: Mapping[str, str]) -> dict[str, Field]:
    """The schema with the policy's own words (a period, say) put into its texts: each ``{name}`` of
    ``words`` in a label, text or description becomes its value. Conditions name fields, so they are
    unaffected."""

    def fill(text: str) -> str:
        for name, value in words.items():
            text = text.replace("{" + name + "}", value)
        return text

    return {
        key: replace(f, label=fill(f.label), true_text=fill(f.true_text), false_text=fill(f.false_text),
                     description=fill(f.description))
        if "{" in f.label + f.true_text + f.false_text + f.description else f
        for key, f in schema.items()
    }


def _bool(name: str, label: str, true_text: str, false_text: str, description: str) -> Field:
    return Field(name, _B, label, true_text, false_text, description)


#: Facts a rule set may add to the standard ones by listing them under ``facts:`` in
#: ``disclosure.yaml`` (a later version of a policy asks about them; an earlier one does not). Each is
#: read from the request field of the same name, which every version accepts.
OPTIONAL_FACTS: dict[str, Field] = {
    f.name: f for f in (
        _bool("recipient.approved_by_candidate", "the referee's approval",
              "the candidate named this referee and approved contacting them in this process",
              "the candidate has not approved contacting this referee",
              "The approved_by_candidate flag of the recipient (false unless given)."),
        _bool("recipient.dpf_certified", "the Data Privacy Framework certification",
              "the recipient is in the United States and holds a valid EU-US Data Privacy Framework "
              "certification",
              "the recipient holds no valid EU-US Data Privacy Framework certification, or is not in "
              "the United States",
              "The dpf_certified flag of the recipient (false unless given), for a recipient whose "
              "country is US: the framework certifies organisations in the United States only."),
        _bool("candidate.consent_to_show_profile", "the consent to show the profile",
              "the candidate consents to having their profile shown to clients without an assignment",
              "the candidate has not consented to having their profile shown to clients without an "
              "assignment",
              "The consent_to_show_profile flag of the candidate (false unless given)."),
        _bool("candidate.placement_follow_up_open", "the follow-up period of a placement",
              "the candidate started a placed position and its follow-up period is open on as_of",
              "no placement is on file, or as_of lies outside the follow-up period of the placement",
              "candidate.placement_started_on is given and placement_started_on <= as_of <= "
              "placement_started_on + parameters.placement_follow_up_months (both days inclusive; "
              "months added as the Swedish calendar counts them). A rule set that declares this fact "
              "must set the parameter."),
        _bool("candidate.portability_request_on_file", "the candidate's portability request",
              "the candidate's own portability request naming this controller is on file",
              "no portability request of the candidate naming this controller is on file",
              "The portability_request_on_file flag of the candidate (false unless given; A-49)."),
    )
}

#: The parameter of ``policy.yaml`` each optional fact needs, when it needs one.
OPTIONAL_FACT_PARAMETERS: dict[str, str] = {
    "candidate.placement_follow_up_open": "placement_follow_up_months",
}


def disclosure_schema(vocab: Vocabulary, optional: Iterable[str] = ()) -> dict[str, Field]:
    """The fields disclosure rules may test, with their domains taken from the vocabulary, and the
    ``optional`` facts the rule set declares (in the order of :data:`OPTIONAL_FACTS`)."""
    purposes = (*vocab.ids("purposes"), *vocab.ids("out_of_policy_purposes"), UNLISTED_PURPOSE)
    fields = [
        Field("operation", vocab.ids("operations"), "the operation",
              description="What happens to the data. A showing or disclosure that leaves a copy "
              "with the recipient (receives_copy) counts as a transfer."),
        Field("purpose", purposes, "the purpose",
              description=f"The purpose of the disclosure; a purpose outside the vocabulary is "
              f"'{UNLISTED_PURPOSE}'."),
        Field("category", vocab.ids("data_categories"), "the data category",
              description="One requested data category. A rule that tests it is judged per category."),
        Field("recipient.kind", vocab.ids("recipient_kinds"), "the recipient kind"),
        _bool("recipient.in_eea", "the recipient's location",
              "the recipient is inside the EU/EEA", "the recipient is outside the EU/EEA",
              "recipient.country is in the EU/EEA (EU-27, IS, LI, NO)."),
        _bool("recipient.subprocessors_in_eea", "the recipient's sub-processors",
              "all of the recipient's sub-processors are inside the EU/EEA",
              "some of the recipient's sub-processors are outside the EU/EEA", ""),
        _bool("recipient.active_assignment", "the assignment",
              "the client has an active assignment in which the candidate is considered",
              "the client has no active assignment in which the candidate is considered", ""),
        _bool("recipient.confidentiality_undertaking", "the confidentiality undertaking",
              "a confidentiality undertaking is signed", "no confidentiality undertaking is signed", ""),
        _bool("recipient.data_agreement_signed", "the data agreement",
              "a data (processing) agreement is signed", "no data (processing) agreement is signed", ""),
        _bool("recipient.relevant_to_candidate_competence", "the relevance",
              "the client is relevant to the candidate's professional competence",
              "the client is not shown to be relevant to the candidate's professional competence", ""),
        _bool("recipient.specific_process_requirement", "the process requirement",
              "the process has a specific requirement for the check",
              "the process has no specific requirement for the check", ""),
        _bool("recipient.legitimate_need_kul", "the KUL need",
              "a legitimate need under the Credit Information Act exists",
              "no legitimate need under the Credit Information Act is shown", ""),
        _bool("recipient.legal_obligation", "the legal obligation",
              "a legal obligation compels the disclosure", "no legal obligation compels the disclosure", ""),
        Field("recipient.legal_obligation_jurisdiction", ("none", "SE", "EU", "other"),
              "the jurisdiction of the legal obligation",
              description="SE or EU; any other law is 'other'; none when no jurisdiction is given."),
        _bool("recipient.acts_as_controller", "the recipient's role",
              "the recipient acts as a controller (for its own purposes)",
              "the recipient does not say it acts as a controller",
              "recipient.role is controller. A processor or sub-processor, or no role given, is false: "
              "the kind then carries its usual role."),
        *_data_facts(),
        *_candidate_facts(),
    ]
    wanted = set(optional)
    fields.extend(f for name, f in OPTIONAL_FACTS.items() if name in wanted)
    return {f.name: f for f in fields}


def _data_facts() -> list[Field]:
    """The disclosure facts about the data disclosed."""
    return [
        _bool("data.contains_special_category", "special-category data",
              "the data include special-category (Art. 9) data",
              "the data include no special-category (Art. 9) data",
              "The contains_special_category flag of the request."),
        _bool("data.contains_criminal_data", "criminal-offence data",
              "the data include criminal-offence (Art. 10) data",
              "the data include no criminal-offence (Art. 10) data",
              "The contains_criminal_data flag of the request."),
        _bool("data.art10_statutory_basis", "the Art. 10 basis",
              "a statute allows this Art. 10 processing", "no statute allowing this Art. 10 processing is shown", ""),
        _bool("data.identifiable", "identifiability",
              "someone can be singled out in the data", "no one can be singled out in the data", ""),
        _bool("data.min_cell_size_met", "the cell size",
              "every cell has at least the minimum number of people",
              "some cell is below the minimum number of people (or the size is unknown)",
              "min_cell_size is at least the policy's aggregate_min_cell parameter."),
        _bool("data.context_beyond_identification", "the disclosed context",
              "context beyond what identifies the candidate is disclosed",
              "only identifying context is disclosed",
              "disclosed_context holds something other than the referee identification context."),
    ]


def _candidate_facts() -> list[Field]:
    """The disclosure facts about the candidate."""
    return [
        _bool("candidate.consent_withdrawn", "the candidate's consent",
              "the candidate has withdrawn consent", "the candidate's consent is in force",
              "Withdrawn on or before as_of, and not renewed by a later application."),
        _bool("candidate.objected", "the candidate's objection",
              "the candidate has objected", "the candidate has not objected",
              "A written or documented objection received on or before as_of, not superseded by a later application."),
        _bool("candidate.explicit_consent_special_category", "explicit consent",
              "the candidate gave explicit consent for special-category data",
              "the candidate gave no explicit consent for special-category data", ""),
        _bool("candidate.special_category_relevant", "the relevance of special-category data",
              "the special-category data are relevant to the process",
              "the special-category data are not shown to be relevant to the process", ""),
        _bool("candidate.anonymised", "anonymisation",
              "the candidate's record is anonymised", "the candidate's record is not anonymised", ""),
    ]


def retention_schema() -> dict[str, Field]:
    """The fields retention rules may test: yes/no facts computed from a candidate's dates.

    Python reduces the dates of a :class:`~policykit.RetentionFacts` to these booleans (which dates
    exist, which comes first, whether the evidence window had ended); the rules decide from them which
    state applies and which anchor and period govern; Python then computes the dates.
    """
    fields = [
        _bool("has_applications", "the applications",
              "the candidate has applied", "the candidate has no application on file",
              "applications holds at least one date."),
        _bool("triggered", "the end of consent",
              "consent ended after the latest application (a withdrawal, a written objection or an "
              "erasure request)",
              "consent has not ended since the latest application",
              "Some consent_withdrawn_on, written objection_received_on or erasure_requested_on is on or "
              "after the latest application date."),
        _bool("window_expired_at_trigger", "the evidence window at the trigger",
              "the {window_years}-year evidence window had already ended when consent ended",
              "consent ended within the {window_years}-year evidence window",
              "The trigger date is after retain_until (the window end, inclusive)."),
        _bool("dispute_pending", "a pending dispute",
              "a discrimination dispute is pending", "no discrimination dispute is pending",
              "Some dispute has status pending and opened_on on or before as_of and on or before the day the "
              "data became due for anonymisation (A-09, A-47)."),
        _bool("dispute_resolved_after_window", "a dispute resolved late",
              "a discrimination dispute kept the data past the evidence window and has been resolved",
              "no dispute was resolved after the evidence window",
              "Some resolved dispute has resolved_on after both the window end and the trigger date."),
        _bool("erasure_requested", "the erasure request",
              "the candidate asked for erasure after the latest application",
              "the candidate has not asked for erasure since the latest application",
              "erasure_requested_on is on or after the latest application (A-10)."),
        _bool("superseded_trigger", "a superseded end of consent",
              "an earlier withdrawal, objection or erasure request was superseded by a later application",
              "no end of consent was superseded by a later application",
              "Some trigger date is before the latest application date (A-06 ii)."),
        _bool("oral_objection_undocumented", "an oral objection",
              "an oral objection has not been documented in writing",
              "no undocumented oral objection is on file",
              "objection_form is phone or in_person and objection_documented_in_writing_by_controller is "
              "false (A-03)."),
        _bool("anchor_process_closed", "the window anchor",
              "the evidence window runs from the process-closed date",
              "the evidence window runs from the latest application date",
              "The anchor parameter is latest_application_or_process_closed and process_closed_on is after "
              "the latest application (A-04)."),
        _bool("has_bookkeeping", "bookkeeping records",
              "accounting records name the candidate", "no accounting record names the candidate",
              "bookkeeping_records holds at least one record (A-08)."),
        _bool("has_special_category", "special-category data held with consent",
              "special-category data are held with the candidate's explicit consent",
              "no special-category data are held with explicit consent",
              "Some special_category_items entry has explicit_consent true (A-20)."),
        _bool("special_category_without_consent", "special-category data without consent",
              "special-category data are held without explicit consent",
              "no special-category data are held without explicit consent",
              "Some special_category_items entry has explicit_consent false (A-19)."),
        _bool("consent_lapsed", "a lapse of consent",
              "consent lapsed because the review period ran out without a confirmation of interest",
              "consent has not lapsed",
              "The policy makes consent lapse the day after review_on (parameter consent_lapses_after_review), "
              "that day is on or before as_of, and no other trigger came earlier."),
        _bool("has_recordings", "recordings",
              "recordings of interviews are held", "no recording of an interview is held",
              "video_interviews holds at least one recorded interview (judged only by a policy version "
              "whose rules have a recording rule)."),
    ]
    return {f.name: f for f in fields}
