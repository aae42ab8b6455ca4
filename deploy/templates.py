"""Read the CloudFormation templates in cloudformation/ as plain data.

The short-form tags (!Ref, !Sub, !GetAtt, ...) become their long form ({"Ref": ...},
{"Fn::GetAtt": [resource, attribute]}), which is what CloudFormation itself stores and what
moto's CloudFormation parses reliably (it mishandles a tag on a mapping, such as
`!ImportValue {Fn::Sub: ...}`).
"""

import json
from pathlib import Path
from typing import Any

import yaml

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "cloudformation"

Template = dict[str, Any]


class _TemplateLoader(yaml.SafeLoader):
    """A safe loader that knows CloudFormation's intrinsic function tags."""


def _intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:
        raise yaml.constructor.ConstructorError(None, None, f"unexpected {node!r}", node.start_mark)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        resource, attribute = value.split(".", 1)
        return {"Fn::GetAtt": [resource, attribute]}
    return {f"Fn::{tag_suffix}": value}


_TemplateLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path) -> Template:
    """Parse one template file (YAML or JSON) into plain dicts and lists."""
    template: Template = yaml.load(path.read_text(), Loader=_TemplateLoader)  # noqa: S506
    return template


def template_body(path: Path) -> str:
    """The template as JSON, the long form CloudFormation (and moto) accept as TemplateBody."""
    return json.dumps(load_template(path))
