"""The run's story in Prefect's run log: the operator's view of ``task_logs`` and the ledger.

The services tell (``progress.tell``) each move, LLM call and retry; the lifecycle
tells the safety findings, the approval request and decision, the deploy result and
which steps a resumed run restored from the record. Each line goes to the current
flow or task run's logger, marked so the log mirror (``logmirror``) does not copy it
back into ``task_logs``, which already holds what it says.

Prefect logs a paused or suspended run's last line ("Finished in state Suspended(…)")
at ERROR (its engine logs every non-completed end so): :class:`WaitingIsInfo` lowers
exactly that record to INFO, since waiting for a reviewer is no error.
"""

from __future__ import annotations

import logging
import re
import threading

from prefect.exceptions import MissingContextError
from prefect.logging import get_run_logger

from aadap.core.enums import LogLevel
from aadap.services import progress

#: the attribute that marks a story record (the mirror skips it)
MARK = "aadap_story"
_LEVELS = {
    LogLevel.DEBUG: logging.DEBUG,
    LogLevel.INFO: logging.INFO,
    LogLevel.WARNING: logging.WARNING,
    LogLevel.ERROR: logging.ERROR,
    LogLevel.CRITICAL: logging.CRITICAL,
}


def tell(level: LogLevel, message: str) -> None:
    """Write one line to the current run's log; outside a flow or task run, nothing."""
    try:
        logger = get_run_logger()
    except MissingContextError:
        return
    logger.log(_LEVELS[level], message, extra={MARK: True})


def is_story(record: logging.LogRecord) -> bool:
    return bool(getattr(record, MARK, False))


class WaitingIsInfo(logging.Filter):
    """Lowers Prefect's "Finished in state Suspended(…)"/"Paused(…)" record to INFO."""

    _WAITING = re.compile(r"^Finished in state (Suspended|Paused)\(")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO and self._WAITING.match(record.getMessage()):
            record.levelno, record.levelname = logging.INFO, logging.getLevelName(logging.INFO)
        return True


_installed = False
_lock = threading.Lock()


def install() -> None:
    """Narrate through the run logger and calm the waiting line, once per process."""
    global _installed
    with _lock:
        if not _installed:
            progress.narrate_with(tell)
            logging.getLogger("prefect.flow_runs").addFilter(WaitingIsInfo())
            _installed = True
