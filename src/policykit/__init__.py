"""policykit: a candidate privacy policy as typed, executable, verified code (the bundled rules: ``rules/``).

>>> import policykit
>>> policy = policykit.load_policy()
>>> policy.decide({...}).explain()     # doctest: +SKIP
>>> policy.retention({"applications": ["2023-12-31"], "consent_withdrawn_on": "2024-04-02"}).anonymise_on
datetime.date(2026, 1, 1)
>>> policy.handle_request({...})       # doctest: +SKIP
>>> policy.redact(record, {...})       # doctest: +SKIP

See ``docs/`` for the tutorial, the how-to pages and the generated auditor pages.
"""

from policykit._disclosure.decision import CandidateStatus, Decision, DisclosureRequest, Outcome, Recipient
from policykit._input import Limits
from policykit._policy import Policy, load_policy
from policykit._records.annotations import Category, check_model
from policykit._records.anonymise import AnonymisationReport, Anonymised, FieldAction
from policykit._records.redact import Redaction, WithheldField
from policykit._requests.response import DataSubjectRequest, ItemDisposition, RequestResponse
from policykit._retention.verdict import (
    BookkeepingRecord,
    BookkeepingStatus,
    Dispute,
    RetentionFacts,
    RetentionVerdict,
    SpecialCategoryItem,
    SpecialCategoryStatus,
)
from policykit._ruleset.loading import Clause, Rule
from policykit._ruleset.requests import RequestRule, RequestRules
from policykit._ruleset.ruleset import RuleSet, bundled_rules_dir, load_rules
from policykit._ruleset.vocabulary import (
    DataCategory,
    LegalBasis,
    Obligation,
    Operation,
    Purpose,
    ReasonCode,
    RecipientKind,
    RequestOutcome,
    RetentionMode,
    Vocabulary,
)
from policykit._sweep.job import sweep
from policykit._sweep.mapping import SweepMapping, load_mapping
from policykit._sweep.report import CandidateAction, SweepProblem, SweepProgress, SweepReport
from policykit.errors import (
    DecisionLogError,
    DefinitionError,
    EngineError,
    InputTooLargeError,
    InternalError,
    InvalidDateError,
    PolicyKitError,
    QueryError,
)
from policykit.log import DecisionLog

__version__ = "0.1.0"

__all__ = [
    "AnonymisationReport",
    "Anonymised",
    "BookkeepingRecord",
    "BookkeepingStatus",
    "CandidateAction",
    "CandidateStatus",
    "Category",
    "Clause",
    "DataCategory",
    "DataSubjectRequest",
    "Decision",
    "DecisionLog",
    "DecisionLogError",
    "DefinitionError",
    "DisclosureRequest",
    "Dispute",
    "EngineError",
    "FieldAction",
    "InputTooLargeError",
    "InternalError",
    "InvalidDateError",
    "ItemDisposition",
    "LegalBasis",
    "Limits",
    "Obligation",
    "Operation",
    "Outcome",
    "Policy",
    "PolicyKitError",
    "Purpose",
    "QueryError",
    "ReasonCode",
    "Recipient",
    "RecipientKind",
    "Redaction",
    "RequestOutcome",
    "RequestResponse",
    "RequestRule",
    "RequestRules",
    "RetentionFacts",
    "RetentionMode",
    "RetentionVerdict",
    "Rule",
    "RuleSet",
    "SpecialCategoryItem",
    "SpecialCategoryStatus",
    "SweepMapping",
    "SweepProblem",
    "SweepProgress",
    "SweepReport",
    "Vocabulary",
    "WithheldField",
    "__version__",
    "bundled_rules_dir",
    "check_model",
    "load_mapping",
    "load_policy",
    "load_rules",
    "sweep",
]
