"""A service answering a candidate's requests and sending a redacted record, end to end.

Run from the repository root: ``python -m examples.subject_requests``.
"""

from __future__ import annotations

import json
from pathlib import Path

import policykit
from examples.candidate_model import Candidate

HERE = Path(__file__).parent


def main() -> None:
    with policykit.load_policy() as policy:
        # 1. The candidate e-mails an access request (the policy's worked example S01).
        request = json.loads((HERE / "requests" / "s01-access.json").read_text(encoding="utf-8"))
        response = policy.handle_request(request)
        print(f"access: {response.outcome}, due {response.deadline}, fee {response.fee} SEK")
        print(f"  include: {', '.join(response.include_information)}")
        print(f"  redact:  {', '.join(response.redact)}")

        # 2. Their record, exported for the answer.
        record = Candidate.model_validate_json((HERE / "records" / "candidate.json").read_text(encoding="utf-8"))
        export = policy.export(record, "access", as_of=response.received_on)
        print(f"  export:  {len(export['data'])} categories; review before release: "
              f"{', '.join(export['review']['redact_before_release'])}")

        # 3. An erasure request a year later: what goes now, what stays and until when.
        erasure = policy.handle_request({
            "request": "erasure", "channel": "phone", "received_on": "2025-03-11",
            "applications": [a.submitted_on.isoformat() for a in record.applications],
            "data_held": ["name", "contact_info", "application_documents", "interview_notes", "linkedin_profile"],
        })
        print(f"erasure: {erasure.outcome}; erase now {', '.join(erasure.erase_now) or 'nothing'}; "
              f"keep {', '.join(erasure.retain) or 'nothing'} until {erasure.retain_until}")
        print(f"  grounds: {', '.join(erasure.refusal_grounds) or 'none'}; tell: {', '.join(erasure.inform)}")

        # 4. Before the record goes to a client, cut it down to what may go.
        to_client = json.loads((HERE / "requests" / "redact-to-recruitment-client.json").read_text(encoding="utf-8"))
        redaction = policy.redact(record, to_client)
        for w in redaction.withheld:
            print(f"withheld {w.path}: {w.reason} ({w.rule_id}, {', '.join(w.clauses)})")


if __name__ == "__main__":
    main()
