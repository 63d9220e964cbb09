"""``outlier.isolation_forest``: an employee-period that behaves unlike the rest.

Rules catch what someone thought of; this catches the employee whose day (or week) looks like no
one else's. :class:`~hrguard.analytics.FeatureBuilder` turns the events into one vector per
(employee, period); an Isolation Forest (:class:`~hrguard.analytics.IsolationForest`: the forest of
:class:`~hrguard.analytics.forest.IsolationForestScorer` without scikit-learn's estimator layer, so a scan does
not import scikit-learn; the rule still needs the ``ml`` extra) scores them; a vector whose anomaly score
passes the threshold fires, and its ``details`` name the features that set it apart most, with the
population's typical values.

When vectors are judged, and by which model (the same in a batch scan and a stream, because both
see the same closed periods in the same order):

- A period's vectors are final, and judged, when the period has ended: at its end (local midnight
  starting the next period), which is the finding's ``ts``.
- ``fit_on: scanned``: the training set is every vector of the periods ended so far (the last
  ``history`` periods, if set), this period's included. At each period's end the model is refitted
  on it when it has grown by ``refit_growth`` (a share of its size; ``0``: every time) since the last
  fit, then judges the period. The default, ``0.25``, refits when the training set has grown by a
  third, a geometric schedule: 15 fits over the benchmark log's 170 days (33 with ``0.1``, 7 with
  ``0.5``, 170 with ``0``). A model judges vectors unlike those it was fitted on as more abnormal
  as behaviour drifts, so rarer fits flag more: 42, 45, 54 and 84 findings there for ``0``,
  ``0.1``, ``0.25`` and ``0.5``. Fewer than ``min_periods`` vectors: no model, nothing fires.
- ``fit_on: {start, end}``: the periods lying within those local dates are the training set; the
  model is fitted once, at the end of the first period that ends after ``end``, and judges that
  period and every later one. Periods that end before then are not judged.
- ``fit_on: {model: path}``: a model saved by :func:`fit_model` judges every period.

At a period's end the detector only decides (in event order) what to fit and judge, and queues it
as a job of plain data; the jobs run in :meth:`IsolationForestOutlier.settle`: at once in a batch
scan, at the next ``advance_to`` (or ``result``) in a stream, so that a push never fits or scores.
The queue, the training vectors, the feature builder's stores and the model (as the arrays of its
model file) are the detector's saved state.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator, model_validator

from ..analytics import (
    FEATURE_NAMES,
    FEATURES,
    PERIOD_DAYS,
    FeatureBlock,
    FeatureBuilder,
    FeatureConfig,
    IsolationForest,
    build_features,
    time_of_day_seconds,
)
from ..columns import Chunk
from ..engine import default_engine
from ..errors import InvalidArgumentError
from ..events import date_to_days, days_to_date, parse_time_of_day, to_instant_us
from ..findings import Severity
from ..sdk import Detector, DetectorParams, Duration, RuleContext, pos_after, rows_pos
from ..sdk.state import Latest

FeatureName = Literal[FEATURE_NAMES]  # type: ignore[valid-type]
HIRED = "employee.hired"


class ReferenceRange(BaseModel):
    """Fit on the periods lying within these local dates (both included)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    start: date = Field(description="first local date of the reference range")
    end: date = Field(description="last local date of the reference range")

    @model_validator(mode="after")
    def _ordered(self) -> ReferenceRange:
        if self.end < self.start:
            raise ValueError(f"the reference range ends ({self.end}) before it starts ({self.start})")
        return self


class SavedModel(BaseModel):
    """Judge with a model saved by ``hrguard.detectors.outlier.fit_model``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    model: str = Field(min_length=1, description="path of the .npz model file (relative: to the working directory)")


class OutlierParams(DetectorParams):
    period: Literal["day", "week"] = Field("day", description="one vector per employee per local day or week (Monday first)")
    features: Annotated[list[FeatureName] | Literal["all"], WithJsonSchema({  # type: ignore[valid-type]
        "anyOf": [{"type": "array", "items": {"type": "string", "description": "a feature name: " + ", ".join(FEATURE_NAMES)},
                   "minItems": 1, "uniqueItems": True}, {"const": "all", "type": "string"}]})] = Field(
        "all", description="the features the forest sees (names from the feature set), or all")
    contamination: Literal["auto"] | Annotated[float, Field(gt=0, le=0.5)] = Field(
        "auto", description="'auto' (anomaly score above 0.5) or the expected share of outliers in the training vectors")
    n_estimators: int = Field(100, ge=1, le=10_000, description="trees in the forest")
    max_samples: int = Field(256, ge=2, description="vectors drawn to grow each tree (capped at the training set's size)")
    random_state: int = Field(0, ge=0, le=2**32 - 1, description="seed of the forest: the same seed, the same trees")
    min_periods: int = Field(20, ge=2, description="fewest training vectors to fit a model; fewer: nothing fires")
    fit_on: Annotated[Literal["scanned"] | ReferenceRange | SavedModel, WithJsonSchema({"anyOf": [
        {"const": "scanned", "type": "string"},
        {"type": "object", "additionalProperties": False, "required": ["start", "end"],
         "properties": {"start": {"type": "string", "format": "date"}, "end": {"type": "string", "format": "date"}}},
        {"type": "object", "additionalProperties": False, "required": ["model"],
         "properties": {"model": {"type": "string", "minLength": 1}}}]})] = Field(
        "scanned", description="'scanned' (every ended period so far), {start, end} (a reference range of local dates) "
                               "or {model: path} (a saved model)")
    history: int | None = Field(None, ge=1, description="with fit_on scanned: fit on the last this many periods only")
    refit_growth: float = Field(
        0.25, ge=0, description="with fit_on scanned: refit at a period's end when the vectors added since the last fit "
                                "are at least this share of the training set (0.25: it has grown by a third; 0: refit "
                                "at every period's end)")
    roles: list[str] | None = Field(
        None, description="only employees with one of these roles (as known at the period's end) form the population "
                          "and are judged; null: everyone")
    top_features: int = Field(3, ge=1, le=len(FEATURES), description="how many features a finding names")
    window: int = Field(1, ge=1, le=366, description="judge each employee's mean vector over the last this many periods "
                                                     "(the ending one included; only periods they have a vector for), "
                                                     "not one period alone: persistent behaviour, not one odd day")
    min_active: int = Field(1, ge=1, le=366, description="with window: judge an employee only when they have vectors in "
                                                         "at least this many periods of the window")
    persistence: int = Field(1, ge=1, le=366, description="fire when an employee's vector passes the threshold at this "
                                                          "many judgements in a row (one finding per such run; a judgement "
                                                          "below the threshold ends the run)")
    radius_m: float = Field(500, ge=0, description="features: a clock-in this close to a plan item's place matches it, metres")
    window_slack: Duration = Field("30m", validate_default=True, description="features: widening of each plan item's window")
    work_start: str = Field("07:00", description="features: activity before this local time is off hours")
    work_end: str = Field("21:00", description="features: activity after this local time is off hours")

    @field_validator("features")
    @classmethod
    def _distinct(cls, v: Any) -> Any:
        if isinstance(v, list):
            if not v:
                raise ValueError("list at least one feature, or write 'all'")
            dup = sorted({f for f in v if v.count(f) > 1})
            if dup:
                raise ValueError(f"feature(s) listed twice: {', '.join(dup)}")
        return v

    @field_validator("work_start", "work_end")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        try:
            parse_time_of_day(v, allow_24=True)
        except InvalidArgumentError as exc:
            raise ValueError(exc.reason) from None
        return v

    @model_validator(mode="after")
    def _hours(self) -> OutlierParams:
        if time_of_day_seconds(self.work_end) <= time_of_day_seconds(self.work_start):
            raise ValueError(f"work_end ({self.work_end}) must be later than work_start ({self.work_start})")
        if self.min_active > self.window:
            raise ValueError(f"min_active ({self.min_active}) cannot exceed window ({self.window})")
        return self

    def feature_names(self) -> list[str]:
        return list(FEATURE_NAMES) if self.features == "all" else list(self.features)

    def feature_config(self) -> FeatureConfig:
        return FeatureConfig(self.period, float(self.radius_m), int(self.window_slack), time_of_day_seconds(self.work_start),
                             time_of_day_seconds(self.work_end))


def _ml() -> Any:
    """The ``ml`` extra, imported when a rule needs it (``MissingExtraError`` names the extra)."""
    import importlib

    return importlib.import_module("hrguard.analytics.forest")


def _require_ml() -> None:
    """Raise ``MissingExtraError`` naming the ``ml`` extra unless scikit-learn can be imported, without importing it.

    Checking a ruleset must not pay for importing scikit-learn (about 1 s and 150 MB): only fitting,
    scoring and loading a model do.
    """
    import importlib.util

    from ..errors import MissingExtraError

    if importlib.util.find_spec("sklearn") is None:
        raise MissingExtraError("scikit-learn", "ml")


def _model_extra(params: OutlierParams, timezone: str | None) -> dict[str, Any]:
    """What a saved model must agree on with the rule that uses it (``timezone``: the zone of its features)."""
    return {"detector": IsolationForestOutlier.id, "features": params.feature_names(),
            "feature_config": params.feature_config().as_dict(), "timezone": timezone}


def load_model(params: OutlierParams, timezone: str | None = None) -> Any:
    """The saved model named by ``params.fit_on``, checked against the rule's features and, given
    ``timezone`` (the ruleset's), the zone its features were built in (``ModelFileError``)."""
    ml = _ml()
    path = params.fit_on.model  # type: ignore[union-attr]
    scorer = ml.IsolationForestScorer.load(path)
    want, got = _model_extra(params, timezone), scorer.extra_
    for key, what in (("detector", "detector"), ("features", "features"), ("feature_config", "feature settings")):
        if got.get(key) != want[key]:
            raise ml.ModelFileError(path, f"the model was saved with {what} {got.get(key)!r}, but this rule uses "
                                          f"{want[key]!r}; fit it again with these settings")
    if timezone is not None and got.get("timezone") != timezone:
        # days, weeks and off hours are local: a model of another zone would judge other vectors
        raise ml.ModelFileError(path, f"the model's features were built in time zone {got.get('timezone')!r}, but "
                                      f"this ruleset's timezone is {timezone!r}: its days and off hours would not "
                                      f"match; fit it again with fit_model(..., timezone={timezone!r})")
    return scorer


def fit_model(events: Any, path: Any = None, *, timezone: str | None = None, as_of: Any = None, **params: Any) -> Any:
    """Fit the detector's model on ``events`` and save it to ``path`` (if given) for ``fit_on: {model: path}``.

    ``timezone`` (required) is the zone of the ruleset that will use the model: periods and off
    hours are local, so the model keeps it and a ruleset of another zone refuses the file.
    ``params`` are the rule's (``period``, ``features``, ``contamination``, ``n_estimators``...);
    the vectors are those of the periods ended by ``as_of`` (default: the latest event), every
    employee's unless ``roles`` is given (the latest role known by ``as_of``). Returns the fitted
    :class:`~hrguard.analytics.forest.IsolationForestScorer`, its columns named after the features.
    """
    if timezone is None:
        raise InvalidArgumentError("timezone", "give the time zone of the ruleset that will use the model "
                                               "(its days and off hours are local), e.g. timezone='Asia/Shanghai'")
    p = OutlierParams.model_validate({k: v for k, v in params.items() if k != "fit_on"})
    ml = _ml()
    if p.roles is not None and not isinstance(events, (str, os.PathLike, list, tuple)):
        events = list(events)  # read twice: for the vectors and for the roles
    cfg = p.feature_config()
    fm = build_features(events, timezone=timezone, period=p.period, as_of=as_of, complete_only=True,
                        radius_m=cfg.radius_m, window_slack=cfg.window_slack_us / 1e6, work_start=p.work_start,
                        work_end=p.work_end)
    if p.roles is not None:
        roles = latest_roles(events, as_of, default_engine())
        keep = np.asarray([roles.get(e) in p.roles for e in fm.employees.tolist()], dtype=bool)
        fm.X, fm.employees, fm.periods = fm.X[keep], fm.employees[keep], fm.periods[keep]
    fm = fm.select(p.feature_names())
    if len(fm) < p.min_periods:
        raise InvalidArgumentError("events", f"only {len(fm)} vectors, fewer than min_periods {p.min_periods}: "
                                             f"nothing to fit")
    scorer = ml.IsolationForestScorer(n_estimators=p.n_estimators, max_samples=p.max_samples,
                                      contamination=p.contamination, random_state=p.random_state
                                      ).fit(fm.X, feature_names=list(fm.feature_names))
    if path is not None:
        scorer.save(path, extra=_model_extra(p, timezone))
    scorer.extra_ = _model_extra(p, timezone)
    return scorer


def latest_roles(events: Any, as_of: Any, engine: Any) -> dict[str, str | None]:
    """Each employee's role in their latest ``employee.hired`` at or before ``as_of`` (any time when None)."""
    intake = engine.intake()
    frame = intake.frame(events, to_instant_us(as_of, what="as_of") if as_of is not None else None)
    table = frame.tables.get(frame.strings.find(HIRED))
    if table is None:
        return {}
    # rows in the order (ts, id): the last one of an employee is the latest
    emps = frame.strings.texts(frame.employee[table.rows])
    return dict(zip(emps, frame.strings.texts(table.cols["role"])))


def _num(v: float) -> str:
    r = round(float(v), 2)
    return str(int(r)) if r.is_integer() else f"{r:g}"


class IsolationForestOutlier(Detector):
    id = "outlier.isolation_forest"
    title = "An employee-period that behaves unlike the rest (Isolation Forest over behaviour features)"
    Params = OutlierParams
    default_severity = Severity.low
    kinds = frozenset()  # every kind: the 'events' and 'off_hours' features count them all
    messages = {
        "en": {"default": "{employee_id}'s activity {when} was unlike everyone else's (anomaly score {score:.2f}, "
                          "threshold {threshold:.2f}): {top}"},
        "zh": {"default": "{employee_id} {when_zh}的行为与其他人明显不同（异常分数 {score:.2f}，阈值 {threshold:.2f}）："
                          "{top_zh}"},
    }

    @classmethod
    def check(cls, params: OutlierParams, kinds: set[str]) -> list[tuple[tuple[Any, ...], str]]:
        _require_ml()  # raises MissingExtraError (naming the 'ml' extra) when scikit-learn is missing
        if isinstance(params.fit_on, SavedModel):
            ml = _ml()
            try:
                load_model(params)
            except ml.ModelFileError as exc:
                return [(("fit_on", "model"), str(exc))]
        return []

    #: not walked by Stateful: the scorer is saved as its arrays (state_dict below); ``peaks`` is a diagnostic
    not_state = frozenset({"scorer", "_saved_scorer", "peaks"})

    def __init__(self, params: OutlierParams, ctx: RuleContext):
        super().__init__(params, ctx)
        _require_ml()  # the rule needs the ml extra, though it fits and scores the NumPy forest itself
        self.builder = FeatureBuilder(ctx.clock, ctx.strings, params.feature_config())
        self.names = params.feature_names()
        self.cols = np.asarray([FEATURE_NAMES.index(n) for n in self.names], dtype=np.int64)
        self.roles = Latest(role=-1) if params.roles is not None else None
        self.role_codes = np.asarray(sorted(ctx.strings.code(r) for r in params.roles or ()), dtype=np.int64)
        self.train: list[tuple[int, np.ndarray]] = []  # (period start, its vectors), in period order
        self.scorer: Any = None  # the model after the last job settled
        self.modelled = False  # a model exists or is being fitted (as of the last period closed)
        self._trained_on = 0
        self.source = "scanned"
        self._warnings: list[str] = []
        self._reference_fitted = False
        self._added = 0  # training vectors added since the last fit
        # the ended periods not judged yet, in order: plain data (see _job), so a saved state holds them
        self.jobs: list[dict[str, Any]] = []
        # with window > 1: the population's vectors of the last ``window`` periods (start, employees, vectors)
        self.recent: list[tuple[int, list[str], np.ndarray]] = []
        self.streak: dict[str, int] = {}  # employees whose last judgements passed the threshold: how many in a row
        #: diagnostic, not saved: each judged employee's highest anomaly score minus the threshold judging it
        self.peaks: dict[str, float] = {}
        self._saved_scorer: tuple[Any, dict[str, np.ndarray]] | None = None  # (scorer, its arrays)
        fit_on = params.fit_on
        if isinstance(fit_on, SavedModel):
            self.scorer = load_model(params, ctx.clock.name)
            self.modelled = True
            self.source = "saved"
        elif isinstance(fit_on, ReferenceRange):
            self.source = "reference"
            self.ref = (date_to_days(fit_on.start), date_to_days(fit_on.end))

    def expire(self, watermark: int) -> None:
        """The feature builder's follow-ups of dates no later summary can count go; the training vectors
        are bounded by ``history`` (a stream with ``history: null`` keeps one vector per employee-period)."""
        self.builder.expire(watermark)

    def warnings(self) -> list[str]:
        return list(self._warnings)

    # -- chunks ------------------------------------------------------------------------------------
    def process(self, chunk: Chunk) -> None:
        role_u = self._role_updates(chunk) if self.roles is not None else None
        self.builder.add(chunk)
        for block in self.builder.close(chunk.upto):
            self._period_ended(block, self._population(block, chunk, role_u))
        if self.roles is not None and role_u is not None:
            self.roles.commit(role_u[0], role_u[2])
        if not self.ctx.streaming:  # a stream's push only queues the jobs: its advance_to settles them
            self.settle()

    def _role_updates(self, chunk: Chunk) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        rows = chunk.rows(HIRED)
        if rows.size == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), {"role": np.zeros(0, np.int64)}
        return (chunk.frame.employee[rows].astype(np.int64), rows_pos(chunk, rows),
                {"role": chunk.col(HIRED, "role").astype(np.int64)})

    def _population(self, block: FeatureBlock, chunk: Chunk, role_u: Any) -> np.ndarray:
        """Rows of the block whose employee is in ``roles`` as known at the period's end (all without roles)."""
        n = len(block.employees)
        if self.roles is None:
            return np.arange(n)
        codes = np.asarray([self.ctx.strings.find(e) for e in block.employees], dtype=np.int64)
        pos = np.repeat(pos_after(chunk, np.asarray([block.end_us - 1], dtype=np.int64)), n)
        _, vals = self.roles.lookup(codes, pos, *role_u)
        return np.flatnonzero(np.isin(vals["role"].astype(np.int64), self.role_codes))

    # -- deciding, at each period's end, what to fit and what to judge -----------------------------
    def _n_train(self) -> int:
        return sum(x.shape[0] for _, x in self.train)

    def _period_ended(self, block: FeatureBlock, rows: np.ndarray) -> None:
        """Decide what the period's end brings (a fit, a judgement) and queue it as a job.

        Only bookkeeping happens here, in event order: which vectors train, whether to refit. The
        fitting and scoring are the job's (:meth:`_run`), run by :meth:`settle`: right away in a batch
        scan, at the next ``advance_to`` in a stream; either way in this order on these inputs.
        """
        p = self.params
        X = block.X[rows][:, self.cols]
        if p.window > 1:
            rows, X = self._windowed(block, rows, X)
        last_day = block.period_start + PERIOD_DAYS[p.period] - 1
        fit = None
        if self.source == "scanned":
            if rows.size:
                self.train.append((block.period_start, X))
                self._added += rows.size
            if p.history is not None:
                oldest = block.period_start - (p.history - 1) * PERIOD_DAYS[p.period]
                self.train = [(s, x) for s, x in self.train if s >= oldest]
            n = self._n_train()
            if n < p.min_periods:
                self.modelled = False
                return
            if not self.modelled or self._added >= p.refit_growth * n:
                fit = list(self.train)
                self.modelled = True
                self._trained_on = n
                self._added = 0
        elif self.source == "reference":
            start, end = self.ref
            if block.period_start >= start and last_day <= end:
                if rows.size:
                    self.train.append((block.period_start, X))
                return
            if last_day <= end:
                return  # ended before the reference range did: no model yet
            if not self._reference_fitted:
                self._reference_fitted = True
                n = self._n_train()
                if n < p.min_periods:
                    self._warnings.append(
                        f"{self.ctx.name}: the reference range {days_to_date(start)}..{days_to_date(end)} has {n} "
                        f"vector(s), fewer than min_periods {p.min_periods}: no model, nothing judged")
                else:
                    fit = list(self.train)
                    self.modelled = True
                    self._trained_on = n
        judge = self.modelled and rows.size > 0
        if fit is not None or judge:
            self.jobs.append(_job(block, rows if judge else rows[:0], X, fit, self._trained_on))

    def _windowed(self, block: FeatureBlock, rows: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The employees of ``rows`` with vectors in at least ``min_active`` of the last ``window`` periods,
        and each one's mean vector over those periods (in period order, so sums are the same however the
        events were chunked)."""
        p = self.params
        emps = [block.employees[r] for r in rows.tolist()]
        self.recent.append((block.period_start, emps, X))
        oldest = block.period_start - (p.window - 1) * PERIOD_DAYS[p.period]
        self.recent = [r for r in self.recent if r[0] >= oldest]
        total = np.zeros_like(X)
        count = np.zeros(len(emps), dtype=np.int64)
        where = {e: i for i, e in enumerate(emps)}
        for _, who, V in self.recent:
            for j, e in enumerate(who):
                i = where.get(e)
                if i is not None:
                    total[i] += V[j]
                    count[i] += 1
        keep = np.flatnonzero(count >= p.min_active)
        return rows[keep], total[keep] / count[keep, None]

    # -- running the jobs --------------------------------------------------------------------------
    def _fit(self, X: np.ndarray) -> Any:
        p = self.params
        return IsolationForest(n_estimators=p.n_estimators, max_samples=p.max_samples,
                               contamination=p.contamination, random_state=p.random_state).fit(X)

    def _run(self, job: dict[str, Any], scorer: Any) -> tuple[Any, Any]:
        """A job's work, given the model before it: ``(model after it, (raw scores, rows that fire,
        explanations, offset) or None)``."""
        if job["fit"] is not None:
            scorer = self._fit(np.vstack([x for _, x in job["fit"]]))
        if job["rows"].size == 0:
            return scorer, None
        X = job["X"]
        raw = scorer.score_samples(X)
        fire = np.flatnonzero(raw < scorer.offset_)  # decision_function < 0: scikit-learn's outliers
        if self.params.persistence > 1:  # only the judgement completing a run of `persistence` fires
            fire = fire[self._runs(job, raw < scorer.offset_)[fire]]
        explained = scorer.explain(X[fire], top=self.params.top_features, names=self.names) if fire.size else []
        return scorer, (raw, fire, explained, scorer.offset_)

    def _runs(self, job: dict[str, Any], passed: np.ndarray) -> np.ndarray:
        """Count each judged employee's run of judgements past the threshold; which rows complete one."""
        emps = job["employees"]
        done = np.zeros(passed.size, dtype=bool)
        for i, (r, ok) in enumerate(zip(job["rows"].tolist(), passed.tolist())):
            e = emps[r]
            if not ok:
                self.streak.pop(e, None)
                continue
            n = self.streak[e] = self.streak.get(e, 0) + 1
            done[i] = n == self.params.persistence
        return done

    def settle(self) -> None:
        """Run every queued job, in order, and emit the findings of the periods judged. A batch scan
        calls it after each chunk; a stream at ``advance_to`` and ``result``, never in a push."""
        if not self.jobs:
            return
        jobs, self.jobs = self.jobs, []
        for job in jobs:
            self.scorer, judged = self._run(job, self.scorer)
            if judged is not None:
                self._judge(job, *judged)

    # -- saving ------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The walked state (builder, training vectors, queued jobs...) plus the model as its arrays."""
        out = super().state_dict()
        if self.scorer is not None:
            if self._saved_scorer is None or self._saved_scorer[0] is not self.scorer:
                self._saved_scorer = (self.scorer, _scorer_arrays(self.scorer))
            out.update({f"scorer.{k}": v for k, v in self._saved_scorer[1].items()})
        return out

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        rest = dict(state)
        arrays = {k[len("scorer."):]: rest.pop(k) for k in [k for k in rest if k.startswith("scorer.")]}
        super().load_state_dict(rest)
        self.scorer = _scorer_from_arrays(arrays) if arrays else None
        self._saved_scorer = (self.scorer, arrays) if arrays else None

    def _judge(self, job: dict[str, Any], raw: np.ndarray, fire: np.ndarray,
               explained: list[list[dict[str, Any]]], offset: float) -> None:
        """Emit the findings of one judged period (its job, the model that judged it, what the job computed)."""
        block, rows = _block(job), job["rows"]
        anomaly = -raw  # higher is worse: the paper's score in (0, 1], see IsolationForestScorer.anomaly_score
        threshold = -offset
        period = self.params.period
        start = days_to_date(block.period_start)
        last = days_to_date(block.period_start + PERIOD_DAYS[period] - 1)
        when = f"on {start}" if period == "day" else f"in the week of {start}"
        when_zh = f"在 {start} " if period == "day" else f"在 {start} 开始的一周"
        if self.params.window > 1:
            unit = "days" if period == "day" else "weeks"
            when = f"over the {self.params.window} {unit} to {last}"
            when_zh = f"在截至 {last} 的 {self.params.window} {'天' if period == 'day' else '周'}内"
        labels = {f.name: f for f in FEATURES}
        trained_on = job["trained_on"] if self.source != "saved" else None
        margin = anomaly - threshold
        for j, r in enumerate(rows.tolist()):
            e = block.employees[r]
            self.peaks[e] = max(self.peaks.get(e, -np.inf), float(margin[j]))
        for k, j in enumerate(fire.tolist()):
            row = int(rows[j])
            emp = block.employees[row]
            feats = [{"name": e["name"], "value": round(e["value"], 2), "typical": round(e["typical"], 2),
                      "z": round(e["z"], 2)} for e in explained[k]]
            mask = 0
            for e in feats:
                mask |= 1 << FEATURE_NAMES.index(e["name"])
            evidence = (block.evidence(row, mask) or block.evidence(row, 1 << FEATURE_NAMES.index("events"))
                        or block.evidence(row, -1))
            details = {
                "period": period,
                "period_start": start.isoformat(),
                "period_end": last.isoformat(),
                "score": round(float(anomaly[j]), 4),
                "threshold": round(float(threshold), 4),
                "features": feats,
                "model": self.source,
                "trained_on": trained_on,
            }
            if self.params.window > 1 or self.params.persistence > 1:
                details["window"] = self.params.window
                details["persistence"] = self.params.persistence
            top = "; ".join(f"{labels[e['name']].en} {_num(e['value'])} (typical {_num(e['typical'])})" for e in feats)
            top_zh = "；".join(f"{labels[e['name']].zh} {_num(e['value'])}（通常 {_num(e['typical'])}）" for e in feats)
            self.emit(
                ts=block.end_us,
                subject=(emp, start.isoformat()),
                employee_id=emp,
                customer_id=None,
                evidence=evidence,
                details=details,
                message=self.render("default", details, employee_id=emp, when=when, when_zh=when_zh,
                                    top=top or "no single feature stands out", top_zh=top_zh or "没有单个特征特别突出"),
            )


def _job(block: FeatureBlock, rows: np.ndarray, X: np.ndarray, fit: list[tuple[int, np.ndarray]] | None,
         trained_on: int) -> dict[str, Any]:
    """A period to judge (``rows`` of its block, their vectors ``X``), after fitting on ``fit`` (the
    training vectors at the period's end) if given: plain data, as a saved state holds it."""
    return {"period_start": block.period_start, "end_us": block.end_us, "employees": block.employees,
            "block_X": block.X, "ref_row": block.ref_row, "ref_mask": block.ref_mask, "ref_ts": block.ref_ts,
            "ref_id": block.ref_id, "rows": rows, "X": X, "fit": fit, "trained_on": trained_on}


def _block(job: dict[str, Any]) -> FeatureBlock:
    return FeatureBlock(job["period_start"], job["end_us"], job["employees"], job["block_X"], job["ref_row"],
                        job["ref_mask"], job["ref_ts"], job["ref_id"])


def _scorer_arrays(scorer: Any) -> dict[str, np.ndarray]:
    """A fitted scorer as the arrays of its own file format (``IsolationForestScorer.save``): plain
    numeric arrays and one JSON text, never a pickle."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "scorer.npz")
        scorer.save(path)
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}


def _scorer_from_arrays(arrays: Mapping[str, Any]) -> Any:
    """The scorer :func:`_scorer_arrays` saved, loaded (and checked, digest included) as a model file is."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "scorer.npz")
        np.savez(path, **{k: np.asarray(v) for k, v in arrays.items()})
        return IsolationForest.load(path)


DETECTORS = (IsolationForestOutlier,)
