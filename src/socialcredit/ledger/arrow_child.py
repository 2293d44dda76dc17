"""The SQLite reader process of ledger/arrow.py: one read transaction; for each JSON
line on stdin (sql, params), the result as an Arrow IPC stream on stdout.

Run as a script with `-P` (not `-m`, which would import the package and SQLAlchemy; `-P`
keeps this directory off sys.path, where its modules would shadow others), on the ADBC
driver manager's own API (its DB-API module imports pandas and Polars when they are
installed), without NumPy and pandas: it starts in under a tenth of a second of CPU,
while `score --all` is still preparing its first partition.

Neither is needed here, and both were most of a reader's start: pyarrow imports NumPy
with itself when it is installed (0.1–0.2 s), and pandas the first time Python values
become an Arrow array (a query's parameters), to look for pandas objects among them
(0.3–0.7 s). Their imports fail here, so pyarrow takes them to be absent; a pyarrow
older than 16 needs NumPy, and the process then starts again with it. Statements return
batches of :data:`BATCH_ROWS` rows (the driver's default, 1,024, cost 25 % more time a
read).
"""

from __future__ import annotations

import importlib.abc
import json
import os
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

#: given as a second argument when pyarrow could not be imported without NumPy
WITH_NUMPY = "--with-numpy"


class _Unused(importlib.abc.MetaPathFinder):
    """Imports of these packages fail in this process (see above)."""

    def __init__(self, names: set[str]) -> None:
        self.names = names

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if fullname.partition(".")[0] in self.names:
            raise ModuleNotFoundError(f"{fullname} is not used by the reader process",
                                      name=fullname)
        return None


sys.meta_path.insert(0, _Unused({"pandas"} if WITH_NUMPY in sys.argv else
                                {"pandas", "numpy"}))
try:
    import pyarrow as pa
except ImportError:
    if WITH_NUMPY in sys.argv:
        raise
    os.execv(sys.executable, [sys.executable, "-P", __file__, *sys.argv[1:], WITH_NUMPY])

BATCH_ROWS = 65_536


def serve(path: str) -> None:
    import adbc_driver_manager as adbc
    import adbc_driver_sqlite

    out = sys.stdout.buffer
    with adbc_driver_sqlite.connect(path) as db, adbc.AdbcConnection(db) as conn:
        begun = False
        for line in sys.stdin.buffer:
            query = json.loads(line)
            if not begun:
                # one read transaction from the first query on: every query of the run
                # sees one snapshot, taken then (not when the process started: it may
                # be started ahead of its reader, see arrow.prestart)
                conn.set_options(**{"adbc.connection.autocommit": "false"})
                begun = True
            with adbc.AdbcStatement(conn) as stmt:
                stmt.set_options(**{"adbc.sqlite.query.batch_rows": str(BATCH_ROWS)})
                stmt.set_sql_query(query["sql"])
                params = query["params"]
                if params:
                    stmt.bind(pa.record_batch([pa.array([p]) for p in params],
                                              names=[str(i) for i in range(len(params))]))
                handle, _ = stmt.execute_query()
                # the whole result first: the scan runs while the parent still scores
                # the previous partition, not only as fast as the parent reads the pipe
                table = pa.RecordBatchReader._import_from_c(handle.address).read_all()
            with pa.ipc.new_stream(out, table.schema) as writer:
                writer.write_table(table)
            out.flush()


if __name__ == "__main__":
    serve(sys.argv[1])
    # the connection is closed and every answer flushed: skip the interpreter's
    # teardown (Arrow's and the driver's modules), which the parent would wait for
    os._exit(0)
