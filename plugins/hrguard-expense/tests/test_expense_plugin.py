"""The plugin as users meet it: installed through the entry point, listed by `hrguard detectors`, its
bundled ruleset and example scan, and every example of README.md and docs/ run and compared.

``python tests/test_expense_plugin.py --update`` rewrites the outputs the pages show with what the
examples print now (review the diff).
"""

from __future__ import annotations

import contextlib
import importlib.metadata as md
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("hrguard_expense")

import hrguard  # noqa: E402
import hrguard_expense  # noqa: E402

PLUGIN = Path(__file__).resolve().parent.parent
PAGES = [PLUGIN / "README.md", *sorted((PLUGIN / "docs").glob("*.md"))]
IDS = ("expense.duplicate_claim", "expense.split_claim", "expense.unapproved_payment")
INSTALLED = any(ep.name == "expense" for ep in md.entry_points(group="hrguard"))
needs_install = pytest.mark.skipif(not INSTALLED, reason="hrguard-expense is not installed: pip install -e plugins/hrguard-expense")


def env() -> dict[str, str]:
    """Only this plugin, whatever else is installed."""
    out = {**os.environ, "HRGUARD_PLUGINS_ALLOW": "expense", "PYTHONIOENCODING": "utf-8", "NO_COLOR": "1"}
    out.pop("HRGUARD_DISABLE_PLUGIN_AUTOLOAD", None)
    out.pop("COLUMNS", None)
    return out


@pytest.fixture
def only_this_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("HRGUARD_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    monkeypatch.setattr(hrguard.engine._default, "_DEFAULT", None)


def hrguard_cli(*args: str, cwd: Path = PLUGIN) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hrguard", *args], cwd=cwd, env=env(), capture_output=True,
                          text=True, encoding="utf-8", timeout=120)


# -- installed like any vendor's plugin ------------------------------------------------------------
@needs_install
def test_the_entry_point_names_the_plugin_module():
    (ep,) = [ep for ep in md.entry_points(group="hrguard") if ep.name == "expense"]
    assert ep.value == "hrguard_expense.plugin" and ep.dist.name == "hrguard-expense"
    assert ep.dist.version == hrguard_expense.__version__


@needs_install
def test_hrguard_detectors_lists_them_with_plugin_and_version():
    out = hrguard_cli("detectors", "--format", "json")
    assert out.returncode == 0, out.stderr
    mine = {d["id"]: d for d in json.loads(out.stdout) if d["id"].startswith("expense.")}
    assert sorted(mine) == list(IDS)
    for d in mine.values():
        assert (d["plugin"], d["distribution"], d["version"]) == ("expense", "hrguard-expense", hrguard_expense.__version__)
    text = hrguard_cli("detectors").stdout
    assert f"default severity high; plugin expense (hrguard-expense {hrguard_expense.__version__})" in text


@needs_install
def test_blocking_the_plugin_leaves_hrguard_without_it():
    out = subprocess.run([sys.executable, "-m", "hrguard", "detectors", "--format", "json"], cwd=PLUGIN,
                         env={**env(), "HRGUARD_PLUGINS_ALLOW": "", "HRGUARD_PLUGINS_BLOCK": "hrguard-expense"},
                         capture_output=True, text=True)
    assert not [d for d in json.loads(out.stdout) if d["id"].startswith("expense.")]


def test_registered_in_code_too():
    engine = hrguard.Engine([hrguard_expense.plugin], entrypoints=False)
    assert {i: engine.registry.detectors[i].plugin for i in IDS} == dict.fromkeys(IDS, "hrguard_expense.plugin")
    assert {"expense.claimed", "expense.paid"} <= set(engine.kinds)
    rs = engine.load_ruleset("expense")  # the bundled ruleset
    assert [r.use for r in rs.rules] == list(IDS) and rs.timezone == "Asia/Shanghai"


@needs_install
def test_the_example_ruleset_scans_the_example_file():
    out = hrguard_cli("scan", "examples/expenses.jsonl", "--ruleset", "examples/expense.yaml", "--format", "jsonl")
    assert out.returncode == 0, out.stderr
    found = [json.loads(line) for line in out.stdout.splitlines()]
    assert [(f["rule"], f["details"].get("reason"), f["evidence"][-1]) for f in found] == [
        ("expense.duplicate_claim", "same_details", "x2"),
        ("expense.split_claim", None, "x5"),
        ("expense.unapproved_payment", "not_approved", "p2"),
        ("expense.unapproved_payment", "no_request", "p3"),
        ("expense.unapproved_payment", "unknown_claim", "p5"),
    ]
    assert "5 findings (3 high, 2 medium)" in out.stderr
    assert hrguard_cli("validate", "examples/expense.yaml").returncode == 0


# -- docs that run -----------------------------------------------------------------------------------
def blocks(page: Path) -> list[tuple[str, int, int, str]]:
    """(language, first line, line after the closing fence, body) of each fenced block; lines 0-based."""
    lines, out, i = page.read_text(encoding="utf-8").splitlines(), [], 0
    while i < len(lines):
        m = re.match(r"^(`{3,})\s*([\w+-]*)", lines[i])
        if not m:
            i += 1
            continue
        start, i = i, i + 1
        while i < len(lines) and not lines[i].startswith(m.group(1)):
            i += 1
        out.append((m.group(2).lower(), start, i + 1, "\n".join(lines[start + 1 : i]) + "\n"))
        i += 1
    return out


def shown(page: Path, block: tuple[str, int, int, str]) -> tuple[str, int, int, str] | None:
    lines = page.read_text(encoding="utf-8").splitlines()
    after = [b for b in blocks(page) if b[1] >= block[2]]
    if after and after[0][0] == "text" and not any(x.strip() for x in lines[block[2] : after[0][1]]):
        return after[0]
    return None


def examples(page: Path) -> list[tuple[int, int, str, str]]:
    """(first line, end line, what ran, what it printed) of every output a page shows, in order."""
    out = []
    namespace: dict[str, object] = {"__name__": "docs"}
    for block in blocks(page):
        lang, start, end, body = block
        if lang == "python":
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                exec(compile(body, f"{page.name}:{start + 1}", "exec"), namespace)  # noqa: S102
            want = shown(page, block)
            if want is not None:
                out.append((want[1] + 1, want[2] - 1, f"python block at line {start + 1}", printed.getvalue()))
        elif lang == "console":
            lines = body.splitlines()
            for k, line in enumerate(lines):
                if not line.startswith("$ hrguard "):
                    continue
                stop = next((j for j in range(k + 1, len(lines)) if lines[j].startswith("$ ")), len(lines))
                cmd = re.sub(r"(^|\|\s*)hrguard ", lambda m: f"{m.group(1)}{sys.executable} -m hrguard ", line[2:])
                proc = subprocess.run(f"{cmd} 2>&1", shell=True, cwd=PLUGIN, env=env(), stdout=subprocess.PIPE,
                                      text=True, encoding="utf-8", timeout=120)
                assert proc.returncode == 0, f"{page.name}:{start + 2 + k}: {line}\n{proc.stdout}"
                shown_lines = lines[k + 1 : stop]
                if any(x.strip() in ("...", "…") for x in shown_lines):
                    continue
                out.append((start + 2 + k, start + 1 + stop, line, proc.stdout))
    return out


def _norm(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip("\n").splitlines()]


@needs_install
@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(PLUGIN).as_posix())
def test_the_docs_run(page: Path, only_this_plugin: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(PLUGIN)
    lines = page.read_text(encoding="utf-8").splitlines()
    for first, end, what, printed in examples(page):
        assert _norm(printed) == _norm("\n".join(lines[first:end])), (
            f"{page.name}: {what} printed\n{printed}\nbut the page shows\n" + "\n".join(lines[first:end]) +
            "\n(python tests/test_expense_plugin.py --update refreshes shown outputs)")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(PLUGIN).as_posix())
def test_the_docs_links_resolve(page: Path) -> None:
    text = re.sub(r"^(`{3,}).*?^\1\s*$", "", page.read_text(encoding="utf-8"), flags=re.S | re.M)
    targets = re.findall(r"\]\(([^)\s#]+)(?:#[^)]*)?\)", re.sub(r"`[^`\n]*`", "", text))
    broken = [t for t in targets if not re.match(r"^[a-z]+:", t) and not (page.parent / t).exists()]
    assert not broken


def test_every_detector_has_a_docs_page_in_both_languages():
    for det in hrguard_expense.DETECTORS:
        assert (PLUGIN / "docs" / f"{det.id}.md").is_file()
        assert f"docs/{det.id}.md" in (PLUGIN / "README.md").read_text(encoding="utf-8")
        assert set(det.messages) == {"en", "zh"}


def update() -> None:
    os.environ.update(env())
    os.environ.pop("HRGUARD_DISABLE_PLUGIN_AUTOLOAD", None)
    os.chdir(PLUGIN)
    for page in PAGES:
        lines = page.read_text(encoding="utf-8").splitlines()
        edits = [(a, b, p.rstrip("\n").splitlines()) for a, b, _, p in examples(page)
                 if _norm(p) != _norm("\n".join(lines[a:b]))]
        for a, b, new in sorted(edits, reverse=True):
            lines[a:b] = new
        if edits:
            page.write_text("\n".join(lines) + "\n", encoding="utf-8")
            print(f"updated {page.relative_to(PLUGIN)}: {len(edits)} output(s)")


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit("usage: python tests/test_expense_plugin.py --update")
    update()
