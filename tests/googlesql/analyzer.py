"""Analyze SQL as BigQuery would, with ZetaSQL's local server (see ``server.py``).

``nox -s bigquery`` starts the server and sets ``ZETASQL_ENDPOINT`` (``host:port``) and
``ZETASQL_STUBS`` (the generated Python stubs). :func:`connect` gives an :class:`Analyzer`.

The analyzer resolves every name against a :class:`Catalog` of the warehouse's tables with
their column types and type-checks every expression, as BigQuery's front end does: it is
stricter than a parser (sqlglot) and than the emulator (which runs the SQL on DuckDB).

A script is analyzed one statement at a time, in order, and each DDL statement changes the
catalog as it would change the warehouse: ``CREATE TABLE … AS SELECT`` adds a table with the
columns ZetaSQL derived for it, ``DROP`` removes one. So a statement that reads a table made
earlier in the same script, or by an earlier model, sees exactly the columns BigQuery would.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

#: The GoogleSQL language features BigQuery has and the pipeline's SQL uses, each with why.
#: Anything not listed here is off, so SQL that needs it fails the check.
LANGUAGE_FEATURES = {
    "FEATURE_ANALYTIC_FUNCTIONS": "window functions (row_number() over …) in the dedupe",
    "FEATURE_V_1_3_QUALIFY": "QUALIFY, the filter on window functions (see RESERVED_KEYWORDS)",
    "FEATURE_V_1_2_CIVIL_TIME": "DATETIME and TIME exist in BigQuery (so mixing them is caught)",
    "FEATURE_NUMERIC_TYPE": "NUMERIC, BigQuery's exact decimal",
    "FEATURE_PARAMETERIZED_TYPES": "NUMERIC(38, 9) and other types with parameters",
    "FEATURE_BIGNUMERIC_TYPE": "BIGNUMERIC",
    "FEATURE_JSON_TYPE": "JSON columns",
    "FEATURE_GEOGRAPHY": "GEOGRAPHY columns",
    "FEATURE_INTERVAL_TYPE": "INTERVAL values (timestamp_add(…, interval 12 hour))",
    "FEATURE_V_1_3_DATE_ARITHMETICS": "date + interval",
    "FEATURE_V_1_3_DATE_TIME_CONSTRUCTORS": "DATE(ts, 'UTC'), TIMESTAMP(date)",
    "FEATURE_V_1_3_EXTENDED_DATE_TIME_SIGNATURES": "BigQuery's date/time function signatures",
    "FEATURE_V_1_3_ADDITIONAL_STRING_FUNCTIONS": "BigQuery's string functions",
    "FEATURE_V_1_1_SELECT_STAR_EXCEPT_REPLACE": "SELECT * EXCEPT (…)",
    "FEATURE_V_1_1_WITH_ON_SUBQUERY": "WITH inside a subquery (dbt unit tests wrap fixtures so)",
    "FEATURE_V_1_1_ORDER_BY_IN_AGGREGATE": "ARRAY_AGG(… ORDER BY …)",
    "FEATURE_V_1_1_LIMIT_IN_AGGREGATE": "ARRAY_AGG(… LIMIT n)",
    "FEATURE_V_1_1_NULL_HANDLING_MODIFIER_IN_AGGREGATE": "ARRAY_AGG(… IGNORE NULLS)",
    "FEATURE_V_1_2_SAFE_FUNCTION_CALL": "SAFE. function prefix",
    "FEATURE_V_1_2_GROUP_BY_STRUCT": "GROUP BY a STRUCT",
    "FEATURE_V_1_3_IS_DISTINCT": "IS [NOT] DISTINCT FROM",
    "FEATURE_V_1_3_NULLS_FIRST_LAST_IN_ORDER_BY": "ORDER BY … NULLS LAST",
    "FEATURE_V_1_3_CONCAT_MIXED_TYPES": "CONCAT over mixed argument types, as BigQuery allows",
    "FEATURE_V_1_3_ALLOW_DASHES_IN_TABLE_NAME": "project ids with dashes (my-project.ds.t)",
    "FEATURE_V_1_3_OMIT_INSERT_COLUMN_LIST": "INSERT without a column list",
    "FEATURE_V_1_3_FORMAT_IN_CAST": "CAST(… FORMAT …)",
    "FEATURE_V_1_4_GROUPING_SETS": "GROUP BY ROLLUP/CUBE/GROUPING SETS",
    "FEATURE_TABLESAMPLE": "TABLESAMPLE SYSTEM",
    "FEATURE_CREATE_TABLE_PARTITION_BY": "DDL: PARTITION BY on tables",
    "FEATURE_CREATE_TABLE_CLUSTER_BY": "DDL: CLUSTER BY on tables",
    "FEATURE_CREATE_TABLE_NOT_NULL": "DDL: NOT NULL columns (dbt contracts)",
    "FEATURE_CREATE_TABLE_FIELD_ANNOTATIONS": "DDL: column OPTIONS (descriptions)",
    "FEATURE_CREATE_TABLE_AS_SELECT_COLUMN_LIST": "DDL: t (cols) AS SELECT (contracts)",
    "FEATURE_CREATE_TABLE_LIKE": "DDL: CREATE TABLE … LIKE",
    "FEATURE_CREATE_TABLE_COPY": "DDL: CREATE TABLE … COPY",
    "FEATURE_CREATE_TABLE_CLONE": "DDL: CREATE TABLE … CLONE",
    "FEATURE_CREATE_SNAPSHOT_TABLE": "DDL: CREATE SNAPSHOT TABLE",
    "FEATURE_CREATE_VIEW_WITH_COLUMN_LIST": "DDL: CREATE VIEW v (cols) AS",
    "FEATURE_DML_UPDATE_WITH_JOIN": "DML: UPDATE … FROM (BigQuery has it)",
    "FEATURE_V_1_2_CORRELATED_REFS_IN_NESTED_DML": "DML: correlated subqueries in DML",
}

#: Keywords BigQuery reserves that ZetaSQL only reserves when asked. QUALIFY must be: an
#: unreserved QUALIFY could be a table alias, so ZetaSQL then accepts it only after WHERE,
#: GROUP BY or HAVING, a restriction BigQuery does not have.
RESERVED_KEYWORDS = ("QUALIFY",)

#: BigQuery's parameterless type aliases, which GoogleSQL itself does not name.
TYPE_ALIASES = {
    "INT": "TYPE_INT64",
    "INTEGER": "TYPE_INT64",
    "BIGINT": "TYPE_INT64",
    "SMALLINT": "TYPE_INT64",
    "TINYINT": "TYPE_INT64",
    "BYTEINT": "TYPE_INT64",
    "DECIMAL": "TYPE_NUMERIC",
    "BIGDECIMAL": "TYPE_BIGNUMERIC",
}

#: The statements BigQuery runs that the pipeline may send: queries, DML (MERGE included),
#: DDL, and the transaction statements of a multi-statement script.
STATEMENT_KINDS = (
    "RESOLVED_QUERY_STMT",
    "RESOLVED_INSERT_STMT",
    "RESOLVED_DELETE_STMT",
    "RESOLVED_UPDATE_STMT",
    "RESOLVED_MERGE_STMT",
    "RESOLVED_TRUNCATE_STMT",
    "RESOLVED_CREATE_TABLE_STMT",
    "RESOLVED_CREATE_TABLE_AS_SELECT_STMT",
    "RESOLVED_CREATE_VIEW_STMT",
    "RESOLVED_CREATE_SCHEMA_STMT",
    "RESOLVED_CREATE_SNAPSHOT_TABLE_STMT",
    "RESOLVED_DROP_STMT",
    "RESOLVED_ALTER_TABLE_STMT",
    "RESOLVED_ALTER_TABLE_SET_OPTIONS_STMT",
    "RESOLVED_ALTER_VIEW_STMT",
    "RESOLVED_RENAME_STMT",
    "RESOLVED_BEGIN_STMT",
    "RESOLVED_COMMIT_STMT",
    "RESOLVED_ROLLBACK_STMT",
    "RESOLVED_ASSERT_STMT",
)

#: BigQuery REST schema types (``tables.insert``, load jobs) -> ZetaSQL type kinds.
API_TYPES = {
    "STRING": "TYPE_STRING",
    "BYTES": "TYPE_BYTES",
    "INTEGER": "TYPE_INT64",
    "INT64": "TYPE_INT64",
    "FLOAT": "TYPE_DOUBLE",
    "FLOAT64": "TYPE_DOUBLE",
    "NUMERIC": "TYPE_NUMERIC",
    "BIGNUMERIC": "TYPE_BIGNUMERIC",
    "BOOLEAN": "TYPE_BOOL",
    "BOOL": "TYPE_BOOL",
    "TIMESTAMP": "TYPE_TIMESTAMP",
    "DATE": "TYPE_DATE",
    "TIME": "TYPE_TIME",
    "DATETIME": "TYPE_DATETIME",
    "GEOGRAPHY": "TYPE_GEOGRAPHY",
    "JSON": "TYPE_JSON",
}

_STMT_KEY = re.compile(r"^resolved(\w+?)StmtNode$")


class GoogleSQLError(Exception):
    """ZetaSQL rejected a statement: ``message`` is its own text."""

    def __init__(self, message: str, statement: str, analyzed: list[str]):
        super().__init__(message)
        self.message = message
        self.statement = statement
        #: the kinds of the script's statements before this one, which analyzed clean
        self.analyzed = analyzed


def _modules() -> dict[str, ModuleType]:
    stubs = os.environ.get("ZETASQL_STUBS")
    if not stubs:
        raise RuntimeError("ZETASQL_STUBS is not set: run the check through `nox -s bigquery`")
    if stubs not in sys.path:
        sys.path.insert(0, stubs)
    names = {
        "service": "local_service_pb2",
        "grpc_service": "local_service_pb2_grpc",
        "options": "zetasql.proto.options_pb2",
        "catalog": "zetasql.proto.simple_catalog_pb2",
        "public_options": "zetasql.public.options_pb2",
        "types": "zetasql.public.type_pb2",
        "table": "zetasql.public.simple_table_pb2",
        "kinds": "zetasql.resolved_ast.resolved_node_kind_pb2",
    }
    return {key: importlib.import_module(name) for key, name in names.items()}


def api_type(field_: dict[str, Any], m: dict[str, ModuleType]) -> Any:
    """The ZetaSQL type of one field of a BigQuery REST schema."""
    types = m["types"]
    kind = field_.get("type", "STRING").upper()
    if kind in ("RECORD", "STRUCT"):
        struct = types.StructTypeProto(
            field=[
                types.StructFieldProto(field_name=f["name"], field_type=api_type(f, m))
                for f in field_.get("fields", [])
            ]
        )
        scalar = types.TypeProto(type_kind=types.TYPE_STRUCT, struct_type=struct)
    else:
        scalar = types.TypeProto(type_kind=types.TypeKind.Value(API_TYPES[kind]))
    if field_.get("mode", "NULLABLE").upper() == "REPEATED":
        return types.TypeProto(
            type_kind=types.TYPE_ARRAY, array_type=types.ArrayTypeProto(element_type=scalar)
        )
    return scalar


@dataclass
class Catalog:
    """The warehouse's tables: ``(project, dataset, table) -> [(column, ZetaSQL TypeProto)]``."""

    tables: dict[tuple[str, str, str], list[tuple[str, Any]]] = field(default_factory=dict)

    def add(self, project: str, dataset: str, table: str, columns: list[tuple[str, Any]]) -> None:
        self.tables[(project, dataset, table)] = columns

    def drop(self, project: str, dataset: str, table: str | None) -> None:
        for key in [k for k in self.tables if k[:2] == (project, dataset)]:
            if table is None or key[2] == table:
                del self.tables[key]

    def key(self, project: str, path: list[str]) -> tuple[str, str, str]:
        """The ``(project, dataset, table)`` a name path (``a.b.c``, ``b.c``) means."""
        parts = [p for name in path for p in name.split(".")]
        if len(parts) == 2:
            parts = [project, *parts]
        if len(parts) != 3:
            raise ValueError(f"not a table name: {'.'.join(path)}")
        return parts[0], parts[1], parts[2]


class Analyzer:
    """A client of ZetaSQL's local service, set up as BigQuery."""

    def __init__(self, endpoint: str):
        import grpc

        self.m = _modules()
        self._channel = grpc.insecure_channel(endpoint)
        self.stub = self.m["grpc_service"].ZetaSqlLocalServiceStub(self._channel)
        opts, kinds = self.m["public_options"], self.m["kinds"]
        self.language = self.m["options"].LanguageOptionsProto(
            product_mode=opts.PRODUCT_EXTERNAL,
            name_resolution_mode=opts.NAME_RESOLUTION_DEFAULT,
            enabled_language_features=[opts.LanguageFeature.Value(f) for f in LANGUAGE_FEATURES],
            supported_statement_kinds=[kinds.ResolvedNodeKind.Value(k) for k in STATEMENT_KINDS],
            reserved_keywords=list(RESERVED_KEYWORDS),
        )
        self.options = self.m["options"].AnalyzerOptionsProto(
            language_options=self.language,
            error_message_mode=opts.ERROR_MESSAGE_ONE_LINE,
            default_timezone="UTC",
        )

    def close(self) -> None:
        self._channel.close()

    def catalog_proto(self, catalog: Catalog, project: str) -> Any:
        """``catalog`` as ZetaSQL's catalog, for statements that run in ``project``.

        A table is found as ``project.dataset.table`` (three names, or one quoted name with
        dots, as BigQuery allows) and, in its own project, as ``dataset.table``.
        """
        cat, tab, types = self.m["catalog"], self.m["table"], self.m["types"]

        def table(name: str, columns: list[tuple[str, Any]]) -> Any:
            return tab.SimpleTableProto(
                name=name,
                column=[tab.SimpleColumnProto(name=c, type=t) for c, t in columns],
            )

        by_dataset: dict[tuple[str, str], list[Any]] = {}
        dotted = []
        for (p, d, t), columns in catalog.tables.items():
            by_dataset.setdefault((p, d), []).append(table(t, columns))
            dotted.append(table(f"{p}.{d}.{t}", columns))
        projects: dict[str, list[Any]] = {}
        for (p, d), tables in by_dataset.items():
            projects.setdefault(p, []).append(cat.SimpleCatalogProto(name=d, table=tables))
        own = projects.get(project, [])
        return cat.SimpleCatalogProto(
            name="bigquery",
            table=dotted,
            catalog=[cat.SimpleCatalogProto(name=p, catalog=ds) for p, ds in projects.items()]
            + [d for d in own if d.name not in projects],
            named_type=[
                cat.SimpleCatalogProto.NamedTypeProto(
                    name=alias, type=types.TypeProto(type_kind=types.TypeKind.Value(kind))
                )
                for alias, kind in TYPE_ALIASES.items()
            ],
            builtin_function_options=self.m["options"].ZetaSQLBuiltinFunctionOptionsProto(
                language_options=self.language
            ),
        )

    def analyze_script(self, sql: str, catalog: Catalog, project: str) -> list[str]:
        """Analyze each statement of ``sql`` in order, applying its DDL to ``catalog``.

        Returns the statement kinds (``Query``, ``CreateTableAsSelect``, …); raises
        :class:`GoogleSQLError` at the first statement ZetaSQL rejects.
        """
        import grpc

        service = self.m["service"]
        from zetasql.public import parse_resume_location_pb2

        data = sql.encode("utf-8")
        position, kinds = 0, []
        while _has_statement(data[position:]):
            location = parse_resume_location_pb2.ParseResumeLocationProto(
                input=sql, byte_position=position, allow_resume=True
            )
            request = service.AnalyzeRequest(
                options=self.options,
                simple_catalog=self.catalog_proto(catalog, project),
                parse_resume_location=location,
            )
            try:
                response = self.stub.Analyze(request)
            except grpc.RpcError as exc:
                rest = data[position:].decode("utf-8", errors="replace").strip()
                raise GoogleSQLError(str(exc.details()), rest.split(";\n")[0], kinds) from None
            kinds.append(self._apply(response, catalog, project))
            position = response.resume_byte_position
        return kinds

    def _apply(self, response: Any, catalog: Catalog, project: str) -> str:
        """Change ``catalog`` as the analyzed statement would; return its kind."""
        from google.protobuf.json_format import MessageToDict, ParseDict

        tree = MessageToDict(response.resolved_statement)
        kind = _deepest_kind(tree)
        if kind in ("CreateTableAsSelect", "CreateTable", "CreateView"):
            stmt = _find(tree, "namePath")
            definitions = _find(tree, "columnDefinitionList")
            if definitions:
                columns = [(c["name"], c["type"]) for c in definitions]
            else:
                columns = [
                    (c["name"], c["column"]["type"]) for c in _find(tree, "outputColumnList")
                ]
            types = self.m["types"]
            typed = [(n, ParseDict(t, types.TypeProto())) for n, t in columns]
            catalog.add(*catalog.key(project, stmt), typed)
        elif kind == "Drop":
            catalog.drop(*catalog.key(project, _find(tree, "namePath")))
        return kind


def _has_statement(rest: bytes) -> bool:
    """Whether anything but white space, ``;`` and comments is left."""
    text = rest.decode("utf-8", errors="replace")
    text = re.sub(r"/\*.*?\*/|--[^\n]*|#[^\n]*", "", text, flags=re.S)
    return bool(text.replace(";", "").strip())


def _deepest_kind(tree: dict[str, Any]) -> str:
    """``CreateTableAsSelect`` for ``{resolvedCreateStatementNode: {… {resolvedCreate
    TableAsSelectStmtNode: …}}}``: the innermost of the nested node wrappers."""
    kind, node = "Unknown", tree
    while isinstance(node, dict) and len(node) == 1:
        key = next(iter(node))
        if not (key.startswith("resolved") and key.endswith("Node")):
            break
        if match := _STMT_KEY.match(key):
            kind = match[1]
        node = node[key]
    return kind


def _find(tree: Any, key: str) -> Any:
    """The first value stored under ``key`` anywhere in ``tree`` (depth first)."""
    if isinstance(tree, dict):
        if key in tree:
            return tree[key]
        for value in tree.values():
            found = _find(value, key)
            if found is not None:
                return found
    elif isinstance(tree, list):
        for value in tree:
            found = _find(value, key)
            if found is not None:
                return found
    return None


def raw_catalog(analyzer: Analyzer, project: str) -> Catalog:
    """The raw dataset's tables with the schemas the BigQuery loader creates them with."""
    from ingest.schemas import AUDIT_COLUMNS, AUDIT_TABLE, RAW_SCHEMA, REJECTED_COLUMNS, TABLES
    from ingest.warehouse.bigquery import schema_fields

    wanted = {AUDIT_TABLE: AUDIT_COLUMNS}
    for schema in TABLES.values():
        wanted[schema.name] = schema.raw_columns
        wanted[schema.rejected_table] = REJECTED_COLUMNS
    catalog = Catalog()
    for name, columns in wanted.items():
        fields = [f.to_api_repr() for f in schema_fields(columns)]
        catalog.add(
            project, RAW_SCHEMA, name, [(f["name"], api_type(f, analyzer.m)) for f in fields]
        )
    return catalog


def connect() -> Analyzer:
    """An analyzer on the server ``nox -s bigquery`` started (``ZETASQL_ENDPOINT``)."""
    endpoint = os.environ.get("ZETASQL_ENDPOINT")
    if not endpoint:
        raise RuntimeError("ZETASQL_ENDPOINT is not set: run the check through `nox -s bigquery`")
    return Analyzer(endpoint)
