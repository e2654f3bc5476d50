"""The other engines of the comparison: Cedar (cedarpy) and Casbin (pycasbin), each given the
disclosure rules of the workload's context shape in its own language (``benchmarks/policies/``).

Each engine gets its best documented usage: Cedar's policies and (empty) entities are parsed once
into reusable handles; Casbin's model and policy are loaded once into one enforcer. Requests are
built from a :class:`~benchmarks.workload.Question` by projecting its fields; no policy logic lives
in this module. Both are optional (the ``bench`` extra): importing this module does not import them.
"""

from __future__ import annotations

import functools
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from benchmarks.workload import Question

__all__ = ["POLICIES", "CasbinDisclosure", "CedarDisclosure"]

POLICIES = Path(__file__).resolve().parent / "policies"


class CedarDisclosure:
    """The disclosure rules as Cedar policies (``disclosure.cedar``), asked through cedarpy."""

    def __init__(self, policy_file: Path = POLICIES / "disclosure.cedar") -> None:
        import cedarpy

        self._cedarpy = cedarpy
        self.policy_text = policy_file.read_text(encoding="utf-8")
        self.policies = cedarpy.PolicySet.from_str(self.policy_text)
        self.entities = cedarpy.Entities.from_json_str("[]")
        self.version = _version("cedarpy")

    @staticmethod
    def request(q: Question) -> dict[str, Any]:
        """The question as a Cedar request (principal, action, resource, context)."""
        return {
            "principal": f'RecipientKind::"{q.kind}"',
            "action": f'Action::"{q.operation}"',
            "resource": f'DataCategory::"{q.category}"',
            "context": {
                "purpose": q.purpose,
                "recipient": {
                    "country": q.country,
                    "active_assignment": q.active_assignment,
                    "confidentiality_undertaking": q.agreements,
                    "data_agreement_signed": q.agreements,
                    "relevant_to_candidate_competence": q.relevant,
                    "specific_process_requirement": q.requirement,
                    "legitimate_need_kul": q.kul_need,
                    "legal_obligation": q.obligation != "none",
                    "legal_obligation_jurisdiction": "" if q.obligation == "none" else q.obligation,
                },
            },
        }

    def is_authorized(self, request: dict[str, Any]) -> Any:
        """Cedar's answer for one request (a ``cedarpy.AuthzResult``)."""
        return self._cedarpy.is_authorized(request, self.policies, self.entities)

    def is_authorized_batch(self, requests: list[dict[str, Any]]) -> list[Any]:
        """Cedar's answers for many requests in one call."""
        return self._cedarpy.is_authorized_batch(requests, self.policies, self.entities)

    def explain(self, request: dict[str, Any]) -> tuple[bool, frozenset[str]]:
        """Whether Cedar allows the request, and the ids of the policies that decided it: the
        satisfied forbids of a deny, or the satisfied permits of an allow. Errors raise."""
        result = self.is_authorized(request)
        diagnostics = result.diagnostics
        if diagnostics.errors:
            raise RuntimeError(f"Cedar reported errors for {request}: {diagnostics.errors}")
        names = diagnostics.id_annotations_by_reason
        return bool(result.allowed), frozenset(names.get(r, r) for r in diagnostics.reasons)


@functools.cache
def _pattern(pattern: str) -> tuple[bool, frozenset[str]]:
    if pattern == "*":
        return True, frozenset()
    negated = pattern.startswith("!")
    return negated, frozenset(pattern.removeprefix("!").split("|"))


def set_match(value: str, pattern: str) -> bool:
    """The ``setMatch`` matcher function: ``*`` matches anything, ``a|b`` any of the values listed,
    ``!a|b`` anything else."""
    negated, values = _pattern(pattern)
    return (value in values) != negated


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


class CasbinDisclosure:
    """The disclosure rules as a Casbin model and policy table, asked through pycasbin."""

    def __init__(
        self,
        model_file: Path = POLICIES / "casbin_model.conf",
        policy_file: Path = POLICIES / "casbin_policy.csv",
    ) -> None:
        import casbin

        self.enforcer = casbin.Enforcer(str(model_file), str(policy_file))
        self.enforcer.add_function("setMatch", set_match)
        self.version = _version("pycasbin")

    @staticmethod
    def request(q: Question) -> tuple[str, ...]:
        """The question as a Casbin request (the values of the model's ``r``, in order)."""
        return (
            q.kind,
            q.category,
            q.operation,
            q.purpose,
            q.country,
            _yes(q.active_assignment),
            _yes(q.agreements),
            _yes(q.agreements),
            _yes(q.relevant),
            _yes(q.requirement),
            _yes(q.kul_need),
            q.obligation,
        )

    def enforce(self, request: tuple[str, ...]) -> bool:
        """Casbin's answer for one request."""
        return bool(self.enforcer.enforce(*request))

    def explain(self, request: tuple[str, ...]) -> tuple[bool, str | None]:
        """Whether Casbin allows the request, and the rule of the row that decided it: the first deny
        row matched, or for an allow the last allow row matched (``None`` when no row matched)."""
        allowed, row = self.enforcer.enforce_ex(*request)
        return bool(allowed), (row[0] if row else None)


def _version(distribution: str) -> str:
    try:
        return version(distribution)
    except PackageNotFoundError:  # pragma: no cover - installed without metadata
        return "unknown"
