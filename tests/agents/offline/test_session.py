"""A whole session in everyday wording, in order, on one database: each step builds on the last.

A refusal early on would cascade (a table never built makes every later request about it
fail), so this runs the session a newcomer would type over a dataset the grammar was not
written for (``staff``, ``departments``) and checks every table against plain Python.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import duckdb

from tests.agents.offline.paraphrases.reference import HERE, norm, rows
from tests.agents.offline.pipeline import execute, run_request, table

SESSION = [
    "Load the staff file data/staff.csv as table staff_raw",
    "please import data/departments.csv and call the table departments",
    "remove duplicate staff_raw rows by employee_id, keeping the most recent by updated_at,"
    " and save as staff",
    "What is the average salary per department_id in staff? Save it to avg_salary",
    "staff earning more than 60000 into well_paid",
    "staff whose department_id appears in departments with city Berlin into berlin_staff",
    "the staff of departments whose city is Paris, save as paris_staff",
    "How many employees per department_id in staff? Save it to headcount",
    "staff hired after 2020-01-01 into recent_hires",
    "departments with a budget over 300,000 into big_departments",
    "For each department_id, what is the highest salary in staff? Save it as top_salary",
    "keep just the staff in department 20 as engineering",
    "only keep employees with salary >= 60000 from staff into rich",
    "I'd like a table with the staff whose salary is over 60000 named rich_too",
]


def _staff() -> list[dict[str, str]]:
    latest: dict[str, dict[str, str]] = {}
    for row in rows("staff"):
        if (
            row["employee_id"] not in latest
            or row["updated_at"] > latest[row["employee_id"]]["updated_at"]
        ):
            latest[row["employee_id"]] = row
    return list(latest.values())


def _ids(found: list[dict[str, Any]]) -> Counter[Any]:
    return Counter(norm(r["employee_id"]) for r in found)


async def test_a_session_in_everyday_wording() -> None:
    with duckdb.connect() as con:
        for text in SESSION:
            execute(con, await run_request(text, con, working_dir=HERE))

        staff = _staff()
        city = {d["department_id"]: d["city"] for d in rows("departments")}
        assert _ids(table(con, "staff")) == Counter(norm(r["employee_id"]) for r in staff)
        by_department: dict[str, list[float]] = {}
        for r in staff:
            by_department.setdefault(r["department_id"], []).append(float(r["salary"]))
        assert {
            norm(r["department_id"]): norm(r["avg_salary"]) for r in table(con, "avg_salary")
        } == {norm(k): norm(sum(v) / len(v)) for k, v in by_department.items()}
        assert {norm(r["department_id"]): r["employee_count"] for r in table(con, "headcount")} == {
            norm(k): len(v) for k, v in by_department.items()
        }
        expected = {
            "well_paid": [r for r in staff if float(r["salary"]) > 60000],
            "berlin_staff": [r for r in staff if city[r["department_id"]] == "Berlin"],
            "paris_staff": [r for r in staff if city[r["department_id"]] == "Paris"],
            "recent_hires": [r for r in staff if r["hire_date"] > "2020-01-01"],
            "engineering": [r for r in staff if r["department_id"] == "20"],
            "rich": [r for r in staff if float(r["salary"]) >= 60000],
            "rich_too": [r for r in staff if float(r["salary"]) > 60000],
        }
        for name, kept in expected.items():
            assert _ids(table(con, name)) == _ids(kept), name
        top = {norm(r["department_id"]): norm(r["max_salary"]) for r in table(con, "top_salary")}
        assert top == {norm(k): norm(max(v)) for k, v in by_department.items()}
        big = [d["department_id"] for d in rows("departments") if float(d["budget"]) > 300_000]
        assert sorted(norm(r["department_id"]) for r in table(con, "big_departments")) == sorted(
            norm(d) for d in big
        )
