"""Prefect's console handler without tracebacks, for the terminal of ``aadap run`` and ``submit``.

Prefect logs a failed task or flow run with its traceback. The full record still goes to
Prefect's run log (the API handler) and AADAP mirrors it into ``task_logs``; the terminal
gets the one line and, at the end, AADAP's own ``error [CODE] message``. ``--verbose`` and
``AADAP_DEBUG=1`` keep Prefect's own handler. Installed through Prefect's public logging
configuration (``PREFECT_LOGGING_HANDLERS_CONSOLE_CLASS``, see ``_prefect_env.prepare``).
"""

from __future__ import annotations

import logging

from prefect.logging.handlers import PrefectConsoleHandler

_RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")


class TracebackFreeConsoleHandler(PrefectConsoleHandler):
    """Formats a copy of each record without its exception and stack; the record that the
    other handlers see is left untouched. A flow or task run's own failure records
    (ERROR and above) are not printed at all: ``aadap run`` shows the failed step and
    ends with the error's one line, so they would only repeat it."""

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR and record.name.startswith(_RUN_LOGGERS):
            return
        super().emit(record)

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info is None and record.exc_text is None and record.stack_info is None:
            return super().format(record)
        bare = logging.makeLogRecord(record.__dict__)
        bare.exc_info = None
        bare.exc_text = None
        bare.stack_info = None
        return super().format(bare)


__all__ = ["TracebackFreeConsoleHandler"]
