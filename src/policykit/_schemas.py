"""JSON Schemas for the rule files, generated from the loader's own pydantic models.

Each kind of rule file (the policy, the vocabulary, the countries, the clause register, the
disclosure, retention and request rules, the letters, the interpretations, the record of processing,
the invariants and a sweep mapping) has one schema, written by ``policykit schema`` to
``rules/schemas/KIND.schema.json``. Each rule file names its schema in its first line::

    # yaml-language-server: $schema=schemas/vocabulary.schema.json

so an editor with the YAML language server checks the file's shape and completes field names while
someone types. A schema describes the shape only: whether a term, a clause id or a predicate exists,
whether a condition can hold, and whether every clause is covered, is what ``policykit check`` adds.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

__all__ = ["SCHEMAS", "SCHEMA_DIR", "SCHEMA_LINE", "render_schemas", "schema_line", "stale_schemas", "write_schemas"]

SCHEMA_DIR = "schemas"
SCHEMA_LINE = "# yaml-language-server: $schema="


def _policy() -> type[BaseModel]:
    from policykit._ruleset.loading import _RawPolicyFile  # noqa: PLC0415

    return _RawPolicyFile


def _vocabulary() -> type[BaseModel]:
    from policykit._ruleset.loading import _RawVocabularyFile  # noqa: PLC0415

    return _RawVocabularyFile


def _countries() -> type[BaseModel]:
    from policykit._ruleset.loading import _RawCountriesFile  # noqa: PLC0415

    return _RawCountriesFile


def _clauses() -> type[BaseModel]:
    from policykit._ruleset.loading import _RawClausesFile  # noqa: PLC0415

    return _RawClausesFile


def _disclosure() -> type[BaseModel]:
    from policykit._ruleset.loading import _RawDisclosureFile  # noqa: PLC0415

    return _RawDisclosureFile


def _retention() -> type[BaseModel]:
    from policykit._ruleset.retention import _RawRetentionFile  # noqa: PLC0415

    return _RawRetentionFile


def _requests() -> type[BaseModel]:
    from policykit._ruleset.requests import _RawRequestsFile  # noqa: PLC0415

    return _RawRequestsFile


def _letters() -> type[BaseModel]:
    from policykit._ruleset.letters import LettersFile  # noqa: PLC0415

    return LettersFile


def _interpretations() -> type[BaseModel]:
    from policykit._ruleset.accountability import _RawInterpretationsFile  # noqa: PLC0415

    return _RawInterpretationsFile


def _processing() -> type[BaseModel]:
    from policykit._ruleset.accountability import _RawProcessingFile  # noqa: PLC0415

    return _RawProcessingFile


def _invariants() -> type[BaseModel]:
    from policykit._analysis.invariants import _RawInvariantsFile  # noqa: PLC0415

    return _RawInvariantsFile


def _sweep_mapping() -> type[BaseModel]:
    from policykit._sweep.mapping import SweepMapping  # noqa: PLC0415

    return SweepMapping


#: kind -> (the rule file it describes, or None for a file of any name; its title; its model)
SCHEMAS: dict[str, tuple[str | None, str, Callable[[], type[BaseModel]]]] = {
    "policy": ("policy.yaml", "The policy a rules directory encodes, and its parameters", _policy),
    "vocabulary": ("vocabulary.yaml", "The vocabulary: every term a rule or a question may use", _vocabulary),
    "countries": ("countries.yaml", "Countries and territories, and which are inside the EU/EEA", _countries),
    "clauses": ("clauses.yaml", "The clause register: every clause, in Swedish and English", _clauses),
    "disclosure": ("disclosure.yaml", "The disclosure rules", _disclosure),
    "retention": ("retention.yaml", "The retention rules", _retention),
    "requests": ("requests.yaml", "The data-subject request rules", _requests),
    "letters": ("letters.yaml", "The reply to the candidate, in Swedish and English", _letters),
    "interpretations": ("interpretations.yaml", "The register of interpretations", _interpretations),
    "processing": ("processing.yaml", "The record of processing activities (GDPR Art. 30)", _processing),
    "invariants": ("invariants.yaml", "The invariants policykit verify checks", _invariants),
    "sweep-mapping": (None, "Where a candidate database keeps what policykit sweep needs", _sweep_mapping),
}

# keys the overlay mechanism reads before a file is validated (docs/rule-format.md, "Overlays")
_OVERLAY_KEYS: dict[str, Any] = {
    "remove": {
        "type": "object",
        "description": "Overlay only: entries (by id or key) of the base directory's file to delete, by section.",
        "additionalProperties": {"type": "array", "items": {"type": "string"}},
    },
}
_EXTENDS: dict[str, Any] = {
    "type": "string",
    "description": "Overlay only: the rules directory this one extends: 'bundled', or a path relative to this one.",
}


def schema_of(kind: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one kind of rule file."""
    file, title, model = SCHEMAS[kind]
    schema = model().model_json_schema(mode="validation")
    described = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"policykit {file or kind}: {title}",
        **{k: v for k, v in schema.items() if k != "title"},
    }
    if file is not None:
        properties = dict(described.get("properties", {}))
        properties.update(_OVERLAY_KEYS)
        if kind == "policy":
            properties["extends"] = _EXTENDS
        described["properties"] = properties
    return described


def render_schemas() -> dict[str, str]:
    """Every schema as the text ``policykit schema`` writes, by file name."""
    return {f"{kind}.schema.json": json.dumps(schema_of(kind), indent=2, ensure_ascii=False) + "\n" for kind in SCHEMAS}


def write_schemas(directory: Path) -> list[Path]:
    """Write every schema into ``directory``; return the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_schemas().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def stale_schemas(directory: Path) -> list[str]:
    """The schema files of ``directory`` that are missing or differ from what the models generate."""
    stale = []
    for name, text in render_schemas().items():
        path = directory / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(name)
    return stale


def schema_line(kind: str, prefix: str = f"{SCHEMA_DIR}/") -> str:
    """The first line of a rule file of this kind: where its schema is, relative to the file."""
    return f"{SCHEMA_LINE}{prefix}{kind}.schema.json"
