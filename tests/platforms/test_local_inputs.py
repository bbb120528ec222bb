"""LocalPlatform refuses CSV files it would read as garbage, and reads legitimate ones.

Real files on disk, loaded through the platform exactly as a deployment does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import duckdb
import pytest

from aadap.core.config import PlatformSettings
from aadap.core.enums import Language
from aadap.core.exceptions import InvalidDataError, is_retryable
from aadap.platforms import LocalPlatform
from aadap.platforms._csv_inputs import named_files, string_literals


@pytest.fixture
async def local(tmp_path: Path, settings: PlatformSettings) -> AsyncIterator[LocalPlatform]:
    async with LocalPlatform(tmp_path / "db" / "local.duckdb", tmp_path / "runs", settings) as p:
        yield p


def load(path: Path, table: str = "loaded") -> str:
    return f"CREATE TABLE {table} AS SELECT * FROM read_csv_auto('{path}');"


BAD = {
    # fewer fields in the middle: DuckDB falls back to one VARCHAR column of raw lines
    "ragged_short_row": b"a,b,c\n1,2,3\n4,5\n6,7,8\n",
    # a longer last row: DuckDB skips the first lines and keeps only the last one
    "ragged_long_row": b"a,b,c\n1,2,3\n4,5\n6,7,8,9\n",
    "unclosed_quote": b'name,city\nann,"Paris\nbob,Rome\n',
    "quote_opened_twice": b'a,b\n"x,1\n2,"y\n',
    "empty": b"",
    "blank_lines_only": b"\n\n  \n",
    "semicolons_ragged": b"a;b;c\n1;2\n3;4;5;6\n7\n",
}


@pytest.mark.parametrize("name", sorted(BAD))
async def test_a_file_that_cannot_be_read_correctly_is_refused_before_anything_runs(
    local: LocalPlatform, tmp_path: Path, name: str
) -> None:
    path = tmp_path / f"{name}.csv"
    path.write_bytes(BAD[name])
    await local.run("CREATE TABLE before AS SELECT 1 AS x;", language=Language.SQL, name="setup")

    with pytest.raises(InvalidDataError) as caught:
        await local.run(
            "DROP TABLE before;\n" + load(path), language=Language.SQL, name=f"load-{name}"
        )

    err = caught.value
    assert err.error_code == "DATA_INVALID"
    assert not is_retryable(err)
    assert err.details["value"] == str(path.resolve())
    assert str(path.resolve()) in err.message
    # nothing ran: the statement before the load did not drop the table, none was created
    assert await local.list_tables() == ["before"]


async def test_a_bad_row_past_the_sniffers_sample_is_a_data_error_too(
    local: LocalPlatform, tmp_path: Path
) -> None:
    path = tmp_path / "long.csv"
    rows = [f"{i},name{i},{i * 2}" for i in range(60_000)]
    path.write_text("id,name,twice\n" + "\n".join([*rows, "1,2", *rows[:5]]) + "\n")

    with pytest.raises(InvalidDataError) as caught:
        await local.run(load(path), language=Language.SQL, name="long")

    assert "Expected Number of Columns: 3 Found: 2" in caught.value.message
    assert await local.list_tables() == []


LEGITIMATE = {
    "header_only": (b"a,b,c\n", 0, ["a", "b", "c"]),
    "nul_inside_a_value": (b"a,b\nx\x00y,2\nz,3\n", 2, ["a", "b"]),
    "quoted_commas": (b'a,b\n"x, y",2\n"p ""q"", r",3\n', 2, ["a", "b"]),
    "one_column": (b"name\nann\nbob\n", 2, ["name"]),
    "one_quoted_column_with_commas": (b'"a,b"\n"x,y"\n', 1, ["a,b"]),
    "a_literal_inch_mark": (b"h\n5'11\"\n", 1, ["h"]),
    "tab_separated": (b"a\tb\n1\t2\n", 1, ["a", "b"]),
    "bom_and_crlf": (b"\xef\xbb\xbfa,b\r\n1,2\r\n", 1, ["a", "b"]),
}


@pytest.mark.parametrize("name", sorted(LEGITIMATE))
async def test_legitimate_files_keep_loading(
    local: LocalPlatform, tmp_path: Path, name: str
) -> None:
    content, rows, columns = LEGITIMATE[name]
    path = tmp_path / f"{name}.{'tsv' if name == 'tab_separated' else 'csv'}"
    path.write_bytes(content)

    result = await local.run(load(path), language=Language.SQL, name=name)

    assert result.rows_affected == rows
    assert [c["name"] for c in await local.table_columns("loaded")] == columns


async def test_a_large_file_loads_whole(local: LocalPlatform, tmp_path: Path) -> None:
    path = tmp_path / "large.csv"
    with path.open("w") as fh:
        fh.write("id,label,amount\n")
        for i in range(300_000):
            fh.write(f'{i},"item, {i}",{i / 7:.4f}\n')

    result = await local.run(load(path), language=Language.SQL, name="large")

    assert result.rows_affected == 300_000
    con = duckdb.connect(str(local.database_path), read_only=True)
    try:
        assert con.execute("SELECT label FROM loaded WHERE id = 299999").fetchone() == (
            "item, 299999",
        )
    finally:
        con.close()


def test_literals_are_found_by_the_tokenizer(tmp_path: Path) -> None:
    (tmp_path / "it's.csv").write_text("a\n1\n")
    (tmp_path / "b1.csv").write_text("a\n1\n")
    sql = (
        f"-- '{tmp_path}/commented.csv'\n"
        f"SELECT * FROM '{tmp_path}/it''s.csv', read_csv_auto('{tmp_path}/b*.csv');"
    )
    assert string_literals(sql) == [f"{tmp_path}/it's.csv", f"{tmp_path}/b*.csv"]
    assert named_files(sql) == [
        (tmp_path / "it's.csv").resolve(),
        (tmp_path / "b1.csv").resolve(),
    ]
