"""History of saved live sessions and video analyses in one SQLite file.

Each entry holds a name, a kind (``live`` or ``video``), its creation time (UTC), the JSON summary and the records
table (Parquet bytes), and who saved it when the server knows who is signed in (``owner``; see
:class:`HistoryStore`). Every write is one transaction, so a failed save leaves no half entry. A connection is
opened per call, so one :class:`HistoryStore` may be used from several threads, and several processes may write
to the same file (SQLite serialises writers; ``timeout_s`` is how long a writer waits for the lock).
"""

from __future__ import annotations

import builtins
import copy
import io
import json
import logging
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from fer_core.errors import HistoryError
from fer_core.records import with_face_names

log = logging.getLogger(__name__)

KINDS = ("live", "video")
DATA_DIR_ENV = "FER_DATA_DIR"
DB_NAME = "history.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL CHECK (length(name) > 0),
    kind TEXT NOT NULL CHECK (kind IN ('live', 'video')),
    created_at TEXT NOT NULL,
    summary_json TEXT NOT NULL,
    table_parquet BLOB NOT NULL,
    owner TEXT
)
"""
# Entries that ``owner`` may see: its own and those saved with no owner; a store with no owner sees every entry.
_VISIBLE = "(? IS NULL OR owner IS NULL OR owner = ?)"


def default_data_dir(root: str | Path | None = None) -> Path:
    """``$FER_DATA_DIR`` if set, else ``data/`` under ``root`` (the repository root by default)."""
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env)
    return Path(root) if root is not None else Path(__file__).resolve().parents[1] / "data"


@dataclass(frozen=True)
class EntryInfo:
    """One saved entry without its payload: id, name, kind, creation time (aware UTC datetime), faces, seconds,
    and who saved it (None: saved with no signed-in person, so every user of the history sees it)."""

    id: int
    name: str
    kind: str
    created_at: datetime
    faces: int
    duration_s: float
    owner: str | None = None


@dataclass(frozen=True)
class Entry:
    """One saved entry with its summary (the JSON document as saved) and records table."""

    info: EntryInfo
    summary: dict
    table: pd.DataFrame


class HistoryStore:
    """The history database at ``path`` (a SQLite file; its folder is created when missing).

    ``owner``: the signed-in person the store acts for (a server behind a login, see ``docs/deploying.md``): what
    it saves carries that name, and it lists, opens, renames and deletes only that person's entries and those saved
    with no owner (before people signed in). None: every entry, and saves carry no owner (one person's machine, or
    a team that shares one history). :meth:`for_owner` gives the same database acting for someone."""

    def __init__(self, path: str | Path, timeout_s: float = 30.0, owner: str | None = None) -> None:
        """Open (or create) the database; raises :class:`HistoryError` when the file is not a usable one."""
        self.path = Path(path)
        self.timeout_s = timeout_s
        self.owner = _owner(owner)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as db:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute(_SCHEMA)
                if "owner" not in {row[1] for row in db.execute("PRAGMA table_info(entries)")}:
                    db.execute("ALTER TABLE entries ADD COLUMN owner TEXT")  # a history from before owners
        except (sqlite3.Error, OSError) as exc:
            raise HistoryError(
                f"the history database {self.path.name} cannot be opened ({exc}); move it aside to "
                "start a new one, or set FER_DATA_DIR to another folder"
            ) from exc

    @classmethod
    def in_folder(cls, folder: str | Path | None = None, owner: str | None = None) -> "HistoryStore":
        """The store ``history.sqlite3`` in ``folder`` (default :func:`default_data_dir`), acting for ``owner``."""
        return cls(Path(folder or default_data_dir()) / DB_NAME, owner=owner)

    def for_owner(self, owner: str | None) -> "HistoryStore":
        """This database acting for ``owner`` (see the class), without opening it again."""
        scoped = copy.copy(self)
        scoped.owner = _owner(owner)
        return scoped

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=self.timeout_s)
        try:
            with db:  # commit on success, roll back on any exception
                yield db
        finally:
            db.close()

    def save(self, name: str, kind: str, summary: dict, table: pd.DataFrame, created_at: datetime | None = None) -> int:
        """Save one entry in one transaction; returns its id. Raises ValueError for an empty name or unknown
        kind, TypeError for a summary that is not JSON; nothing is written then."""
        name = name.strip()
        if not name:
            raise ValueError("give the entry a name")
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        summary_json = json.dumps(summary, default=_plain)
        buffer = io.BytesIO()
        table.to_parquet(buffer, index=False)
        created = (created_at or datetime.now(timezone.utc)).astimezone(timezone.utc).isoformat()
        with self._connect() as db:
            cursor = db.execute(
                "INSERT INTO entries (name, kind, created_at, summary_json, table_parquet, owner) VALUES (?, ?, ?, ?, ?, ?)",
                (name, kind, created, summary_json, buffer.getvalue(), self.owner),
            )
            entry_id = int(cursor.lastrowid or 0)
        log.info("saved %s entry %d (%s) to %s", kind, entry_id, name, self.path)
        return entry_id

    def list(self) -> list[EntryInfo]:
        """Every readable entry, newest first (see :meth:`scan` for the ones that cannot be read)."""
        return self.scan()[0]

    def scan(self) -> tuple[builtins.list[EntryInfo], builtins.list[tuple[int, str]]]:
        """The readable entries, newest first, and (id, reason) for each entry that cannot be read (a damaged
        row). Raises :class:`HistoryError` when the database itself cannot be read."""
        try:
            with self._connect() as db:
                rows = db.execute(
                    f"SELECT id, name, kind, created_at, summary_json, owner FROM entries WHERE {_VISIBLE} "
                    "ORDER BY created_at DESC, id DESC",
                    (self.owner, self.owner),
                ).fetchall()
        except sqlite3.Error as exc:
            raise HistoryError(f"the history database {self.path.name} cannot be read ({exc})") from exc
        readable, unreadable = [], []
        for row in rows:
            try:
                readable.append(_info(*row))
            except (ValueError, TypeError, AttributeError, KeyError) as exc:
                unreadable.append((row[0], f"{type(exc).__name__}: {exc}"[:200]))
        return readable, unreadable

    def summaries(self, entry_ids: builtins.list[int]) -> dict[int, dict]:
        """The JSON summaries of entries ``entry_ids`` (without their tables), by id; ids that are not there (or
        are someone else's, or unreadable) are left out."""
        ids = [int(i) for i in entry_ids]
        if not ids:
            return {}
        with self._connect() as db:
            rows = db.execute(
                f"SELECT id, summary_json FROM entries WHERE id IN ({', '.join('?' * len(ids))}) AND {_VISIBLE}",
                (*ids, self.owner, self.owner),
            ).fetchall()
        found = {}
        for entry_id, text in rows:
            try:
                found[entry_id] = json.loads(text)
            except ValueError:
                continue  # a damaged row: scan() names it
        return found

    def load(self, entry_id: int) -> Entry:
        """The entry ``entry_id``; raises KeyError when there is none (or it is someone else's)."""
        with self._connect() as db:
            row = db.execute(
                "SELECT id, name, kind, created_at, summary_json, owner, table_parquet FROM entries "
                f"WHERE id = ? AND {_VISIBLE}",
                (int(entry_id), self.owner, self.owner),
            ).fetchone()
        if row is None:
            raise KeyError(f"no history entry {entry_id}")
        try:
            return Entry(_info(*row[:6]), json.loads(row[4]), pd.read_parquet(io.BytesIO(row[6])))
        except (ValueError, TypeError, AttributeError, KeyError, OSError) as exc:  # pyarrow's errors are ValueErrors
            raise HistoryError(
                f"history entry {entry_id} is damaged and cannot be opened ({type(exc).__name__})"
            ) from exc

    def rename(self, entry_id: int, name: str) -> bool:
        """Give entry ``entry_id`` a new name; False when there is no such entry (or it is someone else's).
        ValueError for an empty name."""
        name = name.strip()
        if not name:
            raise ValueError("give the entry a name")
        with self._connect() as db:
            renamed = db.execute(
                f"UPDATE entries SET name = ? WHERE id = ? AND {_VISIBLE}",
                (name, int(entry_id), self.owner, self.owner),
            ).rowcount
        return renamed > 0

    def name_faces(self, entry_id: int, names: dict[int, str]) -> bool:
        """Give the faces of entry ``entry_id`` names (track id -> name, see
        :func:`fer_core.records.with_face_names`), in its summary; False when there is no such entry (or it is
        someone else's)."""
        with self._connect() as db:
            row = db.execute(
                f"SELECT summary_json FROM entries WHERE id = ? AND {_VISIBLE}", (int(entry_id), self.owner, self.owner)
            ).fetchone()
            if row is None:
                return False
            summary = with_face_names(json.loads(row[0]), names)
            db.execute("UPDATE entries SET summary_json = ? WHERE id = ?", (json.dumps(summary), int(entry_id)))
        return True

    def delete(self, entry_id: int) -> bool:
        """Delete the entry ``entry_id``; False when there was none (or it is someone else's)."""
        with self._connect() as db:
            deleted = db.execute(
                f"DELETE FROM entries WHERE id = ? AND {_VISIBLE}", (int(entry_id), self.owner, self.owner)
            ).rowcount
        return deleted > 0


def _plain(value):
    """numpy scalars and arrays as plain JSON values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _info(entry_id: int, name: str, kind: str, created_at: str, summary_json: str, owner: str | None) -> EntryInfo:
    summary = json.loads(summary_json)
    return EntryInfo(
        entry_id,
        name,
        kind,
        datetime.fromisoformat(created_at),
        len(summary.get("faces", [])),
        float(summary.get("duration_s") or 0.0),
        owner,
    )


def _owner(owner: str | None) -> str | None:
    """``owner`` as stored: None stays None (every entry); a name must hold more than spaces."""
    if owner is None:
        return None
    if not isinstance(owner, str) or not owner.strip():
        raise ValueError(f"an owner must be a non-empty name, got {owner!r}")
    return owner.strip()
