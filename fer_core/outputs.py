"""Where an analysis writes its files: the names are claimed before the analysis starts, the files are written under
temporary names beside them and renamed into place only when all of them are complete. So two runs never write
the same files at once, results are never overwritten unless asked, and a run that fails (disk full, cancelled,
killed) leaves the earlier results, or nothing, but never half a file."""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass, fields
from pathlib import Path

from fer_core.errors import OutputError


@dataclass(frozen=True)
class AnalysisOutputs:
    """Paths written by an analysis (each None when not asked for)."""

    table_csv: Path | None = None
    table_parquet: Path | None = None
    summary_json: Path | None = None
    annotated_mp4: Path | None = None

    def paths(self) -> list[Path]:
        return [p for p in (getattr(self, f.name) for f in fields(self)) if p is not None]


def _partial(path: Path) -> Path:
    """``x.summary.json`` -> ``.x.summary.partial.json`` (hidden, same folder, same suffix for the writers)."""
    return path.with_name(f".{path.stem}.partial{path.suffix}")


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class OutputFiles:
    """The files of one analysis of ``stem`` in ``out_dir``: ``final`` (where they end up) and ``partial`` (what
    is written meanwhile). ``tables`` False: the annotated video alone (a render of an earlier analysis). Raises
    :class:`OutputError` when the folder cannot be used, when it already holds those files for ``stem`` (unless
    ``overwrite``) or when another running analysis or render is writing them."""

    def __init__(
        self, out_dir: str | Path, stem: str, write_video: bool = True, overwrite: bool = False, tables: bool = True
    ):
        out_dir = Path(out_dir)
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"{out_dir}: cannot be used as the output folder ({exc.strerror or exc})") from exc
        if not out_dir.is_dir():
            raise OutputError(f"{out_dir}: cannot be used as the output folder (it is not a folder)")
        self.final = AnalysisOutputs(
            out_dir / f"{stem}.csv" if tables else None,
            out_dir / f"{stem}.parquet" if tables else None,
            out_dir / f"{stem}.summary.json" if tables else None,
            out_dir / f"{stem}.annotated.mp4" if write_video else None,
        )
        self.partial = AnalysisOutputs(
            *[p if p is None else _partial(p) for p in (getattr(self.final, f.name) for f in fields(self.final))]
        )
        existing = [p.name for p in self.final.paths() if p.exists() or p.is_symlink()]
        if existing and not overwrite:
            raise OutputError(
                f"{out_dir} already holds results for {stem} ({', '.join(existing)}); choose another "
                "output folder, or overwrite them (--overwrite)"
            )
        self._stem = stem
        self._lock = out_dir / f".{stem}.analysing"
        self._claim()

    def _claim(self) -> None:
        for _ in range(2):
            try:
                fd = os.open(self._lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                try:
                    pid = int(self._lock.read_text().strip() or 0)
                except (OSError, ValueError):
                    pid = 0
                if pid and process_alive(pid):
                    raise OutputError(
                        f"another analysis (process {pid}) is writing the results for "
                        f"{self._stem} into {self._lock.parent} right now; "
                        "wait for it or choose another output folder"
                    ) from None
                self._lock.unlink(missing_ok=True)  # left by a run that was killed: take it over
                continue
            except OSError as exc:
                raise OutputError(f"{self._lock.parent}: cannot write there ({exc.strerror or exc})") from exc
            with os.fdopen(fd, "w") as handle:
                handle.write(str(os.getpid()))
            return
        raise OutputError(f"{self._lock.parent}: could not claim the output names for this analysis")

    def commit(self) -> AnalysisOutputs:
        """Move every written file into place (the summary last) and release the names; returns ``final``."""
        try:
            pairs = list(zip(self.partial.paths(), self.final.paths()))
            for partial, final in sorted(pairs, key=lambda pair: pair[1].name.endswith(".summary.json")):
                os.replace(partial, final)
        except OSError as exc:
            self.discard()
            raise OutputError(f"the results could not be put in place ({exc.strerror or exc})") from exc
        self._lock.unlink(missing_ok=True)
        return self.final

    def discard(self) -> None:
        """Remove whatever was written and release the names; earlier results stay as they were."""
        for path in self.partial.paths():
            path.unlink(missing_ok=True)
        self._lock.unlink(missing_ok=True)


def describe_write_error(exc: OSError) -> str:
    """Plain words for a failed write: a full disk or a read-only folder says so."""
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "the output folder cannot be written to"
    return exc.strerror or str(exc)
