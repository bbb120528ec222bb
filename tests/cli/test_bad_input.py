"""Bad input, as a newcomer types it: every case ends in one line ``error [CODE] message``
with the documented exit status (2 bad input or configuration, 1 a failure), and never a
Python traceback.

Most cases run the real ``aadap`` app in-process (typer's runner: the same group, the same
boundary); the ones that start Prefect or the embedded server run the installed command
in a subprocess, because Prefect's own console output is part of what is checked.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from aadap.cli import app
from aadap.cli._errors import BoundaryGroup
from aadap.core.exceptions import ValidationFailedError
from tests.cli import AADAP, aadap, cli_env

UNKNOWN_ID = "12345678-1234-5678-1234-567812345678"
ERROR_LINE = re.compile(r"^error \[([A-Z_]+)\] (.+)$", re.MULTILINE)


@dataclass(frozen=True)
class Case:
    args: list[str]
    status: int
    code: str
    says: list[str] = field(default_factory=list)  # fragments the message must contain
    env: dict[str, str] = field(default_factory=dict)


def home_file(tmp: Path) -> str:
    target = tmp / "a-file"
    target.write_text("not a directory")
    return str(target)


CASES: dict[str, Case] = {
    # --- aadap run: what is given with what, and the request's options ----------------
    "text with --example": Case(["run", "load a.csv into t", "--example", "daily-revenue"], 2,
                                "INVALID_REQUEST", ["a request text", "--example"]),
    "text with --resume": Case(["run", "load a.csv into t", "--resume", UNKNOWN_ID], 2,
                               "INVALID_REQUEST", ["a request text", "--resume alone"]),
    "--example with --resume": Case(["run", "--example", "daily-revenue", "--resume", UNKNOWN_ID],
                                    2, "INVALID_REQUEST", ["--example", "--resume"]),
    "--resume with --platform": Case(["run", "--resume", UNKNOWN_ID, "--platform", "fabric"], 2,
                                     "INVALID_REQUEST", ["--platform", "--resume"]),
    "--resume with --environment": Case(["run", "--resume", UNKNOWN_ID, "--environment", "SANDBOX"],
                                        2, "INVALID_REQUEST", ["--environment"]),
    "--resume with --token-budget": Case(["run", "--resume", UNKNOWN_ID, "--token-budget", "5"], 2,
                                         "INVALID_REQUEST", ["--token-budget"]),
    "--resume with --usd-budget": Case(["run", "--resume", UNKNOWN_ID, "--usd-budget", "1"], 2,
                                       "INVALID_REQUEST", ["--usd-budget"]),
    "--resume with --idempotency-key": Case(
        ["run", "--resume", UNKNOWN_ID, "--idempotency-key", "k"], 2, "INVALID_REQUEST",
        ["--idempotency-key"]),
    "--resume with --connection": Case(["run", "--resume", UNKNOWN_ID, "--connection", "c"], 2,
                                       "INVALID_REQUEST", ["--connection"]),
    "--resume too short": Case(["run", "--resume", "abc"], 2, "INVALID_REQUEST",
                               ["--resume='abc'", "at least 6 characters"]),
    "--resume empty": Case(["run", "--resume", ""], 2, "INVALID_REQUEST", ["--resume=''"]),
    "--resume malformed full id": Case(["run", "--resume", "x" * 36], 2, "INVALID_REQUEST",
                                       ["not a UUID"]),
    "--resume unknown id": Case(["run", "--resume", UNKNOWN_ID], 2, "TASK_NOT_FOUND",
                                [UNKNOWN_ID, "does not exist"]),
    "--resume unknown prefix": Case(["run", "--resume", "abcdef12"], 2, "TASK_NOT_FOUND",
                                    ["no task matches 'abcdef12'"]),
    "--resume non-hex prefix": Case(["run", "--resume", "zzzzzzzz"], 2, "TASK_NOT_FOUND",
                                    ["zzzzzzzz"]),
    "empty --environment": Case(["run", "load a.csv into t", "--environment", ""], 2,
                                "INVALID_REQUEST", ["environment=''", "'SANDBOX' or 'PRODUCTION'"]),
    "empty --platform": Case(["run", "load a.csv into t", "--platform", ""], 2, "INVALID_REQUEST",
                             ["platform=''"]),
    "NaN USD budget": Case(["run", "load a.csv into t", "--usd-budget", "NaN"], 2,
                           "INVALID_REQUEST", ["usd_budget", "finite"]),
    "infinite USD budget": Case(["run", "load a.csv into t", "--usd-budget", "Infinity"], 2,
                                "INVALID_REQUEST", ["usd_budget", "finite"]),
    "signalling NaN USD budget": Case(["run", "load a.csv into t", "--usd-budget", "sNaN"], 2,
                                      "INVALID_REQUEST", ["usd_budget"]),
    "astronomic USD budget": Case(["run", "load a.csv into t", "--usd-budget", "1e999999"], 2,
                                  "INVALID_REQUEST", ["usd_budget", "100000"]),
    "USD budget with a currency sign": Case(["run", "load a.csv into t", "--usd-budget", "$5"], 2,
                                            "INVALID_REQUEST", ["--usd-budget='$5'"]),
    "huge token budget": Case(["run", "load a.csv into t", "--token-budget", "9" * 20], 2,
                              "INVALID_REQUEST", ["token_budget", "100000000"]),
    "token budget not a number": Case(["run", "load a.csv into t", "--token-budget", "lots"], 2,
                                      "INVALID_REQUEST", ["--token-budget", "integer"]),
    "empty idempotency key": Case(["run", "load a.csv into t", "--idempotency-key", ""], 2,
                                  "INVALID_REQUEST", ["idempotency_key"]),
    "oversized idempotency key": Case(["run", "load a.csv into t", "--idempotency-key", "k" * 129],
                                      2, "INVALID_REQUEST", ["idempotency_key", "128"]),
    "oversized connection name": Case(["run", "load a.csv into t", "--connection", "c" * 129], 2,
                                      "INVALID_REQUEST", ["connection"]),
    "unknown example": Case(["run", "--example", "nope"], 2, "INVALID_REQUEST", ["--example='nope'"]),
    "run format": Case(["run", "load a.csv into t", "--format", "yaml"], 2, "INVALID_REQUEST",
                       ["--format='yaml'", "text, json"]),
    # --- aadap costs ------------------------------------------------------------------
    "--since overflows a date": Case(["costs", "--since", "99999999d"], 2, "INVALID_REQUEST",
                                     ["--since='99999999d'", "7d"]),
    "--since overflows a timedelta": Case(["costs", "--since", "999999999w"], 2, "INVALID_REQUEST",
                                          ["--since='999999999w'"]),
    "--since with too many digits": Case(["costs", "--since", "1" * 30 + "d"], 2,
                                         "INVALID_REQUEST", ["--since="]),
    "--since negative age": Case(["costs", "--since", "-5d"], 2, "INVALID_REQUEST", ["'-5d'"]),
    "--since in years": Case(["costs", "--since", "5y"], 2, "INVALID_REQUEST", ["'5y'", "12h"]),
    "--since words": Case(["costs", "--since", "yesterday"], 2, "INVALID_REQUEST", ["'yesterday'"]),
    "--since empty": Case(["costs", "--since", ""], 2, "INVALID_REQUEST", ["--since=''"]),
    "--since impossible date": Case(["costs", "--since", "2026-02-30"], 2, "INVALID_REQUEST",
                                    ["2026-02-30"]),
    "costs grouping": Case(["costs", "--by", "year"], 2, "INVALID_REQUEST", ["--by='year'", "month"]),
    "costs format": Case(["costs", "--format", "xml"], 2, "INVALID_REQUEST", ["table, csv, json"]),
    # --- aadap logs / tasks -------------------------------------------------------------
    "logs short id": Case(["logs", "abc"], 2, "INVALID_REQUEST", ["'abc'", "6 characters"]),
    "logs unknown prefix": Case(["logs", "zzzzzzzz"], 2, "TASK_NOT_FOUND", ["zzzzzzzz"]),
    "logs unknown id": Case(["logs", UNKNOWN_ID], 2, "TASK_NOT_FOUND", [UNKNOWN_ID]),
    "logs malformed full id": Case(["logs", "g" * 32], 2, "INVALID_REQUEST", ["not a UUID"]),
    "logs level": Case(["logs", UNKNOWN_ID, "--level", "TRACE"], 2, "INVALID_REQUEST",
                       ["--level='TRACE'", "WARNING"]),
    "logs format": Case(["logs", UNKNOWN_ID, "--format", "csv"], 2, "INVALID_REQUEST",
                        ["--format='csv'"]),
    "tasks show short id": Case(["tasks", "show", "abc"], 2, "INVALID_REQUEST", ["'abc'"]),
    "tasks show unknown id": Case(["tasks", "show", UNKNOWN_ID], 2, "TASK_NOT_FOUND", [UNKNOWN_ID]),
    "tasks list limit 0": Case(["tasks", "list", "--limit", "0"], 2, "INVALID_REQUEST",
                               ["--limit", "greater than or equal to 1"]),
    "tasks list limit huge": Case(["tasks", "list", "--limit", "100000"], 2, "INVALID_REQUEST",
                                  ["--limit", "1000"]),
    "tasks list limit words": Case(["tasks", "list", "--limit", "many"], 2, "INVALID_REQUEST",
                                   ["--limit", "integer"]),
    "tasks list state": Case(["tasks", "list", "--state", "DONE"], 2, "INVALID_REQUEST",
                             ["--state='DONE'", "COMPLETED"]),
    # --- aadap db -----------------------------------------------------------------------
    "downgrade to an unknown revision": Case(["db", "downgrade", "nope"], 2, "INVALID_REQUEST",
                                             ["REVISION='nope'", "base", "0001"]),
    "downgrade to an empty revision": Case(["db", "downgrade", ""], 2, "INVALID_REQUEST",
                                           ["REVISION=''"]),
    "upgrade to an unknown revision": Case(["db", "upgrade", "9999"], 2, "INVALID_REQUEST",
                                           ["REVISION='9999'"]),
    "downgrade further than base": Case(["db", "downgrade", "-99"], 2, "INVALID_REQUEST",
                                        ["migration was refused", "-99"]),
    "upgrade past head": Case(["db", "upgrade", "+5"], 2, "INVALID_REQUEST", ["+5"]),
    # --- aadap check --------------------------------------------------------------------
    "check a directory": Case(["check", "{tmp}"], 2, "INVALID_REQUEST", ["is a directory"]),
    "check a missing file": Case(["check", "{tmp}/gone.sql"], 2, "INVALID_REQUEST",
                                 ["No such file"]),
    "check a language": Case(["check", "-", "--language", "cobol"], 2, "INVALID_REQUEST",
                             ["--language='cobol'", "sql"]),
    "check a platform": Case(["check", "-", "--language", "sql", "--platform", "snowflake"], 2,
                             "INVALID_REQUEST", ["--platform='snowflake'"]),
    # --- aadap connections --------------------------------------------------------------
    "connections unknown name": Case(["connections", "show", "nope"], 2, "INVALID_REQUEST",
                                     ["name='nope'", "aadap connections list"]),
    "connections unknown platform": Case(["connections", "add", "x", "--platform", "snowflake"], 2,
                                         "INVALID_REQUEST", ["'snowflake'", "databricks"]),
    # --- the environment ----------------------------------------------------------------
    "AADAP_HOME empty": Case(["tasks", "list"], 2, "CONFIG_INVALID", ["AADAP_HOME=''", "~/.aadap"],
                             {"AADAP_HOME": ""}),
    "AADAP_HOME blank": Case(["tasks", "list"], 2, "CONFIG_INVALID", ["AADAP_HOME"],
                             {"AADAP_HOME": "   "}),
    "AADAP_HOME a file": Case(["tasks", "list"], 2, "CONFIG_INVALID", ["is a file"],
                              {"AADAP_HOME": "{home_file}"}),
    "AADAP_HOME under a file": Case(["costs"], 2, "CONFIG_INVALID", ["cannot be created"],
                                    {"AADAP_HOME": "{home_file}/sub"}),
    "AADAP_HOME for run": Case(["run", "load a.csv into t"], 2, "CONFIG_INVALID", ["is a file"],
                               {"AADAP_HOME": "{home_file}"}),
    "policy not JSON": Case(["tasks", "list"], 2, "CONFIG_INVALID",
                            ["AADAP_SAFETY_POLICY='{bad'", "not valid JSON", "line 1 column 2"],
                            {"AADAP_SAFETY_POLICY": "{bad"}),
    "policy JSON of the wrong shape": Case(["check", "-", "--language", "sql"], 2, "CONFIG_INVALID",
                                           ["AADAP_SAFETY_POLICY"],
                                           {"AADAP_SAFETY_POLICY": "[1, 2]"}),
    "policy with an unknown decision": Case(
        ["tasks", "list"], 2, "CONFIG_INVALID", ["AADAP_SAFETY_POLICY", "'maybe'"],
        {"AADAP_SAFETY_POLICY": '{"SANDBOX": {"write": "maybe"}}'}),
    "models not JSON": Case(["config", "show"], 2, "CONFIG_INVALID", ["AADAP_LLM_MODELS="],
                            {"AADAP_LLM_MODELS": "{"}),
    "database URL scheme": Case(["tasks", "list"], 2, "CONFIG_INVALID", ["AADAP_DATABASE_URL"],
                                {"AADAP_DATABASE_URL": "mysql://db/x"}),
    "unreachable database": Case(["tasks", "list"], 1, "DATABASE_UNAVAILABLE", ["127.0.0.1:1"],
                                 {"AADAP_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/x"}),
    "self corrections not a number": Case(["tasks", "list"], 2, "CONFIG_INVALID",
                                          ["AADAP_MAX_SELF_CORRECTIONS"],
                                          {"AADAP_MAX_SELF_CORRECTIONS": "abc"}),
    "unknown time zone": Case(["costs"], 2, "CONFIG_INVALID", ["AADAP_TIMEZONE", "Mars/Base"],
                              {"AADAP_TIMEZONE": "Mars/Base"}),
    "foreground approval timeout": Case(
        ["tasks", "list"], 2, "CONFIG_INVALID", ["AADAP_SAFETY_FOREGROUND_APPROVAL_TIMEOUT_SECONDS"],
        {"AADAP_SAFETY_FOREGROUND_APPROVAL_TIMEOUT_SECONDS": "0"}),
}  # fmt: skip


@pytest.fixture
def runner_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A home per test; whatever a command sets in ``os.environ`` is undone afterwards."""
    before = dict(os.environ)
    env = {"AADAP_HOME": str(tmp_path / "home"), "AADAP_DEBUG": ""}
    yield env
    os.environ.clear()
    os.environ.update(before)


def expand(value: str, tmp: Path) -> str:
    return value.replace("{home_file}", home_file(tmp) if "{home_file}" in value else "").replace(
        "{tmp}", str(tmp)
    )


@pytest.mark.parametrize("name", list(CASES), ids=list(CASES))
def test_bad_input_is_one_error_line_with_its_code_and_status(
    name: str, runner_env: dict[str, str], tmp_path: Path
) -> None:
    case = CASES[name]
    env = runner_env | {k: expand(v, tmp_path) for k, v in case.env.items()}
    args = [expand(a, tmp_path) for a in case.args]

    result = CliRunner().invoke(app, args, env=env, input="SELECT 1")

    output = result.stdout + result.stderr
    assert result.exit_code == case.status, output
    assert "Traceback" not in output
    [(code, message)] = ERROR_LINE.findall(result.stderr)
    assert code == case.code, output
    for part in case.says:
        assert part in message, (part, message)


def test_there_are_at_least_sixty_cases() -> None:
    assert len(CASES) >= 60


# Cases that import Prefect and read its settings: through the installed command.
PREFECT_CASES: dict[str, Case] = {
    "submit without a server": Case(["submit", "load a.csv into t"], 2, "CONFIG_MISSING",
                                    ["PREFECT_API_URL is not set", "prefect server start"]),
    "submit to an unreachable server": Case(
        ["submit", "load a.csv into t"], 1, "PREFECT_UNAVAILABLE",
        ["PREFECT_API_URL='http://127.0.0.1:1/api'"], {"PREFECT_API_URL": "http://127.0.0.1:1/api"}),
    "submit to a URL that is not HTTP": Case(
        ["submit", "load a.csv into t"], 2, "CONFIG_INVALID", ["PREFECT_API_URL='garbage'"],
        {"PREFECT_API_URL": "garbage"}),
    "run against an unreachable server": Case(
        ["run", "load a.csv into t"], 1, "PREFECT_UNAVAILABLE", ["127.0.0.1:1"],
        {"PREFECT_API_URL": "http://127.0.0.1:1/api"}),
    "serve with a limit of 0": Case(["serve", "--limit", "0"], 2, "INVALID_REQUEST", ["--limit"]),
    "serve with a bad cron": Case(
        ["serve"], 2, "CONFIG_INVALID", ["AADAP_SCHEDULES_COST_REPORT_CRON='every day'"],
        {"AADAP_SCHEDULES_COST_REPORT_CRON": "every day", "PREFECT_API_URL": "http://127.0.0.1:1/api"}),
}  # fmt: skip


@pytest.mark.parametrize("name", list(PREFECT_CASES), ids=list(PREFECT_CASES))
def test_prefect_settings_are_checked_before_any_run(name: str, tmp_path: Path) -> None:
    case = PREFECT_CASES[name]

    done = aadap(*case.args, home=tmp_path, timeout=120, **case.env)

    output = done.stdout + done.stderr
    assert done.returncode == case.status, output[-3000:]
    assert "Traceback" not in output
    [(code, message)] = ERROR_LINE.findall(done.stderr)
    assert code == case.code, output
    for part in case.says:
        assert part in message, (part, message)
    assert not (tmp_path / "prefect" / "prefect.db").exists()  # no embedded server was started


# --- the boundary itself: what nobody translated ----------------------------------------------


def _failing_app(exc: Exception) -> typer.Typer:
    demo = typer.Typer(cls=BoundaryGroup)

    @demo.command("boom")
    def boom() -> None:
        raise exc

    @demo.command("other")
    def other() -> None:
        """A second command, so that ``boom`` stays a subcommand."""

    return demo


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (ValueError("an unexpected bug"), 1, "INTERNAL_ERROR"),
        (KeyError("missing"), 1, "INTERNAL_ERROR"),
        (OverflowError("int too large to convert"), 2, "INVALID_REQUEST"),
        (PermissionError(13, "Permission denied", "/root/x"), 1, "FILESYSTEM_ERROR"),
        (ValidationFailedError("review failed"), 1, "VALIDATION_FAILED"),
    ],
    ids=["ValueError", "KeyError", "OverflowError", "PermissionError", "AADAPError"],
)
def test_the_boundary_translates_what_nobody_else_did(
    exc: Exception, status: int, code: str, runner_env: dict[str, str], tmp_path: Path
) -> None:
    result = CliRunner().invoke(_failing_app(exc), ["boom"], env=runner_env)

    assert result.exit_code == status
    assert "Traceback" not in result.stdout + result.stderr
    [(found, message)] = ERROR_LINE.findall(result.stderr)
    assert found == code
    log = tmp_path / "home" / "logs" / "cli-errors.log"
    if code == "INTERNAL_ERROR":
        assert str(log) in message  # the pointer to the details
    if not isinstance(exc, ValidationFailedError):  # foreign: its traceback is kept
        assert "Traceback" in log.read_text()
        assert type(exc).__name__ in log.read_text()


def test_aadap_debug_prints_the_traceback(runner_env: dict[str, str]) -> None:
    result = CliRunner().invoke(
        _failing_app(ValueError("bug")), ["boom"], env=runner_env | {"AADAP_DEBUG": "1"}
    )

    assert result.exit_code == 1
    assert "Traceback" in result.stderr
    assert "error [INTERNAL_ERROR] unexpected ValueError: bug" in result.stderr


# --- through the real command: Prefect's console, the data file, the embedded server ----------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("make", "request_text", "code", "says"),
    [
        (
            None,
            "load nothere.csv into raw_x",
            "DATA_FILE_NOT_FOUND",
            ["'nothere.csv' does not exist"],
        ),
        ("dir", "load folder.csv into raw_x", "DATA_FILE_IS_DIRECTORY", ["is a directory"]),
    ],
    ids=["missing", "directory"],
)
def test_a_missing_or_directory_data_file_is_a_data_error_without_prefects_traceback(
    home_with_migrated_prefect: Path,
    make: str | None,
    request_text: str,
    code: str,
    says: list[str],
) -> None:
    home = home_with_migrated_prefect
    if make == "dir":
        (home / "folder.csv").mkdir()

    done = aadap("run", request_text, home=home, cwd=home, timeout=240)

    output = done.stdout + done.stderr
    assert done.returncode == 2, output[-3000:]
    assert "Traceback" not in output
    assert "configure an LLM provider" not in output
    [(found, message)] = ERROR_LINE.findall(done.stderr)
    assert found == code
    for part in says:
        assert part in message
    # the traceback the terminal did not show is in task_logs
    listed = aadap("tasks", "list", "--format", "json", home=home)
    [task] = json.loads(listed.stdout)
    logs = aadap("logs", task["id"], "--search", "Traceback", "--format", "json", home=home)
    assert any(code in row["message"] for row in json.loads(logs.stdout)), logs.stdout[-2000:]


@pytest.mark.slow
def test_verbose_keeps_prefects_traceback(home_with_migrated_prefect: Path) -> None:
    """The control for the test above: the traceback exists, and only --verbose shows it."""
    home = home_with_migrated_prefect
    done = aadap("run", "load nothere.csv into t", "--verbose", home=home, cwd=home,
                 timeout=240)  # fmt: skip

    assert done.returncode == 2
    assert "Traceback" in done.stderr
    assert "error [DATA_FILE_NOT_FOUND]" in done.stderr


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if stat.rsplit(")", 1)[1].split()[1] == str(pid):
                found.append(int(entry.name))
    return found


def _is_server(pid: int) -> bool:
    try:
        return b"uvicorn" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
def test_a_run_waiting_for_approval_says_how_to_decide_and_kill_9_leaves_no_server(
    home_with_migrated_prefect: Path,
) -> None:
    """The foreground run prints the exact approve/reject commands and its 10-minute timeout;
    a ``kill -9`` of it then takes the embedded Prefect server down too."""
    home = home_with_migrated_prefect
    lines: list[str] = []
    with subprocess.Popen(
        [str(AADAP), "run", "run: DROP TABLE IF EXISTS foo"],
        env=cli_env(home),
        cwd=home,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stderr is not None
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                line = proc.stderr.readline()
                if not line:
                    break
                lines.append(line)
                if "details:  aadap approvals show" in line:
                    break
            servers = [p for p in _children(proc.pid) if _is_server(p)]
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
    text = "".join(lines)
    assert "Traceback" not in text
    approval = re.search(r"approvals approve ([0-9a-f-]{36}) ", text)
    assert approval is not None, text
    uuid.UUID(approval.group(1))
    assert f"aadap approvals reject {approval.group(1)}" in text
    assert "times out in 10 min" in text
    assert len(servers) == 1, servers
    gone_by = time.monotonic() + 15
    while _alive(servers[0]) and time.monotonic() < gone_by:
        time.sleep(0.2)
    assert not _alive(servers[0]), "the embedded Prefect server outlived aadap run"
