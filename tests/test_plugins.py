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
    assert engine.registry.detectors["geofence.mismatch"].plugin == "hrguard.plugins.builtins"
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
    with pytest.raises(PluginError, match="'hrguard.plugins.builtins' and 'shadow'"):
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
    monkeypatch.setattr("hrguard.plugins._manager.installed", lambda: [ep])
    with pytest.raises(PluginError, match="plugin 'broken' .*failed to import: ModuleNotFoundError.*"
                                          "set HRGUARD_PLUGINS_BLOCK=broken to run without it"):
        Engine(entrypoints=True)
    monkeypatch.setenv("HRGUARD_PLUGINS_BLOCK", "broken")
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


# -- installed plugins: a real distribution on sys.path, found through its entry point --------------
import importlib.metadata as md  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tomllib  # noqa: E402
from pathlib import Path  # noqa: E402

from hrguard import hookspecs  # noqa: E402
from hrguard.detectors import BUILTIN_DETECTORS  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
HOOKS = sorted(n for n in dir(hookspecs) if n.startswith("hrguard_"))

PLUGIN_SOURCE = """
from typing import Literal
import hrguard

class Swipe(hrguard.Event):
    kind: Literal["{prefix}.swiped"]

class Night(hrguard.Detector):
    id = "{prefix}.night"
    title = "a swipe"
    def process(self, chunk):
        pass

@hrguard.hookimpl
def hrguard_register_event_kinds(register):
    register(Swipe)

@hrguard.hookimpl
def hrguard_register_detectors(register):
    register(Night)
"""


def install(where: Path, dist: str, version: str, ep_name: str, module: str, source: str) -> None:
    """Lay out a distribution as pip would (a module and its .dist-info with an entry point)."""
    (where / f"{module}.py").write_text(source, encoding="utf-8")
    info = where / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[hrguard]\n{ep_name} = {module}\n", encoding="utf-8")


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A folder on sys.path where tests install plugins; only they are loaded (HRGUARD_PLUGINS_ALLOW)."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("HRGUARD_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    monkeypatch.delenv("HRGUARD_PLUGINS_BLOCK", raising=False)
    monkeypatch.setenv("HRGUARD_PLUGINS_ALLOW", "fake")
    install(tmp_path, "hrguard-fake", "1.2.3", "fake", "hrguard_fake_plugin_mod", PLUGIN_SOURCE.format(prefix="fake"))
    yield tmp_path
    for mod in [m for m in sys.modules if m.startswith("hrguard_fake")]:
        del sys.modules[mod]


def test_an_installed_plugin_is_loaded_with_its_name_distribution_and_version(site):
    reg = Engine(entrypoints=True).registry
    fake = reg.detectors["fake.night"]
    assert (fake.plugin, fake.distribution, fake.version) == ("fake", "hrguard-fake", "1.2.3")
    assert reg.kinds["fake.swiped"].plugin == "fake"
    assert (reg.detectors["geofence.mismatch"].plugin, reg.detectors["geofence.mismatch"].version) == ("hrguard.plugins.builtins", None)
    assert {r.plugin for r in reg.detectors.values()} == {"hrguard.plugins.builtins", "fake"}  # only what ALLOW names


def test_hrguard_detectors_shows_the_plugin_and_version(site):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), *sys.path]), "HRGUARD_PLUGINS_ALLOW": "fake"}
    out = subprocess.run([sys.executable, "-m", "hrguard", "detectors"], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "fake.night  a swipe\n  default severity medium; plugin fake (hrguard-fake 1.2.3)\n" in out.stdout
    assert "approval.bypass  An order or invoice without a completed approval chain\n  default severity high; built in" in out.stdout
    listing = json.loads(subprocess.run([sys.executable, "-m", "hrguard", "detectors", "--format", "json"], env=env,
                                        capture_output=True, text=True).stdout)
    assert [(d["plugin"], d["distribution"], d["version"]) for d in listing if d["id"] == "fake.night"] == [
        ("fake", "hrguard-fake", "1.2.3")]


@pytest.mark.parametrize("allow, block, loaded", [
    ("fake", "", True),
    ("HRGUARD_FAKE", "", True),  # the distribution name, any case and separators
    ("", "", True),  # no allow list: every installed plugin
    ("fake", "hrguard-fake", False),  # blocking wins
    ("someone-else", "", False),
])
def test_allow_and_block(site, monkeypatch, allow, block, loaded):
    monkeypatch.setenv("HRGUARD_PLUGINS_ALLOW", allow)
    monkeypatch.setenv("HRGUARD_PLUGINS_BLOCK", block)
    assert ("fake.night" in Engine(entrypoints=True).detectors) is loaded


def test_autoload_off_and_engines_for_tests_load_no_installed_plugin(site, monkeypatch):
    assert "fake.night" not in Engine(entrypoints=False).detectors
    monkeypatch.setenv("HRGUARD_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert "fake.night" not in Engine().detectors
    monkeypatch.delenv("HRGUARD_DISABLE_PLUGIN_AUTOLOAD")
    assert "fake.night" in Engine().detectors


def test_a_name_no_installed_plugin_has_is_a_warning(site, monkeypatch, caplog):
    monkeypatch.setenv("HRGUARD_PLUGINS_ALLOW", "fake,fkae")
    monkeypatch.setenv("HRGUARD_PLUGINS_BLOCK", "nobody")
    with caplog.at_level(logging.WARNING, logger="hrguard"):
        assert "fake.night" in Engine(entrypoints=True).detectors
    assert "HRGUARD_PLUGINS_ALLOW names fkae, which no installed hrguard plugin has" in caplog.text
    assert "HRGUARD_PLUGINS_BLOCK names nobody" in caplog.text


def test_an_installed_plugin_that_fails_to_import_names_itself_and_its_distribution(site):
    install(site, "hrguard-fake-broken", "0.9", "fake_broken", "hrguard_fake_broken", "raise RuntimeError('no licence')\n")
    os.environ["HRGUARD_PLUGINS_ALLOW"] = "fake,fake_broken"
    with pytest.raises(PluginError, match=r"plugin 'fake_broken' \(entry point fake_broken = hrguard_fake_broken of "
                                          r"hrguard-fake-broken 0.9\) failed to import: RuntimeError: no licence"):
        Engine(entrypoints=True)


def test_two_installed_plugins_with_one_name_is_an_error_naming_both(site):
    install(site, "hrguard-fake-fork", "2.0", "fake", "hrguard_fake_fork", PLUGIN_SOURCE.format(prefix="fork"))
    with pytest.raises(PluginError, match="two installed plugins are named 'fake': hrguard-fake-fork and .*of hrguard-fake 1.2.3"):
        Engine(entrypoints=True)


def test_two_installed_plugins_claiming_one_detector_id_is_an_error_naming_both(site, monkeypatch):
    install(site, "hrguard-fake-copy", "1.0", "fakecopy", "hrguard_fake_copy", PLUGIN_SOURCE.format(prefix="fake"))
    monkeypatch.setenv("HRGUARD_PLUGINS_ALLOW", "fake,fakecopy")
    with pytest.raises(PluginError, match="event kind 'fake.swiped' is registered by two plugins: '(fake|fakecopy)' and "
                                          "'(fakecopy|fake)'"):
        Engine(entrypoints=True)


def test_a_hook_implementation_pluggy_refuses_names_the_plugin():
    def misspelt(registr):  # not an argument of the hook
        pass

    with pytest.raises(PluginError, match="plugin 'typo' cannot be registered: PluginValidationError"):
        Engine([_plugin("typo", hrguard_register_detectors=misspelt)], entrypoints=False)


def test_a_plugin_registering_an_invalid_ruleset_names_itself():
    p = _plugin("no_file", hrguard_register_rulesets=lambda register: register("ghost", Path("/no/such/file.yaml")))
    with pytest.raises(PluginError, match="plugin 'no_file' registered an invalid ruleset: ruleset 'ghost'"):
        Engine([p], entrypoints=False)


def test_a_plugin_registers_a_ruleset_that_rulesets_extend(tmp_path):
    base = tmp_path / "base.yaml"
    base.write_text("rules:\n  - use: geofence.mismatch\n    params: {radius_m: 50}\n", encoding="utf-8")
    p = _plugin("vendor_rules", hrguard_register_rulesets=lambda register: register("vendor-base", base))
    engine = Engine([p], entrypoints=False)
    assert engine.registry.rulesets["vendor-base"].plugin == "vendor_rules"
    rs = engine.load_ruleset({"extends": ["vendor-base"], "rules": [{"use": "expr", "params": {"on": "order.recorded",
                                                                                             "condition": "true"}}]})
    assert [(r.name, getattr(r.params, "radius_m", None)) for r in rs.rules] == [("geofence.mismatch", 50.0), ("expr", None)]


def test_a_plugin_registers_a_pipeline_that_pipelines_extend_and_scans_use(tmp_path):
    base = tmp_path / "badges.yaml"
    base.write_text("pipeline: badges\nsources:\n  - name: swipe\n    where: {type: swipe}\n    emit:\n"
                    "      - {kind: attendance.punched, id: 'b-{n}', fields: {ts: at, employee_id: who},"
                    " set: {direction: in}}\n", encoding="utf-8")
    p = _plugin("vendor_maps", hrguard_register_pipelines=lambda register: register("badges", base))
    engine = Engine([p], entrypoints=False)
    assert engine.registry.pipelines["badges"].plugin == "vendor_maps"
    assert engine.registry.pipelines["odoo"].plugin == "hrguard.plugins.builtins"  # the built-ins use the same hook
    pl = engine.load_pipeline({"extends": "badges", "timezone": "Europe/Paris"})
    res = engine.scan([{"type": "swipe", "n": 1, "at": "2026-04-01 09:00:00", "who": "E1"}], {"rules": []}, pipeline=pl)
    assert res.stats.valid == 1 and not res.rejected


def test_a_pipeline_registered_twice_is_an_error_naming_both_plugins(tmp_path):
    f = tmp_path / "x.yaml"
    f.write_text("sources: []\n", encoding="utf-8")
    p = _plugin("again", hrguard_register_pipelines=lambda register: register("odoo", f))
    with pytest.raises(PluginError, match="pipeline 'odoo' is registered by two plugins"):
        Engine([p], entrypoints=False)
    q = _plugin("ghost_map", hrguard_register_pipelines=lambda register: register("ghost", tmp_path / "none.yaml"))
    with pytest.raises(PluginError, match="is not a file"):
        Engine([q], entrypoints=False)


# -- the hook reference and the docs for plugin authors -----------------------------------------------
HOOKS_PAGE = ROOT / "docs" / "plugins" / "hooks.md"


def test_every_hook_has_a_section_in_the_hook_reference():
    """docs/plugins/hooks.md has a section per hook of hookspecs.py, showing its signature."""
    import inspect

    text = HOOKS_PAGE.read_text(encoding="utf-8")
    documented = set(re.findall(r"^### `(hrguard_\w+)`", text, flags=re.M))
    assert documented == set(HOOKS), f"undocumented: {sorted(set(HOOKS) - documented)}; gone: {sorted(documented - set(HOOKS))}"
    for name in HOOKS:
        section = re.split(r"^#{2,3} ", text.split(f"### `{name}`", 1)[1], flags=re.M)[0]
        args = list(inspect.signature(getattr(hookspecs, name)).parameters)
        assert re.search(rf"^{name}\({args[0]}: ", section, flags=re.M), f"{name}: no signature in its section"
        assert all(f"{a}:" in section for a in args), f"{name}: the section does not show the arguments {args}"


def test_every_hook_is_tested_here():
    text = Path(__file__).read_text(encoding="utf-8")
    untested = [h for h in HOOKS if text.count(f"{h}=") + text.count(f"def {h}(") < 1]
    assert not untested, f"hooks no test here implements: {untested}"


def test_the_core_knows_no_plugin():
    """hrguard itself never names a plugin: removing one (plugins/...) cannot break the core."""
    for path in (ROOT / "src" / "hrguard").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"hrguard[_-]expense", text), f"{path} names a plugin"


PLUGIN_PAGES = sorted((ROOT / "docs" / "plugins").glob("*.md"))


def _docs_module():
    """tests/test_docs.py, which also runs every page of docs/plugins (its examples and links)."""
    import test_docs  # tests/ is on sys.path while pytest runs them

    return test_docs


def test_the_plugin_pages_are_linked_from_the_index_and_run_by_the_docs_tests():
    index = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    assert all(f"plugins/{p.name}" in index for p in PLUGIN_PAGES)
    assert set(PLUGIN_PAGES) <= set(_docs_module().PAGES)


# -- the template plugin authors copy -----------------------------------------------------------------
TEMPLATE = ROOT / "docs" / "plugins" / "template"


def test_the_template_declares_its_entry_point():
    meta = tomllib.loads((TEMPLATE / "pyproject.toml").read_text(encoding="utf-8"))
    assert meta["project"]["entry-points"]["hrguard"] == {"badges": "hrguard_badges.plugin"}
    assert (TEMPLATE / "src" / "hrguard_badges" / "plugin.py").is_file()


def test_the_guide_shows_the_template_files_as_they_are():
    """Each code block after a line naming a template file (`src/...py`:) is that file, verbatim."""
    page = ROOT / "docs" / "plugins" / "writing-a-plugin.md"
    lines = page.read_text(encoding="utf-8").splitlines()
    shown = 0
    for block in _docs_module().blocks(page):
        before = " ".join(lines[max(0, block.line - 6) : block.line - 1])
        m = re.search(r"`(src/[\w/]+\.py)`[^`]*$", before)
        if m and block.lang == "python":
            assert block.body == (TEMPLATE / m.group(1)).read_text(encoding="utf-8"), f"{m.group(1)} differs"
            shown += 1
    assert shown == 3


def test_the_template_works(tmp_path):
    """The template's own tests pass (the conformance kit among them), from a copy, uninstalled."""
    import shutil

    copy = tmp_path / "hrguard-mine"
    shutil.copytree(TEMPLATE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(copy / "src"), *sys.path])}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=copy, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "2 passed" in proc.stdout


LEAVE = ROOT / "docs" / "plugins" / "leave"


def test_the_leave_example_works_and_its_rules_are_short(tmp_path):
    """The per-event API's worked example (two leave rules) passes its own tests — the conformance kit for
    both rules among them — from a copy, uninstalled; its two rules are at most 40 lines of code."""
    import shutil

    copy = tmp_path / "hrguard-leave"
    shutil.copytree(LEAVE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(copy / "src"), *sys.path])}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=copy, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "2 passed" in proc.stdout
    source = (LEAVE / "src" / "hrguard_leave" / "detectors.py").read_text(encoding="utf-8")
    body = source[source.index("class "):source.index("DETECTORS =")]  # the two classes
    code = [ln for ln in body.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    assert len(code) <= 40, f"{len(code)} lines"
    page = (ROOT / "docs" / "plugins" / "writing-a-plugin.md").read_text(encoding="utf-8")
    first = body[:body.index("class SelfApprovedLeave")].rstrip() + "\n"
    assert "```python\n" + first + "```" in page, "the guide shows ClockInDuringLeave as it is"


def test_builtins_register_through_the_same_hooks():
    engine = Engine(entrypoints=False)
    assert {d.id for d in BUILTIN_DETECTORS} == {k for k, r in engine.registry.detectors.items()
                                                   if r.plugin == "hrguard.plugins.builtins"}
    assert md is not None
