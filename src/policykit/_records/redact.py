"""Field-level redaction of users' own records before data leave (``Policy.redact``).

A service holds candidate records as its own pydantic models, each field annotated with the data
category it holds (``policykit.Category``, see ``_records.annotations``). To send a record somewhere it asks the
policy to cut it down to what may go:

1. the categories the record holds (fields with a non-empty value) become the ``data_categories`` of
   one disclosure request, built from the recipient, purpose, operation and context the caller gives
   (any ``data_categories`` the caller gives are ignored: the record says what would leave);
2. ``Policy.decide`` answers it, per category (``Decision.by_category``);
3. every field whose category may go is kept; every other field is withheld.

A withheld field becomes ``None`` where the model allows ``None``, an empty collection where it is a
list, tuple, set or mapping, and is otherwise left out. A nested model all of whose data are withheld
is withheld as a whole (``None`` where allowed, removed from lists). The record itself is never
modified: ``Redaction.data`` is a JSON-ready copy, and ``Redaction.record`` a new instance of the same
model, or ``None`` when a withheld field is one the model requires (the JSON copy then simply lacks
it). Each withheld field is reported with its category, the reason code and rule that keep it back,
and the clauses behind them. What is released carries its duties: ``Redaction.obligations`` are the
obligations of the permits that release the categories kept (``log_disclosure`` and the rest), also
when other fields were withheld.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Union, cast, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import to_jsonable_python

from policykit._disclosure.decision import Decision, DisclosureRequest, check_terms
from policykit._records.annotations import check_model, iter_fields
from policykit._serial import JsonSpec, to_data
from policykit.errors import AnnotationError, RequestValidationError

if TYPE_CHECKING:
    from policykit._ruleset.ruleset import RuleSet

__all__ = ["Decider", "Redaction", "WithheldField", "held_categories", "is_empty", "redact_record"]


class Decider(Protocol):
    """What redaction asks of a policy: its rule set, and a disclosure decision."""

    @property
    def rules(self) -> RuleSet: ...

    def decide(self, request: DisclosureRequest) -> Decision: ...


def is_empty(value: Any) -> bool:
    """Whether a field holds no data: ``None``, an empty string, bytes or collection."""
    if value is None:
        return True
    if isinstance(value, (str, bytes, list, tuple, set, frozenset, dict)):
        return len(value) == 0
    return False


def held_categories(record: BaseModel, categories: tuple[str, ...]) -> tuple[str, ...]:
    """The categories of the record's fields that hold data, in vocabulary order."""
    held = {spec.category.id for _, spec, value in iter_fields(record) if spec.category and not is_empty(value)}
    return tuple(c for c in categories if c in held)


@dataclass(frozen=True, slots=True)
class WithheldField:
    """A field kept back from a redacted record, and why."""

    path: str
    category: str
    reason: str
    rule_id: str | None
    clauses: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """The withheld field as JSON-ready data: its fields, in order."""
        return cast("dict[str, Any]", to_data(self))


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class Redaction:
    """A record cut down to what may go: ``data`` (JSON-ready), ``record`` (a new model instance, or
    ``None`` when a required field was withheld), ``decision`` (the per-category ``Decision`` behind
    it, or ``None`` when the record holds no data), ``withheld`` (what was kept back, and why) and
    ``obligations`` (the duties that come with what is released)."""

    record: BaseModel | None
    data: dict[str, Any]
    decision: Decision | None
    withheld: tuple[WithheldField, ...]

    _JSON: ClassVar[JsonSpec] = ("data", "released_categories", "obligations", "withheld", "decision")

    @property
    def complete(self) -> bool:
        """Whether nothing was withheld."""
        return not self.withheld

    @property
    def released_categories(self) -> tuple[str, ...]:
        """The categories of the record's data that may go (vocabulary order)."""
        if self.decision is None:
            return ()
        return tuple(c for c, ok in self.decision.by_category.items() if ok)

    @property
    def obligations(self) -> tuple[str, ...]:
        """The duties that come with the released data: those of the permits that release their
        categories (empty when nothing is released, or the record holds no data)."""
        return self.decision.obligations if self.decision is not None else ()

    @property
    def withheld_categories(self) -> tuple[str, ...]:
        """The categories of the withheld fields."""
        return tuple(dict.fromkeys(w.category for w in self.withheld))

    def to_dict(self) -> dict[str, Any]:
        """The redaction as JSON-ready data: the data that may go, the duties that come with them, what
        was withheld, the decision."""
        return cast("dict[str, Any]", to_data(self))

    def __repr__(self) -> str:
        return f"<Redaction withheld={[w.path for w in self.withheld]}>"


# ------------------------------------------------------------------------------------------------


class _Drop:
    """Marker: leave the field out."""


_DROP = _Drop()


def _unwrap(annotation: Any) -> Any:
    while get_origin(annotation) is typing.Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def _replacement(info: FieldInfo) -> Any:
    """What a withheld field becomes: ``None``, an empty collection, or nothing."""
    annotation = _unwrap(info.annotation)
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType) and type(None) in get_args(annotation):
        return None
    if origin in (list, tuple, set, frozenset, dict):
        return origin()
    if annotation in (list, tuple, set, frozenset, dict):
        return annotation()
    return _DROP


class _Walker:
    def __init__(self, decision: Decision, rules: RuleSet) -> None:
        self.allowed = decision.by_category
        self.decision = decision
        self.rules = rules
        self.withheld: list[WithheldField] = []

    def withhold(self, path: str, category: str) -> None:
        reasons = self.decision.category_reasons.get(category, ())
        rule_ids = self.decision.category_rules.get(category, ())
        # with no forbid, no rule permits the category: the default deny, under the general prohibition
        clauses = (
            self.rules.disclosure.rule(rule_ids[0]).clauses if rule_ids else self.rules.citations.of("default_deny")
        )
        self.withheld.append(
            WithheldField(
                path=path,
                category=category,
                reason=reasons[0] if reasons else "NO_APPLICABLE_PERMIT",
                rule_id=rule_ids[0] if rule_ids else None,
                clauses=tuple(clauses),
            )
        )

    def model(self, record: BaseModel, prefix: str) -> tuple[dict[str, Any], bool, bool]:
        """The redacted fields of ``record``: ``(fields, kept_any_data, withheld_any)``."""
        out: dict[str, Any] = {}
        kept = withheld = False
        fields = type(record).model_fields
        for spec in check_model(type(record)):
            value = getattr(record, spec.name)
            path = f"{prefix}{spec.name}"
            if spec.is_leaf:
                assert spec.category is not None
                if is_empty(value) or self.allowed.get(spec.category.id, False):
                    out[spec.name] = value
                    kept = kept or not is_empty(value)
                    continue
                self.withhold(path, spec.category.id)
                withheld = True
                replacement = _replacement(fields[spec.name])
                if replacement is not _DROP:
                    out[spec.name] = replacement
            elif value is None:
                out[spec.name] = None
            elif spec.many:
                items = []
                for i, item in enumerate(value):
                    sub, sub_kept, sub_withheld = self.model(item, f"{path}[{i}].")
                    withheld = withheld or sub_withheld
                    if sub_withheld and not sub_kept:
                        continue  # every datum of the item is withheld: the item goes
                    items.append(sub)
                    kept = kept or sub_kept
                out[spec.name] = items
            else:
                sub, sub_kept, sub_withheld = self.model(value, f"{path}.")
                withheld = withheld or sub_withheld
                kept = kept or sub_kept
                if sub_withheld and not sub_kept:
                    replacement = _replacement(fields[spec.name])
                    if replacement is not _DROP:
                        out[spec.name] = replacement
                    continue
                out[spec.name] = sub
        return out, kept, withheld


def _request(request: DisclosureRequest | Mapping[str, Any], categories: tuple[str, ...],
             timezone: str) -> DisclosureRequest:
    """The request with the record's categories; a timestamp ``as_of`` becomes its date in
    ``timezone`` (the policy's), as in a disclosure question."""
    if isinstance(request, DisclosureRequest):
        return request.model_copy(update={"data_categories": categories})
    if not isinstance(request, Mapping):
        raise RequestValidationError(
            f"expected a DisclosureRequest or a mapping of its fields, got {type(request).__name__}"
        )
    return DisclosureRequest.parse({**request, "data_categories": categories}, timezone=timezone)


def redact_record(policy: Decider, record: BaseModel, request: DisclosureRequest | Mapping[str, Any]) -> Redaction:
    """Cut ``record`` down to the fields whose categories may go under ``request`` (see the module)."""
    if not isinstance(record, BaseModel):
        raise AnnotationError(f"expected an instance of a pydantic model, got {type(record).__name__}")
    check_model(type(record))
    categories = held_categories(record, policy.rules.vocabulary.ids("data_categories"))
    zone = policy.rules.parameters.timezone
    if not categories:
        # nothing would leave, so there is nothing to decide; the request is still checked
        check_terms(_request(request, ("name",), zone), policy.rules)
        return Redaction(record=record.model_copy(deep=True), data=record.model_dump(mode="json"),
                         decision=None, withheld=())
    decision = policy.decide(_request(request, categories, zone))
    if all(decision.by_category.values()):
        return Redaction(record=record.model_copy(deep=True), data=record.model_dump(mode="json"),
                         decision=decision, withheld=())
    walker = _Walker(decision, policy.rules)
    fields, _, _ = walker.model(record, "")
    try:
        copy: BaseModel | None = type(record).model_validate(fields)
    except ValidationError:
        copy = None
    data = copy.model_dump(mode="json") if copy is not None else to_jsonable_python(fields)
    return Redaction(record=copy, data=data, decision=decision, withheld=tuple(walker.withheld))
