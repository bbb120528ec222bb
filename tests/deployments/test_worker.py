"""The production path: ``prefect deploy --all`` from prefect.yaml, then a process worker runs a lifecycle."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import throwaway_postgres_database
from tests.deployments.conftest import served_env
from tests.fakes.processes import stop

pytestmark = pytest.mark.prefect

ROOT = Path(__file__).resolve().parents[2]
PREFECT = str(Path(sys.executable).with_name("prefect"))


@pytest.mark.slow
@pytest.mark.timeout(1800)  # a Prefect server, a deploy of every flow, a worker, a lifecycle
def test_prefect_deploy_all_then_a_worker_runs_a_lifecycle(
    prefect_server: str, tmp_path: Path
) -> None:
    with throwaway_postgres_database() as app_db:
        env = served_env(prefect_server, app_db, tmp_path / "home", AADAP_PROJECT_DIR=str(ROOT),
                         PREFECT_WORKER_QUERY_SECONDS="1", PREFECT_WORKER_PREFETCH_SECONDS="1")  # fmt: skip
        for args in (
            ["work-pool", "create", "aadap-process", "--type", "process"],
            ["--no-prompt", "deploy", "--all"],
        ):
            done = subprocess.run(
                [PREFECT, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=180
            )
            assert done.returncode == 0, done.stdout + done.stderr
        deployments = httpx.post(f"{prefect_server}/deployments/filter", json={}, timeout=10).json()
        names = {d["name"] for d in deployments if d.get("work_pool_name") == "aadap-process"}
        assert {
            "task-lifecycle",
            "task-resume",
            "daily",
            "every-few-minutes",
            "every-15-minutes",
            "hourly",
        } <= names
        with (tmp_path / "worker.log").open("wb") as log:
            worker = subprocess.Popen(
                [PREFECT, "worker", "start", "--pool", "aadap-process"], env=env, cwd=tmp_path,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
            try:
                lifecycle = next(
                    d
                    for d in deployments
                    if d["name"] == "task-lifecycle" and d.get("work_pool_name")
                )
                created = httpx.post(
                    f"{prefect_server}/deployments/{lifecycle['id']}/create_flow_run",
                    json={"parameters": {"request": {"text": "what tables are there?"}}},
                    timeout=10,
                )
                assert created.status_code == 201, created.text
                run_id = created.json()["id"]
                deadline = time.monotonic() + 240
                while True:
                    state = httpx.get(f"{prefect_server}/flow_runs/{run_id}", timeout=10).json()[
                        "state"
                    ]
                    if state["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
                        break
                    assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()[
                        -3000:
                    ]
                    time.sleep(0.5)
            finally:
                stop(worker)
        assert state["type"] == "COMPLETED", (tmp_path / "worker.log").read_text()[-3000:]
