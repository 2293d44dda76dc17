"""The SQLite reader process of ledger/arrow.py: one read transaction; for each JSON
line on stdin (sql, params), the result as an Arrow IPC stream on stdout.

Run as a script with `-P` (not `-m`, which would import the package and SQLAlchemy; `-P`
keeps this directory off sys.path, where its modules would shadow others), on the ADBC
driver manager's own API (its DB-API module imports pandas and Polars when they are
installed): it starts in about a tenth of a second, while `score --all` waits for its
first partition.
"""

from __future__ import annotations

import json
import os
import sys

import pyarrow as pa


def serve(path: str) -> None:
    import adbc_driver_manager as adbc
    import adbc_driver_sqlite

    out = sys.stdout.buffer
    with adbc_driver_sqlite.connect(path) as db, adbc.AdbcConnection(db) as conn:
        # one read transaction: every query of the run sees one snapshot
        conn.set_options(**{"adbc.connection.autocommit": "false"})
        for line in sys.stdin.buffer:
            query = json.loads(line)
            with adbc.AdbcStatement(conn) as stmt:
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
