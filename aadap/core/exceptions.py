"""The AADAP exception taxonomy.

Every error AADAP raises descends from :class:`AADAPError` and carries three
class-level facts that drive behaviour everywhere:

* ``error_code`` — a stable, machine-readable code persisted in ``task_logs``
  and shown by the CLI (exit messages quote it);
* ``severity`` — an ordered :class:`ErrorSeverity` (LOW < MEDIUM < HIGH < CRITICAL);
* ``retryable`` — whether trying the *same* operation again can succeed.

:func:`is_retryable` is the single place where "retry or fail fast" is decided.
tenacity (inside the LLM and platform clients) and Prefect's
``retry_condition_fn`` (around every lifecycle step) both call it.

==================================  ============================  ========  =========
class                               error_code                    severity  retryable
==================================  ============================  ========  =========
AADAPError                          AADAP_ERROR                   MEDIUM    no
OrchestratorError                   ORCHESTRATOR_ERROR            HIGH      no
  InvalidStateTransitionError       INVALID_STATE_TRANSITION      HIGH      no
  StateConflictError                STATE_CONFLICT                MEDIUM    yes
  TaskNotFoundError                 TASK_NOT_FOUND                MEDIUM    no
  InvalidRequestError               INVALID_REQUEST               MEDIUM    no
    ExampleNeedsTablesError         EXAMPLE_NEEDS_TABLES          MEDIUM    no
    IdempotencyConflictError        IDEMPOTENCY_CONFLICT          MEDIUM    no
    ApprovalNotWaitingError         APPROVAL_NOT_WAITING          MEDIUM    no
  BudgetExceededError               BUDGET_EXCEEDED               CRITICAL  no
    TokenBudgetExceededError        TOKEN_BUDGET_EXCEEDED         CRITICAL  no
    CostBudgetExceededError         COST_BUDGET_EXCEEDED          CRITICAL  no
  ApprovalRequiredError             APPROVAL_REQUIRED             HIGH      no
  ApprovalRejectedError             APPROVAL_REJECTED             MEDIUM    no
  ApprovalExpiredError              APPROVAL_EXPIRED              HIGH      no
  TaskCancelledError                TASK_CANCELLED                MEDIUM    no
AgentLifecycleError                 AGENT_ERROR                   HIGH      no
  AgentOutputInvalidError           AGENT_OUTPUT_INVALID          HIGH      no
IntegrationError                    INTEGRATION_ERROR             MEDIUM    yes
  LLMError                          LLM_ERROR                     MEDIUM    yes
    LLMRateLimitError               LLM_RATE_LIMIT                MEDIUM    yes
    LLMTimeoutError                 LLM_TIMEOUT                   MEDIUM    yes
    LLMServerError                  LLM_SERVER_ERROR              MEDIUM    yes
    LLMAuthenticationError          LLM_AUTH_FAILED               HIGH      no
    LLMResponseError                LLM_BAD_RESPONSE              HIGH      no
    LLMUnsupportedRequestError      LLM_UNSUPPORTED_REQUEST       MEDIUM    no
  PlatformError                     PLATFORM_ERROR                MEDIUM    yes
    PlatformConnectionError         PLATFORM_CONNECTION_FAILED    MEDIUM    yes
    PlatformRateLimitError          PLATFORM_RATE_LIMIT           MEDIUM    yes
    PlatformTimeoutError            PLATFORM_TIMEOUT              MEDIUM    yes
    PlatformAuthenticationError     PLATFORM_AUTH_FAILED          HIGH      no
    PlatformBusyError               PLATFORM_BUSY                 MEDIUM    yes
  DatabaseUnavailableError          DATABASE_UNAVAILABLE          HIGH      yes
ExecutionError                      EXECUTION_ERROR               HIGH      no
  DeploymentFailedError             DEPLOYMENT_FAILED             HIGH      no
  ValidationFailedError             VALIDATION_FAILED             HIGH      no
  SafetyViolationError              SAFETY_VIOLATION              CRITICAL  no
  InvalidDataError                  DATA_INVALID                  HIGH      no
ConfigurationError                  CONFIG_ERROR                  HIGH      no
  MissingConfigurationError         CONFIG_MISSING                HIGH      no
  InvalidConfigurationError         CONFIG_INVALID                HIGH      no
  UnpricedModelError                MODEL_UNPRICED                HIGH      no
  SecretDecryptionError             SECRET_DECRYPTION_FAILED      CRITICAL  no
  ServeAlreadyRunningError          SERVE_ALREADY_RUNNING         HIGH      no
DataFileError                       DATA_FILE_ERROR               MEDIUM    no
  DataFileNotFoundError             DATA_FILE_NOT_FOUND           MEDIUM    no
  DataFileIsDirectoryError          DATA_FILE_IS_DIRECTORY        MEDIUM    no
  DataPathOutsideRootError          DATA_PATH_OUTSIDE_ROOT        MEDIUM    no
PrefectAPIError                     PREFECT_API_ERROR             HIGH      yes
  PrefectUnavailableError           PREFECT_UNAVAILABLE           HIGH      yes
FileSystemError                     FILESYSTEM_ERROR              HIGH      no
InternalError                       INTERNAL_ERROR                HIGH      no
==================================  ============================  ========  =========

``DataFileError`` and its leaves are request errors (:class:`InvalidRequestError`): the
CLI exits 2 for them. ``PrefectAPIError`` is an :class:`IntegrationError`.

Exceptions pickle with every field (Prefect stores them in states): every
constructor argument beyond the message is optional, and ``__reduce__``
rebuilds the instance from its persisted dictionary.
"""

from __future__ import annotations

import enum
from typing import Any, ClassVar


class ErrorSeverity(enum.IntEnum):
    """How bad an error is. Ordered: ``LOW < MEDIUM < HIGH < CRITICAL``."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    def __str__(self) -> str:
        return self.name


def _restore(cls: type[AADAPError], message: str, state: dict[str, Any]) -> AADAPError:
    exc = cls.__new__(cls)
    AADAPError.__init__(exc, message)
    exc.__dict__.update(state)
    return exc


class AADAPError(Exception):
    """Root of every error AADAP raises."""

    error_code: ClassVar[str] = "AADAP_ERROR"
    severity: ClassVar[ErrorSeverity] = ErrorSeverity.MEDIUM
    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        task_id: str | None = None,
        agent_id: str | None = None,
        correlation_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.task_id = None if task_id is None else str(task_id)
        self.agent_id = agent_id
        self.correlation_id = correlation_id
        self.details: dict[str, Any] = dict(details or {})

    def __reduce__(self) -> tuple[Any, ...]:
        state = {k: v for k, v in self.__dict__.items() if k != "message"}
        return (_restore, (type(self), self.message, state))

    def __str__(self) -> str:
        return f"[{self.error_code}] {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """What is persisted in ``task_logs`` and returned by ``--format json``."""
        return {
            "type": type(self).__name__,
            "error_code": self.error_code,
            "severity": self.severity.name,
            "retryable": self.retryable,
            "message": self.message,
            "task_id": self.task_id,
            "agent_id": self.agent_id,
            "correlation_id": self.correlation_id,
            "details": self.details,
        }


# --- categories ---------------------------------------------------------------


class OrchestratorError(AADAPError):
    error_code = "ORCHESTRATOR_ERROR"
    severity = ErrorSeverity.HIGH


class AgentLifecycleError(AADAPError):
    error_code = "AGENT_ERROR"
    severity = ErrorSeverity.HIGH


class IntegrationError(AADAPError):
    """A call to something outside the process failed; transient by default."""

    error_code = "INTEGRATION_ERROR"
    severity = ErrorSeverity.MEDIUM
    retryable = True


class ExecutionError(AADAPError):
    error_code = "EXECUTION_ERROR"
    severity = ErrorSeverity.HIGH


class ConfigurationError(AADAPError):
    error_code = "CONFIG_ERROR"
    severity = ErrorSeverity.HIGH


# --- orchestrator -------------------------------------------------------------


class InvalidStateTransitionError(OrchestratorError):
    error_code = "INVALID_STATE_TRANSITION"


class StateConflictError(OrchestratorError):
    """Another writer moved the task first (compare-and-set lost)."""

    error_code = "STATE_CONFLICT"
    severity = ErrorSeverity.MEDIUM
    retryable = True


class TaskNotFoundError(OrchestratorError):
    error_code = "TASK_NOT_FOUND"
    severity = ErrorSeverity.MEDIUM


class InvalidRequestError(OrchestratorError):
    """A request (CLI, API parameters) failed validation; ``details`` names the field."""

    error_code = "INVALID_REQUEST"
    severity = ErrorSeverity.MEDIUM


class ExampleNeedsTablesError(InvalidRequestError):
    """A bundled example reads tables that earlier examples create and the target lacks;
    ``details`` names the tables and the examples to run first."""

    error_code = "EXAMPLE_NEEDS_TABLES"


class IdempotencyConflictError(InvalidRequestError):
    """An idempotency key already names a task created from a different request;
    ``details`` has the key and the existing task's id."""

    error_code = "IDEMPOTENCY_CONFLICT"


class ApprovalNotWaitingError(InvalidRequestError):
    """A decision on an approval request that is closed, or whose run is not waiting for
    it; nothing was changed."""

    error_code = "APPROVAL_NOT_WAITING"


class BudgetExceededError(OrchestratorError):
    error_code = "BUDGET_EXCEEDED"
    severity = ErrorSeverity.CRITICAL


class TokenBudgetExceededError(BudgetExceededError):
    error_code = "TOKEN_BUDGET_EXCEEDED"


class CostBudgetExceededError(BudgetExceededError):
    error_code = "COST_BUDGET_EXCEEDED"


class ApprovalRequiredError(OrchestratorError):
    error_code = "APPROVAL_REQUIRED"


class ApprovalRejectedError(OrchestratorError):
    error_code = "APPROVAL_REJECTED"
    severity = ErrorSeverity.MEDIUM


class ApprovalExpiredError(OrchestratorError):
    error_code = "APPROVAL_EXPIRED"


class TaskCancelledError(OrchestratorError):
    error_code = "TASK_CANCELLED"
    severity = ErrorSeverity.MEDIUM


# --- agents -------------------------------------------------------------------


class AgentOutputInvalidError(AgentLifecycleError):
    """The agent's output still failed its schema after self-correction."""

    error_code = "AGENT_OUTPUT_INVALID"


# --- integrations -------------------------------------------------------------


class LLMError(IntegrationError):
    error_code = "LLM_ERROR"


class LLMRateLimitError(LLMError):
    """HTTP 429. ``details['retry_after']`` holds the server's hint in seconds."""

    error_code = "LLM_RATE_LIMIT"


class LLMTimeoutError(LLMError):
    error_code = "LLM_TIMEOUT"


class LLMServerError(LLMError):
    error_code = "LLM_SERVER_ERROR"


class LLMAuthenticationError(LLMError):
    error_code = "LLM_AUTH_FAILED"
    severity = ErrorSeverity.HIGH
    retryable = False


class LLMResponseError(LLMError):
    """The provider answered, but not with something usable (4xx, malformed body)."""

    error_code = "LLM_BAD_RESPONSE"
    severity = ErrorSeverity.HIGH
    retryable = False


class LLMUnsupportedRequestError(LLMError):
    """The offline provider cannot handle this request; configure a real provider."""

    error_code = "LLM_UNSUPPORTED_REQUEST"
    retryable = False


class PlatformError(IntegrationError):
    error_code = "PLATFORM_ERROR"


class PlatformConnectionError(PlatformError):
    error_code = "PLATFORM_CONNECTION_FAILED"


class PlatformRateLimitError(PlatformError):
    error_code = "PLATFORM_RATE_LIMIT"


class PlatformTimeoutError(PlatformError):
    error_code = "PLATFORM_TIMEOUT"


class PlatformAuthenticationError(PlatformError):
    error_code = "PLATFORM_AUTH_FAILED"
    severity = ErrorSeverity.HIGH
    retryable = False


class PlatformBusyError(PlatformError):
    """The target is held by another writer (the local DuckDB file's lock) and the bounded
    wait ran out; nothing was run, so trying again can succeed."""

    error_code = "PLATFORM_BUSY"


class DatabaseUnavailableError(IntegrationError):
    error_code = "DATABASE_UNAVAILABLE"
    severity = ErrorSeverity.HIGH


# --- execution ----------------------------------------------------------------


class DeploymentFailedError(ExecutionError):
    """The platform ran the code and it failed; ``details`` has message and run URL."""

    error_code = "DEPLOYMENT_FAILED"


class ValidationFailedError(ExecutionError):
    error_code = "VALIDATION_FAILED"


class SafetyViolationError(ExecutionError):
    error_code = "SAFETY_VIOLATION"
    severity = ErrorSeverity.CRITICAL


class InvalidDataError(ExecutionError):
    """Input data that cannot be read correctly (a ragged or badly quoted CSV, an empty
    file); refused before anything runs. ``details`` names the file and the problem."""

    error_code = "DATA_INVALID"


# --- configuration ------------------------------------------------------------


class MissingConfigurationError(ConfigurationError):
    error_code = "CONFIG_MISSING"


class InvalidConfigurationError(ConfigurationError):
    error_code = "CONFIG_INVALID"


class ServeAlreadyRunningError(ConfigurationError):
    """Another ``aadap serve`` serves the deployments against the same Prefect API on this
    machine (or is still finishing its runs after the handover wait)."""

    error_code = "SERVE_ALREADY_RUNNING"


class UnpricedModelError(ConfigurationError):
    """A USD budget is set but the model has no known price: fail closed."""

    error_code = "MODEL_UNPRICED"


class SecretDecryptionError(ConfigurationError):
    """A stored secret cannot be decrypted with the configured key(s)."""

    error_code = "SECRET_DECRYPTION_FAILED"
    severity = ErrorSeverity.CRITICAL


# --- data files, Prefect, the file system, and the unexpected (the CLI boundary) -------


class DataFileError(InvalidRequestError):
    """A data file named in a request cannot be used; ``details['path']`` names it."""

    error_code = "DATA_FILE_ERROR"


class DataFileNotFoundError(DataFileError):
    error_code = "DATA_FILE_NOT_FOUND"


class DataFileIsDirectoryError(DataFileError):
    error_code = "DATA_FILE_IS_DIRECTORY"


class DataPathOutsideRootError(DataFileError):
    """A request names a file outside the data root (``AADAP_DATA_ROOT``); ``details``
    names the path, where it resolves and the root."""

    error_code = "DATA_PATH_OUTSIDE_ROOT"


class PrefectAPIError(IntegrationError):
    """The Prefect API answered with an error (or a Prefect client call failed)."""

    error_code = "PREFECT_API_ERROR"
    severity = ErrorSeverity.HIGH


class PrefectUnavailableError(PrefectAPIError):
    """No Prefect API answered at ``PREFECT_API_URL`` (or none is configured where one is needed)."""

    error_code = "PREFECT_UNAVAILABLE"


class FileSystemError(AADAPError):
    """A local file or folder could not be read, written or created."""

    error_code = "FILESYSTEM_ERROR"
    severity = ErrorSeverity.HIGH


class InternalError(AADAPError):
    """An exception nobody translated: most likely a bug. ``details['log']`` says where its
    traceback was written."""

    error_code = "INTERNAL_ERROR"
    severity = ErrorSeverity.HIGH


# --- the one retry decision ---------------------------------------------------

_TRANSIENT_BUILTINS: tuple[type[BaseException], ...] = (TimeoutError, ConnectionError)


def is_retryable(exc: BaseException) -> bool:
    """Decide whether the operation that raised ``exc`` may be tried again.

    * An :class:`AADAPError` answers for itself through its ``retryable`` attribute.
    * Python's own :class:`TimeoutError` and :class:`ConnectionError` (and their
      subclasses) are transient by nature and are retried.
    * Anything else is **not** retried: an unknown exception is most likely a bug,
      and retrying a bug only repeats LLM spend. Integrations translate the errors
      they know into the taxonomy at their boundary, so this branch is rare.
    """
    if isinstance(exc, AADAPError):
        return exc.retryable
    return isinstance(exc, _TRANSIENT_BUILTINS)


def all_error_classes() -> list[type[AADAPError]]:
    """Every class in the taxonomy (used by docs and tests)."""
    seen: list[type[AADAPError]] = []
    stack: list[type[AADAPError]] = [AADAPError]
    while stack:
        cls = stack.pop(0)
        if cls not in seen:
            seen.append(cls)
            stack.extend(cls.__subclasses__())
    return seen


__all__ = [name for name in dir() if name.endswith("Error")] + [
    "ErrorSeverity",
    "all_error_classes",
    "is_retryable",
]
