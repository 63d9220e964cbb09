"""``followup.stall``: a customer left idle in a watched stage (``quoting``, ``pending_signing``...)."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from ..columns import Chunk
from ..detector import Detector, DetectorParams, RuleContext
from ..findings import Severity
from ..kit import pos_after, rows_pos
from ..params import Duration
from ..state import Latest
from ..timeutil import ENGLISH_UNITS, US, format_duration

FOLLOWUP, STAGE = "followup.logged", "customer.stage_changed"
REGISTERED, ASSIGNED = "customer.registered", "customer.assigned"

_NEVER = np.iinfo(np.int64).max
_EMPTY = np.zeros(0, dtype=np.int64)


class StallParams(DetectorParams):
    max_idle: dict[str, Duration] = Field(
        default_factory=lambda: {"quoting": "7d", "pending_signing": "5d"},
        validate_default=True,
        description="watched stages and how long each may stay without activity",
    )


class FollowupStall(Detector):
    id = "followup.stall"
    title = "A customer left idle in a watched stage"
    Params = StallParams
    default_severity = Severity.medium
    kinds = frozenset({FOLLOWUP, STAGE, REGISTERED, ASSIGNED})
    messages = {
        "en": {"default": "Customer {customer_id} has had no follow-up for {idle_text} in stage '{stage}' — is something wrong?"},
        "zh": {"default": "客户 {customer_id} 处于“{stage}”阶段已 {idle_text}无跟进，是否出了问题？"},
    }

    def __init__(self, params: StallParams, ctx: RuleContext):
        super().__init__(params, ctx)
        self.idle = {ctx.strings.code(stage): us for stage, us in params.max_idle.items()}
        # per customer code (one slot a code, whatever the number of events): the last activity,
        # the stage and the event that set it, and when the open period is due (_NEVER: no open
        # period: stage not watched, or already reported)
        self.last_ts = np.zeros(0, dtype=np.int64)
        self.last_id = np.zeros(0, dtype=object)
        self.stage = np.zeros(0, dtype=np.int64)
        self.stage_ts = np.zeros(0, dtype=np.int64)
        self.stage_id = np.zeros(0, dtype=object)
        self.due = np.zeros(0, dtype=np.int64)
        self._next = _NEVER  # at or before the earliest due (a stale, earlier value only costs a scan)
        self.owners = Latest(owner=-1)

    def _idle_of(self, stages: np.ndarray) -> np.ndarray:
        out = np.full(stages.shape, -1, dtype=np.int64)
        for code, us in self.idle.items():
            out[stages == code] = us
        return out

    def _grow(self, need: int) -> None:
        size = self.due.size
        if need <= size:
            return
        cap = max(need, 2 * size, 64)
        for name, fill in (("last_ts", 0), ("last_id", None), ("stage", -1), ("stage_ts", 0),
                           ("stage_id", None), ("due", _NEVER)):
            old = getattr(self, name)
            grown = np.full(cap, fill, dtype=old.dtype)
            grown[:size] = old
            setattr(self, name, grown)

    def next_due(self) -> int | None:
        return None if self._next == _NEVER else self._next

    def process(self, chunk: Chunk) -> None:
        fr, sr = chunk.rows(FOLLOWUP), chunk.rows(STAGE)
        own_rows = np.concatenate([chunk.rows(REGISTERED), chunk.rows(ASSIGNED)])
        if own_rows.size:
            own_order = np.argsort(own_rows, kind="stable")
            own_u = (
                np.concatenate([chunk.col(REGISTERED, "customer_id"), chunk.col(ASSIGNED, "customer_id")]).astype(np.int64)[own_order],
                rows_pos(chunk, own_rows[own_order]),
                {"owner": np.concatenate([chunk.col(REGISTERED, "owner_id"), chunk.col(ASSIGNED, "owner_id")]).astype(np.int64)[own_order]},
            )
        else:
            own_u = (_EMPTY, _EMPTY, {})
        pending: list[tuple[int, int, str, int, int, str | None, int]] = []  # findings to emit

        if fr.size + sr.size == 1:
            self._one_activity(chunk, int(fr[0]) if fr.size else int(sr[0]), sr.size == 1, pending)
        elif fr.size or sr.size:
            self._activity(chunk, fr, sr, pending)

        # open periods whose moment has come
        if self._next <= chunk.upto:
            for c in np.flatnonzero(self.due <= chunk.upto).tolist():
                pending.append((int(self.due[c]), c, self.last_id[c], int(self.last_ts[c]), int(self.stage_ts[c]),
                                self.stage_id[c], int(self.stage[c])))
                self.due[c] = _NEVER
            self._next = int(self.due.min()) if self.due.size else _NEVER

        if pending:
            self._emit_all(chunk, pending, own_u)
        self.owners.commit(own_u[0], own_u[2])

    def _one_activity(self, chunk: Chunk, row: int, is_stage: bool, pending: list) -> None:
        """:meth:`_activity` for a chunk with one follow-up or stage change (a stream's event), in Python."""
        f = chunk.frame
        kind = STAGE if is_stage else FOLLOWUP
        c = int(chunk.col(kind, "customer_id")[0])
        ts = int(f.ts[row])
        self._grow(c + 1)
        carried_due = int(self.due[c])
        if carried_due <= ts:  # the carried last activity -> this one
            pending.append((carried_due, c, self.last_id[c], int(self.last_ts[c]), int(self.stage_ts[c]),
                            self.stage_id[c], int(self.stage[c])))
        if is_stage:
            self.stage[c] = stage = int(chunk.col(STAGE, "stage")[0])
            self.stage_ts[c] = ts
            self.stage_id[c] = f.ids[row]
        else:
            stage = int(self.stage[c])
        self.last_ts[c] = ts
        self.last_id[c] = f.ids[row]
        idle = self.idle.get(stage)
        self.due[c] = due = _NEVER if idle is None else ts + idle
        self._next = min(self._next, due)

    def _activity(self, chunk: Chunk, fr: np.ndarray, sr: np.ndarray, pending: list) -> None:
        """Judge the chunk's follow-ups and stage changes, then start each customer's new period."""
        f = chunk.frame
        rows = np.concatenate([fr, sr])
        cust = np.concatenate([chunk.col(FOLLOWUP, "customer_id"), chunk.col(STAGE, "customer_id")]).astype(np.int64)
        is_stage = np.concatenate([np.zeros(fr.size, bool), np.ones(sr.size, bool)])
        stage = np.concatenate([np.full(fr.size, -1, np.int64), chunk.col(STAGE, "stage").astype(np.int64)])
        if rows.size > 1:
            o = np.lexsort((rows, cust))  # grouped by customer, in event order within each
            rows, cust, is_stage, stage = rows[o], cust[o], is_stage[o], stage[o]
        ts = f.ts[rows]
        n = rows.size
        ar = np.arange(n)
        start = np.r_[True, cust[1:] != cust[:-1]]
        firsts = np.flatnonzero(start)
        group_start = np.maximum.accumulate(np.where(start, ar, 0))
        last_stage_idx = np.maximum.accumulate(np.where(is_stage, ar, -1))
        in_group = last_stage_idx >= group_start
        self._grow(int(cust.max()) + 1)
        # stage (and the event that set it) after each activity; the carried one when none in the chunk yet
        first_custs = cust[firsts]
        prior_stage = self.stage[first_custs]  # -1 for a customer never seen
        grp = np.cumsum(start) - 1
        stage_after = np.where(in_group, stage[np.maximum(last_stage_idx, 0)], prior_stage[grp])
        idle_after = self._idle_of(stage_after)
        # pairs (previous activity -> this one) within the chunk
        prev_idle = np.r_[-1, idle_after[:-1]]
        due = np.where(start, -1, np.r_[0, ts[:-1]] + prev_idle)
        for i in np.flatnonzero(~start & (prev_idle >= 0) & (ts >= due)).tolist():
            j = i - 1
            if in_group[j]:
                sidx = int(last_stage_idx[j])
                s_ts, s_id = int(ts[sidx]), f.ids[rows[sidx]]
            else:
                c = int(cust[j])
                s_ts, s_id = int(self.stage_ts[c]), self.stage_id[c]
            pending.append((int(due[i]), int(cust[i]), f.ids[rows[j]], int(ts[j]), s_ts, s_id, int(stage_after[j])))
        # pairs (the carried last activity -> the chunk's first activity of the customer)
        carried_due = self.due[first_custs]
        for g in np.flatnonzero(carried_due <= ts[firsts]).tolist():
            c = int(first_custs[g])
            pending.append((int(carried_due[g]), c, self.last_id[c], int(self.last_ts[c]), int(self.stage_ts[c]),
                            self.stage_id[c], int(self.stage[c])))
        # new state: each customer's last activity in the chunk starts a fresh period
        ends = np.r_[firsts[1:] - 1, n - 1]
        c = cust[ends]
        set_here = in_group[ends]
        sidx = last_stage_idx[ends][set_here]
        cs = c[set_here]
        self.stage[cs] = stage[sidx]
        self.stage_ts[cs] = ts[sidx]
        self.stage_id[cs] = f.ids[rows[sidx]]
        self.last_ts[c] = ts[ends]
        self.last_id[c] = f.ids[rows[ends]]
        idle = self._idle_of(self.stage[c])
        new_due = np.where(idle >= 0, ts[ends] + idle, _NEVER)
        self.due[c] = new_due
        self._next = min(self._next, int(new_due.min()))

    def _emit_all(self, chunk: Chunk, pending: list, own_u) -> None:
        strings = self.ctx.strings
        due = np.array([p[0] for p in pending], dtype=np.int64)
        custs = np.array([p[1] for p in pending], dtype=np.int64)
        found, vals = self.owners.lookup(custs, pos_after(chunk, due), *own_u)
        owners = np.where(found, vals["owner"].astype(np.int64), -1)
        for (t, c, last_id, last_ts, s_ts, s_id, s_code), owner in zip(pending, owners.tolist()):
            idle = self.idle[s_code]
            stage = strings.text(s_code)
            evidence = [(last_ts, last_id)]
            if s_id is not None and s_id != last_id:
                evidence.append((s_ts, s_id))
            cust = strings.text(c)
            employee = strings.text(owner)
            details = {"stage": stage, "idle_seconds": idle // US, "last_activity_id": last_id,
                       "idle_days": round(idle / (86_400 * US), 1)}
            self.emit(
                ts=t,
                subject=(cust, last_id),
                employee_id=employee,
                customer_id=cust,
                evidence=evidence,
                details=details,
                message=self.render("default", details, employee_id=employee, customer_id=cust,
                                    idle_text=_idle_text(idle, self.ctx.language)),
            )


_UNITS = {"en": ENGLISH_UNITS,
          "zh": ((86_400 * US, "天", "天"), (3600 * US, "小时", "小时"), (60 * US, "分钟", "分钟"), (US, "秒", "秒"))}


def _idle_text(us: int, language: str) -> str:
    """A threshold for people in the largest unit that states it exactly: ``36 hours``, not ``2 days``."""
    return format_duration(us, _UNITS.get(language, ENGLISH_UNITS), sep=" ")


DETECTORS = (FollowupStall,)
