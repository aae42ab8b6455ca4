"""Dry run: print what deploying the stacks would do, in order, without touching AWS.

Usage: python -m deploy.plan [--parameter STACK.NAME=VALUE ...]

For each stack: the template, the `aws cloudformation deploy` command, its parameters (given,
default or still required), the resources it would create, and what it imports and exports.
"""

import argparse
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from deploy.stacks import STACKS, Stack
from deploy.templates import Template, load_template

REPOSITORY = Path(__file__).resolve().parent.parent
REQUIRED = "<required>"

Overrides = Mapping[str, Mapping[str, str]]  # stack key -> parameter -> value


def parameter_values(template: Template, given: Mapping[str, str]) -> dict[str, str]:
    """Each parameter's value: given, else its default, else REQUIRED."""
    values: dict[str, str] = {}
    for name, declaration in template.get("Parameters", {}).items():
        if name in given:
            values[name] = given[name]
        elif "Default" in declaration:
            values[name] = str(declaration["Default"])
        else:
            values[name] = REQUIRED
    return values


def capabilities(template: Template) -> list[str]:
    """CloudFormation must be told when a template creates IAM resources."""
    types = {resource["Type"] for resource in template.get("Resources", {}).values()}
    return ["CAPABILITY_IAM"] if any(t.startswith("AWS::IAM::") for t in types) else []


def deploy_command(stack: Stack, template: Template, given: Mapping[str, str]) -> str:
    """The `aws cloudformation deploy` command for this stack, with the given parameters."""
    words = [
        "aws",
        "cloudformation",
        "deploy",
        "--stack-name",
        stack.name,
        "--template-file",
        str(stack.template.relative_to(REPOSITORY)),
        "--no-fail-on-empty-changeset",
    ]
    if needed := capabilities(template):
        words += ["--capabilities", *needed]
    if given:
        words += ["--parameter-overrides", *(f"{k}={v}" for k, v in sorted(given.items()))]
    return shlex.join(words)


def _imports(node: Any) -> set[str]:
    """Names of the exports a template imports (Fn::ImportValue of a Fn::Sub or a string)."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Fn::ImportValue":
                name = value.get("Fn::Sub") if isinstance(value, dict) else value
                found.add(str(name))
            else:
                found |= _imports(value)
    elif isinstance(node, list):
        for item in node:
            found |= _imports(item)
    return found


def imported_exports(template: Template, values: Mapping[str, str]) -> set[str]:
    """The export names a template imports, its parameters substituted."""
    return {_substitute(name, values) for name in _imports(template.get("Resources", {}))}


def _substitute(text: str, values: Mapping[str, str]) -> str:
    for name, value in values.items():
        text = text.replace("${" + name + "}", value)
    return text


def _resource_line(logical_id: str, resource: Mapping[str, Any]) -> str:
    notes = []
    if "Condition" in resource:
        notes.append(f"if {resource['Condition']}")
    if resource.get("DeletionPolicy") == "Retain":
        notes.append("retained on delete")
    suffix = f"  [{', '.join(notes)}]" if notes else ""
    return f"    {logical_id:<34} {resource['Type']}{suffix}"


def describe(position: int, stack: Stack, given: Mapping[str, str]) -> list[str]:
    """The plan of one stack, as lines of text."""
    if not stack.template.exists():
        return [
            f"==> {position}. {stack.name} ({stack.purpose}): {stack.template.name} not written yet"
        ]
    template = load_template(stack.template)
    lines = [f"==> {position}. {stack.name} ({stack.purpose})"]
    if stack.deployed_by_ansible:
        lines.append("  deployed by: ansible-playbook playbooks/site.yml (it owns this stack)")
    else:
        lines.append(f"  command: {deploy_command(stack, template, given)}")
    values = parameter_values(template, given)
    lines.append("  parameters:")
    for name, value in values.items():
        source = "given" if name in given else ("default" if value != REQUIRED else "missing")
        lines.append(f"    {name} = {value} ({source})")
    resources = template.get("Resources", {})
    lines.append(f"  resources ({len(resources)}):")
    lines += [_resource_line(logical_id, resource) for logical_id, resource in resources.items()]
    imports = sorted(imported_exports(template, values))
    if imports:
        lines.append("  imports: " + ", ".join(imports))
    outputs = template.get("Outputs", {})
    lines.append("  exports: " + ", ".join(f"{stack.name}-{name}" for name in outputs))
    return lines


def plan(overrides: Overrides) -> list[str]:
    """The plan of every stack in deploy order."""
    lines: list[str] = []
    for position, stack in enumerate(STACKS, start=1):
        lines += describe(position, stack, overrides.get(stack.key, {}))
        lines.append("")
    missing = [
        f"{stack.key}.{name}"
        for stack in STACKS
        if stack.template.exists()
        for name, value in parameter_values(
            load_template(stack.template), overrides.get(stack.key, {})
        ).items()
        if value == REQUIRED
    ]
    if missing:
        lines.append("Still required: " + " ".join(f"--parameter {name}=..." for name in missing))
    return lines


def parse_overrides(pairs: Sequence[str]) -> dict[str, dict[str, str]]:
    """STACK.NAME=VALUE pairs, grouped by stack."""
    overrides: dict[str, dict[str, str]] = {}
    keys = {stack.key for stack in STACKS}
    for pair in pairs:
        target, separator, value = pair.partition("=")
        key, dot, name = target.partition(".")
        if not (separator and dot and key in keys and name):
            raise ValueError(f"{pair!r}: use STACK.NAME=VALUE with STACK one of {sorted(keys)}")
        overrides.setdefault(key, {})[name] = value
    return overrides


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="STACK.NAME=VALUE",
        help="a stack parameter, such as messaging.SenderDomain=shop.example.com (repeatable)",
    )
    arguments = parser.parse_args(argv)
    try:
        overrides = parse_overrides(arguments.parameter)
    except ValueError as error:
        parser.exit(2, f"error: {error}\n")
    print("\n".join(plan(overrides)))


if __name__ == "__main__":
    main()
