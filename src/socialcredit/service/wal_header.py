"""Whether anything was committed to a SQLite database in WAL mode, in a tenth of a
microsecond: the WAL-index header read from shared memory.

Every connection to a database in WAL mode maps its ``-shm`` file (the WAL index), and
every commit, by any connection of any process, rewrites the header at its start: the
last valid frame, the salts of the WAL and a checksum over them change with each one
(SQLite's file format, "The WAL-Index Header"). ``PRAGMA data_version`` learns the same
from the same header, but as a statement: a read transaction begun and ended, with its
locks on the file (~3 µs, the GIL released twice), on a path — a decision read from
memory — that takes ~20 µs in all.

So a header that reads the same as at a moment when the reader's view was current
means nothing was committed since: that view is still current. Any other reading —
another header, two copies that differ because a writer is between them, a header of
an unknown version — says nothing, and the caller asks ``PRAGMA data_version`` as it
would without this. The header is only compared, never interpreted, beyond checking
that it is the format SQLite has written since 3.7.0 (version 3007000, initialized).

It is used only while the caller keeps a connection to the database open that has read
from it: that connection holds the ``-shm`` file open, so no other process may
truncate or recreate it (SQLite does that only with no connection left). The file is
watched only once this process is seen to hold it open already (SQLite's descriptor,
found under /proc/self/fd), so what is mapped is the WAL index in use; where that
cannot be seen, nothing is watched.
"""

from __future__ import annotations

import mmap
import os
import sys
from typing import Any

#: the WAL-index header: two copies of 48 bytes (a writer writes the second, then the
#: first; a reader that sees them differ is between them)
COPY = 48
#: WALINDEX_MAX_VERSION, the header's first field
VERSION = 3007000


class WalHeader:
    def __init__(self, shm_path: str) -> None:
        fd = os.open(shm_path, os.O_RDONLY)
        try:
            st = os.fstat(fd)
            if st.st_size < 2 * COPY:
                raise ValueError(f"{shm_path} holds no WAL-index header")
            if not _open_elsewhere(fd, st.st_dev, st.st_ino):
                raise ValueError(f"{shm_path} is not the WAL index SQLite uses here")
            self._map = mmap.mmap(fd, 2 * COPY, access=mmap.ACCESS_READ)
        finally:
            os.close(fd)
        first = self._map[0:COPY]
        if int.from_bytes(first[0:4], sys.byteorder) != VERSION or first[12] != 1:
            self._map.close()
            raise ValueError(f"{shm_path}: not a WAL-index header this reader knows")

    @classmethod
    def of(cls, driver: Any) -> WalHeader | None:
        """The header of the main database of `driver` (a sqlite3 connection that has
        read from it), or None where there is none to watch: not in WAL mode, in
        memory, or a WAL index not in a file (exclusive locking mode)."""
        try:
            mode = driver.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal" or str(driver.execute(
                    "PRAGMA locking_mode").fetchone()[0]).lower() != "normal":
                return None
            path = next((r[2] for r in driver.execute("PRAGMA database_list")
                         if r[1] == "main"), "")
            if not path:
                return None
            return cls(f"{path}-shm")
        except (OSError, ValueError):
            return None

    def read(self) -> bytes | None:
        """The header as it is now, or None when a writer is rewriting it."""
        both = self._map[0:2 * COPY]
        first = both[:COPY]
        return first if first == both[COPY:] else None

    def close(self) -> None:
        self._map.close()


def _open_elsewhere(mine: int, dev: int, ino: int) -> bool:
    """Whether this process holds the file open by another descriptor than `mine`: the
    one SQLite opened for the connection that read, so the file mapped here is the WAL
    index in use and not one left beside a path that names the database otherwise.
    Where the process's descriptors cannot be listed (no /proc), False: the caller
    then asks data_version every time, as without this."""
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return False
    for name in fds:
        if not name.isdigit() or int(name) == mine:
            continue
        try:
            st = os.stat(f"/proc/self/fd/{name}")
        except OSError:
            continue
        if st.st_ino == ino and st.st_dev == dev:
            return True
    return False


__all__ = ["WalHeader"]
