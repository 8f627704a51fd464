"""Load a Terraform directory with python-hcl2 and resolve the few expressions the rules need.

This is not a Terraform evaluator. It resolves exactly what the structural rules read:
``local.*`` references, variable defaults, ``for_each``/``count`` expansion over literal sets and
maps, and ``each.key``/``each.value`` substitution. Anything it cannot resolve is returned as the
expression text, so a rule that needs a literal fails loudly instead of guessing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2

REPO_ROOT = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO_ROOT / "terraform"

_OPTIONS = hcl2.SerializationOptions(
    with_comments=False, explicit_blocks=False, strip_string_quotes=True
)
_LOCAL_REF = re.compile(r"\blocal\.([A-Za-z_][A-Za-z0-9_-]*)")
_VAR_REF = re.compile(r"\bvar\.([A-Za-z_][A-Za-z0-9_-]*)")
_WHOLE_EXPR = re.compile(r"^\$\{(.*)\}$", re.S)
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Resource:
    """One ``resource`` (or ``data``) block."""

    type: str
    name: str
    body: dict[str, Any]
    file: Path

    @property
    def address(self) -> str:
        return f"{self.type}.{self.name}"


@dataclass
class TerraformConfig:
    """Every block of one Terraform root module, by kind."""

    directory: Path
    resources: list[Resource] = field(default_factory=list)
    data: list[Resource] = field(default_factory=list)
    locals: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    terraform_blocks: list[dict[str, Any]] = field(default_factory=list)
    raw: dict[Path, dict[str, Any]] = field(default_factory=dict)

    def of_type(self, *types: str) -> list[Resource]:
        return [r for r in self.resources if r.type in types]

    def find(self, type_: str, name: str) -> Resource | None:
        return next((r for r in self.resources if r.type == type_ and r.name == name), None)


def load(directory: Path = TERRAFORM_DIR) -> TerraformConfig:
    """Parse every ``*.tf`` file directly in ``directory`` (one root module)."""
    files = sorted(directory.glob("*.tf"))
    if not files:
        raise FileNotFoundError(f"no *.tf files in {directory}")
    config = TerraformConfig(directory=directory)
    for path in files:
        with path.open(encoding="utf-8") as handle:
            try:
                parsed = hcl2.load(handle, serialization_options=_OPTIONS)
            except Exception as exc:  # python-hcl2 raises lark errors of several kinds
                raise ValueError(f"{path}: not valid HCL: {exc}") from exc
        config.raw[path] = parsed
        for block in parsed.get("resource", []):
            for type_, named in block.items():
                for name, body in named.items():
                    config.resources.append(Resource(type_, name, body, path))
        for block in parsed.get("data", []):
            for type_, named in block.items():
                for name, body in named.items():
                    config.data.append(Resource(type_, name, body, path))
        for block in parsed.get("locals", []):
            config.locals.update(block)
        for block in parsed.get("variable", []):
            config.variables.update(block)
        config.terraform_blocks.extend(parsed.get("terraform", []))
    return config


def walk_strings(value: Any) -> list[str]:
    """Every string inside ``value`` (dict keys included), depth first."""
    found: list[str] = []
    if isinstance(value, str):
        found.append(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            found.append(str(key))
            found.extend(walk_strings(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(walk_strings(item))
    return found


def inline_locals(config: TerraformConfig, value: str, depth: int = 0) -> str:
    """Replace ``local.X`` references whose value is a string by that string, recursively."""
    if depth > 10:
        return value

    def substitute(match: re.Match[str]) -> str:
        local = config.locals.get(match.group(1))
        if isinstance(local, str):
            return _unwrap(inline_locals(config, local, depth + 1))
        return match.group(0)

    return _LOCAL_REF.sub(substitute, value)


def _unwrap(text: str) -> str:
    match = _WHOLE_EXPR.match(text)
    return match.group(1) if match else text


def resolve(config: TerraformConfig, value: Any, depth: int = 0) -> Any:
    """Resolve ``${local.X}`` and ``${var.X}`` (to its default) when that is the whole value."""
    if depth > 10 or not isinstance(value, str):
        return value
    match = _WHOLE_EXPR.match(value)
    if not match:
        return value
    inner = match.group(1).strip()
    data_file = re.fullmatch(r'jsondecode\(file\("\$\{path\.module\}/([^"]+)"\)\)', inner)
    if data_file:  # a data file of the module, as Terraform would decode it
        return json.loads((config.directory / data_file.group(1)).read_text(encoding="utf-8"))
    local = re.fullmatch(r"local\.([A-Za-z_][A-Za-z0-9_-]*)((?:\.[A-Za-z_]\w*)*)", inner)
    if local and local.group(1) in config.locals:
        found = resolve(config, config.locals[local.group(1)], depth + 1)
        for key in filter(None, local.group(2).split(".")):
            if not isinstance(found, dict) or key not in found:
                return value
            found = found[key]
        return found
    var = re.fullmatch(r"var\.([A-Za-z_][A-Za-z0-9_-]*)", inner)
    if var and "default" in config.variables.get(var.group(1), {}):
        return config.variables[var.group(1)]["default"]
    return value


def collection_items(config: TerraformConfig, value: Any, depth: int = 0) -> list[tuple[str, Any]]:
    """The (each.key, each.value) pairs a ``for_each`` over ``value`` yields.

    Literal maps give their items; lists and sets their elements; an expression gives the union
    of every local or variable it references plus every quoted literal inside a ``[...]``.
    """
    if depth > 10:
        return []
    if isinstance(value, dict):
        return [(str(k), v) for k, v in value.items()]
    if isinstance(value, list):
        return [(str(v), v) for v in value]
    if not isinstance(value, str):
        return []
    items: list[tuple[str, Any]] = []
    for name in _LOCAL_REF.findall(value):
        if name in config.locals:
            items.extend(collection_items(config, config.locals[name], depth + 1))
    for name in _VAR_REF.findall(value):
        default = config.variables.get(name, {}).get("default")
        if isinstance(default, dict | list):
            items.extend(collection_items(config, default, depth + 1))
    for bracket in re.findall(r"\[([^\[\]]*)\]", value):
        items.extend((s, s) for s in _QUOTED.findall(bracket))
    seen: set[str] = set()
    unique = []
    for key, item in items:
        if key not in seen:
            seen.add(key)
            unique.append((key, item))
    return unique


def instances(config: TerraformConfig, resource: Resource) -> list[dict[str, Any]]:
    """The resource's body once per instance, with ``each.key``/``each.value`` substituted.

    ``count`` is treated as "up to one instance" (the rules check what a grant would be if it
    exists); a ``for_each`` that cannot be expanded yields no instance and is reported by the
    caller through :func:`unexpanded`.
    """
    body = resource.body
    if "for_each" in body:
        return [
            _substitute(body, key, value)
            for key, value in collection_items(config, body["for_each"])
        ]
    return [body]


def unexpanded(config: TerraformConfig, resource: Resource) -> bool:
    """True when ``for_each`` is set but expands to nothing we can see."""
    return "for_each" in resource.body and not collection_items(config, resource.body["for_each"])


def _substitute(value: Any, key: str, each_value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _substitute(v, key, each_value) for k, v in value.items() if k != "for_each"}
    if isinstance(value, list):
        return [_substitute(v, key, each_value) for v in value]
    if isinstance(value, str):
        if value == "${each.value}" and not isinstance(each_value, str):
            return each_value
        text = value.replace("each.key", f'"{key}"')
        if isinstance(each_value, str):
            text = text.replace("each.value", f'"{each_value}"')
        return _collapse_literal(text)
    return value


def _collapse_literal(text: str) -> str:
    """``${"x"}`` -> ``x`` once substitution left a bare literal."""
    match = re.fullmatch(r'\$\{"((?:[^"\\]|\\.)*)"\}', text)
    return match.group(1) if match else text
