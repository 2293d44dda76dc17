"""Exports as background jobs, for faces that cannot hand over a directory (the HTTP API):
the ledger as a Parquet dataset, the transparency log's files for monitors, a subject's
file. Each runs as a job (service/jobs.py, with progress where it is known) and ends as
one file in the server's exports directory — a zip for the directory exports — which the
face then streams. The command line writes the same exports straight to a directory
(`socialcredit export`, `socialcredit log export`, `socialcredit file`).

Exports hold personal data (the ledger, a subject's file), so only an operator starts,
follows or downloads them (service/authz.py: `exports.run`, `exports.read`), and their
files are not kept for ever: a file older than `KEEP_DAYS` (by the file's own age, the
time it has existed on disk) is removed the next time an export is started or
downloaded, with what failed jobs left half-written.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from socialcredit.errors import SocialCreditError, UsageError
from socialcredit.service.context import Context
from socialcredit.service.jobs import Jobs

if TYPE_CHECKING:
    from socialcredit.service.files import Files

#: kind -> (formats, the first being the default; what it is)
KINDS: dict[str, tuple[tuple[str, ...], str]] = {
    "ledger": (("parquet",), "the ledger (records, subjects, providers, programs, "
                             "catalogues) as a Parquet dataset, zipped"),
    "log": (("files",), "the transparency log's leaves, checkpoints and verifier key, "
                        "zipped, for monitors"),
    "file": (("json", "html"), "a subject's file: everything about it, as JSON or a "
                               "self-contained HTML report"),
}
MEDIA_TYPES = {".zip": "application/zip", ".json": "application/json",
               ".html": "text/html; charset=utf-8"}
JOB_KIND = "export"
#: How long an export's file is kept after it was written (days).
KEEP_DAYS = 7.0


@dataclass(frozen=True)
class Download:
    """A finished export's file, for a face to stream."""

    path: Path
    filename: str
    media_type: str
    size: int
    sha256: str


class Exports:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.jobs = Jobs(ctx)

    def start(self, kind: str, root: Path, *, subject: str | None = None,
              format: str | None = None) -> dict[str, Any]:
        """Start an export of `kind` into the exports directory `root`; the job's view
        (follow it with `get`)."""
        self.ctx.allow("exports.run")
        prune(root, KEEP_DAYS)
        if kind not in KINDS:
            raise UsageError(f"no export kind {kind!r}: one of {', '.join(KINDS)}",
                             details=[{"field": "kind", "message": "unknown kind"}])
        formats = KINDS[kind][0]
        fmt = format or formats[0]
        if fmt not in formats:
            raise UsageError(f"a {kind} export is written as {' or '.join(formats)}, "
                             f"not {fmt!r}",
                             details=[{"field": "format", "message": "unknown format"}])
        if (subject is None) != (kind != "file"):
            raise UsageError("a subject's file export names the subject; other exports "
                             "name none", details=[{"field": "subject",
                                                    "message": "required for a file "
                                                               "export, else not given"}])
        name = f"{kind}-{uuid.uuid4().hex[:20]}"
        params: dict[str, Any] = {"export": kind, "format": fmt, "name": name}
        total: int | None = None
        run: Callable[[Path, Callable[[int], None]], tuple[Path, dict[str, Any]]]
        if kind == "ledger":
            total = self.ctx.ledger.count_subjects() + self.ctx.ledger.count_records()
            run = self._ledger
        elif kind == "log":
            run = self._log
        else:
            assert subject is not None
            who = self.ctx.subject_id(subject)
            params["subject"] = who
            self.ctx.allow("file.read", who)
            if self.ctx.ledger.subject_kind(who) is None:  # refused now, not in the job
                raise SocialCreditError(f"no subject {who!r} in the ledger",
                                        code="not_found")

            def run(work: Path, tick: Callable[[int], None]) -> tuple[Path, dict[str, Any]]:
                return self._file(work, who, fmt)

        def job(tick: Callable[[int], None]) -> dict[str, Any]:
            root.mkdir(parents=True, exist_ok=True, mode=0o700)
            work = root / f"{name}.partial"
            try:
                made, info = run(work, tick)
                digest = hashlib.sha256()
                with made.open("rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        digest.update(chunk)
                final = root / f"{name}{made.suffix}"
                os.replace(made, final)  # the file appears whole or not at all
            finally:
                shutil.rmtree(work, ignore_errors=True)
            return {**info, "file": final.name, "bytes": final.stat().st_size,
                    "sha256": digest.hexdigest(), "media_type": MEDIA_TYPES[final.suffix]}

        return self.jobs.launch(JOB_KIND, params, total, job)

    def get(self, export_id: str) -> dict[str, Any]:
        """An export's job: status, progress, and when done the file's name, size and
        SHA-256."""
        self.ctx.allow("exports.read")
        view = self.jobs.get(export_id, check=False)
        if view["kind"] != JOB_KIND:
            raise SocialCreditError(f"no export {export_id!r}", code="not_found")
        return view

    def list(self, limit: int = 50) -> list[dict[str, Any]]:
        """The latest exports, newest first."""
        self.ctx.allow("exports.read")
        return self.jobs.list(limit, kind=JOB_KIND, check=False)

    def download(self, export_id: str, root: Path) -> Download:
        """The finished export's file in `root` (refused while it runs, or if it failed or
        its file is gone)."""
        view = self.get(export_id)
        prune(root, KEEP_DAYS)
        result = view.get("result") or {}
        filename = result.get("file")
        if view["status"] != "done" or not isinstance(filename, str):
            raise SocialCreditError(f"export {export_id!r} is {view['status']}: there is no "
                                    "file to download", code="export.not_ready")
        path = root / Path(filename).name
        if not path.is_file():
            raise SocialCreditError(f"the file of export {export_id!r} is no longer kept "
                                    f"(exports are kept {KEEP_DAYS:g} days)",
                                    code="not_found")
        return Download(path, path.name,
                        MEDIA_TYPES.get(path.suffix, "application/octet-stream"),
                        path.stat().st_size, str(result.get("sha256", "")))

    # -- the exports ------------------------------------------------------------------

    def _ledger(self, work: Path, tick: Callable[[int], None]) -> tuple[Path, dict[str, Any]]:
        from socialcredit.ledger.parquet import export_ledger

        manifest = export_ledger(self.ctx.ledger, work / "ledger", progress=tick)
        return _zip(work / "ledger", work / "ledger.zip"), {"manifest": manifest}

    def _log(self, work: Path, _tick: Callable[[int], None]) -> tuple[Path, dict[str, Any]]:
        from socialcredit.transparency.verify import export_log

        manifest = export_log(self.ctx.ledger.engine, work / "log")
        return _zip(work / "log", work / "log.zip"), {"manifest": manifest}

    def _file(self, work: Path, subject: str, fmt: str) -> tuple[Path, dict[str, Any]]:
        work.mkdir(parents=True, exist_ok=True)
        out = work / f"file.{fmt}"
        if fmt == "html":
            out.write_text(self._files().html(subject), encoding="utf-8")
        else:
            out.write_text(json.dumps(self._files().of(subject), indent=1, sort_keys=True),
                           encoding="utf-8")
        return out, {"subject": subject}

    def _files(self) -> Files:
        from socialcredit.service.files import Files

        return Files(self.ctx)


def prune(root: Path, keep_days: float, now: float | None = None) -> list[str]:
    """Remove the exports directory's files (and half-written `.partial` directories)
    older than `keep_days`; the names removed. A missing directory has nothing to
    remove; a file that another worker removed first is no error."""
    if not root.is_dir():
        return []
    limit = (time.time() if now is None else now) - keep_days * 86400.0
    gone: list[str] = []
    for p in sorted(root.iterdir()):
        try:
            if p.stat().st_mtime >= limit:
                continue
            if p.is_dir():
                if p.name.endswith(".partial"):
                    shutil.rmtree(p, ignore_errors=True)
                    gone.append(p.name)
            elif p.suffix in MEDIA_TYPES:
                p.unlink()
                gone.append(p.name)
        except FileNotFoundError:
            continue
    return gone


def _zip(directory: Path, dest: Path) -> Path:
    """The directory's files in a zip (stored: Parquet is compressed already; the log's
    files deflated), paths relative to the directory, in sorted order."""
    with zipfile.ZipFile(dest, "w") as z:
        for p in sorted(directory.rglob("*")):
            if p.is_file():
                method = zipfile.ZIP_STORED if p.suffix == ".parquet" else zipfile.ZIP_DEFLATED
                z.write(p, p.relative_to(directory).as_posix(), compress_type=method)
    return dest


__all__ = ["KEEP_DAYS", "KINDS", "Download", "Exports", "prune"]
