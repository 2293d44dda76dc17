"""docs/due-process.md: its table of who may do what is generated and current, and it
names every rulebook setting that governs a right."""

from __future__ import annotations

import subprocess
import sys

from socialcredit.rulebook.model import DueProcess, ListDef, Repair, RepairPeriod
from socialcredit.service.authz import OPERATIONS
from tests.conftest import ROOT

DOC = ROOT / "docs" / "due-process.md"


def test_the_table_of_who_may_do_what_is_current() -> None:
    p = subprocess.run([sys.executable, "-m", "cogapp", "--check", str(DOC)],
                       capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0, "docs/due-process.md is stale: run `cog -r docs/due-process.md`"
    text = DOC.read_text(encoding="utf-8")
    for name in OPERATIONS:
        assert f"| `{name}` |" in text


def test_every_due_process_setting_is_explained() -> None:
    text = DOC.read_text(encoding="utf-8")
    for key in DueProcess.model_fields:
        if key not in ("label", "description", "note", "source", "illustrative", "repair"):
            assert f"`due_process.{key}`" in text, key
    for key in ("reply_within", "decide_within", "periods"):
        assert key in Repair.model_fields and f"`due_process.repair.{key}" in text
    assert {"after", "conditions"} <= set(RepairPeriod.model_fields)
    assert "court_ordered" in ListDef.model_fields and "`lists[].court_ordered`" in text
