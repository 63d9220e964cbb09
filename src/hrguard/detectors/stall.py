"""``followup.stall``: a customer left idle in a watched stage (``quoting``, ``pending_signing``...)."""

from __future__ import annotations

import heapq

import numpy as np
from pydantic import Field

from ..columns import Chunk
from ..detector import Detector, DetectorParams, RuleContext
from ..findings import Severity
from ..kit import Latest, pos_after, rows_pos
from ..params import Duration
from ..timeutil import US

FOLLOWUP, STAGE = "followup.logged", "customer.stage_changed"
REGISTERED, ASSIGNED = "customer.registered", "customer.assigned"


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
        # customer code -> [last_ts, last_id, stage_code, stage_ev_ts, stage_ev_id, fired]
        self.state: dict[int, list] = {}
        self.timers: list[tuple[int, int, str]] = []  # (due, customer, last_id); stale entries are skipped
        self.owners = Latest(owner=-1)

    def _idle_of(self, stages: np.ndarray) -> np.ndarray:
        out = np.full(stages.shape, -1, dtype=np.int64)
        for code, us in self.idle.items():
            out[stages == code] = us
        return out

    def next_due(self) -> int | None:
        return self.timers[0][0] if self.timers else None  # stale entries only make it run early

    def process(self, chunk: Chunk) -> None:
        f = chunk.frame
        fr, sr = chunk.rows(FOLLOWUP), chunk.rows(STAGE)
        own_rows = np.concatenate([chunk.rows(REGISTERED), chunk.rows(ASSIGNED)])
        own_order = np.argsort(own_rows, kind="stable")
        own_u = (
            np.concatenate([chunk.col(REGISTERED, "customer_id"), chunk.col(ASSIGNED, "customer_id")]).astype(np.int64)[own_order]
            if own_rows.size else np.zeros(0, np.int64),
            rows_pos(chunk, own_rows[own_order]),
            {"owner": np.concatenate([chunk.col(REGISTERED, "owner_id"), chunk.col(ASSIGNED, "owner_id")]).astype(np.int64)[own_order]
             if own_rows.size else np.zeros(0, np.int64)},
        )
        pending: list[tuple[int, int, str, int, str, int, int, str | None]] = []  # findings to emit

        if fr.size or sr.size:
            rows = np.concatenate([fr, sr])
            cust = np.concatenate([chunk.col(FOLLOWUP, "customer_id"), chunk.col(STAGE, "customer_id")]).astype(np.int64) \
                if rows.size else np.zeros(0, np.int64)
            is_stage = np.concatenate([np.zeros(fr.size, bool), np.ones(sr.size, bool)])
            stage = np.concatenate([np.full(fr.size, -1, np.int64), chunk.col(STAGE, "stage").astype(np.int64)])
            o = np.lexsort((rows, cust))  # grouped by customer, in event order within each
            rows, cust, is_stage, stage = rows[o], cust[o], is_stage[o], stage[o]
            ts = f.ts[rows]
            n = rows.size
            ar = np.arange(n)
            start = np.r_[True, cust[1:] != cust[:-1]]
            group_start = np.maximum.accumulate(np.where(start, ar, 0))
            last_stage_idx = np.maximum.accumulate(np.where(is_stage, ar, -1))
            in_group = last_stage_idx >= group_start
            # stage (and the event that set it) after each activity; from state when none in the chunk yet
            st = self.state
            first_custs = cust[start].tolist()
            prior = [st.get(c) for c in first_custs]
            prior_stage = np.array([p[2] if p else -1 for p in prior], dtype=np.int64)
            grp = np.cumsum(start) - 1
            stage_after = np.where(in_group, stage[np.maximum(last_stage_idx, 0)], prior_stage[grp])
            idle_after = self._idle_of(stage_after)
            # pairs (previous activity -> this one) within the chunk
            prev_ok = ~start
            due = np.where(prev_ok, np.r_[0, ts[:-1]] + np.r_[-1, idle_after[:-1]], -1)
            hit = np.flatnonzero(prev_ok & (np.r_[-1, idle_after[:-1]] >= 0) & (ts >= due))
            for i in hit.tolist():
                j = i - 1
                sidx = int(last_stage_idx[j]) if in_group[j] else -1
                if sidx >= 0:
                    sev = (int(ts[sidx]), f.ids[rows[sidx]])
                else:
                    p = prior[grp[j]]
                    sev = (p[3], p[4]) if p else None
                pending.append((int(due[i]), int(cust[i]), f.ids[rows[j]], int(ts[j]), *(sev or (0, None)), int(stage_after[j])))
            # pairs (state's last activity -> first activity of the chunk)
            group_firsts = np.flatnonzero(start).tolist()
            for g, c in enumerate(first_custs):
                p = prior[g]
                if p is None or p[5]:
                    continue
                idle = self.idle.get(p[2])
                i = group_firsts[g]
                if idle is not None and int(ts[i]) >= p[0] + idle:
                    pending.append((p[0] + idle, c, p[1], p[0], p[3], p[4], p[2]))
            # new state: each customer's last activity in the chunk starts a fresh period
            ends = np.r_[np.asarray(group_firsts[1:], dtype=np.int64) - 1, n - 1]
            for g, e in enumerate(ends.tolist()):
                c = int(cust[e])
                sidx = int(last_stage_idx[e]) if in_group[e] else -1
                if sidx >= 0:
                    s_code, s_ts, s_id = int(stage[sidx]), int(ts[sidx]), f.ids[rows[sidx]]
                else:
                    p = prior[g]
                    s_code, s_ts, s_id = (p[2], p[3], p[4]) if p else (-1, 0, None)
                last_id = f.ids[rows[e]]
                st[c] = [int(ts[e]), last_id, s_code, s_ts, s_id, False]
                idle = self.idle.get(s_code)
                if idle is not None:
                    heapq.heappush(self.timers, (int(ts[e]) + idle, c, last_id))

        # open periods whose moment has come
        while self.timers and self.timers[0][0] <= chunk.upto:
            due_t, c, last_id = heapq.heappop(self.timers)
            s = self.state.get(c)
            if s is None or s[1] != last_id or s[5]:
                continue
            s[5] = True
            pending.append((due_t, c, last_id, s[0], s[3], s[4], s[2]))

        if pending:
            self._emit_all(chunk, pending, own_u)
        self.owners.commit(own_u[0], own_u[2])

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


_UNITS = {"en": (("day", "days"), ("hour", "hours"), ("minute", "minutes"), ("second", "seconds")),
          "zh": (("天", "天"), ("小时", "小时"), ("分钟", "分钟"), ("秒", "秒"))}


def _idle_text(us: int, language: str) -> str:
    """A threshold for people in the largest unit that states it exactly: ``36 hours``, not ``2 days``."""
    names = _UNITS.get(language, _UNITS["en"])
    for (one, many), size in zip(names, (86_400 * US, 3600 * US, 60 * US, US)):
        if us % size == 0 or size == US:
            text = str(us // size) if us % size == 0 else f"{us / size:.6g}"
            return f"{text} {one if us == size else many}"
    raise AssertionError("unreachable")  # pragma: no cover


DETECTORS = (FollowupStall,)
