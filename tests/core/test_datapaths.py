"""The data root: the paths a request names resolve under it or are refused, naming the
path and the root (``aadap.core.datapaths``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aadap.core.config import load_settings
from aadap.core.datapaths import check_request_paths, named_paths, working_dir
from aadap.core.exceptions import DataPathOutsideRootError, InvalidConfigurationError


def test_the_words_that_name_files_are_found_and_others_are_not() -> None:
    text = (
        "load examples/data/orders.csv, then '/etc/passwd' and ~/notes and ../up.parquet. "
        "SELECT amount /2 FROM t -- see https://example.com/a.csv and/or data/orders"
    )
    assert named_paths(text) == [
        "examples/data/orders.csv",
        "/etc/passwd",
        "~/notes",
        "../up.parquet",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "load /etc/passwd into t",
        "load ../outside.csv into t",
        "load data/../../outside.csv into t",
        "load ~/.ssh/id_rsa.csv into t",
        "Run this SQL: SELECT * FROM read_csv_auto('/tmp/elsewhere/x.csv')",
    ],
)
def test_a_path_outside_the_root_is_refused_naming_the_path_and_the_root(
    tmp_path: Path, text: str
) -> None:
    root = tmp_path / "root"
    (root / "data").mkdir(parents=True)
    with pytest.raises(DataPathOutsideRootError) as refused:
        check_request_paths(text, working_dir=root, root=root)
    error = refused.value
    assert error.error_code == "DATA_PATH_OUTSIDE_ROOT"
    assert error.details["path"] in text
    assert str(root) in error.message and error.details["path"] in error.message


def test_a_symbolic_link_out_of_the_root_is_followed_and_refused(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.csv").write_text("a\n1\n")
    (root / "data").symlink_to(outside)
    with pytest.raises(DataPathOutsideRootError):
        check_request_paths("load data/secret.csv into t", working_dir=root, root=root)
    with pytest.raises(DataPathOutsideRootError):  # a bare name is also looked for in data/
        check_request_paths("load secret.csv into t", working_dir=root, root=root)


def test_paths_under_the_root_pass_and_a_working_dir_resolves_against_it(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "examples" / "data").mkdir(parents=True)
    inside = working_dir("examples", root)
    assert inside == root / "examples"
    check_request_paths(
        f"load data/orders.csv and {root}/examples/data/x.parquet into t",
        working_dir=inside,
        root=root,
    )
    check_request_paths("list tables", working_dir=root, root=root)
    with pytest.raises(DataPathOutsideRootError) as refused:
        check_request_paths("list tables", working_dir=working_dir("/", root), root=root)
    assert refused.value.details["field"] == "working_dir"


def test_the_setting_defaults_to_the_current_directory_and_must_be_a_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AADAP_DATA_ROOT", raising=False)
    assert load_settings(home=tmp_path / "home").resolved_data_root == tmp_path.resolve()
    monkeypatch.setenv("AADAP_DATA_ROOT", "")  # empty: not set
    assert load_settings(home=tmp_path / "home").resolved_data_root == tmp_path.resolve()
    monkeypatch.setenv("AADAP_DATA_ROOT", str(tmp_path / "missing"))
    with pytest.raises(InvalidConfigurationError) as refused:
        load_settings(home=tmp_path / "home")
    assert "AADAP_DATA_ROOT" in refused.value.message
