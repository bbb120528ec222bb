"""The operator's console checked in a real browser: headless Chromium drives the Prefect UI.

Starts ``prefect server start`` (UI on, state on a throwaway PostgreSQL database) and
``aadap serve`` against it, creates two lifecycle runs through the Prefect API with real
requests, then checks in the browser, saving a screenshot of each page:

1. ``runs.png``: the runs list shows the run by its name (from the request);
2. ``run-log.png``: that run's Logs tab shows the transitions and the LLM calls' cost;
3. ``run-form-blank.png``: the deployment's custom run form refuses a blank request
   (and no run is created);
4. ``approval-form.png``: a PRODUCTION run paused for approval shows, in the Resume form,
   the request text and the table it writes with its row count;
5. ``report.png`` / ``costs.png``: after an approval, the run's report and cost table
   artifacts (1,440 px wide: nothing cut off on the right).

    python benchmarks/ui_check.py [--out DIR] [--chromium /usr/bin/chromium]

Needs Debian's ``chromium`` and ``pip install playwright`` (its own browser download is
not used). Exits 1 naming the first check that failed; look at the screenshots too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _servers import BIN, prefect_server

from tests.fakes.processes import stop

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
WIDTH, HEIGHT = 1440, 900
LOAD = f"load {ROOT / 'examples' / 'data' / 'orders.csv'} into a table called orders_raw"
DELETE = "run: DELETE FROM orders_raw WHERE amount < 50"
DEPLOYMENT = "task-lifecycle/task-lifecycle"
#: what the run form says under a blank required field
REFUSED = re.compile(r"required|must not be empty|at least 1 character", re.I)


class CheckFailed(AssertionError):
    """A check of the UI did not hold; the message says which and where to look."""


def _wait(what: str, probe: Callable[[], Any], limit: float = 120) -> Any:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.5)
    raise CheckFailed(f"{what}: not reached within {limit:g} s")


@contextlib.contextmanager
def served(api: str, home: Path) -> Iterator[None]:
    """``aadap serve`` against ``api`` until its deployments are registered."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AADAP_", "PREFECT_"))}
    env.update(
        PREFECT_API_URL=api, PREFECT_HOME=str(home / "serve-prefect"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false", AADAP_HOME=str(home / "aadap"),
        AADAP_SCHEDULES_RUNNER_POLL_SECONDS="2",
    )  # fmt: skip
    with (home / "serve.log").open("wb") as log:
        proc = subprocess.Popen(
            [str(BIN / "aadap"), "serve"], env=env, cwd=ROOT, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            _wait(
                "aadap serve registers its deployments",
                lambda: (
                    proc.poll() is None
                    and httpx.get(f"{api}/deployments/name/{DEPLOYMENT}", timeout=5).status_code
                    == 200
                ),
            )
            yield
        finally:
            stop(proc)


def create_run(api: str, request: dict[str, Any] | None, name: str = DEPLOYMENT) -> str:
    deployment = httpx.get(f"{api}/deployments/name/{name}", timeout=10).json()
    response = httpx.post(
        f"{api}/deployments/{deployment['id']}/create_flow_run",
        json={"parameters": {} if request is None else {"request": request}},
        timeout=10,
    )
    response.raise_for_status()
    return str(response.json()["id"])


def run_state(api: str, flow_run_id: str) -> dict[str, Any]:
    flow_run: dict[str, Any] = httpx.get(f"{api}/flow_runs/{flow_run_id}", timeout=10).json()
    return flow_run


def wait_state(api: str, flow_run_id: str, names: set[str]) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        run = run_state(api, flow_run_id)
        name = (run.get("state") or {}).get("name")
        if name in {"Failed", "Crashed", "Cancelled"} - names:
            raise CheckFailed(f"flow run {flow_run_id} ended {name}: {run['state'].get('message')}")
        return run if name in names else None

    try:
        found: dict[str, Any] = _wait(f"flow run {flow_run_id} reaches {sorted(names)}", probe, 180)
    except CheckFailed as exc:
        state = run_state(api, flow_run_id).get("state") or {}
        raise CheckFailed(f"{exc}; it is {state.get('name')}: {state.get('message')}") from None
    return found


def count_runs(api: str) -> int:
    return len(httpx.post(f"{api}/flow_runs/filter", json={"limit": 200}, timeout=10).json())


def check(condition: bool, what: str, shot: Path) -> None:
    if not condition:
        raise CheckFailed(f"{what} (see {shot})")
    print(f"ok  {what}  [{shot.name}]")


def browse(api: str, out: Path, chromium: str) -> None:
    """The browser checks, in order; raises :class:`CheckFailed` on the first that fails."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    ui = api.removesuffix("/api")
    first = create_run(api, {"text": LOAD, "environment": "SANDBOX", "created_by": "dana"})
    done = wait_state(api, first, {"Completed"})
    paused = create_run(api, {"text": DELETE, "environment": "PRODUCTION", "created_by": "erin"})
    wait_state(api, paused, {"Suspended", "Paused"})
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
        page.set_default_timeout(30_000)
        try:
            runs_list(page, ui, out, done["name"])
            run_log(page, ui, out, first)
            run_form(page, api, ui, out)
            approval_form(page, ui, out, paused)
            approve(api, paused)
            artifacts(page, api, ui, out, paused)
            report = create_run(api, None, "cost-report/daily")
            wait_state(api, report, {"Completed"})
            artifacts(page, api, ui, out, report, prefix="cost-report-")
        except PlaywrightTimeout as exc:
            shot = out / "timed-out.png"
            page.screenshot(path=shot, full_page=True)
            shot.with_suffix(".html").write_text(page.content())
            raise CheckFailed(f"{exc.message.splitlines()[-1]} (see {shot})") from exc
        finally:
            browser.close()


def runs_list(page: Any, ui: str, out: Path, name: str) -> None:
    page.goto(f"{ui}/runs")
    shot = out / "runs.png"
    page.get_by_text(name).first.wait_for()
    page.screenshot(path=shot)
    check(page.get_by_text(name).count() > 0, f"the runs list shows the run named {name!r}", shot)


def run_log(page: Any, ui: str, out: Path, flow_run_id: str) -> None:
    page.goto(f"{ui}/runs/flow-run/{flow_run_id}")
    page.get_by_text("Logs", exact=True).first.click()
    page.get_by_text("PARSING → PARSED").first.wait_for()
    shot = out / "run-log.png"
    page.screenshot(path=shot, full_page=True)
    text = page.inner_text("body")
    check("PARSING → PARSED" in text, "the Logs tab shows the transitions", shot)
    costs = re.findall(r"LLM call by \w+.*?\$[0-9.]+", text)
    check(bool(costs), f"the Logs tab shows each LLM call's cost ({len(costs)} seen)", shot)


def run_form(page: Any, api: str, ui: str, out: Path) -> None:
    deployment = httpx.get(f"{api}/deployments/name/{DEPLOYMENT}", timeout=10).json()
    before = count_runs(api)
    page.goto(f"{ui}/deployments/deployment/{deployment['id']}/run")
    page.get_by_role("button", name=re.compile("Submit", re.I)).last.click()
    refusal = page.get_by_text(REFUSED).first
    refusal.wait_for()
    refusal.scroll_into_view_if_needed()
    shot = out / "run-form-blank.png"
    page.screenshot(path=shot)
    check(refusal.is_visible(), "the run form says a blank request is refused", shot)
    check(count_runs(api) == before, "and no run was created", shot)


def approval_form(page: Any, ui: str, out: Path, flow_run_id: str) -> None:
    page.goto(f"{ui}/runs/flow-run/{flow_run_id}")
    page.get_by_role("button", name="Resume").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("What the code touches").wait_for()
    shot = out / "approval-form.png"
    page.screenshot(path=shot)
    text = dialog.inner_text()
    check(DELETE in text, "the approval form shows the request text", shot)
    check("Asked by: erin" in text, "the approval form shows who asked", shot)
    dialog.get_by_text("What the code touches").scroll_into_view_if_needed()
    shot = out / "approval-targets.png"
    page.screenshot(path=shot)
    rows = re.search(r"writes\s+orders_raw:?\s+exists · ([\d,]+) rows", text)
    check(bool(rows), "the approval form shows the target, that it exists and its rows", shot)
    # submitted without a decision, the form refuses and the run stays waiting
    dialog.locator("textarea").nth(0).fill("frank")
    dialog.get_by_role("button", name="Submit").click()
    refusal = dialog.get_by_text("'decision' is a required property")
    refusal.wait_for()
    shot = out / "approval-no-decision.png"
    page.screenshot(path=shot)
    check(refusal.is_visible(), "the approval form refuses a missing decision", shot)
    dialog.get_by_role("button", name="Close").click()


def approve(api: str, flow_run_id: str) -> None:
    """Approve through the Prefect API, as ``aadap approvals approve`` does (Playwright's
    loop runs in this thread: the call gets its own)."""
    os.environ["PREFECT_API_URL"] = api
    from aadap.orchestration import approval

    decision = approval.ApprovalDecision(decision="approve", reviewer="frank", comment="checked")
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, approval.submit(flow_run_id, decision)).result()
    wait_state(api, flow_run_id, {"Completed"})


def artifacts(page: Any, api: str, ui: str, out: Path, flow_run_id: str, prefix: str = "") -> None:
    """The run's newest artifact of each key, each fitting the screen's width."""
    found = httpx.post(
        f"{api}/artifacts/filter",
        json={"artifacts": {"flow_run_id": {"any_": [flow_run_id]}}, "sort": "CREATED_DESC"},
        timeout=10,
    ).json()
    latest = {a["key"]: a for a in reversed(found)}  # a suspended run published one before
    for artifact in latest.values():
        name = prefix + ("report" if artifact["type"] == "markdown" else "costs")
        page.goto(f"{ui}/artifacts/artifact/{artifact['id']}")
        page.wait_for_load_state("networkidle")
        shot = out / f"{name}.png"
        page.screenshot(path=shot, full_page=True)
        wide = page.evaluate("document.documentElement.scrollWidth")
        check(wide <= WIDTH, f"the {name} artifact fits {WIDTH} px ({wide} px wide)", shot)
        text = page.inner_text("body")
        if name == "report":
            check("APPROVED" in text and "frank" in text, "the report records the decision", shot)
        if name == "cost-report-report":
            check("The report covers" in text, "the cost report explains its date range", shot)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--out", type=Path, help="folder for the screenshots (default: a new temp dir)"
    )
    parser.add_argument("--chromium", default=CHROMIUM, help="the Chromium executable")
    args = parser.parse_args(argv)
    out: Path = args.out or Path(tempfile.mkdtemp(prefix="aadap-ui-"))
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="aadap-ui-home-") as tmp:
        home = Path(tmp)
        (home / "prefect").mkdir()
        try:
            with prefect_server(home / "prefect", ui=True) as api, served(api, home):
                browse(api, out, args.chromium)
        except CheckFailed as exc:
            log = (home / "serve.log").read_text(errors="replace")[-3000:]
            print(f"aadap serve's log ends:\n{log}", file=sys.stderr)
            print(f"FAILED: {exc}\nscreenshots: {out}", file=sys.stderr)
            return 1
    print(f"screenshots: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
