"""The trial team's dashboard: recruitment by site and month against the target, and the log's activity.

For the trial statistician and the administrator (the trial manager's account). Everything comes from the
verified log: allocations by site and month, unblindings, exports, corrections and logins, and whether the log
verifies. No arm appears, whether or not the trial is blinded: counts by arm per site and month would let
a reader place the next allocation in its block; arms are seen only through an export (an event).

The figure is SVG drawn here, on the server, with presentation attributes only (no script, no inline style),
so the pages' Content-Security-Policy of ``default-src 'none'`` holds.
"""

from __future__ import annotations

import json
from collections import Counter
from html import escape
from typing import TYPE_CHECKING, Any

from advance_trial.errors import IntegrityError
from advance_trial.randomisation import allocation as al
from advance_trial.service.accounts import Account, ForbiddenError

if TYPE_CHECKING:
    from advance_trial.service.core import Service

#: The roles that see the dashboard.
ROLES = ("statistician", "admin")
#: Site colours in the figure (colour-blind safe, Okabe-Ito), in config order.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")


def require(account: Account) -> None:
    """Refuse (403) a role other than the statistician's and the administrator's."""
    if account.role not in ROLES:
        raise ForbiddenError(f"the dashboard: not allowed for the {account.role} role")


def _months(first: str, last: str) -> list[str]:
    y, m = int(first[:4]), int(first[5:7])
    out = []
    while f"{y:04d}-{m:02d}" <= last:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _detail(ev: dict[str, Any]) -> dict[str, Any]:
    try:
        value = json.loads(ev.get("detail") or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _what(detail: dict[str, Any]) -> str:
    return "withdrawn" if detail.get("withdrawn") else "randomised in error"


def data(svc: Service, account: Account) -> dict[str, Any]:
    """What the dashboard shows (``GET /api/dashboard``): no arm, for any trial."""
    require(account)
    cfg = svc.cfg
    out: dict[str, Any] = {"trial": cfg.trial.id, "title": cfg.trial.title, "training": svc.training,
                           "blinded": svc.blinded, "target": cfg.trial.target_sample_size}  # fmt: skip
    try:
        report = al.verify_log(cfg, svc.ring, svc.where)
        rows = al.events(cfg, svc.ring, svc.where)
    except IntegrityError as exc:
        out["log"] = {"verifies": False, "problem": str(exc)}
        return out
    out["log"] = {"verifies": True, "rows": report.rows, "head_row": report.head_row, "head_tag": report.head_tag}
    men = [e for e in rows if e["kind"] == "allocation"]
    sites = cfg.site_ids
    by_site = Counter(str(e["site"]) for e in men)
    months = _months(min(e["on_date"] for e in men)[:7], max(e["on_date"] for e in men)[:7]) if men else []
    per_month = Counter((str(e["on_date"])[:7], str(e["site"])) for e in men)
    running, monthly = 0, []
    for month in months:
        counts = {s: per_month.get((month, s), 0) for s in sites}
        running += sum(counts.values())
        monthly.append({"month": month, "by_site": counts, "total": sum(counts.values()), "cumulative": running})
    out["allocations"] = len(men)
    out["by_site"] = [{"site": s.id, "label": s.label, "allocations": by_site.get(s.id, 0)} for s in cfg.sites]
    out["by_month"] = monthly
    out["unblindings"] = [{"participant_id": e["participant_id"], "site": e["site"], "at": e["at_utc"],
                           "by": e["actor"], "reason": _detail(e).get("reason")}
                          for e in rows if e["kind"] == "unblinding"]  # fmt: skip
    out["exports"] = [{"at": e["at_utc"], "by": e["actor"], "reason": _detail(e).get("reason")}
                      for e in rows if e["kind"] == "export"]  # fmt: skip
    out["corrections"] = [{"participant_id": e["participant_id"], "site": e["site"], "at": e["at_utc"],
                           "by": e["actor"], "what": _what(_detail(e)),
                           "reason": _detail(e).get("reason")}
                          for e in rows if e["kind"] == "correction"]  # fmt: skip
    logins = [(e, _detail(e)) for e in rows if e["kind"] == "login"]
    out["logins"] = {"ok": sum(d.get("result") == "ok" for _, d in logins),
                     "failed": sum(d.get("result") == "failed" for _, d in logins),
                     "refused": sum(d.get("result") == "refused" for _, d in logins),
                     "recent_refusals": [{"at": e["at_utc"], "account": d.get("account"), "result": d.get("result"),
                                          "reason": d.get("reason")}
                                         for e, d in logins if d.get("result") != "ok"][-10:][::-1]}  # fmt: skip
    return out


# ---------------------------------------------------------------------------- the figure


def _ticks(top: int) -> list[int]:
    """Round ticks from 0 to the first at or above ``top`` (steps of 1, 2 or 5 times a power of ten)."""
    step, scale = 1, 1
    while top / step > 5:
        for m in (2, 5, 10):
            step = m * scale
            if top / step <= 5:
                break
        scale *= 10
    last = -(-max(top, 1) // step) * step
    return list(range(0, last + step, step))


def figure(board: dict[str, Any], site_labels: dict[str, str]) -> str:
    """Recruitment against the target as SVG: for each month, the running total of men allocated, stacked by
    site, on one scale with the target as a dashed line. Empty when no one is allocated yet."""
    months = board.get("by_month") or []
    if not months:
        return ""
    width, height, left, right, top, bottom = 520, 300, 40, 12, 24, 64
    plot_w, plot_h = width - left - right, height - top - bottom
    target = int(board.get("target") or 0)
    ticks = _ticks(int(max(months[-1]["cumulative"], target, 1)))
    scale_top = ticks[-1]
    step = plot_w / len(months)
    bar_w = max(step * 0.62, 2.0)
    colours = {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(site_labels)}
    title = "Running total of men allocated, by site, at the end of each month, against the target"
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
             f'aria-labelledby="fig-title"><title id="fig-title">{escape(title)}</title>',
             f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>']  # fmt: skip

    def y(v: float) -> float:
        return top + plot_h - plot_h * v / scale_top

    for tick in ticks:
        parts.append(f'<line x1="{left}" y1="{y(tick):.1f}" x2="{left + plot_w}" y2="{y(tick):.1f}" '
                     f'stroke="#e3e7ec"/><text x="{left - 6}" y="{y(tick) + 4:.1f}" font-size="13" '
                     f'text-anchor="end" fill="#5b6470">{tick}</text>')  # fmt: skip
    running = dict.fromkeys(site_labels, 0)
    every = max(1, -(-len(months) // 8))  # at most eight month labels
    for i, m in enumerate(months):
        x = left + i * step + (step - bar_w) / 2
        base = 0
        for site in site_labels:
            running[site] += m["by_site"].get(site, 0)
            n = running[site]
            if n:
                parts.append(f'<rect x="{x:.1f}" y="{y(base + n):.1f}" width="{bar_w:.1f}" '
                             f'height="{y(base) - y(base + n):.1f}" fill="{colours[site]}"><title>'
                             f"{escape(m['month'])}, {escape(site_labels[site])}: {n} so far"
                             "</title></rect>")  # fmt: skip
            base += n
        parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{y(base) - 5:.1f}" font-size="13" text-anchor="middle" '
                     f'fill="#1b1f24">{base}</text>')  # fmt: skip
        if i % every == 0:
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h + 17}" font-size="13" '
                         f'text-anchor="middle" fill="#5b6470">{escape(m["month"])}</text>')  # fmt: skip
    parts.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#5b6470"/>')
    if target:
        parts.append(f'<line x1="{left}" y1="{y(target):.1f}" x2="{left + plot_w}" y2="{y(target):.1f}" '
                     f'stroke="#a3261b" stroke-width="2" stroke-dasharray="7 5"/>'
                     f'<text x="{left + plot_w - 4}" y="{y(target) - 6:.1f}" font-size="13" text-anchor="end" '
                     f'fill="#a3261b">target {target}</text>')  # fmt: skip
    x, row = float(left), height - 26
    for site, label in site_labels.items():
        span = 22 + 7.6 * len(label) + 14
        if x + span > width:
            x, row = float(left), row + 18
        parts.append(f'<rect x="{x:.1f}" y="{row - 11}" width="13" height="13" fill="{colours[site]}"/>'
                     f'<text x="{x + 18:.1f}" y="{row}" font-size="13" fill="#1b1f24">'
                     f"{escape(label)}</text>")  # fmt: skip
        x += span
    parts.append("</svg>")
    return "".join(parts)


__all__ = ["ROLES", "data", "figure", "require"]
