"""Optional last step of the flow: render the local dashboard from the marts.

The ``dashboard`` package is imported lazily, so the pipeline runs without it unless the
step is asked for (``--dashboard`` / ``dashboard=True``).
"""

from __future__ import annotations

from pathlib import Path

from ingest.settings import Settings


def run_dashboard_step(settings: Settings) -> Path:
    """Render the dashboard for ``settings.target`` and return the path of the HTML file."""
    try:
        import dashboard  # noqa: F401 - lazy: only needed when the step is asked for
    except ImportError as exc:
        raise RuntimeError(
            "the dashboard step needs the project's `dashboard` package, which could not be "
            f"imported ({exc}); run without --dashboard or install the project in full"
        ) from exc
    raise NotImplementedError("the dashboard package does not provide a renderer yet")
