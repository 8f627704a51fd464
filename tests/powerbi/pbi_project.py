"""Read the Power BI project in ``powerbi/``: its files, its TMDL semantic model, its JSON schemas.

A deliberately small reader for the subset of TMDL this project writes (tables, columns,
measures, partitions, annotations, parameter expressions, ``ref table``), not a full TMDL parser.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
POWERBI_DIR = REPO_ROOT / "powerbi"
#: Microsoft's published JSON schemas, stored under the paths of their ``$schema`` URLs.
SCHEMAS_DIR = REPO_ROOT.parent / "shared" / "schemas"
SCHEMA_URL_PREFIX = "https://developer.microsoft.com/json-schemas/"
#: Files of the project that are JSON (``.pbip``, ``.pbir``, ``.pbism`` and ``.platform`` are too).
JSON_SUFFIXES = {".json", ".pbip", ".pbir", ".pbism", ".platform"}
#: Machine-local folders Power BI Desktop writes next to the definitions; git-ignored.
LOCAL_ONLY_DIRS = {".pbi"}


def semantic_model_dir(powerbi_dir: Path = POWERBI_DIR) -> Path:
    """The single ``*.SemanticModel`` folder of the project."""
    found = sorted(powerbi_dir.glob("*.SemanticModel"))
    if len(found) != 1:
        raise FileNotFoundError(
            f"expected exactly one *.SemanticModel folder in {powerbi_dir}, found {len(found)}"
        )
    return found[0]


def report_dir(powerbi_dir: Path = POWERBI_DIR) -> Path:
    """The single ``*.Report`` folder of the project."""
    found = sorted(powerbi_dir.glob("*.Report"))
    if len(found) != 1:
        raise FileNotFoundError(
            f"expected exactly one *.Report folder in {powerbi_dir}, found {len(found)}"
        )
    return found[0]


def json_files(powerbi_dir: Path = POWERBI_DIR) -> list[Path]:
    """Every JSON document of the project, machine-local folders excluded."""
    return sorted(
        path
        for path in powerbi_dir.rglob("*")
        if path.is_file()
        and (path.suffix in JSON_SUFFIXES or path.name in JSON_SUFFIXES)
        and not LOCAL_ONLY_DIRS.intersection(path.relative_to(powerbi_dir).parts)
    )


def schema_path(url: str, schemas_dir: Path = SCHEMAS_DIR) -> Path:
    """Local file of a published schema URL (fragment dropped)."""
    if not url.startswith(SCHEMA_URL_PREFIX):
        raise ValueError(f"schema URL {url!r} does not start with {SCHEMA_URL_PREFIX!r}")
    return schemas_dir / url[len(SCHEMA_URL_PREFIX) :].split("#", 1)[0]


def load_json(path: Path) -> Any:
    """Parse a JSON file (UTF-8, a BOM tolerated as Desktop may write one)."""
    return json.loads(path.read_text(encoding="utf-8-sig"))


# --------------------------------------------------------------------------- TMDL

_NAME = r"(?:'(?:[^']|'')*'|[^\s=']+)"
_DECL = re.compile(
    rf"^(?P<keyword>ref\s+[A-Za-z]+|[A-Za-z]+)\s+(?P<name>{_NAME})(?:\s*=\s*(?P<rhs>.*))?$"
)
_PROPERTY = re.compile(r"^(?P<key>[A-Za-z]+)\s*:\s*(?P<value>.*)$")
_EXPRESSION_PROPERTY = re.compile(r"^(?P<key>[A-Za-z]+)\s*=\s*(?P<value>.*)$")
_FLAG = re.compile(r"^[A-Za-z]+$")
#: Keywords that open a child object of a table (other lines are properties).
_OBJECT_KEYWORDS = {"column", "measure", "partition", "hierarchy", "level", "annotation"}


class TmdlError(ValueError):
    """A TMDL file does not have the structure this project expects."""


@dataclass
class _Line:
    number: int
    indent: int
    text: str
    children: list[_Line] = field(default_factory=list)

    def flatten(self) -> list[str]:
        out = [self.text]
        for child in self.children:
            out.extend(child.flatten())
        return out


@dataclass
class TmdlObject:
    """One TMDL object: ``keyword name [= expression]`` with its properties and children."""

    keyword: str
    name: str
    line: int
    expression: str | None = None
    properties: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    children: list[TmdlObject] = field(default_factory=list)

    def of_kind(self, keyword: str) -> list[TmdlObject]:
        return [child for child in self.children if child.keyword == keyword]


def unquote(name: str) -> str:
    """``'Total Views'`` -> ``Total Views``; bare names unchanged."""
    if len(name) >= 2 and name[0] == name[-1] == "'":
        return name[1:-1].replace("''", "'")
    return name


def _tree(text: str, path: Path) -> list[_Line]:
    roots: list[_Line] = []
    stack: list[_Line] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("///"):
            continue
        body = raw.lstrip("\t")
        if body.startswith(" "):
            raise TmdlError(f"{path}:{number}: indent with tabs, not spaces")
        line = _Line(number, len(raw) - len(body), body.rstrip())
        while stack and stack[-1].indent >= line.indent:
            stack.pop()
        (stack[-1].children if stack else roots).append(line)
        stack.append(line)
    return roots


def _object(node: _Line, path: Path) -> TmdlObject:
    match = _DECL.match(node.text)
    if not match:
        raise TmdlError(f"{path}:{node.number}: cannot read declaration {node.text!r}")
    obj = TmdlObject(match["keyword"], unquote(match["name"]), node.number)
    rhs = match["rhs"]
    continuation = [c for c in node.children if c.indent > node.indent + 1]
    if rhs is not None:
        parts = [rhs] if rhs else []
        for child in continuation:
            parts.extend(child.flatten())
        obj.expression = "\n".join(parts).strip()
    for child in node.children:
        if child.indent != node.indent + 1:
            continue
        keyword = child.text.split(maxsplit=1)[0]
        if keyword == "annotation":
            decl = _DECL.match(child.text)
            if not decl:
                raise TmdlError(f"{path}:{child.number}: cannot read annotation {child.text!r}")
            obj.annotations[unquote(decl["name"])] = (decl["rhs"] or "").strip()
        elif keyword in _OBJECT_KEYWORDS and _DECL.match(child.text):
            obj.children.append(_object(child, path))
        elif prop := _PROPERTY.match(child.text):
            obj.properties[prop["key"]] = prop["value"].strip()
        elif prop := _EXPRESSION_PROPERTY.match(child.text):
            parts = [prop["value"]] if prop["value"] else []
            for grandchild in child.children:
                parts.extend(grandchild.flatten())
            obj.properties[prop["key"]] = "\n".join(parts).strip()
        elif _FLAG.match(child.text):
            obj.properties[child.text] = ""
        else:
            raise TmdlError(f"{path}:{child.number}: cannot read {child.text!r}")
    return obj


def parse_tmdl(path: Path) -> list[TmdlObject]:
    """The top-level objects of a TMDL file."""
    text = path.read_text(encoding="utf-8-sig")
    return [_object(node, path) for node in _tree(text, path)]


def first_statement(path: Path) -> str:
    """The first line that is not blank (descriptions ``///`` count: the file must open on it)."""
    for raw in path.read_text(encoding="utf-8-sig").splitlines():
        if raw.strip():
            return raw.rstrip()
    return ""


def parse_table(path: Path) -> TmdlObject:
    """The single ``table`` object of a ``tables/*.tmdl`` file."""
    objects = parse_tmdl(path)
    if len(objects) != 1 or objects[0].keyword != "table":
        raise TmdlError(f"{path}: expected exactly one top-level 'table' object")
    return objects[0]


def ref_tables(model_tmdl: Path) -> list[str]:
    """Names in the ``ref table <name>`` lines of ``model.tmdl``."""
    pattern = re.compile(rf"^ref\s+table\s+(?P<name>{_NAME})\s*$")
    return [
        unquote(m["name"])
        for line in model_tmdl.read_text(encoding="utf-8-sig").splitlines()
        if (m := pattern.match(line))
    ]


def tables(model_dir: Path) -> dict[str, TmdlObject]:
    """Tables of the semantic model by name, read from ``definition/tables/*.tmdl``."""
    out: dict[str, TmdlObject] = {}
    for path in sorted((model_dir / "definition" / "tables").glob("*.tmdl")):
        table = parse_table(path)
        out[table.name] = table
    return out


_SOURCE_TABLE = re.compile(r'\[\s*Name\s*=\s*"(?P<name>[^"]+)"\s*,\s*Kind\s*=\s*"Table"\s*\]')


def source_table(table: TmdlObject) -> str:
    """The warehouse table a model table reads: the ``Kind = "Table"`` step of its M source."""
    names = {
        m["name"]
        for partition in table.of_kind("partition")
        for m in _SOURCE_TABLE.finditer(partition.properties.get("source", ""))
    }
    if len(names) != 1:
        raise TmdlError(
            f"table {table.name!r}: expected its partitions to navigate to exactly one "
            f'[Name = "...", Kind = "Table"], found {sorted(names) or "none"}'
        )
    return names.pop()
