"""``followup.stall``: a customer left idle in a watched stage (``quoting``, ``pending_signing``...)."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from ..columns import Chunk
from ..detector import Detector, DetectorParams, RuleContext
from ..findings import Severity
from ..kit import pos_after, rows_pos
from ..params import Duration
from ..timeutil import US
from ..state import Latest

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

    not_state = frozenset({"idle"})  # the watched stages' codes and limits, from the params

    def __init__(self, params: StallParams, ctx: RuleContext):
        super().__init__(params, ctx)
        self.idle = {ctx.strings.code(stage): us for stage, us in params.max_idle.items()}
        # per customer: the last activity, the stage and the event that set it, and when the open
        # period is due (_NEVER: no open period: stage not watched, or already reported)
        self.customers = Latest(last_ts=0, last_id=None, stage=-1, stage_ts=0, stage_id=None, due=_NEVER)
        self._next = _NEVER  # at or before the earliest due (a stale, earlier value only costs a scan)
        self.owners = Latest(owner=-1)

    def _idle_of(self, stages: np.ndarray) -> np.ndarray:
        out = np.full(stages.shape, -1, dtype=np.int64)
        for code, us in self.idle.items():
            out[stages == code] = us
        return out

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
        if fr.size or sr.size:
            self._activity(chunk, fr, sr, pending)
        if self._next <= chunk.upto:
            self._fire_due(chunk.upto, pending)
        if pending:
            self._emit_all(chunk, pending, own_u)
        self.owners.commit(own_u[0], own_u[2])

    def _activity(self, chunk: Chunk, fr: np.ndarray, sr: np.ndarray, pending: list) -> None:
        """Judge the chunk's follow-ups and stage changes, then start each customer's new period."""
        f = chunk.frame
        rows = np.concatenate([fr, sr])
        cust = np.concatenate([chunk.col(FOLLOWUP, "customer_id"), chunk.col(STAGE, "customer_id")]).astype(np.int64)
        is_stage = np.concatenate([np.zeros(fr.size, bool), np.ones(sr.size, bool)])
        stage = np.concatenate([np.full(fr.size, -1, np.int64), chunk.col(STAGE, "stage").astype(np.int64)])
        o = np.lexsort((rows, cust))  # grouped by customer, in event order within each
        rows, cust, is_stage, stage = rows[o], cust[o], is_stage[o], stage[o]
        ts = f.ts[rows]
        n = rows.size
        ar = np.arange(n)
        start = np.ones(n, dtype=bool)
        start[1:] = cust[1:] != cust[:-1]
        firsts = np.flatnonzero(start)
        ends = np.append(firsts[1:] - 1, n - 1)
        grp = np.cumsum(start) - 1
        group_start = np.maximum.accumulate(np.where(start, ar, 0))
        last_stage_idx = np.maximum.accumulate(np.where(is_stage, ar, -1))
        in_group = last_stage_idx >= group_start
        # each customer's carried state (missing values for a customer never seen: no stage, no period)
        _, prior = self.customers.carried(cust[firsts])
        # stage (and the event that set it) after each activity; the carried one when none in the chunk yet
        stage_after = np.where(in_group, stage[np.maximum(last_stage_idx, 0)], prior["stage"][grp])
        idle_after = self._idle_of(stage_after)
        # pairs (previous activity -> this one) within the chunk
        prev_idle = np.empty(n, dtype=np.int64)
        prev_idle[0], prev_idle[1:] = -1, idle_after[:-1]
        due = np.full(n, -1, dtype=np.int64)
        due[1:] = ts[:-1] + prev_idle[1:]
        for i in np.flatnonzero(~start & (prev_idle >= 0) & (ts >= due)).tolist():
            j = i - 1
            if in_group[j]:
                sidx = int(last_stage_idx[j])
                s_ts, s_id = int(ts[sidx]), f.ids[rows[sidx]]
            else:
                g = int(grp[j])
                s_ts, s_id = int(prior["stage_ts"][g]), prior["stage_id"][g]
            pending.append((int(due[i]), int(cust[i]), f.ids[rows[j]], int(ts[j]), s_ts, s_id, int(stage_after[j])))
        # pairs (the carried last activity -> the chunk's first activity of the customer)
        for g in np.flatnonzero(prior["due"] <= ts[firsts]).tolist():
            pending.append((int(prior["due"][g]), int(cust[firsts[g]]), prior["last_id"][g], int(prior["last_ts"][g]),
                            int(prior["stage_ts"][g]), prior["stage_id"][g], int(prior["stage"][g])))
        # new state: each customer's last activity in the chunk starts a fresh period
        set_here = in_group[ends]
        sidx = np.maximum(last_stage_idx[ends], 0)
        new_stage = np.where(set_here, stage[sidx], prior["stage"])
        new_due = self._idle_of(new_stage)
        new_due = np.where(new_due >= 0, ts[ends] + new_due, _NEVER)
        self.customers.commit(cust[ends], {
            "last_ts": ts[ends], "last_id": f.ids[rows[ends]], "stage": new_stage,
            "stage_ts": np.where(set_here, ts[sidx], prior["stage_ts"]),
            "stage_id": np.where(set_here, f.ids[rows[sidx]], prior["stage_id"]),
            "due": new_due,
        })
        self._next = min(self._next, int(new_due.min()))

    def _fire_due(self, upto: int, pending: list) -> None:
        """The open periods due at or before ``upto``, in customer order; then the next due."""
        state = self.customers
        hit = np.flatnonzero(state.column("due") <= upto)
        if hit.size:
            cols = [state.column(name)[hit].tolist()
                    for name in ("due", "last_id", "last_ts", "stage_ts", "stage_id", "stage")]
            pending.extend(zip(cols[0], state.keys[hit].tolist(), *cols[1:]))
            state.set_column("due", hit, np.full(hit.size, _NEVER, dtype=np.int64))
        due = state.column("due")
        self._next = int(due.min()) if due.size else _NEVER

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
