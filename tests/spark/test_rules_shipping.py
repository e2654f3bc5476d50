"""Other rule sets on Spark: overlays (extending the bundled policy or a path) and policy histories.

The oracle is the library in this process, loaded from the same directories: a history's answer for a
row is ``history.retention()`` / ``history.decide()`` of the same question, and the revision's worked
cases (written from its text) fix the version and dates each row must get. The shipping itself is
checked without Spark: a worker refuses rules whose fingerprint is not the driver's, and a bundle that
would write outside its own folder.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.spark.support import require_spark

require_spark()

import policykit  # noqa: E402
import policykit.spark  # noqa: E402
from policykit.errors import EngineError, RuleFileError  # noqa: E402
from policykit.spark._rules import RulesLayer, _materialise, bundle_of, bundle_rules, worker_policy  # noqa: E402
from tests.acceptance.cases import CASES_DIR, mismatches  # noqa: E402
from tests.spark.test_verdicts import (  # noqa: E402
    DISCLOSURE_DDL,
    RETENTION_DDL,
    disclosure_row,
    retention_row,
    same_as_library,
)

ROOT = Path(__file__).resolve().parents[2]
REVISION = ROOT / "examples" / "policies" / "we-select-2026-07-01"
SWITZERLAND = ROOT / "examples" / "rules-switzerland-allowed"
VERSION_CASES = yaml.safe_load((CASES_DIR / "versions" / "revision-2026-07-01.yaml").read_text(encoding="utf-8"))[
    "cases"]

# a transfer to a client in Switzerland: outside the EEA for the bundled policy, inside for the overlay
SWISS = {"operation": "transfer", "data_categories": ["name"], "purpose": "present_candidates_to_clients",
         "recipient": {"kind": "recruitment_client", "country": "CH", "active_assignment": True,
                       "confidentiality_undertaking": True, "data_agreement_signed": True}}


def _retention_cases() -> list[dict[str, Any]]:
    return [c for c in VERSION_CASES if c["area"] == "retention"]


@pytest.mark.slow
def test_a_history_answers_each_row_by_the_version_in_force(spark: Any) -> None:
    """The revision's retention cases, the pairs either side of 2026-07-01, in one DataFrame with the
    two versions as ``rules``: each row equals ``history.retention()`` and names the version of its case."""
    cases = _retention_cases()
    assert {c["expected"]["policy_version"] for c in cases} == {"2022-06-22", "2026-07-01"}
    df = spark.createDataFrame([retention_row(c["id"], c["inputs"]) for c in cases], RETENTION_DDL)
    out = {r["id"]: r for r in policykit.spark.retention_verdicts(
        df, rules=[policykit.bundled_rules_dir(), REVISION]).collect()}
    with policykit.load_history(policykit.bundled_rules_dir(), REVISION) as history:
        for case in cases:
            row = out[case["id"]]
            assert same_as_library(row, history.retention(case["inputs"])) == [], case["id"]
            expected = {k: v for k, v in case["expected"].items() if k in row.asDict()}
            assert mismatches(history.retention(case["inputs"]), expected) == [], case["id"]
            assert row["policy_version"] == case["expected"]["policy_version"], case["id"]


@pytest.mark.slow
def test_decide_with_an_overlay_of_the_bundled_policy(spark: Any) -> None:
    """The Switzerland overlay (two files over the bundled rules) decides on the workers as it does here,
    and differently from the bundled policy, so the overlay is what answered."""
    df = spark.createDataFrame([disclosure_row("ch", SWISS)], DISCLOSURE_DDL)
    row = policykit.spark.decide(df, rules=SWITZERLAND).first().asDict()
    library = policykit.load_policy(SWITZERLAND).decide(SWISS)
    assert row["error"] is None
    assert (row["allowed"], row["reasons"], row["policy_version"]) == (
        library.allowed, list(library.reasons), "2022-06-22+switzerland")
    assert library.allowed is True and policykit.load_policy().decide(SWISS).allowed is False


@pytest.mark.slow
def test_an_overlay_that_extends_a_path(spark: Any, tmp_path: Path) -> None:
    """An overlay whose ``extends`` is a relative path finds its base on the workers too: both
    directories are shipped and laid out as on the driver."""
    base = tmp_path / "lib" / "base-rules"
    shutil.copytree(policykit.bundled_rules_dir(), base)
    overlay = tmp_path / "variants" / "swiss"
    shutil.copytree(SWITZERLAND, overlay)
    head = (overlay / "policy.yaml").read_text(encoding="utf-8")
    (overlay / "policy.yaml").write_text(head.replace("extends: bundled", "extends: ../../lib/base-rules"),
                                         encoding="utf-8")
    policy, bundle = bundle_rules(overlay)
    policy.close()
    assert sorted(layer.place for layer in bundle.layers) == [f"{tmp_path.name}/lib/base-rules", f"{tmp_path.name}/variants/swiss"]
    df = spark.createDataFrame([disclosure_row("ch", SWISS)], DISCLOSURE_DDL)
    row = policykit.spark.decide(df, rules=overlay).first().asDict()
    assert row["error"] is None and row["allowed"] is True
    assert row["policy_version"] == "2022-06-22+switzerland"


def test_the_bundled_policy_is_not_shipped_but_an_overlay_is() -> None:
    policy, bundle = bundle_rules([policykit.bundled_rules_dir(), REVISION])
    policy.close()
    assert [layer.place for layer in bundle.layers] == ["we-select-2026-07-01"]
    assert [v.place for v in bundle.versions] == [None, "we-select-2026-07-01"]
    assert {name for name, _ in bundle.layers[0].files} >= {"policy.yaml", "disclosure.yaml", "retention.yaml"}


def test_a_worker_refuses_rules_whose_fingerprint_is_not_the_drivers() -> None:
    policy = policykit.load_policy(SWITZERLAND)
    bundle = bundle_of(policy)
    policy.close()
    forged = dataclasses.replace(bundle, versions=(dataclasses.replace(bundle.versions[0], fingerprint="0" * 16),))
    with pytest.raises(EngineError, match="refusing to judge with different rules"):
        worker_policy(forged)


@pytest.mark.parametrize("place", ["../outside", "/etc", "a/../../b"])
def test_a_bundle_never_writes_outside_its_folder(place: str) -> None:
    policy = policykit.load_policy(SWITZERLAND)
    bundle = bundle_of(policy)
    policy.close()
    hostile = dataclasses.replace(bundle, layers=(RulesLayer(place, bundle.layers[0].files),))
    with pytest.raises(RuleFileError, match="relative place"):
        _materialise(hostile)  # not worker_policy: its cache may hold this fingerprint already


def test_an_empty_list_of_rules_is_refused() -> None:
    with pytest.raises(RuleFileError, match="at least one rules directory"):
        bundle_rules([])
