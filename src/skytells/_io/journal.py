"""The journal of a batch: each request's state, in an SQLite file beside the results.

Stdlib ``sqlite3`` in WAL mode: no server, readers (``skytells batch status``) never block the
run. Each request is a row whose state moves forward, written *before* the step it names::

    pending -> creating (attempt start, fingerprint) -> created (id) -> terminal (its result)
            -> saved (file paths) -> written (its line is in the results file)

A ``pending`` row that ``skytells batch cancel`` reached is ``cancelled`` (its result, never
created; a running batch checks the state before each create, so it stops creating too) and then
``written``.

A row in ``creating`` may or may not have a prediction on the server: the next run looks for it
(reconciles) before it creates it again. The results file's committed length is kept in the same
transaction as the rows marked ``written``, so a run killed between writing lines and committing
them is repaired by cutting the file back to that length (a torn last line included) and writing
those rows again: never twice, never lost. Many state changes share one commit (``commit``), so
the journal is no bottleneck; a ``creating`` mark is committed before its create is sent.

SQLite keeps the latest commits in ``<journal>-wal`` until a checkpoint copies them into the
journal itself: the run checkpoints once the requests are stored, every few seconds while it runs
(`checkpoint`) and when it ends, so the journal file alone is at most that far behind; a copy
made while a batch runs must take the ``-wal`` file too.

The journal is bound to its requests file (its size and SHA-256): another file with the same
results path is refused.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._exceptions import SkytellsError

SCHEMA_VERSION = "1"
STATES = ("pending", "creating", "created", "terminal", "saved", "written", "cancelled")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rows (
    line INTEGER PRIMARY KEY,
    custom_id TEXT NOT NULL UNIQUE,
    request TEXT NOT NULL,
    state TEXT NOT NULL,
    started REAL,
    fingerprint TEXT,
    prediction_id TEXT,
    status TEXT,
    record TEXT,
    files TEXT
);
CREATE INDEX IF NOT EXISTS rows_state ON rows (state, line);
CREATE INDEX IF NOT EXISTS rows_prediction ON rows (prediction_id);
"""


class JournalError(SkytellsError):
    """The journal cannot be used (another file, another run, a damaged file)."""


@dataclass(frozen=True)
class Row:
    """One request's row."""

    line: int
    custom_id: str
    request: str
    state: str
    started: float | None
    prediction_id: str | None
    status: str | None
    record: str | None
    files: str | None


def journal_path(results: Path) -> Path:
    """The journal of a results file: ``results.jsonl`` -> ``results.jsonl.journal.sqlite``
    (the same rule as `Batch.journal_path`)."""
    return results.with_name(results.name + ".journal.sqlite")


class Journal:
    """One open journal (used by one thread at a time). ``path=None``: a private temporary one
    (a dry run: the same checks, nothing kept)."""

    def __init__(self, path: Path | None, *, readonly: bool = False, shared: bool = False) -> None:
        """``readonly``: read a batch's state (even while it runs); ``shared``: write beside a
        run that may hold the batch (`cancel_pending`), without taking its lock."""
        self.path = path
        self._lock: Any = None
        self._in_transaction = False
        if path is not None and readonly:
            if not path.exists():
                raise JournalError(
                    f"No batch journal at {path}: run the batch first", "BATCH_NOT_FOUND"
                )
            uri = path.resolve().as_uri() + "?mode=ro"
            try:
                self._db = sqlite3.connect(uri, uri=True, isolation_level=None)
                self._db.execute("PRAGMA busy_timeout = 5000")
                ready = self.ready
            except sqlite3.DatabaseError as exc:
                self.close()
                raise JournalError(
                    f"The batch journal {path} is damaged ({exc}): restore it with its -wal "
                    "and -shm files",
                    "BATCH_JOURNAL_DAMAGED",
                ) from None
            if not ready:
                self.close()
                if _locked(path):
                    raise JournalError(
                        f"The batch of {path} has not started yet: a run is checking its requests",
                        "BATCH_NOT_FOUND",
                    )
                raise JournalError(
                    f"The batch of {path} never started: its run stopped while checking its "
                    "requests (nothing was sent). Run it again to start it",
                    "BATCH_NOT_FOUND",
                )
            return
        if path is not None and shared and not path.exists():
            raise JournalError(
                f"No batch journal at {path}: run the batch first", "BATCH_NOT_FOUND"
            )
        if path is not None and not shared:
            self._lock = _lock(path)
        try:
            self._db = sqlite3.connect("" if path is None else str(path), isolation_level=None)
            self._db.execute("PRAGMA busy_timeout = 5000")
            if path is not None:
                self._db.execute("PRAGMA journal_mode = WAL")
                self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            self.close()
            raise JournalError(
                f"The batch journal {path} cannot be used: {exc}", "BATCH_JOURNAL_DAMAGED"
            ) from None
        self._in_transaction = False

    # ── binding and filling ──────────────────────────────────────────────

    def meta(self, key: str) -> str | None:
        """A stored setting."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    @property
    def ready(self) -> bool:
        """Whether the requests were all checked and stored (a run was started)."""
        return self.meta("ready") == "1"

    def begin_fill(self) -> None:
        """Start storing the requests (one transaction: a failed check leaves nothing)."""
        self._db.execute("DELETE FROM rows")
        self._db.execute("DELETE FROM meta")
        self._begin()

    def add(self, line: int, custom_id: str, request: str) -> int | None:
        """Store one request as pending; returns the line of an earlier one with the same
        ``custom_id`` instead (nothing stored)."""
        try:
            self._db.execute(
                "INSERT INTO rows (line, custom_id, request, state) VALUES (?, ?, ?, 'pending')",
                (line, custom_id, request),
            )
        except sqlite3.IntegrityError:
            row = self._db.execute(
                "SELECT line FROM rows WHERE custom_id = ?", (custom_id,)
            ).fetchone()
            return int(row[0]) if row else line
        return None

    def finish_fill(self, binding: dict[str, str]) -> None:
        """Bind the journal to its requests file and commit the stored requests."""
        for key, value in {**binding, "version": SCHEMA_VERSION, "results_size": "0"}.items():
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('ready', '1')")
        self.checkpoint(wait=True)

    def abandon(self) -> None:
        """Drop what `begin_fill` stored, close, and remove the journal's files."""
        with contextlib.suppress(sqlite3.Error):
            if self._in_transaction:
                self._db.execute("ROLLBACK")
        self._in_transaction = False
        self.close()
        if self.path is not None:
            for suffix in ("", "-wal", "-shm", ".lock"):
                with contextlib.suppress(OSError):
                    Path(str(self.path) + suffix).unlink()

    # ── reading ──────────────────────────────────────────────────────────

    def counts(self) -> dict[str, int]:
        """Rows by state."""
        found = dict.fromkeys(STATES, 0)
        for state, count in self._db.execute("SELECT state, COUNT(*) FROM rows GROUP BY state"):
            found[str(state)] = int(count)
        return found

    def rows(self, states: tuple[str, ...], after: int = 0, limit: int = 500) -> list[Row]:
        """Up to ``limit`` rows in ``states``, by line, after line ``after``."""
        marks = ",".join("?" * len(states))
        cursor = self._db.execute(
            "SELECT line, custom_id, request, state, started, prediction_id, status, record, files"
            f" FROM rows WHERE state IN ({marks}) AND line > ? ORDER BY line LIMIT ?",
            (*states, after, limit),
        )
        return [Row(*values) for values in cursor]

    def all_rows(self, states: tuple[str, ...]) -> Iterator[Row]:
        """Every row in ``states``, by line, a page at a time."""
        after = 0
        while True:
            page = self.rows(states, after)
            yield from page
            if len(page) < 500:
                return
            after = page[-1].line

    def is_claimed(self, prediction_id: str) -> bool:
        """Whether a row already holds this prediction."""
        return (
            self._db.execute(
                "SELECT 1 FROM rows WHERE prediction_id = ? LIMIT 1", (prediction_id,)
            ).fetchone()
            is not None
        )

    def ids_since(self, started: float) -> Iterator[str]:
        """The predictions of the requests whose first attempt began at or after ``started``."""
        cursor = self._db.execute(
            "SELECT prediction_id FROM rows WHERE prediction_id IS NOT NULL AND started >= ?",
            (started,),
        )
        for (prediction_id,) in cursor:
            yield str(prediction_id)

    def credits(self, states: tuple[str, ...] = STATES) -> float:
        """The credits of the results recorded so far (of the rows in ``states``)."""
        total = 0.0
        marks = ",".join("?" * len(states))
        for (record,) in self._db.execute(
            f"SELECT record FROM rows WHERE record IS NOT NULL AND state IN ({marks})", states
        ):
            used = json.loads(record).get("credits_used")
            total += float(used) if isinstance(used, (int, float)) else 0.0
        return round(total, 6)

    # ── writing (in the open transaction; `commit` makes it durable) ─────

    def mark_pending(self, line: int) -> None:
        """A create that was refused with certainty (a 429): to be sent again."""
        self._set(line, "state = 'pending'")

    def mark_creating(self, line: int, started: float, fingerprint: str) -> bool:
        """A create is about to be sent (the first attempt's start is kept). False, and nothing
        changed, when the row is no longer to be created (``batch cancel`` reached it)."""
        return self._set(
            line,
            "state = 'creating', started = COALESCE(started, ?), fingerprint = ?",
            started,
            fingerprint,
            only=("pending", "creating"),
        )

    def mark_cancelled(self, line: int, record: dict[str, Any]) -> bool:
        """A pending row will not be created: ``record`` is its result. False if it was no longer
        pending."""
        return self._set(
            line,
            "state = 'cancelled', status = 'cancelled', record = ?",
            json.dumps(record, separators=(",", ":"), ensure_ascii=False),
            only=("pending",),
        )

    def row(self, line: int) -> Row | None:
        """The row of ``line``."""
        found = self.rows(STATES, line - 1, 1)
        return found[0] if found and found[0].line == line else None

    def mark_created(self, line: int, prediction_id: str) -> None:
        """The prediction of a row exists."""
        self._set(line, "state = 'created', prediction_id = ?", prediction_id)

    def mark_terminal(self, line: int, status: str, record: dict[str, Any]) -> None:
        """A row's prediction ended (or could not be created): its result, without files."""
        self._set(
            line,
            "state = 'terminal', status = ?, record = ?",
            status,
            json.dumps(record, separators=(",", ":"), ensure_ascii=False),
        )

    def mark_saved(self, line: int, record: dict[str, Any]) -> None:
        """A row's outputs are on disk; ``record`` is its final result line."""
        self._set(
            line,
            "state = 'saved', record = ?, files = ?",
            json.dumps(record, separators=(",", ":"), ensure_ascii=False),
            json.dumps(record.get("files", [])),
        )

    def mark_written(self, line: int) -> None:
        """A row's line is in the results file (committed with the file's new length)."""
        self._set(line, "state = 'written'")

    def commit(self, results_size: int | None = None) -> None:
        """Make every change so far durable, with the results file's length if given."""
        if results_size is not None:
            self._begin()
            self._db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('results_size', ?)", (str(results_size),)
            )
        if self._in_transaction:
            self._db.execute("COMMIT")
            self._in_transaction = False

    def checkpoint(self, *, wait: bool = False) -> None:
        """Commit, and copy the commits from the ``-wal`` file into the journal file itself
        (``wait``: and empty the ``-wal`` file, waiting for readers; else only what no reader
        holds, never blocking)."""
        self.commit()
        if self.path is None:
            return
        mode = "TRUNCATE" if wait else "PASSIVE"
        with contextlib.suppress(sqlite3.Error):
            self._db.execute(f"PRAGMA wal_checkpoint({mode})").fetchall()

    def close(self) -> None:
        """Commit nothing more and close."""
        db = getattr(self, "_db", None)
        if db is not None:
            with contextlib.suppress(sqlite3.Error):
                if getattr(self, "_in_transaction", False):
                    db.execute("COMMIT")
                    self._in_transaction = False
            db.close()
        if self._lock is not None:
            with contextlib.suppress(OSError):
                os.close(self._lock)
            self._lock = None

    def _begin(self) -> None:
        if not self._in_transaction:
            self._db.execute("BEGIN IMMEDIATE")
            self._in_transaction = True

    def _set(self, line: int, assignments: str, *values: Any, only: tuple[str, ...] = ()) -> bool:
        self._begin()
        where = f" AND state IN ({','.join('?' * len(only))})" if only else ""
        cursor = self._db.execute(
            f"UPDATE rows SET {assignments} WHERE line = ?{where}", (*values, line, *only)
        )
        return cursor.rowcount > 0


def _lock(path: Path) -> int:
    """Hold the journal's lock file for this run (another run of the same batch is refused)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = os.open(str(path) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: sqlite's own locks still serialise writes
        return handle
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(handle)
        raise JournalError(
            f"Another run of this batch holds {path}: wait for it to end, or stop it",
            "BATCH_RUNNING",
        ) from None
    return handle


def _locked(path: Path) -> bool:
    """Whether a run holds the journal's lock now."""
    try:
        handle = os.open(str(path) + ".lock", os.O_RDONLY)
    except OSError:
        return False
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        os.close(handle)
        return False
    try:
        fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(handle)
    return False
