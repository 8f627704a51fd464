"""Structure of the TMDL semantic model: tables, DirectQuery partitions on BigQuery, parameters."""

from __future__ import annotations

import re

import pytest
from pbi_project import (
    TmdlError,
    first_statement,
    parse_table,
    parse_tmdl,
    ref_tables,
    semantic_model_dir,
    tables,
)

MODEL = semantic_model_dir()
DEFINITION = MODEL / "definition"
TABLE_FILES = sorted((DEFINITION / "tables").glob("*.tmdl"))
PARAMETERS = ("BillingProject", "Dataset")


def test_the_model_has_the_two_marts() -> None:
    assert set(tables(MODEL)) == {"mart_users", "mart_content_performance"}


@pytest.mark.parametrize("path", TABLE_FILES, ids=[p.stem for p in TABLE_FILES])
def test_table_file_starts_with_its_table(path) -> None:
    assert first_statement(path) == f"table {path.stem}"
    assert parse_table(path).name == path.stem


@pytest.mark.parametrize("path", TABLE_FILES, ids=[p.stem for p in TABLE_FILES])
def test_partitions_are_directquery_on_bigquery(path) -> None:
    table = parse_table(path)
    partitions = table.of_kind("partition")
    assert partitions, f"{path.name}: no partition"
    for partition in partitions:
        assert partition.expression == "m", f"{partition.name}: not a Power Query (M) partition"
        assert partition.properties.get("mode") == "directQuery"
        source = partition.properties.get("source", "")
        assert source, f"{partition.name}: no source"
        # project (a parameter) -> dataset (a parameter) -> this table
        assert re.search(
            r"GoogleBigQuery\.Database\(\s*\[\s*BillingProject\s*=\s*BillingProject", source
        )
        assert re.search(r"\{\s*\[\s*Name\s*=\s*BillingProject\s*\]\s*\}\[Data\]", source)
        assert re.search(r'\{\s*\[\s*Name\s*=\s*Dataset\s*,\s*Kind\s*=\s*"Schema"\s*\]', source)
        assert re.search(rf'\{{\s*\[\s*Name\s*=\s*"{table.name}"\s*,\s*Kind\s*=\s*"Table"', source)


def test_every_ref_table_has_its_file_and_every_file_is_referenced() -> None:
    refs = ref_tables(DEFINITION / "model.tmdl")
    assert refs, "model.tmdl references no table"
    for name in refs:
        assert (DEFINITION / "tables" / f"{name}.tmdl").is_file(), f"no file for ref table {name}"
    assert sorted(refs) == sorted(p.stem for p in TABLE_FILES)


def test_project_and_dataset_are_text_parameters() -> None:
    expressions = {e.name: e for e in parse_tmdl(DEFINITION / "expressions.tmdl")}
    for name in PARAMETERS:
        assert name in expressions, f"expressions.tmdl has no parameter {name}"
        expression = expressions[name].expression or ""
        assert re.search(r"IsParameterQuery\s*=\s*true", expression)
        assert re.search(r'Type\s*=\s*"Text"', expression)
    assert expressions["Dataset"].expression.startswith('"analytics"')


def test_database_and_model_files_declare_themselves() -> None:
    assert first_statement(DEFINITION / "database.tmdl").startswith("database")
    (model,) = [o for o in parse_tmdl(DEFINITION / "model.tmdl") if o.keyword == "model"]
    assert "discourageImplicitMeasures" in model.properties


@pytest.mark.parametrize("path", TABLE_FILES, ids=[p.stem for p in TABLE_FILES])
def test_measures_have_a_format_and_a_display_folder(path) -> None:
    for measure in parse_table(path).of_kind("measure"):
        assert measure.expression, f"{measure.name}: no DAX expression"
        assert measure.properties.get("formatString"), f"{measure.name}: no formatString"
        assert measure.properties.get("displayFolder"), f"{measure.name}: no displayFolder"


def test_required_measures_exist() -> None:
    measures = {m.name: m for t in tables(MODEL).values() for m in t.of_kind("measure")}
    for name in (
        "Total Views",
        "Unique Viewers",
        "Watch Hours",
        "Average Completion Rate",
        "Engagement Rate",
        "Users",
    ):
        assert name in measures, f"missing measure {name!r}"
    # Engagement rate from sums, never an average of the per-row rate column.
    assert "engagement_rate" not in measures["Engagement Rate"].expression
    assert "[Total Engagements]" in measures["Engagement Rate"].expression
    # Unique viewers count people in mart_users, never a sum of per-day unique viewers.
    assert "mart_users" in measures["Unique Viewers"].expression
    assert "unique_viewers" not in measures["Unique Viewers"].expression
    # Completion rate from the additive columns (sum of ratios / views with a duration), never
    # an AVERAGE over rows nor rows weighted by all their views (test_powerbi_measures.py).
    completion = measures["Average Completion Rate"].expression
    assert "AVERAGE" not in completion.upper()
    assert "[completion_rate_sum]" in completion and "[views_with_duration]" in completion


def test_the_reader_rejects_a_table_file_with_broken_structure(tmp_path) -> None:
    broken = tmp_path / "broken.tmdl"
    broken.write_text("table broken\n\tcolumn a\n\t\t??? not a property\n", encoding="utf-8")
    with pytest.raises(TmdlError):
        parse_table(broken)
    spaces = tmp_path / "spaces.tmdl"
    spaces.write_text("table spaces\n    column a\n", encoding="utf-8")
    with pytest.raises(TmdlError):
        parse_table(spaces)
