"""policykit: the We Select candidate privacy policy (2022-06-22) as typed, executable, verified code.

>>> import policykit
>>> policy = policykit.load_policy()
>>> policy.decide({...}).explain()     # doctest: +SKIP
>>> policy.handle_request({...})       # doctest: +SKIP
>>> policy.redact(record, {...})       # doctest: +SKIP

See ``docs/`` for the tutorial, the how-to pages and the generated auditor pages.
"""

from policykit._disclosure import CandidateStatus, Decision, DisclosureRequest, Outcome, Recipient
from policykit._policy import Policy, load_policy
from policykit._records import Category, check_model
from policykit._redact import Redaction, WithheldField
from policykit._request_rules import RequestRule, RequestRules
from policykit._requests import DataSubjectRequest, ItemDisposition, RequestResponse
from policykit._rules import Clause, Rule, RuleSet, bundled_rules_dir, load_rules
from policykit._vocabulary import (
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
from policykit.errors import (
    DefinitionError,
    EngineError,
    PolicyKitError,
    QueryError,
)

__version__ = "0.1.0"

__all__ = [
    "CandidateStatus",
    "Category",
    "Clause",
    "DataCategory",
    "DataSubjectRequest",
    "Decision",
    "DefinitionError",
    "DisclosureRequest",
    "EngineError",
    "ItemDisposition",
    "LegalBasis",
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
    "RetentionMode",
    "Rule",
    "RuleSet",
    "Vocabulary",
    "WithheldField",
    "__version__",
    "bundled_rules_dir",
    "check_model",
    "load_policy",
    "load_rules",
]
