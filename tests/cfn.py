"""Reading the parsed templates: resources by type, references resolved to what they name."""

import ast
from pathlib import Path
from typing import Any

from deploy.templates import TEMPLATE_DIR, Template, load_template

APP_PY = Path(__file__).resolve().parent.parent / "chalice_app" / "app.py"


def templates() -> dict[str, Template]:
    """Every template in cloudformation/ by file stem (web-fleet too, once it is written)."""
    return {path.stem: load_template(path) for path in sorted(TEMPLATE_DIR.glob("*.yaml"))}


def of_type(template: Template, resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in template.get("Resources", {}).items()
        if resource["Type"] == resource_type
    }


def value(template: Template, node: Any) -> Any:
    """A property's value, a Ref to a parameter replaced by the parameter's default."""
    if isinstance(node, dict) and set(node) == {"Ref"}:
        parameter = template.get("Parameters", {}).get(node["Ref"])
        if parameter is not None:
            return parameter.get("Default")
    return node


def referenced(node: Any) -> str | None:
    """The logical id a Ref or Fn::GetAtt points at, else None."""
    if isinstance(node, dict):
        if "Ref" in node:
            return str(node["Ref"])
        if "Fn::GetAtt" in node:
            return str(node["Fn::GetAtt"][0])
    return None


def is_our_key(node: Any) -> bool:
    """The customer-managed key: imported from the security stack, or that stack's own Key."""
    if isinstance(node, dict) and "Fn::ImportValue" in node:
        return node["Fn::ImportValue"] in (
            {"Fn::Sub": "${SecurityStack}-KeyArn"},
            "order-pipeline-security-KeyArn",
        )
    return referenced(node) == "Key"


def queue_consumers() -> dict[str, str]:
    """Queue name -> Chalice function consuming it, read from app.py's decorators."""
    tree = ast.parse(APP_PY.read_text())
    constants = {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    consumers: dict[str, str] = {}
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        for decorator in node.decorator_list:
            if (
                isinstance(decorator, ast.Call)
                and isinstance(decorator.func, ast.Attribute)
                and decorator.func.attr == "on_sqs_message"
            ):
                for keyword in decorator.keywords:
                    if keyword.arg == "queue" and isinstance(keyword.value, ast.Name):
                        consumers[constants[keyword.value.id]] = node.name
                    elif keyword.arg == "queue" and isinstance(keyword.value, ast.Constant):
                        consumers[keyword.value.value] = node.name
    return consumers
