"""Checks every IAM action the Terraform in infra/ grants against AWS's own list of actions.

The Rust tests (cargo test -p mmp-infra-check) check the policies against the code; this adds
what only AWS's Service Authorization Reference knows: that each action exists, spelled exactly,
and that an action granted on "*" really has no resource type it could be narrowed to.
It reads the Terraform with the HCL parser and the IAM database that checkov installs
(python-hcl2 and policy_sentry), so it needs nothing beyond .ci/pip/infra.txt.

Usage: python3 infra/check/iam_actions.py [infra-dir]
"""

import sys
from pathlib import Path

import hcl2
from policy_sentry.querying.actions import get_action_data


def flatten(value):
    """python-hcl2 wraps attribute values in lists; unwrap to a flat list of strings."""
    if isinstance(value, list):
        out = []
        for item in value:
            out.extend(flatten(item))
        return out
    return [value]


def statements(document):
    """The statement blocks of one aws_iam_policy_document body, dynamic ones included."""
    found = list(document.get("statement", []))
    for dynamic in document.get("dynamic", []):
        for label, block in dynamic.items():
            if label == "statement":
                found.extend(block.get("content", []))
    return found


def policy_documents(infra):
    for path in sorted(infra.glob("*.tf")):
        with path.open() as handle:
            parsed = hcl2.load(handle)
        for data in parsed.get("data", []):
            for name, body in data.get("aws_iam_policy_document", {}).items():
                yield path.name, name, body


def arn_formats(action):
    """The resource ARN formats AWS lists for an exact action name, or None if unknown."""
    service, _, name = action.partition(":")
    rows = get_action_data(service, name) or {}
    rows = [row for row in rows.get(service, []) if row["action"] == action]
    if not rows:
        return None
    return [row["resource_arn_format"] for row in rows]


def check(infra):
    problems = []
    checked = set()
    for file, name, document in policy_documents(infra):
        for statement in statements(document):
            sid = flatten(statement.get("sid", ["(no sid)"]))[0]
            where = f"{file}: {name}.{sid}"
            resources = flatten(statement.get("resources", []))
            for action in flatten(statement.get("actions", [])):
                checked.add(action)
                if "*" in action and flatten(statement.get("effect", ["Allow"]))[0] == "Deny":
                    continue
                formats = arn_formats(action)
                if formats is None:
                    problems.append(f"{where}: {action} is not an IAM action (check its spelling)")
                    continue
                if "*" in resources and any(f != "*" for f in formats):
                    narrower = ", ".join(f for f in formats if f != "*")
                    problems.append(f"{where}: {action} is granted on \"*\" but AWS allows {narrower}")
    return checked, problems


def main():
    infra = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]
    checked, problems = check(infra)
    for problem in problems:
        print(f"iam-actions: {problem}", file=sys.stderr)
    if not checked:
        print(f"iam-actions: no policy document found in {infra}", file=sys.stderr)
        return 1
    print(f"iam-actions: {len(checked)} actions checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
