"""Validate the project's JSON files against Microsoft's published schemas, offline.

The schemas are stored locally under the paths of their ``$schema`` URLs; every ``$ref`` (relative
or absolute) is resolved from that local copy, never from the network.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jsonschema.validators import validator_for
from pbi_project import SCHEMAS_DIR, load_json, schema_path
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource
from referencing.jsonschema import DRAFT7


@cache
def registry(schemas_dir: Path = SCHEMAS_DIR) -> Registry:
    """A registry that retrieves every schema URL from ``schemas_dir``."""

    def retrieve(uri: str) -> Resource:
        try:
            path = schema_path(uri, schemas_dir)
        except ValueError as error:
            raise NoSuchResource(ref=uri) from error
        if not path.is_file():
            raise NoSuchResource(ref=uri)
        return Resource.from_contents(load_json(path), default_specification=DRAFT7)

    return Registry(retrieve=retrieve)  # type: ignore[call-arg]


def schema_errors(document: Any, schemas_dir: Path = SCHEMAS_DIR) -> list[str]:
    """Validation errors of a document against the schema its ``$schema`` names."""
    url = document.get("$schema") if isinstance(document, dict) else None
    if not url:
        return ["no $schema: every Power BI project file must name its schema"]
    path = schema_path(url, schemas_dir)
    if not path.is_file():
        return [f"schema {url} is not in {schemas_dir} (expected {path})"]
    schema = load_json(path)
    validator = validator_for(schema)(schema, registry=registry(schemas_dir))
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}"
        for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    ]
