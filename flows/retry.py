"""Which failures are worth retrying.

Only transient failures (network, timeouts, quota, 5xx) are retried. Data errors, such as a
file that breaks the input contract or a failing dbt test, fail fast: running them again
gives the same answer.
"""

from __future__ import annotations

from typing import Any

#: Subclasses of ``OSError`` that describe the data or the set-up, not a passing hiccup.
_PERMANENT_OS_ERRORS: tuple[type[OSError], ...] = (
    FileNotFoundError,
    FileExistsError,
    IsADirectoryError,
    NotADirectoryError,
    PermissionError,
)

#: How many times a task may be retried, and the pause before each retry (seconds).
RETRIES = 2
RETRY_DELAYS_S: list[float] = [10, 60]


def _google_transient(exc: BaseException) -> bool:
    """True for google-api-core errors its own retry policy calls transient (if installed)."""
    try:
        from google.api_core import exceptions as gexc
        from google.api_core.retry import if_transient_error
    except ImportError:
        return False
    if if_transient_error(exc):
        return True
    return isinstance(exc, gexc.DeadlineExceeded | gexc.GatewayTimeout | gexc.BadGateway)


def _data_error_types() -> tuple[type[BaseException], ...]:
    """Errors that are never retried, whatever they wrap."""
    from flows.dbt_build import DbtBuildError

    types: list[type[BaseException]] = [DbtBuildError]
    try:
        from ingest import IngestError
    except ImportError:  # pragma: no cover - ingest is part of the project
        pass
    else:
        types.append(IngestError)
    return tuple(types)


def is_transient(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or an error it was raised from) is a transient failure worth retrying."""
    data_errors = _data_error_types()
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, data_errors):
            return False
        if isinstance(exc, _PERMANENT_OS_ERRORS):
            return False
        if isinstance(exc, OSError | ConnectionError | TimeoutError):
            return True
        if _google_transient(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def retry_on_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect ``retry_condition_fn``: retry a failed task run only for transient errors."""
    exc = getattr(state, "data", None)
    if not isinstance(exc, BaseException):
        try:
            exc = state.result(raise_on_failure=False)
        except Exception:  # the state holds no readable result: do not retry blindly
            return False
    return isinstance(exc, BaseException) and is_transient(exc)
