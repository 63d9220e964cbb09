"""Plugins: registration through the hooks, collisions, failures reported by name, detectors that raise."""

from __future__ import annotations

import types
from typing import Literal

import pytest

import hrguard
from hrguard import Detector, DetectorParams, Engine, Event, PluginError, hookimpl
from hrguard.hookspecs import hookspec


def _plugin(name: str, **hooks) -> types.ModuleType:
    mod = types.ModuleType(name)
    for k, v in hooks.items():
        setattr(mod, k, hookimpl(v))
    return mod


class BadgeSwiped(Event):
    kind: Literal["badge.swiped"]
    door: str


class NightSwipe(Detector):
    id = "badge.night"
    title = "A badge swipe at night"

    class Params(DetectorParams):
        after_hour: int = 22

    messages = {"en": {"default": "swipe at door {door}"}}

    def process(self, chunk):
        rows = chunk.rows("badge.swiped")
        hours = self.ctx.clock.local_us(chunk.frame.ts[rows]) // 3_600_000_000 % 24
        doors = self.ctx.strings.texts(chunk.col("badge.swiped", "door"))
        for row, h, door in zip(rows.tolist(), hours.tolist(), doors):
            if h >= self.params.after_hour:
                self.emit(ts=int(chunk.frame.ts[row]), subject=(chunk.frame.ids[row],),
                          employee_id=self.ctx.strings.text(int(chunk.frame.employee[row])), customer_id=None,
                          evidence=[(int(chunk.frame.ts[row]), chunk.frame.ids[row])], details={"door": door})


def vendor_plugin():
    return _plugin(
        "vendor_badges",
        hrguard_register_event_kinds=lambda register: register(BadgeSwiped),
        hrguard_register_detectors=lambda register: register(NightSwipe),
    )


def test_a_vendor_plugin_adds_a_kind_and_a_detector_through_the_hooks():
    engine = Engine([vendor_plugin()], entrypoints=False)
    assert engine.registry.detectors["badge.night"].plugin == "vendor_badges"
    assert engine.registry.detectors["geofence.mismatch"].plugin == "hrguard.builtins"
    rs = engine.load_ruleset({"rules": [{"use": "badge.night", "params": {"after_hour": 21}}]})
    events = [
        {"id": "b1", "kind": "badge.swiped", "ts": "2026-04-01T21:30:00+00:00", "employee_id": "E1", "door": "lab"},
        {"id": "b2", "kind": "badge.swiped", "ts": "2026-04-01T08:30:00+00:00", "employee_id": "E1", "door": "lab"},
    ]
    result = engine.scan(events, rs)
    assert [(f.rule, f.evidence, f.message) for f in result.findings] == [("badge.night", ["b1"], "swipe at door lab")]


def test_the_default_engine_knows_nothing_of_a_plugin_registered_elsewhere():
    Engine([vendor_plugin()], entrypoints=False)
    with pytest.raises(hrguard.RulesetError, match="unknown detector 'badge.night'"):
        Engine(entrypoints=False).load_ruleset({"rules": [{"use": "badge.night"}]})


def test_two_plugins_claiming_one_detector_id_is_an_error_naming_both():
    other = _plugin("other_vendor", hrguard_register_detectors=lambda register: register(NightSwipe))
    with pytest.raises(PluginError, match="'vendor_badges' and 'other_vendor'"):
        Engine([vendor_plugin(), other], entrypoints=False)


def test_a_plugin_shadowing_a_builtin_detector_is_an_error():
    class Fake(NightSwipe):
        id = "geofence.mismatch"

    p = _plugin("shadow", hrguard_register_detectors=lambda register: register(Fake))
    with pytest.raises(PluginError, match="'hrguard.builtins' and 'shadow'"):
        Engine([p], entrypoints=False)


def test_a_plugin_raising_in_a_hook_is_reported_by_name():
    def boom(register):
        raise RuntimeError("database down")

    with pytest.raises(PluginError, match="plugin 'flaky' raised in hrguard_register_detectors: RuntimeError: database down"):
        Engine([_plugin("flaky", hrguard_register_detectors=boom)], entrypoints=False)


def test_registering_something_that_is_not_a_detector_is_an_error():
    p = _plugin("confused", hrguard_register_detectors=lambda register: register(object))
    with pytest.raises(PluginError, match="confused"):
        Engine([p], entrypoints=False)


def test_a_broken_entry_point_is_reported_by_name(monkeypatch):
    import importlib.metadata as md

    ep = md.EntryPoint(name="broken", value="hrguard_no_such_module_xyz", group="hrguard")
    monkeypatch.setattr("hrguard.plugins._entry_points", lambda blocked: [ep])
    with pytest.raises(PluginError, match="plugin 'broken' .*failed to import"):
        Engine(entrypoints=True)
    monkeypatch.setenv("HRGUARD_PLUGINS_BLOCK", "broken")
    monkeypatch.setattr("hrguard.plugins._entry_points",
                        lambda blocked: [e for e in [ep] if e.name not in blocked])
    Engine(entrypoints=True)  # blocked: not loaded


class Exploding(NightSwipe):
    id = "badge.explode"

    def process(self, chunk):
        if chunk.has("badge.swiped"):
            raise ZeroDivisionError("bad maths")


def test_a_detector_that_raises_is_reported_and_the_others_still_run():
    p = _plugin("explosive",
                hrguard_register_event_kinds=lambda register: register(BadgeSwiped),
                hrguard_register_detectors=lambda register: (register(NightSwipe), register(Exploding)))
    engine = Engine([p], entrypoints=False)
    rs = engine.load_ruleset({"rules": [{"use": "badge.explode"}, {"use": "badge.night"}]})
    events = [{"id": "b1", "kind": "badge.swiped", "ts": "2026-04-01T23:30:00+00:00", "employee_id": "E1", "door": "x"}]
    result = engine.scan(events, rs)
    assert [f.rule for f in result.findings] == ["badge.night"]
    assert len(result.errors) == 1
    err = result.errors[0]
    assert err.rule == "badge.explode" and isinstance(err.cause, ZeroDivisionError)
    assert "bad maths" in str(err)
    assert result.summary()["detector_errors"] == 1


def test_every_hook_is_documented():
    from hrguard import hookspecs

    hooks = [n for n in dir(hookspecs) if n.startswith("hrguard_")]
    assert hooks, "no hooks found"
    for name in hooks:
        fn = getattr(hookspecs, name)
        assert fn.__doc__ and len(fn.__doc__.strip()) > 40, f"hook {name} is undocumented"
        assert hasattr(fn, "hrguard_spec"), f"{name} is not marked as a hookspec"
    _ = hookspec
