"""``followup.stall``: a customer left idle in a watched stage (``quoting``, ``pending_signing``...)."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from ..columns import Chunk
from ..events import ENGLISH_UNITS, US, format_duration
from ..findings import Severity
from ..sdk import Detector, DetectorParams, Duration, RuleContext, first_per_key, pos_after, rows_pos
from ..sdk.state import Latest

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
        """Each stage's idle limit, ``-1`` for a stage not watched (a dict look-up per activity)."""
        get = self.idle.get
        return np.array([get(code, -1) for code in stages.tolist()], dtype=np.int64)

    def next_due(self) -> int | None:
        return None if self._next == _NEVER else self._next

    def process(self, chunk: Chunk) -> None:
        fr, sr = chunk.rows(FOLLOWUP), chunk.rows(STAGE)
        own_u = self._owner_updates(chunk)
        pending: list[tuple[int, int, str, int, int, str | None, int]] = []  # findings to emit
        if fr.size or sr.size:
            self._activity(chunk, fr, sr, pending)
        if self._next <= chunk.upto:
            self._fire_due(chunk.upto, pending)
        if pending:
            self._emit_all(chunk, pending, own_u)
        self.owners.commit(own_u[0], own_u[2])

    @staticmethod
    def _owner_updates(chunk: Chunk) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        reg, asg = chunk.rows(REGISTERED), chunk.rows(ASSIGNED)
        if reg.size + asg.size == 0:
            return _EMPTY, _EMPTY, {}
        rows = np.concatenate([reg, asg])
        o = np.argsort(rows, kind="stable")
        cust = np.concatenate([chunk.col(REGISTERED, "customer_id"), chunk.col(ASSIGNED, "customer_id")])
        owner = np.concatenate([chunk.col(REGISTERED, "owner_id"), chunk.col(ASSIGNED, "owner_id")])
        return cust.astype(np.int64)[o], rows_pos(chunk, rows[o]), {"owner": owner.astype(np.int64)[o]}

    def _activity(self, chunk: Chunk, fr: np.ndarray, sr: np.ndarray, pending: list) -> None:
        """Judge the chunk's follow-ups and stage changes: each ends its customer's open period (the
        previous activity's, in the chunk or carried) and starts a new one.

        As-of look-ups in :attr:`customers` give every activity what it needs: the stage as of it (a
        stage change's own, else the latest stage change before it, else the carried stage), and the
        period open before it (the previous activity's, staged, else the carried one).
        """
        f = chunk.frame
        rows = np.concatenate([fr, sr])
        o = rows.argsort(kind="stable")  # in event order: the staged updates' order
        rows = rows[o]
        cust = np.concatenate([chunk.col(FOLLOWUP, "customer_id"), chunk.col(STAGE, "customer_id")]).astype(np.int64)[o]
        s = (o >= fr.size).nonzero()[0]  # the stage changes (in event order, as sr is)
        pos = f.base + rows
        ts = f.ts[rows]
        ids = f.ids[rows]
        new_stage = chunk.col(STAGE, "stage").astype(np.int64)
        state = self.customers
        # the stage as of each activity: a stage change's own, else the latest change before it, else the carried one
        _, cur = state.lookup(cust, pos, cust[s], pos[s], {"stage": new_stage, "stage_ts": ts[s], "stage_id": ids[s]},
                              fields=("stage", "stage_ts", "stage_id", "due"))
        stage, stage_ts, stage_id = cur["stage"], cur["stage_ts"], cur["stage_id"]
        stage[s], stage_ts[s], stage_id[s] = new_stage, ts[s], ids[s]
        idle = self._idle_of(stage)
        due = np.where(idle >= 0, ts + idle, _NEVER)
        # the period open before each activity: the carried one for a customer's first activity here
        # (``cur`` found no staged update before it), else the one its previous activity started
        prev_due = cur["due"]
        later = np.ones(cust.size, dtype=bool)
        later[first_per_key(cust)] = False
        later = later.nonzero()[0]
        _, pl = state.lookup(cust[later], pos[later], cust, pos, {
            "last_ts": ts, "last_id": ids, "stage": stage, "stage_ts": stage_ts, "stage_id": stage_id, "due": due,
        }, fields=("due",))
        prev_due[later] = pl["due"]
        fire = (prev_due <= ts).nonzero()[0]
        if fire.size:
            _, prev = state.lookup(cust[fire], pos[fire])
            pending.extend(zip(prev["due"].tolist(), cust[fire].tolist(), prev["last_id"].tolist(),
                               prev["last_ts"].tolist(), prev["stage_ts"].tolist(), prev["stage_id"].tolist(),
                               prev["stage"].tolist()))
        state.commit()  # each customer's last activity starts its open period
        self._next = min(self._next, int(due.min()))

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


_UNITS = {"en": ENGLISH_UNITS,
          "zh": ((86_400 * US, "天", "天"), (3600 * US, "小时", "小时"), (60 * US, "分钟", "分钟"), (US, "秒", "秒"))}


def _idle_text(us: int, language: str) -> str:
    """A threshold for people in the largest unit that states it exactly: ``36 hours``, not ``2 days``."""
    return format_duration(us, _UNITS.get(language, ENGLISH_UNITS), sep=" ")


DETECTORS = (FollowupStall,)
