"""Drift check: the semantic model and the dbt mart contracts agree, and drift is caught."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from pbi_drift import (
    EXCLUSIONS_FILE,
    MARTS_DIR,
    ModelColumn,
    check,
    find_drift,
    load_contracts,
    load_model_columns,
    tmdl_types_for,
)
from pbi_project import semantic_model_dir

MARTS = sorted(load_model_columns())
#: (mart, column) of every warehouse column of the semantic model: each one is mutated below.
MODELLED = [(mart, column) for mart, columns in load_model_columns().items() for column in columns]
MODELLED_IDS = [f"{mart}.{column.source_column}" for mart, column in MODELLED]


def _copy_contracts(tmp_path: Path) -> Path:
    """A private copy of the mart contract YAML files, safe to edit."""
    copy = tmp_path / "marts"
    copy.mkdir()
    sources = sorted([*MARTS_DIR.glob("*.yml"), *MARTS_DIR.glob("*.yaml")])
    assert sources, f"no dbt mart contracts in {MARTS_DIR}"
    for path in sources:
        shutil.copy(path, copy / path.name)
    return copy


def _edit_column(marts_dir: Path, mart: str, column: str, **changes: str) -> None:
    """Change one column of one model in the copied contract files (e.g. ``name=``)."""
    for path in marts_dir.iterdir():
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for model in document.get("models") or []:
            if model["name"] != mart:
                continue
            for entry in model.get("columns") or []:
                if entry["name"] == column:
                    entry.update(changes)
                    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
                    return
    raise AssertionError(f"{mart}.{column} not found in the contracts under {marts_dir}")


def test_semantic_model_matches_the_mart_contracts() -> None:
    assert check() == []


def test_the_model_reads_both_marts() -> None:
    assert MARTS == ["mart_content_performance", "mart_users"]


@pytest.mark.parametrize(("mart", "column"), MODELLED, ids=MODELLED_IDS)
def test_renaming_a_contract_column_without_updating_the_model_fails(
    mart: str, column: ModelColumn, tmp_path: Path
) -> None:
    marts_dir = _copy_contracts(tmp_path)
    assert check(marts_dir=marts_dir) == [], "the unedited copy must be clean"
    _edit_column(marts_dir, mart, column.source_column, name=f"{column.source_column}_renamed")

    problems = check(marts_dir=marts_dir)

    assert any(
        p.startswith(f"{mart}.{column.source_column} ") and "not in the dbt contract" in p
        for p in problems
    ), problems
    assert any(
        p.startswith(f"{mart}.{column.source_column}_renamed:") and "neither" in p for p in problems
    ), problems


@pytest.mark.parametrize(("mart", "column"), MODELLED, ids=MODELLED_IDS)
def test_changing_a_contract_column_type_without_updating_the_model_fails(
    mart: str, column: ModelColumn, tmp_path: Path
) -> None:
    marts_dir = _copy_contracts(tmp_path)
    incompatible = "bigint" if column.data_type == "string" else "varchar"
    _edit_column(marts_dir, mart, column.source_column, data_type=incompatible)

    problems = check(marts_dir=marts_dir)

    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{mart}.{column.source_column} ")
    assert "does not fit" in problems[0]


def test_a_model_column_missing_from_the_contract_fails(tmp_path) -> None:
    model_copy = tmp_path / semantic_model_dir().name
    shutil.copytree(semantic_model_dir(), model_copy)
    table_file = model_copy / "definition" / "tables" / "mart_users.tmdl"
    text = table_file.read_text(encoding="utf-8")
    extra = "\tcolumn country\n\t\tdataType: string\n\t\tsourceColumn: country\n\n"
    table_file.write_text(text.replace("\tpartition ", extra + "\tpartition ", 1), "utf-8")

    problems = check(model_dir=model_copy)

    assert problems == [
        "mart_users.country (model column mart_users[country]): not in the dbt contract "
        "(renamed or dropped?)"
    ]


def test_a_removed_contract_model_fails(tmp_path) -> None:
    contracts = load_contracts()
    del contracts["mart_users"]
    problems = find_drift(load_model_columns(), contracts, {})
    assert any(p.startswith("mart_users: ") and "no dbt contract" in p for p in problems)


def test_exclusions_must_be_real_and_explained() -> None:
    model = {"mart_x": [ModelColumn("mart_x", "id", "id", "string")]}
    contracts: dict[str, dict[str, str | None]] = {
        "mart_x": {"id": "varchar", "loaded_at": "timestamp", "note": "varchar"}
    }
    assert (
        find_drift(model, contracts, {"mart_x": {"loaded_at": "watermark", "note": "free"}}) == []
    )
    problems = find_drift(model, contracts, {"mart_x": {"loaded_at": "", "gone": "old column"}})
    assert sorted(problems) == [
        "mart_x.gone: listed as excluded but not in the dbt contract",
        "mart_x.loaded_at: excluded without a reason",
        f"mart_x.note: in the dbt contract but neither in the semantic model nor listed in "
        f"{EXCLUSIONS_FILE.name}",
    ]


@pytest.mark.parametrize(
    ("duckdb", "bigquery", "tmdl"),
    [
        ("varchar", "string", "string"),
        ("bigint", "int64", "int64"),
        ("double", "float64", "double"),
        ("date", "date", "dateTime"),
        ("timestamp with time zone", "timestamp", "dateTime"),
        ("timestamptz", "TIMESTAMP", "dateTime"),
    ],
)
def test_both_adapters_type_names_map_to_the_same_tmdl_type(duckdb, bigquery, tmdl) -> None:
    assert tmdl in tmdl_types_for(duckdb)
    assert tmdl_types_for(duckdb) == tmdl_types_for(bigquery)
    per_adapter = f"{{{{ '{bigquery}' if target.type == 'bigquery' else '{duckdb}' }}}}"
    assert tmdl_types_for(per_adapter) == tmdl_types_for(duckdb)


def test_types_that_disagree_between_adapters_fit_nothing() -> None:
    assert tmdl_types_for("{{ 'int64' if target.type == 'bigquery' else 'varchar' }}") == set()
