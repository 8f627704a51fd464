"""The deployment's parameter schema, generated from the flow's signature.

Terraform sends it as the deployment's ``parameter_openapi_schema`` (``terraform/prefect.tf``
reads ``terraform/daily_pipeline.parameters.json``), so the server validates every run's
parameters and the UI shows a form. Regenerate it after changing the flow's parameters::

    python -m tools.parameter_schema          # rewrite the file
    python -m tools.parameter_schema --check  # exit 1 if it is out of date (a test runs this)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "terraform" / "daily_pipeline.parameters.json"


def generate() -> str:
    """The schema Prefect derives from ``daily_pipeline``'s signature and docstring, as JSON."""
    from prefect.utilities.callables import parameter_schema

    from flows.daily_pipeline import daily_pipeline

    schema = parameter_schema(daily_pipeline).model_dump(mode="json")
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.parameter_schema", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only check the file is current")
    args = parser.parse_args(argv)
    wanted = generate()
    if args.check:
        current = SCHEMA_FILE.read_text(encoding="utf-8") if SCHEMA_FILE.exists() else ""
        if current != wanted:
            print(f"{SCHEMA_FILE} is out of date: run python -m tools.parameter_schema")
            return 1
        return 0
    SCHEMA_FILE.write_text(wanted, encoding="utf-8")
    print(f"wrote {SCHEMA_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
