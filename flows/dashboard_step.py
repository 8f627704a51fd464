"""Optional last step of the flow: render the local dashboard from the marts.

The ``dashboard`` package is imported lazily, so the pipeline runs without it unless the
step is asked for (``--dashboard`` / ``dashboard=True``).
"""

from __future__ import annotations

from pathlib import Path

from config.settings import Settings


def run_dashboard_step(settings: Settings) -> Path:
    """Render the dashboard for ``settings.target`` and return the path of the HTML file."""
    try:
        # Lazy: only needed when the step is asked for. The renderer needs plotly.
        import dashboard.render  # noqa: F401
        from dashboard import build_dashboard
    except ImportError as exc:
        raise RuntimeError(
            "the dashboard step needs the project's `dashboard` package and its extra, which "
            f"could not be imported ({exc}); run without --dashboard or install the project "
            "with the dashboard extra: pip install -e '.[dashboard]'"
        ) from exc
    return build_dashboard(settings)
