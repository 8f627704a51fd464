"""How the pipeline connects to BigQuery: with ``Settings.dbt_env``, the one place where the
local emulator differs.

Production and the local BigQuery API emulator receive the same requests (same paths, same
bodies, same SQL); only two things differ, and both are decided here from
``settings.bigquery_api_endpoint`` (``BIGQUERY_API_ENDPOINT``):

- where requests go: ``https://bigquery.googleapis.com`` or the emulator's endpoint;
- how they are authenticated: Google credentials (application default credentials, which
  honour ``GOOGLE_APPLICATION_CREDENTIALS``) or none at all (the emulator takes none).

The client of the ingest, the publish step and the dashboard (:func:`bigquery_client`) and
dbt's ``prod`` profile (through :meth:`config.settings.Settings.dbt_env`) both follow it.
``tests/bigquery/test_emulator_difference.py`` records the HTTP requests of both modes and
checks that nothing else differs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from google.cloud import bigquery

    from config.settings import Settings


def uses_emulator(settings: Settings) -> bool:
    """Whether requests go to a local BigQuery API emulator instead of Google."""
    return bool(settings.bigquery_api_endpoint)


def bigquery_client(settings: Settings, **kwargs: Any) -> bigquery.Client:
    """A ``google.cloud.bigquery.Client`` for the settings' project and location.

    ``kwargs`` go to the client (tests pass ``credentials`` or ``_http``).
    """
    try:
        from google.cloud import bigquery
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ImportError(
            f"the BigQuery target needs google-cloud-bigquery ({exc}); install the project "
            "with the bigquery extra: pip install -e '.[bigquery]'"
        ) from exc

    options: dict[str, Any] = {
        "project": settings.bigquery_project,
        "location": settings.bigquery_location,
    }
    if uses_emulator(settings):
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials

        options["client_options"] = ClientOptions(api_endpoint=settings.bigquery_api_endpoint)
        options["credentials"] = AnonymousCredentials()
    options.update(kwargs)
    return bigquery.Client(**options)
