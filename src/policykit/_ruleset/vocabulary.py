"""The policy's vocabulary: closed sets of terms, typed.

The terms live in ``rules/vocabulary.yaml``; the enums below name the shipped terms for code that wants
autocompletion and type checking (a test keeps the two in step). Requests are validated against the
vocabulary of the policy that answers them, so an edited rules directory may add terms.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = [
    "Country",
    "DataCategory",
    "DataCategoryTerm",
    "LegalBasis",
    "LegalBasisTerm",
    "Obligation",
    "Operation",
    "OperationTerm",
    "OutOfPolicyPurposeTerm",
    "Purpose",
    "PurposeTerm",
    "ReasonCode",
    "RecipientKind",
    "RecipientKindTerm",
    "RequestOutcome",
    "RetentionMode",
    "Term",
    "Vocabulary",
    "ascii_code",
]


class Operation(StrEnum):
    """What happens to the data (docs/policy/vocabulary.md)."""

    TRANSFER = "transfer"
    DISCLOSE = "disclose"
    SHOW = "show"
    SELL = "sell"
    SHARE_AGGREGATE = "share_aggregate"


class DataCategory(StrEnum):
    """Categories of candidate data, with the clauses that list them."""

    NAME = "name"
    BIRTH_DATE = "birth_date"
    CONTACT_INFO = "contact_info"
    PHOTO = "photo"
    INTERVIEW_NOTES = "interview_notes"
    REFERENCE_NOTES = "reference_notes"
    LINKEDIN_PROFILE = "linkedin_profile"
    BACKGROUND_CHECK = "background_check"
    TEST_RESULTS = "test_results"
    APPLICATION_DOCUMENTS = "application_documents"
    SPECIAL_CATEGORY_DATA = "special_category_data"
    CRIMINAL_OFFENCE_DATA = "criminal_offence_data"
    CREDIT_INFORMATION = "credit_information"
    BOOKKEEPING_RECORD = "bookkeeping_record"
    AGGREGATED_STATISTICS = "aggregated_statistics"


class Purpose(StrEnum):
    """Purposes of processing with their stated legal bases, each with the clause of its row of the purpose table."""

    IDENTIFY_POTENTIAL_CANDIDATES = "identify_potential_candidates"
    OBTAIN_REFERENCE_STATEMENTS = "obtain_reference_statements"
    SELL_RECRUITMENT_SERVICES = "sell_recruitment_services"
    PERSONALITY_COMPETENCE_ASSESSMENT = "personality_competence_assessment"
    CANDIDATE_PORTAL_SERVICES = "candidate_portal_services"
    BOOKKEEPING = "bookkeeping"
    PRESENT_CANDIDATES_TO_CLIENTS = "present_candidates_to_clients"
    RESPOND_TO_REQUESTS = "respond_to_requests"
    STATISTICS_TARGET_GROUP_OPTIMISATION = "statistics_target_group_optimisation"
    DISCRIMINATION_DISPUTES = "discrimination_disputes"


class RecipientKind(StrEnum):
    """Kinds of recipient (docs/policy/vocabulary.md)."""

    RECRUITMENT_CLIENT = "recruitment_client"
    EXISTING_CLIENT_NO_ASSIGNMENT = "existing_client_no_assignment"
    PROSPECTIVE_CLIENT = "prospective_client"
    TEST_PROVIDER = "test_provider"
    BACKGROUND_CHECK_PROVIDER = "background_check_provider"
    CREDIT_CHECK_PROVIDER = "credit_check_provider"
    AUTHORITY = "authority"
    REFERENCE = "reference"
    SUBPROCESSOR = "subprocessor"
    OTHER_THIRD_PARTY = "other_third_party"
    DATA_SUBJECT_DESIGNATED_CONTROLLER = "data_subject_designated_controller"


class LegalBasis(StrEnum):
    """Legal bases of GDPR Art. 6(1) that the policy names."""

    CONSENT = "consent"
    CONTRACT = "contract"
    LEGAL_OBLIGATION = "legal_obligation"
    LEGITIMATE_INTEREST = "legitimate_interest"


class ReasonCode(StrEnum):
    """Why a disclosure is refused."""

    SALE_PROHIBITED = "SALE_PROHIBITED"
    NOT_ANONYMOUS = "NOT_ANONYMOUS"
    OUTSIDE_EU_EEA = "OUTSIDE_EU_EEA"
    NO_IDENTIFYING_DATA = "NO_IDENTIFYING_DATA"
    CONSENT_WITHDRAWN = "CONSENT_WITHDRAWN"
    OBJECTION = "OBJECTION"
    RECIPIENT_NOT_PERMITTED = "RECIPIENT_NOT_PERMITTED"
    TRANSFER_TO_NON_ASSIGNMENT_CLIENT_PROHIBITED = "TRANSFER_TO_NON_ASSIGNMENT_CLIENT_PROHIBITED"
    NOT_RELEVANT_TO_COMPETENCE = "NOT_RELEVANT_TO_COMPETENCE"
    NO_SPECIFIC_PROCESS_REQUIREMENT = "NO_SPECIFIC_PROCESS_REQUIREMENT"
    NO_LEGITIMATE_NEED_KUL = "NO_LEGITIMATE_NEED_KUL"
    NO_LEGAL_OBLIGATION = "NO_LEGAL_OBLIGATION"
    SPECIAL_CATEGORY_NO_EXPLICIT_CONSENT = "SPECIAL_CATEGORY_NO_EXPLICIT_CONSENT"
    SPECIAL_CATEGORY_NOT_RELEVANT = "SPECIAL_CATEGORY_NOT_RELEVANT"
    NO_ART10_BASIS = "NO_ART10_BASIS"
    MISSING_CONFIDENTIALITY_OR_DPA = "MISSING_CONFIDENTIALITY_OR_DPA"
    PURPOSE_NOT_PERMITTED = "PURPOSE_NOT_PERMITTED"
    EXCESSIVE_DATA = "EXCESSIVE_DATA"
    NO_PORTABILITY_REQUEST = "NO_PORTABILITY_REQUEST"
    NO_APPLICABLE_PERMIT = "NO_APPLICABLE_PERMIT"


class Obligation(StrEnum):
    """Duties attached to an allowed disclosure."""

    LOG_DISCLOSURE = "log_disclosure"
    RECORD_POLICY_VERSION = "record_policy_version"
    LIMIT_TO_DATA_RELEVANT_TO_ASSIGNMENT = "limit_to_data_relevant_to_assignment"
    VIEW_ONLY_NO_COPY_NO_DOWNLOAD = "view_only_no_copy_no_download"
    COMPETENCE_RELEVANT_DATA_ONLY = "competence_relevant_data_only"
    LIMIT_TO_SCOPE_OF_ORDER = "limit_to_scope_of_order"
    PROCESSING_ON_INSTRUCTIONS_ONLY = "processing_on_instructions_only"
    NO_REUSE_FOR_RECIPIENTS_OWN_PURPOSES = "no_reuse_for_recipients_own_purposes"
    IDENTIFICATION_ONLY = "identification_only"
    LIMIT_TO_SPECIFIC_PROCESS_REQUIREMENT = "limit_to_specific_process_requirement"
    FINAL_STAGE_CANDIDATES_ONLY = "final_stage_candidates_only"
    CANDIDATE_RECEIVES_CREDIT_REPORT_COPY = "candidate_receives_credit_report_copy"
    CONFIRM_ANONYMITY_TEST = "confirm_anonymity_test"
    FLAG_REPUTATIONALLY_SENSITIVE = "flag_reputationally_sensitive"
    PORTABILITY_REQUEST_ON_FILE = "portability_request_on_file"


class RetentionMode(StrEnum):
    """How a candidate's record is retained (docs/retention.md)."""

    INDEFINITE_WHILE_RELEVANT = "indefinite_while_relevant"
    EVIDENCE_WINDOW = "evidence_window"
    ANONYMISE_NOW = "anonymise_now"
    LEGAL_HOLD = "legal_hold"
    BOOKKEEPING = "bookkeeping"


class RequestOutcome(StrEnum):
    """How a data-subject request is answered (docs/requests.md)."""

    FULFIL = "fulfil"
    FULFIL_WITH_REDACTION = "fulfil_with_redaction"
    PARTIAL = "partial"
    REFUSE = "refuse"
    NOT_APPLICABLE = "not_applicable"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Term(_Frozen):
    """A term of the vocabulary with its English gloss."""

    id: str
    en: str
    sv: str | None = None
    description: str | None = None
    dpv: tuple[str, ...] = ()
    clause: str | None = None
    clauses: tuple[str, ...] = ()


class OperationTerm(Term):
    """An operation (docs/policy/vocabulary.md)."""


Identifiability = Literal["direct", "quasi", "linked", "none"]
Risk = Literal["no", "risk", "likely", "yes"]
Portability = Literal["yes_if_candidate_provided", "no", "arguable", "not_applicable"]


class DataCategoryTerm(Term):
    """A data category with its identifiability, Art. 9/10 risk and portability scope (docs/policy/vocabulary.md)."""

    identifiability: Identifiability
    art9: Risk
    art10: Risk
    portability: Portability
    identifying: bool
    free_text: bool
    evidence: bool
    contains_third_party_data: bool = False
    typical_source: tuple[str, ...] = ()


class LegalBasisTerm(Term):
    """A legal basis of GDPR Art. 6(1), with the rights it carries."""

    gdpr: str
    rights: tuple[str, ...]


class PurposeTerm(Term):
    """A purpose with its stated (and, where flagged, recommended) legal bases (docs/policy/vocabulary.md)."""

    stated_legal_bases: tuple[str, ...]
    recommended_legal_bases: tuple[str, ...] = ()
    review_note: str | None = None
    recruitment_or_sales: bool


class OutOfPolicyPurposeTerm(Term):
    """A purpose a question may name that the policy does not permit."""

    sale: bool = False


class RecipientKindTerm(Term):
    """A kind of recipient (docs/policy/vocabulary.md)."""


class Country(_Frozen):
    """An ISO 3166-1 alpha-2 country or territory."""

    code: str
    name: str
    in_eea: bool


class Vocabulary(_Frozen):
    """Every term of the policy, validated and cross-checked when the rules are loaded."""

    operations: tuple[OperationTerm, ...]
    data_categories: tuple[DataCategoryTerm, ...]
    legal_bases: tuple[LegalBasisTerm, ...]
    purposes: tuple[PurposeTerm, ...]
    out_of_policy_purposes: tuple[OutOfPolicyPurposeTerm, ...]
    recipient_kinds: tuple[RecipientKindTerm, ...]
    reason_codes: tuple[Term, ...]
    obligations: tuple[Term, ...]
    referee_identification_context: tuple[str, ...]
    retention_modes: tuple[Term, ...]
    request_outcomes: tuple[Term, ...]
    countries: tuple[Country, ...]
    country_aliases: dict[str, str]

    def ids(self, kind: str) -> tuple[str, ...]:
        """The ids of one kind of term, e.g. ``ids("data_categories")``, in file order."""
        cached = self._ids.get(kind)
        if cached is None:
            terms: tuple[Term, ...] = getattr(self, kind)
            cached = self._ids[kind] = tuple(t.id for t in terms)
        return cached

    @cached_property
    def _ids(self) -> dict[str, tuple[str, ...]]:
        return {}

    @cached_property
    def _categories(self) -> dict[str, DataCategoryTerm]:
        return {t.id: t for t in self.data_categories}

    @cached_property
    def _purposes(self) -> dict[str, PurposeTerm]:
        return {t.id: t for t in self.purposes}

    @cached_property
    def _kinds(self) -> dict[str, RecipientKindTerm]:
        return {t.id: t for t in self.recipient_kinds}

    @cached_property
    def _countries(self) -> dict[str, Country]:
        return {c.code: c for c in self.countries}

    def category(self, category_id: str) -> DataCategoryTerm:
        """The data category with this id."""
        return self._categories[category_id]

    def purpose(self, purpose_id: str) -> PurposeTerm | None:
        """The purpose with this id, or ``None`` for a purpose outside the policy."""
        return self._purposes.get(purpose_id)

    def recipient_kind(self, kind_id: str) -> RecipientKindTerm:
        """The recipient kind with this id."""
        return self._kinds[kind_id]

    def term(self, kind: str, term_id: str) -> Term:
        """Any term by its kind and id."""
        terms: tuple[Term, ...] = getattr(self, kind)
        for t in terms:
            if t.id == term_id:
                return t
        raise KeyError(term_id)

    def country(self, code: str) -> Country | None:
        """The country for an ISO code (aliases such as ``UK`` and ``EL`` accepted), or ``None``."""
        code = ascii_code(code)
        return self._countries.get(self.country_aliases.get(code, code))


def ascii_code(value: str) -> str:
    """A country or jurisdiction code as written, in upper case, with ASCII spaces around it removed;
    ``""`` (no code) for anything with a character outside ASCII. ``str.upper()`` alone folds Unicode
    ('ſe' → 'SE', 'ıs' → 'IS') and ``strip()`` removes Unicode spaces ('SE\u3000'): neither is a code."""
    if not value.isascii():
        return ""
    return value.strip(" \t").upper()
