import sqlite3

from dataeff.experiment.store import MIGRATIONS, Store


def test_cells_replace_by_key_and_only_ok_cells_count_as_finished(tmp_path):
    with Store(tmp_path / "s.sqlite") as store:
        store.write_cell({"learner": "a", "n_train": 8, "seed": 0, "n_test": 10, "status": "failed",
                          "error": "boom", "traceback": "tb"})
        assert store.finished_keys() == set()
        store.write_cell({"learner": "a", "n_train": 8, "seed": 0, "n_test": 10, "status": "ok",
                          "error": None, "roc_auc": 0.7})
        store.write_cell({"learner": "a", "n_train": 16, "seed": 0, "n_test": 10, "status": "ok", "roc_auc": 0.8})
        assert store.finished_keys() == {("a", 8, 0), ("a", 16, 0)}
        cells = store.cells()
    assert len(cells) == 2 and sorted(cells["roc_auc"]) == [0.7, 0.8]


def test_schema_version_is_recorded_and_reopening_is_idempotent(tmp_path):
    path = tmp_path / "s.sqlite"
    Store(path).close()
    Store(path).close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
