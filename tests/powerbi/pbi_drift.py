"""Drift check between the Power BI semantic model and the dbt mart contracts.

Every column of the semantic model must exist in the contract of the mart its table reads, with a
compatible type; every contract column must be in the model or listed, with a reason, in
``powerbi/excluded_columns.yml``. ``find_drift`` returns the problems; an empty list means in sync.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from pbi_project import POWERBI_DIR, REPO_ROOT, semantic_model_dir, source_table, tables

MARTS_DIR = REPO_ROOT / "dbt" / "models" / "marts"
EXCLUSIONS_FILE = POWERBI_DIR / "excluded_columns.yml"

#: Contract data types (DuckDB and BigQuery spellings) -> TMDL dataTypes they may be modelled as.
_TYPE_RULES: list[tuple[re.Pattern[str], frozenset[str]]] = [
    (
        re.compile(r"^(string|varchar|char|character varying|character|text|nvarchar|bpchar)$"),
        frozenset({"string"}),
    ),
    (
        re.compile(
            r"^(bigint|int|integer|int64|int8|int4|int2|smallint|tinyint|byteint|hugeint"
            r"|ubigint|uinteger|usmallint|utinyint)$"
        ),
        frozenset({"int64"}),
    ),
    (
        re.compile(r"^(double|double precision|float|float64|float8|float4|real)$"),
        frozenset({"double"}),
    ),
    (re.compile(r"^(numeric|decimal|bignumeric|bigdecimal)$"), frozenset({"decimal", "double"})),
    (re.compile(r"^(bool|boolean)$"), frozenset({"boolean"})),
    (re.compile(r"^date$"), frozenset({"dateTime"})),
    (
        re.compile(
            r"^(timestamp|timestamptz|timestamp with time zone|timestamp without time zone"
            r"|datetime)$"
        ),
        frozenset({"dateTime"}),
    ),
]
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
_QUOTED = re.compile(r"""["']([^"']+)["']""")
_COMPARED = re.compile(r"""(?:==|!=)\s*["'][^"']*["']|["'][^"']*["']\s*(?:==|!=)""")
_TYPE_MACRO = re.compile(r"\btype_(\w+)\s*\(")


class UnknownContractType(ValueError):
    """A contract data type has no rule in ``_TYPE_RULES``."""


@dataclass(frozen=True)
class ModelColumn:
    table: str
    name: str
    source_column: str
    data_type: str


def normalize_type(data_type: str) -> str:
    """``TIMESTAMP(6) WITH TIME ZONE`` -> ``timestamp with time zone``."""
    text = re.sub(r"\(.*?\)", "", data_type.lower())
    return " ".join(text.split())


def contract_type_spellings(data_type: str) -> list[str]:
    """The concrete type names in a contract ``data_type``.

    A plain type is itself. In Jinja, a cross-database type macro (``{{ dbt.type_string() }}``)
    yields its type, and a choice per adapter
    (``{{ 'float64' if target.type == 'bigquery' else 'double' }}``) yields every quoted literal
    that is not a comparison operand.
    """
    if not _JINJA.search(data_type):
        return [data_type]
    spellings: list[str] = []
    for block in _JINJA.findall(data_type):
        spellings.extend(_TYPE_MACRO.findall(block))
        spellings.extend(_QUOTED.findall(_COMPARED.sub(" ", block)))
    return spellings


def tmdl_types_for(data_type: str) -> frozenset[str]:
    """TMDL dataTypes compatible with a contract ``data_type`` (every spelling must agree)."""
    allowed: frozenset[str] | None = None
    for spelling in contract_type_spellings(data_type) or [data_type]:
        normalized = normalize_type(spelling)
        rule = next((types for pattern, types in _TYPE_RULES if pattern.match(normalized)), None)
        if rule is None:
            raise UnknownContractType(
                f"contract data_type {data_type!r} is not mapped to a TMDL dataType; "
                "add it to _TYPE_RULES in tests/powerbi/pbi_drift.py"
            )
        allowed = rule if allowed is None else allowed & rule
    return allowed or frozenset()


def load_contracts(marts_dir: Path = MARTS_DIR) -> dict[str, dict[str, str | None]]:
    """``{model: {column: data_type}}`` from every model YAML in ``marts_dir``."""
    contracts: dict[str, dict[str, str | None]] = {}
    for path in sorted([*marts_dir.glob("*.yml"), *marts_dir.glob("*.yaml")]):
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER) or {}
        for model in document.get("models") or []:
            columns = model.get("columns") or []
            contracts[model["name"]] = {
                str(column["name"]): (
                    str(column["data_type"]) if column.get("data_type") is not None else None
                )
                for column in columns
            }
    return contracts


def load_model_columns(model_dir: Path | None = None) -> dict[str, list[ModelColumn]]:
    """``{warehouse table: [columns]}`` of the semantic model, keyed by the table M reads."""
    model_dir = model_dir or semantic_model_dir()
    out: dict[str, list[ModelColumn]] = {}
    for table in tables(model_dir).values():
        source = source_table(table)
        out[source] = [
            ModelColumn(
                table=table.name,
                name=column.name,
                source_column=column.properties.get("sourceColumn", column.name),
                data_type=column.properties.get("dataType", ""),
            )
            for column in table.of_kind("column")
            # calculated columns (an expression, no sourceColumn) are not warehouse columns
            if column.expression is None
        ]
    return out


def load_exclusions(path: Path = EXCLUSIONS_FILE) -> dict[str, dict[str, str]]:
    """``{mart: {column: reason}}`` of contract columns deliberately left out of the model."""
    document = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER) or {}
    return {
        str(mart): {str(column): str(reason or "") for column, reason in (columns or {}).items()}
        for mart, columns in document.items()
    }


def find_drift(
    model_columns: dict[str, list[ModelColumn]],
    contracts: dict[str, dict[str, str | None]],
    exclusions: dict[str, dict[str, str]],
) -> list[str]:
    """Every disagreement between the model, the contracts and the exclusion list."""
    problems: list[str] = []
    for mart, columns in sorted(model_columns.items()):
        contract = contracts.get(mart)
        if contract is None:
            problems.append(f"{mart}: the semantic model reads it but no dbt contract defines it")
            continue
        excluded = exclusions.get(mart, {})
        modelled = set()
        for column in columns:
            where = f"{mart}.{column.source_column} (model column {column.table}[{column.name}])"
            modelled.add(column.source_column)
            if column.source_column not in contract:
                problems.append(f"{where}: not in the dbt contract (renamed or dropped?)")
                continue
            if column.source_column in excluded:
                problems.append(f"{where}: in the model but also listed as excluded")
            data_type = contract[column.source_column]
            if data_type is None:
                problems.append(f"{where}: the contract gives no data_type")
                continue
            try:
                allowed = tmdl_types_for(data_type)
            except UnknownContractType as error:
                problems.append(f"{where}: {error}")
                continue
            if column.data_type not in allowed:
                problems.append(
                    f"{where}: model dataType {column.data_type!r} does not fit contract "
                    f"data_type {data_type!r} (expected {' or '.join(sorted(allowed)) or 'n/a'})"
                )
        for name in contract:
            if name not in modelled and name not in excluded:
                problems.append(
                    f"{mart}.{name}: in the dbt contract but neither in the semantic model nor "
                    f"listed in {EXCLUSIONS_FILE.name}"
                )
        for name, reason in excluded.items():
            if name not in contract:
                problems.append(f"{mart}.{name}: listed as excluded but not in the dbt contract")
            elif not reason.strip():
                problems.append(f"{mart}.{name}: excluded without a reason")
    for mart in sorted(set(exclusions) - set(model_columns)):
        problems.append(f"{mart}: listed in {EXCLUSIONS_FILE.name} but not in the semantic model")
    return problems


def check(
    model_dir: Path | None = None,
    marts_dir: Path = MARTS_DIR,
    exclusions_file: Path = EXCLUSIONS_FILE,
) -> list[str]:
    """Drift problems of the project as it is on disk (or of the given copies)."""
    return find_drift(
        load_model_columns(model_dir), load_contracts(marts_dir), load_exclusions(exclusions_file)
    )
