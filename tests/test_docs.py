"""Docs that run: every ```python block and every `$ hrguard` line of docs/ is executed, every link resolves.

- ```python blocks of one page run in order, in one namespace, with the repo root as the working
  directory. A block opts out only with a ``<!-- no-run -->`` line right before its fence. A block
  followed directly by a ```text block (only blank lines between) must print exactly that text.
- In ```console blocks, each line ``$ hrguard ...`` runs (as ``python -m hrguard``, through the
  shell so ``<`` and ``|`` work) in a scratch copy of the repo's docs/ folder; it must exit 0 unless
  the block shows otherwise with ``$ echo $?`` and the expected code on the next line. The lines
  shown after a command (up to the next ``$``) must be what it prints, stdout and stderr together,
  unless there are none, they contain a ``...`` line (an excerpt), or the command redirects its output.
- Every relative link (and ``#anchor``) in docs/ points at an existing file (and heading), and every
  page is reachable from docs/index.md.

When hrguard's output changes on purpose, ``python tests/test_docs.py --update`` rewrites the shown
outputs of docs/ with what the examples print now (review the diff before committing it).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

import hrguard.engine._default
from hrguard.engine import Engine

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted([ROOT / "README.md", *DOCS.rglob("*.md")])
NO_RUN = "<!-- no-run -->"


def _rel(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


# -- reading pages -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # 1-based line of the opening fence
    end: int  # 1-based line of the closing fence
    lang: str
    body: str
    no_run: bool


def blocks(page: Path) -> list[Block]:
    out: list[Block] = []
    lines = page.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = re.match(r"^(`{3,})\s*([\w+-]*)", lines[i])
        if not m:
            i += 1
            continue
        fence, lang, start = m.group(1), m.group(2).lower(), i
        prev = next((lines[j].strip() for j in range(start - 1, -1, -1) if lines[j].strip()), "")
        i += 1
        body = []
        while i < len(lines) and not lines[i].startswith(fence):
            body.append(lines[i])
            i += 1
        out.append(Block(page, start + 1, i + 1, lang, "\n".join(body) + "\n", prev == NO_RUN))
        i += 1
    return out


def shown_output(page: Path, block: Block) -> Block | None:
    """The ```text block right after ``block`` (only blank lines between): what ``block`` prints."""
    lines = page.read_text(encoding="utf-8").splitlines()
    for nxt in blocks(page):
        if nxt.line > block.end:
            between = lines[block.end : nxt.line - 1]
            return nxt if nxt.lang == "text" and not any(x.strip() for x in between) else None
    return None


def _same_text(got: str, want: str) -> bool:
    def norm(text: str) -> list[str]:
        return [line.rstrip() for line in text.strip("\n").splitlines()]

    return norm(got) == norm(want)


@dataclass(frozen=True)
class Command:
    page: Path
    line: int  # 1-based line of the command in the page
    text: str
    exit_code: int
    output: str | None  # what the page shows it printing (stdout and stderr); None: not checked
    output_end: int  # 1-based line after the shown output

    def __str__(self) -> str:
        return f"{_rel(self.page)}:{self.line}: {self.text}"


def commands(page: Path) -> list[Command]:
    out = []
    for block in blocks(page):
        if block.lang not in ("console", "shell-session"):
            continue
        lines = block.body.splitlines()
        for k, line in enumerate(lines):
            if not line.startswith("$ hrguard "):
                continue
            later = [j for j in range(k + 1, len(lines)) if lines[j].startswith("$ ")]
            stop = later[0] if later else len(lines)
            code = 0
            if later and lines[stop].strip() == "$ echo $?" and stop + 1 < len(lines):
                code = int(lines[stop + 1].strip())
            shown = lines[k + 1 : stop]
            checked = (any(x.strip() for x in shown) and not any(x.strip() in ("...", "…") for x in shown)
                       and ">" not in line.replace("2>&1", ""))
            out.append(Command(page, block.line + 1 + k, line[2:], code, "\n".join(shown) if checked else None,
                               block.line + 1 + stop))
    return out


# -- running them --------------------------------------------------------------------------------
_HRGUARD = f"{shlex.quote(sys.executable)} -m hrguard"


def run_command(cmd: Command, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a docs command as a user would; stderr joins stdout in the order a terminal shows them
    (the CLI writes rejections first and flushes findings before its summary line)."""
    shell = re.sub(r"(^|\|\s*)hrguard ", lambda m: f"{m.group(1)}{_HRGUARD} ", cmd.text)
    env = {**os.environ, "HRGUARD_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONIOENCODING": "utf-8", "NO_COLOR": "1"}
    env.pop("COLUMNS", None)
    return subprocess.run(f"{shell} 2>&1", shell=True, cwd=cwd, stdout=subprocess.PIPE, text=True,
                          encoding="utf-8", env=env, timeout=120)


def run_python(page: Path):
    """Run a page's python blocks in order in one namespace; yield (block, what it printed)."""
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem.replace('.', '_')}"}
    for block in blocks(page):
        if block.lang != "python" or block.no_run:
            continue
        code = compile(block.body, f"{_rel(page)}:{block.line}", "exec")
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(code, namespace)  # noqa: S102 - the docs are ours; running them is the point
        yield block, printed.getvalue()


def copy_docs(where: Path) -> Path:
    shutil.copytree(DOCS, where / "docs")
    return where


# -- tests ---------------------------------------------------------------------------------------
PY_PAGES = [p for p in PAGES if any(b.lang == "python" for b in blocks(p))]
COMMANDS = [c for p in PAGES for c in commands(p)]


@pytest.fixture
def builtins_only(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hrguard.engine._default, "_DEFAULT", engine)
    monkeypatch.setenv("HRGUARD_DISABLE_PLUGIN_AUTOLOAD", "1")


@pytest.mark.parametrize("page", PY_PAGES, ids=_rel)
def test_python_blocks_run(page: Path, monkeypatch: pytest.MonkeyPatch, builtins_only: None) -> None:
    monkeypatch.chdir(ROOT)
    for block, printed in run_python(page):
        want = shown_output(page, block)
        if want is not None:
            assert _same_text(printed, want.body), (
                f"{_rel(page)}:{block.line}: the block printed\n{printed}\nbut the page shows (line {want.line})\n"
                f"{want.body}\n(python tests/test_docs.py --update refreshes shown outputs)")


def test_no_run_is_used_sparingly() -> None:
    skipped = [f"{_rel(b.page)}:{b.line}" for p in PAGES for b in blocks(p) if b.no_run]
    ran = [b for p in PAGES for b in blocks(p) if b.lang == "python" and not b.no_run]
    assert len(skipped) <= max(2, len(ran) // 5), f"too many blocks opted out of running: {skipped}"


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scratch folder holding a copy of docs/, so commands may write files (``--out``) freely."""
    return copy_docs(tmp_path_factory.mktemp("docs-run"))


@pytest.mark.parametrize("cmd", COMMANDS, ids=str)
@pytest.mark.xdist_group("docs-console")  # one scratch folder: a page's commands build on each other
def test_console_commands_run(cmd: Command, scratch: Path) -> None:
    proc = run_command(cmd, scratch)
    assert proc.returncode == cmd.exit_code, (
        f"{cmd}\nexited {proc.returncode}, the docs say {cmd.exit_code}\noutput:\n{proc.stdout[-3000:]}")
    if cmd.output is not None:
        assert _same_text(proc.stdout, cmd.output), (
            f"{cmd}\nprinted:\n{proc.stdout}\nbut the page shows:\n{cmd.output}\n"
            f"(python tests/test_docs.py --update refreshes shown outputs)")


def test_the_docs_show_commands() -> None:
    assert len(COMMANDS) >= 10
    assert {"scan", "validate", "detectors", "schema"} <= {c.text.split()[1] for c in COMMANDS}


# -- links ---------------------------------------------------------------------------------------
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_FENCED = re.compile(r"^(`{3,}).*?^\1\s*$", flags=re.S | re.M)


def _prose(page: Path) -> str:
    """The page without its fenced code blocks and inline code spans (links there are not links)."""
    return re.sub(r"`[^`\n]*`", "", _FENCED.sub("", page.read_text(encoding="utf-8")))


def _slug(heading: str) -> str:
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", lambda m: m.group(1) or "", heading.strip().lower())
    return re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", text))


def anchors(page: Path) -> set[str]:
    text = _FENCED.sub("", page.read_text(encoding="utf-8"))
    return {_slug(h) for h in re.findall(r"^#{1,6}\s+(.*?)\s*#*\s*$", text, flags=re.M)}


def links(page: Path) -> list[str]:
    return [t for t in _LINK.findall(_prose(page)) if not re.match(r"^[a-z][a-z0-9+.-]*:", t)]


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_relative_links_resolve(page: Path) -> None:
    broken = []
    for target in links(page):
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target}: no heading #{anchor} in {dest.name}")
    assert not broken, f"{_rel(page)}: " + "; ".join(broken)


def test_every_page_is_reachable_from_the_index() -> None:
    seen, todo = set(), [DOCS / "index.md", ROOT / "README.md"]
    while todo:
        page = todo.pop()
        if page in seen or page.suffix != ".md" or not page.exists():
            continue
        seen.add(page)
        todo += [(page.parent / t.partition("#")[0]).resolve() for t in links(page) if t.partition("#")[0]]
    assert not [_rel(p) for p in PAGES if p.resolve() not in seen]


def test_the_parser_sees_what_a_reader_sees(tmp_path: Path) -> None:
    page = tmp_path / "p.md"
    page.write_text("# A `b` c\n\n<!-- no-run -->\n```python\nx = 1\n```\n\n```text\n1\n```\n"
                    "````console\n$ hrguard detectors\n$ hrguard validate nope\n...\n$ echo $?\n2\n"
                    "$ hrguard schema events > x.json\n````\n[x](y.md#z) `[no](link.md)`\n", encoding="utf-8")
    bs = blocks(page)
    assert [(b.lang, b.line, b.end, b.no_run) for b in bs] == [
        ("python", 4, 6, True), ("text", 8, 10, False), ("console", 11, 18, False)]
    assert shown_output(page, bs[0]) == bs[1]
    assert [(c.text, c.exit_code, c.line, c.output) for c in commands(page)] == [
        ("hrguard detectors", 0, 12, None), ("hrguard validate nope", 2, 13, None),
        ("hrguard schema events > x.json", 0, 17, None)]
    assert links(page) == ["y.md#z"] and anchors(page) == {"a-b-c"}


# -- python tests/test_docs.py --update ----------------------------------------------------------
def update(pages: list[Path]) -> None:
    """Rewrite every checked output shown in ``pages`` with what the examples print now."""
    os.environ["HRGUARD_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    os.chdir(ROOT)
    with tempfile.TemporaryDirectory() as tmp:
        where = copy_docs(Path(tmp))
        for page in pages:
            edits: list[tuple[int, int, list[str]]] = []  # (first line, end line exclusive, new lines), 0-based
            for block, printed in run_python(page):
                want = shown_output(page, block)
                if want is not None and not _same_text(printed, want.body):
                    edits.append((want.line, want.end - 1, printed.rstrip("\n").splitlines()))
            for cmd in commands(page):
                if cmd.output is None:
                    continue
                proc = run_command(cmd, where)
                if not _same_text(proc.stdout, cmd.output):
                    edits.append((cmd.line, cmd.output_end - 1, proc.stdout.rstrip("\n").splitlines()))
            if not edits:
                continue
            lines = page.read_text(encoding="utf-8").splitlines()
            for first, end, new in sorted(edits, reverse=True):
                lines[first:end] = new
            page.write_text("\n".join(lines) + "\n", encoding="utf-8")
            print(f"updated {_rel(page)}: {len(edits)} output(s)")


if __name__ == "__main__":
    if sys.argv[1:2] != ["--update"]:
        sys.exit("usage: python tests/test_docs.py --update [PAGE.md ...]")
    update([Path(p).resolve() for p in sys.argv[2:]] or PAGES)
