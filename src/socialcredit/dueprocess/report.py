"""The subject's file as a self-contained HTML report (no scripts, no external assets):
what a person reads, prints or keeps. The web pages render the same data their own way."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

STYLE = """
body{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;
color:#111;line-height:1.45}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #999}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{border:1px solid #bbb;padding:.25rem .5rem;text-align:left;vertical-align:top;
font-size:.9rem}th{background:#eee}code,pre{font-size:.8rem;white-space:pre-wrap;
word-break:break-all}.ok{color:#075e07}.bad{color:#9b0000}
"""


def _cell(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, dict | list):
        return f"<code>{escape(json.dumps(v, ensure_ascii=False))}</code>"
    return escape(str(v))


def _table(rows: Sequence[dict[str, Any]], cols: Iterable[str], empty: str) -> str:
    cols = list(cols)
    if not rows:
        return f"<p>{escape(empty)}</p>"
    head = "".join(f"<th scope=col>{escape(c.replace('_', ' '))}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{_cell(r.get(c))}</td>" for c in cols) + "</tr>"
                   for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def html(f: dict[str, Any]) -> str:
    """The file (service Files.of) as an HTML document."""
    parts = [f"<!doctype html><html lang=en><meta charset=utf-8><title>File of "
             f"{escape(f['subject'])}</title><style>{STYLE}</style><body>",
             f"<h1>Everything this system holds about {escape(f['subject'])}</h1>",
             f"<p>Generated {escape(str(f['generated_at']))}. Subject kind: "
             f"{_cell(f['subject_kind'])}. This file is free of charge and you may ask for it "
             "at any time.</p>"]
    parts.append("<h2>Standings</h2>")
    for st in f["standings"]:
        parts.append(f"<h3>{escape(st['program'])} (rulebook {escape(st['rulebook']['version'])}"
                     f")</h3><p>Score <b>{st['score']:.2f}</b>, tier {_cell(st['tier'])}, "
                     f"lists in force: {_cell(', '.join(st['lists']) or 'none')}"
                     + (" — <b>erased data: this standing is incomplete</b>"
                        if st.get("erased") else "") + "</p>")
        parts.append(_table(st["contributions"], ("record_id", "label", "type", "dimension",
                                                  "points", "contribution", "occurred_at",
                                                  "resolved"),
                            "No record counts in this program."))
        for n in st["notes"]:
            parts.append(f"<p><i>{escape(n)}</i></p>")
    parts.append("<h2>Records</h2>")
    parts.append(_table(f["records"], ("record_id", "label", "type", "provider",
                                       "occurred_at", "recorded_at", "value", "evidence",
                                       "legal_basis", "status", "programs"),
                        "No records."))
    if f["erased_records"]:
        parts.append("<h3>Erased at the end of their publication period</h3>")
        parts.append(_table(f["erased_records"], ("record_id", "record_sha256", "erased_at",
                                                  "published_until"), ""))
    parts.append("<h2>Lists, past and present</h2>")
    parts.append(_table([{**x, "from": (x["announced"] or {}).get("start"),
                          "until": ((x["now"] or x["announced"]) or {}).get("end")}
                         for x in f["listings"]],
                        ("program", "label", "public", "record_id", "reason", "legal_basis",
                         "from", "until", "state", "due_process"), "Never listed."))
    parts.append("<h2>Decisions about you, and who asked</h2>")
    parts.append(_table([{**d, "requested_by": (d.get("requester") or {}).get("principal")}
                         for d in f["decisions"]],
                        ("decided_at", "action", "effect", "program", "requested_by",
                         "purpose", "hypothetical", "decision_id"), "No decisions."))
    parts.append("<h2>Who read your standing</h2>")
    parts.append(_table(f["access_log"], ("at", "principal", "role", "operation", "program",
                                          "purpose", "grant_id", "population"),
                        "Nobody but you."))
    parts.append("<h2>Notices</h2>")
    parts.append(_table([{**n, "delivered": [d["status"] for d in n.get("deliveries", [])]}
                         for n in f["notices"]],
                        ("created_at", "headline", "kind", "delivered", "notice_id"),
                        "No notices."))
    parts.append("<h2>Objections, appeals and repair</h2>")
    parts.append(_table(f["cases"], ("case_id", "kind", "record_id", "filed_at", "status",
                                     "due_at", "decided_at", "reasons", "outcome"),
                        "None."))
    parts.append("<h2>Consent you gave</h2>")
    parts.append(_table(f["consents"], ("grant_id", "relying_party", "purpose", "scope",
                                        "granted_at", "expires_at", "revoked_at", "active"),
                        "None."))
    log = f["log"]
    parts.append("<h2>The public log</h2>")
    if log.get("commitment"):
        ok = log.get("checkpoint_verified")
        parts.append(f"<p>You appear in the public log as commitment "
                     f"<code>{escape(log['commitment'])}</code> (salt "
                     f"<code>{escape(log['salt'])}</code>, given only to you). Checkpoint "
                     f"signature: <span class={'ok' if ok else 'bad'}>"
                     f"{'verified' if ok else 'NOT verified'}</span>.</p>")
        parts.append(_table([{"leaf": x["leaf_index"], "kind": x["event"]["kind"],
                              "event": x["event"], "proof verified": x.get("verified")}
                             for x in log["leaves"]],
                            ("leaf", "kind", "event", "proof verified"), ""))
        if log.get("checkpoint"):
            parts.append(f"<pre>{escape(log['checkpoint'])}</pre>")
    else:
        parts.append("<p>No leaf of the public log concerns you.</p>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


__all__ = ["html"]
