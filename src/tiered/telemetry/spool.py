"""A durable local spool for the request log: each record is appended to a file before anything else,
so that neither a killed process nor a database outage loses it.

A spool is a folder of segment files (`<pid>-<ns>-<n>.spool`), one record a line. The process that
appends to a segment holds an exclusive `flock` on it for as long as it runs; a segment nobody holds
belongs to a process that died, and the next spool opened on the folder adopts it and replays it
first. One writer thread reads lines from the oldest segment (`take`), stores them, and then
`commit`s them: a segment whose every line is stored is deleted (the segment being appended to is
truncated instead). Lines are stored idempotently (by trace id), so a line replayed twice, after a
crash between storing it and committing it, counts once.

Appends are `write(2)` calls on an O_APPEND descriptor: once `append` returns, the line survives the
process being killed (it is in the kernel's page cache); `sync` (the writer calls it once per batch)
makes it survive the machine going down too. The spool is bounded: past `max_bytes` of lines not yet
stored, `append` refuses (the caller says what happens then) unless told to `force` it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

SUFFIX = ".spool"
SEGMENT_BYTES = 8 * 1024 * 1024
READ_BYTES = 1024 * 1024


@dataclass(eq=False)
class Segment:
    path: Path
    fd: int
    size: int
    """Bytes in the file (appended so far)."""
    done: int = 0
    """Bytes stored and committed (always at a line boundary)."""
    closed: bool = False
    """No more appends: a rotated segment, or one adopted from a dead process."""


@dataclass(frozen=True)
class Batch:
    """Lines read from one segment, from `start` to `end` (bytes), not committed yet."""

    segment: Segment
    start: int
    end: int
    lines: list[bytes]
    torn: int = 0
    """Bytes of a last line cut short by a crash (no newline): skipped."""


class Spool:
    """Append from any thread; `take`/`commit` from one writer thread."""

    def __init__(self, directory: str | os.PathLike[str], *, max_bytes: int,
                 segment_bytes: int = SEGMENT_BYTES) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self._lock = threading.Lock()
        self._segments: deque[Segment] = deque()
        self._seq = 0
        self.pending_bytes = 0
        """Bytes appended (or adopted) and not stored yet."""
        self.appended = 0
        self.adopted = 0
        self.directory.mkdir(parents=True, exist_ok=True)
        self.adopt()
        self._current = self._open_segment()

    def __repr__(self) -> str:
        return f"Spool({str(self.directory)!r})"

    # -- the appending side ------------------------------------------------------------------------
    def append(self, line: bytes, *, force: bool = False) -> bool:
        """Append one line (ending in a newline). False, and nothing written, when the spool is full."""
        with self._lock:
            if not force and self.pending_bytes + len(line) > self.max_bytes:
                return False
            seg = self._current
            os.write(seg.fd, line)
            seg.size += len(line)
            self.pending_bytes += len(line)
            self.appended += 1
            if seg.size >= self.segment_bytes:
                seg.closed = True
                self._current = self._open_segment()
        return True

    @property
    def full(self) -> bool:
        return self.pending_bytes >= self.max_bytes

    def _open_segment(self) -> Segment:
        """A new segment, locked by this process (the caller holds the lock, or is __init__)."""
        self.directory.mkdir(parents=True, exist_ok=True)  # recreated if someone removed it
        self._seq += 1
        path = self.directory / f"{os.getpid()}-{time.time_ns()}-{self._seq}{SUFFIX}"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        seg = Segment(path, fd, 0)
        self._segments.append(seg)
        return seg

    def check(self) -> None:
        """Start a new segment when the folder was removed under us (so that new lines are on disk again);
        lines already in the removed segments are still read through their open descriptors."""
        if self.directory.is_dir():
            return
        with self._lock:
            self._current.closed = True
            self._current = self._open_segment()

    def adopt(self) -> int:
        """Take over the segments of processes that died (nobody holds their lock); they are read first.
        Returns how many were adopted now."""
        try:
            names = sorted(p for p in self.directory.iterdir() if p.suffix == SUFFIX)
        except FileNotFoundError:
            return 0
        with self._lock:
            known = {s.path for s in self._segments}
        found: list[Segment] = []
        for path in names:
            if path in known:
                continue
            try:
                fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
            except FileNotFoundError:  # another process replayed and removed it meanwhile
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # a live process appends to it
                os.close(fd)
                continue
            if not os.path.exists(path):  # replayed and removed while we waited for its lock
                os.close(fd)
                continue
            found.append(Segment(path, fd, os.fstat(fd).st_size, closed=True))
        if found:
            with self._lock:
                self._segments.extendleft(reversed(found))
                self.pending_bytes += sum(s.size for s in found)
                self.adopted += len(found)
        return len(found)

    # -- the writer's side -------------------------------------------------------------------------
    def take(self, max_lines: int) -> Batch | None:
        """Up to `max_lines` lines not yet committed, from the oldest segment; None when all are stored."""
        while True:
            with self._lock:
                if not self._segments:
                    return None
                seg = self._segments[0]
                start, size, closed = seg.done, seg.size, seg.closed
            if start >= size:
                if not closed:
                    return None  # the segment being appended to, all stored
                self._drop(seg)
                continue
            data = b""
            want = READ_BYTES
            while True:
                data = os.pread(seg.fd, min(want, size - start), start)
                cut = data.rfind(b"\n")
                if cut >= 0 or start + len(data) >= size or not data:
                    break
                want *= 2  # one line longer than a read: read more
            if cut < 0:  # no whole line: a crash cut the last line of a dead process's segment
                if closed:
                    return Batch(seg, start, size, [], torn=size - start)
                return None  # (a live append is never seen half-written: it is one write under the lock)
            lines = data[:cut + 1].splitlines(keepends=True)
            if len(lines) > max_lines:
                lines = lines[:max_lines]
            return Batch(seg, start, start + sum(len(x) for x in lines), lines)

    def commit(self, batch: Batch) -> None:
        """The batch's lines are stored: forget them (delete or truncate a segment fully stored)."""
        seg = batch.segment
        with self._lock:
            seg.done = batch.end
            self.pending_bytes -= batch.end - batch.start
            if seg.done < seg.size:
                return
            if not seg.closed:
                os.ftruncate(seg.fd, 0)  # appends hold the lock, so nothing lands between the check and this
                seg.size = seg.done = 0
                return
        self._drop(seg)

    def _drop(self, seg: Segment) -> None:
        """Delete a fully stored segment (once, wherever it is in the queue)."""
        with self._lock:
            if seg not in self._segments:
                return
            self._segments.remove(seg)
        with contextlib.suppress(FileNotFoundError):
            seg.path.unlink()
        os.close(seg.fd)

    def sync(self) -> None:
        """Flush appended lines to the disk (once per batch, not once per line)."""
        with self._lock:
            fds = [s.fd for s in self._segments if s.size > s.done]
        for fd in fds:
            os.fdatasync(fd)

    def close(self) -> None:
        """Release the segments: those fully stored are deleted, the rest stay for the next start."""
        with self._lock:
            segments = list(self._segments)
            self._segments.clear()
        for seg in segments:
            if seg.done >= seg.size:
                with contextlib.suppress(FileNotFoundError):
                    seg.path.unlink()
            else:
                os.fdatasync(seg.fd)
            os.close(seg.fd)  # releases the flock: the next start adopts what is left
