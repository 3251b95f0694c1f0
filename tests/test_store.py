"""The history store: save/list/load/delete, atomic saves, and parallel writers."""

from __future__ import annotations

import multiprocessing
import threading
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest

from fer_core.store import HistoryStore, default_data_dir


def _table(n: int = 3) -> pd.DataFrame:
    return pd.DataFrame({"time_s": np.arange(n) / 10.0, "track_id": 1, "emotion": ["Happy"] * n})


def _summary(faces: int = 1) -> dict:
    return {
        "duration_s": 2.5,
        "faces": [
            {"track_id": i + 1, "emotion_share": {"Happy": 1.0}, "blinks_per_minute": 12.0} for i in range(faces)
        ],
    }


def test_save_list_load_delete(tmp_path):
    store = HistoryStore(tmp_path / "sub" / "h.sqlite3")
    first = store.save(
        "interview A", "video", _summary(2), _table(), created_at=datetime(2026, 1, 1, tzinfo=timezone.utc)
    )
    second = store.save(" webcam ", "live", _summary(), _table(5))
    entries = store.list()
    assert [e.id for e in entries] == [second, first]  # newest first
    assert entries[0].name == "webcam" and entries[0].kind == "live"
    assert entries[1].faces == 2 and entries[1].duration_s == 2.5
    loaded = store.load(first)
    assert loaded.summary == _summary(2)
    pd.testing.assert_frame_equal(loaded.table, _table())
    assert store.delete(first) is True
    assert store.delete(first) is False
    with pytest.raises(KeyError):
        store.load(first)
    assert [e.id for e in store.list()] == [second]


@pytest.mark.parametrize(
    "name, kind, summary, error",
    [
        ("", "video", {}, ValueError),
        ("x", "photo", {}, ValueError),
        ("x", "video", {"bad": object()}, TypeError),
    ],
)
def test_failed_save_writes_nothing(tmp_path, name, kind, summary, error):
    store = HistoryStore(tmp_path / "h.sqlite3")
    with pytest.raises(error):
        store.save(name, kind, summary, _table())
    assert store.list() == []


def test_failure_inside_the_transaction_rolls_back(tmp_path, monkeypatch):
    store = HistoryStore(tmp_path / "h.sqlite3")
    store.save("kept", "video", _summary(), _table())
    table = _table()
    monkeypatch.setattr(pd.DataFrame, "to_parquet", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        store.save("lost", "video", _summary(), table)
    assert [e.name for e in store.list()] == ["kept"]


def test_numpy_values_in_summary_are_saved(tmp_path):
    store = HistoryStore(tmp_path / "h.sqlite3")
    entry = store.save("np", "video", {"faces": [], "duration_s": np.float32(1.5), "n": np.int64(3)}, _table())
    assert store.load(entry).summary == {"faces": [], "duration_s": 1.5, "n": 3}


def test_parallel_writers_in_threads(tmp_path):
    store = HistoryStore(tmp_path / "h.sqlite3")
    errors = []

    def write(k: int) -> None:
        try:
            for i in range(5):
                store.save(f"t{k}-{i}", "live", _summary(), _table())
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(e.name for e in store.list()) == sorted(f"t{k}-{i}" for k in range(6) for i in range(5))


def _write_from_process(path: str, k: int) -> None:
    store = HistoryStore(path)
    for i in range(5):
        store.save(f"p{k}-{i}", "video", _summary(), _table(50))


def test_parallel_writers_in_processes(tmp_path):
    path = str(tmp_path / "h.sqlite3")
    HistoryStore(path)
    ctx = multiprocessing.get_context("spawn")
    processes = [ctx.Process(target=_write_from_process, args=(path, k)) for k in range(3)]
    for p in processes:
        p.start()
    for p in processes:
        p.join(timeout=120)
    assert [p.exitcode for p in processes] == [0, 0, 0]
    entries = HistoryStore(path).list()
    assert len(entries) == 15
    assert all(len(HistoryStore(path).load(e.id).table) == 50 for e in entries)


def test_data_dir_setting(monkeypatch, tmp_path):
    monkeypatch.setenv("FER_DATA_DIR", str(tmp_path / "elsewhere"))
    assert default_data_dir() == tmp_path / "elsewhere"
    assert HistoryStore.in_folder().path == tmp_path / "elsewhere" / "history.sqlite3"
    monkeypatch.delenv("FER_DATA_DIR")
    assert default_data_dir().name == "data"


def _save_then_die(path: str) -> None:
    import os
    import signal

    HistoryStore(path).save("before the crash", "live", _summary(), _table(20))
    os.kill(os.getpid(), signal.SIGKILL)  # the app process dies right after the save returned


def test_a_saved_entry_survives_the_app_being_killed(tmp_path):
    path = str(tmp_path / "h.sqlite3")
    process = multiprocessing.get_context("spawn").Process(target=_save_then_die, args=(path,))
    process.start()
    process.join(timeout=120)
    assert process.exitcode == -9
    entries = HistoryStore(path).list()  # the restarted app
    assert [e.name for e in entries] == ["before the crash"]
    assert len(HistoryStore(path).load(entries[0].id).table) == 20


def test_a_damaged_entry_is_named_and_the_others_still_read(tmp_path):
    """Issue 18, item 10: one corrupt row must not take out the whole history."""
    import sqlite3

    import pandas as pd
    import pytest

    from fer_core.errors import HistoryError
    from fer_core.store import HistoryStore

    store = HistoryStore.in_folder(tmp_path)
    table = pd.DataFrame({"time_s": [0.0], "track_id": [1]})
    good = store.save("good", "video", {"faces": [], "duration_s": 1.0}, table)
    bad_json = store.save("bad json", "video", {"faces": []}, table)
    bad_table = store.save("bad table", "live", {"faces": []}, table)
    with sqlite3.connect(store.path) as db:
        db.execute("UPDATE entries SET summary_json = '{not json' WHERE id = ?", (bad_json,))
        db.execute("UPDATE entries SET table_parquet = X'00FF' WHERE id = ?", (bad_table,))
    readable, unreadable = store.scan()
    assert [e.id for e in readable] == [bad_table, good]  # the row itself reads; its table is checked on opening
    assert [i for i, _ in unreadable] == [bad_json]
    assert store.load(good).info.name == "good"
    with pytest.raises(HistoryError, match=f"entry {bad_table} is damaged"):
        store.load(bad_table)


def test_a_file_that_is_not_a_database_gives_a_message(tmp_path):
    import pytest

    from fer_core.errors import HistoryError
    from fer_core.store import DB_NAME, HistoryStore

    (tmp_path / DB_NAME).write_bytes(b"this is not a SQLite database, it is a text file " * 100)
    with pytest.raises(HistoryError, match="cannot be opened .*move it aside"):
        HistoryStore.in_folder(tmp_path)


def test_each_signed_in_person_sees_their_own_entries_and_the_shared_ones(tmp_path):
    everyone = HistoryStore(tmp_path / "h.sqlite3")
    shared = everyone.save("before the login", "video", _summary(), _table())
    alice, bob = everyone.for_owner("alice"), HistoryStore(tmp_path / "h.sqlite3", owner=" bob ")
    mine = alice.save("alice's interview", "live", _summary(), _table())
    theirs = bob.save("bob's interview", "video", _summary(2), _table())
    assert {e.id: e.owner for e in everyone.list()} == {shared: None, mine: "alice", theirs: "bob"}
    assert [e.id for e in alice.list()] == [mine, shared]
    assert [e.id for e in bob.list()] == [theirs, shared]
    # another person's entry is as good as absent: not opened, renamed or deleted, and left as it was
    with pytest.raises(KeyError):
        alice.load(theirs)
    assert alice.rename(theirs, "mine now") is False
    assert alice.delete(theirs) is False
    assert bob.load(theirs).info.name == "bob's interview"
    # the shared entries stay everyone's, as they were before people signed in
    assert alice.rename(shared, "renamed by alice") is True
    assert bob.load(shared).info.name == "renamed by alice"
    assert bob.name_faces(theirs, {1: "Candidate"}) and not alice.name_faces(theirs, {1: "mine"})
    assert bob.load(theirs).summary["faces"][0]["name"] == "Candidate"
    assert everyone.owner is None and alice.owner == "alice"  # for_owner made a new view, not a changed store
    with pytest.raises(ValueError):
        everyone.for_owner("  ")


def test_a_history_from_before_owners_opens_and_keeps_its_entries(tmp_path):
    """The table as the earlier schema made it (no owner column), filled by hand."""
    import io
    import json
    import sqlite3

    path = tmp_path / "h.sqlite3"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE entries (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL CHECK (length(name) > 0), "
        "kind TEXT NOT NULL CHECK (kind IN ('live', 'video')), created_at TEXT NOT NULL, summary_json TEXT NOT NULL, "
        "table_parquet BLOB NOT NULL)"
    )
    buffer = io.BytesIO()
    _table().to_parquet(buffer, index=False)
    db.execute(
        "INSERT INTO entries (name, kind, created_at, summary_json, table_parquet) VALUES (?, ?, ?, ?, ?)",
        (
            "old one",
            "video",
            datetime(2026, 1, 1, tzinfo=timezone.utc).isoformat(),
            json.dumps(_summary()),
            buffer.getvalue(),
        ),
    )
    db.commit()
    db.close()
    alice = HistoryStore(path, owner="alice")
    (entry,) = alice.list()
    assert entry.name == "old one" and entry.owner is None
    pd.testing.assert_frame_equal(alice.load(entry.id).table, _table())
    new = alice.save("new one", "live", _summary(), _table())
    assert [e.id for e in HistoryStore(path).list()] == [new, entry.id]
