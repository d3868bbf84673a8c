"""The run folder: a store killed before it held a study is started over, not refused."""

from __future__ import annotations

import sqlite3

import pytest

from dataeff.errors import RunFolderError
from dataeff.experiment.folder import check_folder
from dataeff.experiment.store import STORE_NAME, Store


def test_a_store_killed_before_its_first_cell_is_started_over(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / STORE_NAME).write_bytes(b"")  # killed before the schema was written
    assert check_folder(tmp_path / "empty", "abc", force=False) == "restart"
    (tmp_path / "schema").mkdir()
    Store(tmp_path / "schema" / STORE_NAME).close()  # schema, no study, no cell
    assert check_folder(tmp_path / "schema", "abc", force=False) == "restart"


def test_a_store_of_another_study_is_refused_and_a_foreign_file_kept(tmp_path):
    with Store(tmp_path / STORE_NAME) as store:
        store.set_meta({"fingerprint": "other"})
        store.write_cell({"learner": "a", "n_train": 8, "seed": 0, "n_test": 10, "status": "ok"})
    with pytest.raises(RunFolderError, match="holds a study of other data"):
        check_folder(tmp_path, "abc", force=False)
    assert check_folder(tmp_path, "other", force=False) == "resume"
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / STORE_NAME).write_text("not a database, someone's notes")
    with pytest.raises(RunFolderError):
        check_folder(foreign, "abc", force=False)
    with sqlite3.connect(tmp_path / STORE_NAME) as conn:
        assert conn.execute("SELECT count(*) FROM cells").fetchone()[0] == 1
