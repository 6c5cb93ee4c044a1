"""Every code sample of the documentation runs, so the docs cannot drift from the code.

One test per page (``docs/**/*.md`` and ``README.md``). The conventions a page follows:

* ```` ```python ```` blocks run in order in one namespace per page, with a fresh temporary
  directory as the working directory; top-level ``await`` is allowed.
* A block with a title (```` ```python title="mymodels.py" ````, ```` ```toml
  title="pyproject.toml" ````...) is written to that file in the temporary directory
  instead; the directory is on ``sys.path`` while the page runs.
* ```` ```console ```` blocks: each ``$ `` line (joined with its ``\\`` continuation lines)
  runs with bash in the same directory and must exit 0, or N when it ends with
  ``# exits N``. ``export`` and ``cd`` carry over to the page's later lines and blocks.
* ``postgresql[+driver]://user:pass@localhost/<db>`` becomes the URL of a real database on
  the session's PostgreSQL server, one database per ``<db>`` name and page; likewise
  ``mysql[+driver]://`` and ``mariadb[+driver]://user:pass@localhost/<db>`` on the session's
  MariaDB server.
* ``<!-- docs-test: skip -->`` on the line before a fence leaves that block out.
* ``<!-- docs-test: requires mlflow -->`` on the line before a fence runs that block only
  where the modules it names (comma-separated) can be imported: samples that need a real
  project (``tox -e realprojects`` installs those). Where one is missing, the block is left
  out and the page's test ends as skipped, naming what it left out, once every other
  block has passed; with ``PYDAPTER_REALPROJECTS=1`` (set by that tox environment) a
  missing module fails the page instead. The blocks left out must not be ones the rest
  of the page builds on.
* Any other block is only shown.

``mkdocs build --strict`` must pass too.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import importlib
import importlib.util
import inspect
import os
import re
import shlex
import subprocess
import sys
import tempfile
import textwrap
import traceback
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import pydapter_migrations.registry as registry_module

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SKIP_MARKER = "<!-- docs-test: skip -->"
_REQUIRES = re.compile(r"^<!--\s*docs-test:\s*requires\s+(?P<modules>[\w., ]+?)\s*-->$")
#: Set where the required modules are promised (``tox -e realprojects``).
REQUIRED_EVERYWHERE_FLAG = "PYDAPTER_REALPROJECTS"
PYTHON_LANGUAGES = frozenset({"python", "py"})
CONSOLE_LANGUAGES = frozenset({"console"})
CONSOLE_TIMEOUT = 240  # seconds for one command line

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`]*?)[ \t]*$")
_TITLE = re.compile(r"""\btitle=(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>\S+))""")
_EXITS = re.compile(r"#\s*exits\s+(?P<code>\d+)\s*$")
_PG_URL = re.compile(
    r"postgresql(?P<driver>\+\w+)?://user:pass@localhost(?::\d+)?/(?P<db>[A-Za-z_][\w]*)"
)
_MARIADB_URL = re.compile(
    r"(?P<scheme>(?:mysql|mariadb)(?:\+\w+)?)://user:pass@localhost(?::\d+)?/(?P<db>[A-Za-z_][\w]*)"
)
# Variables bash sets on its own; copying them back would only add noise.
_SHELL_OWN_VARIABLES = frozenset({"_", "PWD", "OLDPWD", "SHLVL"})


@dataclass(frozen=True)
class Block:
    """One fenced code block of a page."""

    page: Path
    line: int  # 1-based line of the first line of code (after the opening fence)
    language: str
    title: str | None
    code: str
    skipped: bool
    requires: tuple[str, ...] = ()  # modules the block needs (``docs-test: requires``)

    @property
    def where(self) -> str:
        return f"{_relative(self.page)}:{self.line}"


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def parse_blocks(page: Path) -> list[Block]:
    """The fenced code blocks of ``page``, in order (indented fences too, e.g. in tabs)."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent, fence, info = opening["indent"], opening["fence"], opening["info"]
        previous = next((ln.strip() for ln in reversed(lines[:index]) if ln.strip()), "")
        body: list[str] = []
        end = index + 1
        while end < len(lines):
            closing = _FENCE.match(lines[end])
            if (
                closing is not None
                and closing["fence"][0] == fence[0]
                and len(closing["fence"]) >= len(fence)
                and not closing["info"]
            ):
                break
            line = lines[end]
            body.append(line[len(indent) :] if line.startswith(indent) else line.lstrip())
            end += 1
        language = info.split()[0].lstrip("{.").rstrip("}").lower() if info else ""
        title = _TITLE.search(info)
        requires = _REQUIRES.match(previous)
        blocks.append(
            Block(
                page=page,
                line=index + 2,
                language=language,
                title=(title["dq"] or title["sq"] or title["bare"]) if title else None,
                code="\n".join(body) + ("\n" if body else ""),
                skipped=previous == SKIP_MARKER,
                requires=tuple(
                    name.strip() for name in requires["modules"].split(",") if name.strip()
                )
                if requires
                else (),
            )
        )
        index = end + 1
    return blocks


def _pages() -> list[Path]:
    pages = sorted(DOCS.glob("**/*.md"))
    readme = ROOT / "README.md"
    if readme.is_file():
        pages.append(readme)
    return pages


def _failure(block: Block, what: str, details: str) -> str:
    numbered = "\n".join(
        f"{block.line + offset:5d} | {text}" for offset, text in enumerate(block.code.splitlines())
    )
    return f"{block.where}: {what}\n\n{numbered}\n\n{details.rstrip()}"


class PostgresURLs:
    """Maps the placeholder PostgreSQL URLs of one page to real databases."""

    def __init__(self, server_factory: Callable[[], Any]) -> None:
        self._server_factory = server_factory
        self._server: Any = None
        self._databases: dict[str, str] = {}

    def __call__(self, text: str) -> str:
        return _PG_URL.sub(self._replace, text)

    def _replace(self, match: re.Match[str]) -> str:
        if self._server is None:
            self._server = self._server_factory()
        name = match["db"]
        if name not in self._databases:
            self._databases[name] = self._server.create_database()
        return str(
            self._server.url(self._databases[name], driver=f"postgresql{match['driver'] or ''}")
        )


class MariaDBURLs:
    """Maps the placeholder MySQL / MariaDB URLs of one page to real databases."""

    def __init__(self, server_factory: Callable[[], Any]) -> None:
        self._server_factory = server_factory
        self._server: Any = None
        self._databases: dict[str, str] = {}

    def __call__(self, text: str) -> str:
        return _MARIADB_URL.sub(self._replace, text)

    def _replace(self, match: re.Match[str]) -> str:
        if self._server is None:
            self._server = self._server_factory()
        name = match["db"]
        if name not in self._databases:
            self._databases[name] = self._server.create_database()
        return str(self._server.url(self._databases[name], driver=match["scheme"]))


class PageRunner:
    """Runs one page's blocks: one Python namespace, one working directory, one shell state."""

    def __init__(self, page: Path, workdir: Path, substitute: Callable[[str], str]) -> None:
        self.page = page
        self.workdir = workdir
        self.substitute = substitute
        self.module = types.ModuleType("docs_page_" + re.sub(r"\W", "_", _relative(page)))
        self.namespace = self.module.__dict__
        #: Blocks not run because a module they require is missing, with those modules.
        self.left_out: list[tuple[Block, list[str]]] = []

    def run(self, block: Block) -> None:
        if block.skipped:
            return
        missing = [name for name in block.requires if not _importable(name)]
        if missing:
            if _flag(REQUIRED_EVERYWHERE_FLAG):
                pytest.fail(
                    _failure(
                        block,
                        f"needs {', '.join(missing)}, which is not installed",
                        f"{REQUIRED_EVERYWHERE_FLAG} is set: every block must run here",
                    ),
                    pytrace=False,
                )
            self.left_out.append((block, missing))
            return
        if block.title is not None:
            self.write_file(block)
        elif block.language in PYTHON_LANGUAGES:
            self.run_python(block)
        elif block.language in CONSOLE_LANGUAGES:
            self.run_console(block)

    def write_file(self, block: Block) -> None:
        assert block.title is not None
        if Path(block.title).is_absolute() or ".." in Path(block.title).parts:
            pytest.fail(
                _failure(block, "a title must be a path inside the page's directory", block.title),
                pytrace=False,
            )
        target = self.workdir / block.title
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(self.substitute(block.code), encoding="utf-8")
        importlib.invalidate_caches()

    def run_python(self, block: Block) -> None:
        # Padding puts the code at its line in the page, so tracebacks name page lines.
        source = "\n" * (block.line - 1) + self.substitute(block.code)
        try:
            code = compile(source, str(block.page), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        except SyntaxError:
            pytest.fail(
                _failure(block, "python block does not compile", traceback.format_exc(limit=0)),
                pytrace=False,
            )
        try:
            if code.co_flags & inspect.CO_COROUTINE:
                asyncio.run(eval(code, self.namespace))
            else:
                exec(code, self.namespace)
        except Exception as error:
            # Drop this runner's own frame: the page's frames are what matters.
            tb = error.__traceback__
            details = "".join(
                traceback.format_exception(type(error), error, tb.tb_next if tb else None)
            )
            pytest.fail(_failure(block, "python block failed", details), pytrace=False)

    def run_console(self, block: Block) -> None:
        for command in _console_commands(block.code):
            self.run_command(block, command)

    def run_command(self, block: Block, command: str) -> None:
        exits = _EXITS.search(command)
        expected = int(exits["code"]) if exits else 0
        command = self.substitute(command)
        with tempfile.TemporaryDirectory(prefix="docs-shell-") as state:
            env_file, cwd_file = Path(state, "env"), Path(state, "cwd")
            # The trailer saves what the line exported and where it cd'ed, for later lines.
            script = (
                f"{command}\n__docs_rc=$?\n"
                f"env -0 > {shlex.quote(str(env_file))}\n"
                f"pwd > {shlex.quote(str(cwd_file))}\n"
                'exit "$__docs_rc"\n'
            )
            try:
                result = subprocess.run(
                    ["bash", "-c", script],
                    cwd=os.getcwd(),
                    env=_shell_environment(),
                    capture_output=True,
                    text=True,
                    timeout=CONSOLE_TIMEOUT,
                    check=False,
                )
            except subprocess.TimeoutExpired as timeout:
                pytest.fail(
                    _failure(
                        block,
                        f"`{command}` did not finish within {CONSOLE_TIMEOUT}s",
                        f"stdout:\n{_text(timeout.stdout)}\nstderr:\n{_text(timeout.stderr)}",
                    ),
                    pytrace=False,
                )
            if result.returncode != expected:
                pytest.fail(
                    _failure(
                        block,
                        f"`{command}` exited {result.returncode}, expected {expected}",
                        f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}",
                    ),
                    pytrace=False,
                )
            if env_file.exists():
                self._adopt_shell_state(env_file, cwd_file)

    @staticmethod
    def _adopt_shell_state(env_file: Path, cwd_file: Path) -> None:
        exported = {}
        for entry in env_file.read_text(errors="replace").split("\0"):
            name, sep, value = entry.partition("=")
            if sep and name not in _SHELL_OWN_VARIABLES:
                exported[name] = value
        for name in set(os.environ) - set(exported):
            del os.environ[name]
        os.environ.update(exported)
        cwd = cwd_file.read_text().strip()
        if cwd and Path(cwd).is_dir():
            os.chdir(cwd)


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a dotted name whose parent package is missing
        return False


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes"}


def _text(output: str | bytes | None) -> str:
    # TimeoutExpired carries bytes even when the run asked for text.
    if isinstance(output, bytes):
        return output.decode(errors="replace")
    return output or ""


def _shell_environment() -> dict[str, str]:
    """The environment plus this Python's scripts folder first on PATH (``pydapter-migrate``)."""
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    path = env.get("PATH", "")
    if bindir not in path.split(os.pathsep):
        env["PATH"] = os.pathsep.join([bindir, path]) if path else bindir
    return env


def _console_commands(code: str) -> Iterator[str]:
    """The ``$ `` lines of a console block, continuation lines joined."""
    lines = iter(code.splitlines())
    for line in lines:
        if not line.startswith("$ "):
            continue  # output shown to the reader
        command = line[2:]
        while command.endswith("\\"):
            following = next(lines, None)
            if following is None:
                break
            command = command[:-1] + following.removeprefix("> ")
        yield command.strip()


@contextlib.contextmanager
def _isolated_page(workdir: Path, runner: PageRunner) -> Iterator[None]:
    """Working directory, ``sys.path``, environment, imported modules and the adapter
    registry as they were, once the page is done (so two pages may both define ``mymodels``)."""
    saved_cwd = os.getcwd()
    saved_env = dict(os.environ)
    saved_modules = set(sys.modules)
    saved_registry = registry_module._default
    root = str(workdir.resolve())
    sys.path.insert(0, root)
    sys.modules[runner.module.__name__] = runner.module
    # A fresh registry: hook plugins and adapters a page registers stay with that page.
    registry_module._default = None
    os.chdir(workdir)
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        registry_module._default = saved_registry
        with contextlib.suppress(ValueError):
            sys.path.remove(root)
        for name in set(sys.modules) - saved_modules:
            module = sys.modules.get(name)
            origin = getattr(module, "__file__", None)
            if module is runner.module or (origin and str(Path(origin).resolve()).startswith(root)):
                del sys.modules[name]
        importlib.invalidate_caches()


@pytest.mark.timeout(900)
def _page_params() -> list[Any]:
    """One parameter per page; pages that use PostgreSQL or MariaDB carry the
    ``postgresql`` or ``mariadb`` mark."""
    params = []
    for page in _pages():
        text = page.read_text(encoding="utf-8")
        marks = [
            mark
            for pattern, mark in (
                (_PG_URL, pytest.mark.postgresql),
                (_MARIADB_URL, pytest.mark.mariadb),
            )
            if pattern.search(text) is not None
        ]
        params.append(pytest.param(page, id=_relative(page), marks=marks))
    return params


@pytest.mark.parametrize("page", _page_params())
def test_page_samples_run(page: Path, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Every runnable block of ``page`` runs and succeeds, in order."""
    blocks = parse_blocks(page)
    workdir = tmp_path / "work"
    workdir.mkdir()
    postgresql = PostgresURLs(lambda: request.getfixturevalue("postgresql_server"))
    mariadb = MariaDBURLs(lambda: request.getfixturevalue("mariadb_server"))
    runner = PageRunner(page, workdir, lambda text: mariadb(postgresql(text)))
    with _isolated_page(workdir, runner):
        for block in blocks:
            runner.run(block)
    if runner.left_out:
        # Everything else passed; say what did not run rather than pass in silence.
        modules = sorted({name for _, missing in runner.left_out for name in missing})
        lines = ", ".join(str(block.line) for block, _ in runner.left_out)
        pytest.skip(
            f"{_relative(page)}: the blocks at lines {lines} need {', '.join(modules)} "
            "(not installed; tox -e realprojects runs them); every other block passed"
        )


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


@pytest.mark.timeout(300)
def test_mkdocs_build_strict(tmp_path: Path) -> None:
    """The site builds with ``--strict``: no broken link, no page missing from the nav."""
    try:
        import mkdocs  # noqa: F401
    except ImportError:
        if _in_ci():
            pytest.fail("CI=true but mkdocs is not installed (pip install -e '.[dev]')")
        pytest.skip("mkdocs is not installed (pip install -e '.[dev]')")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},  # silence a theme banner
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}{result.stderr}"


# -- the executor's own rules, checked on small pages ------------------------------


def _page(tmp_path: Path, text: str) -> Path:
    page = tmp_path / "page.md"
    page.write_text(textwrap.dedent(text), encoding="utf-8")
    return page


def test_parser_reads_titles_skips_and_line_numbers(tmp_path: Path) -> None:
    page = _page(
        tmp_path,
        """\
        Intro

        ```python title="pkg/mod.py"
        X = 1
        ```

        <!-- docs-test: skip -->
        ```console
        $ rm -rf /
        ```

        !!! note
            ```python
            print("indented")
            ```
        """,
    )
    blocks = parse_blocks(page)
    assert [(b.language, b.title, b.skipped, b.line) for b in blocks] == [
        ("python", "pkg/mod.py", False, 4),
        ("console", None, True, 9),
        ("python", None, False, 14),
    ]
    assert blocks[2].code == 'print("indented")\n'


def test_console_commands_join_continuations() -> None:
    code = "$ echo a \\\n  b\noutput line\n$ false  # exits 1\n"
    assert list(_console_commands(code)) == ["echo a   b", "false  # exits 1"]


def test_runner_runs_files_python_await_and_shell(tmp_path: Path) -> None:
    page = _page(
        tmp_path,
        """\
        ```python title="helpers_for_docs_test.py"
        VALUE = 41
        ```

        ```python
        import asyncio
        import helpers_for_docs_test
        await asyncio.sleep(0)
        answer = helpers_for_docs_test.VALUE + 1
        ```

        ```console
        $ export DOCS_TEST_VAR=hello
        $ mkdir sub && cd sub
        $ test "$DOCS_TEST_VAR" = hello
        $ exit 3  # exits 3
        ```

        ```python
        import os
        assert answer == 42 and os.environ["DOCS_TEST_VAR"] == "hello"
        assert os.path.basename(os.getcwd()) == "sub"
        ```
        """,
    )
    workdir = tmp_path / "work"
    workdir.mkdir()
    runner = PageRunner(page, workdir, lambda text: text)
    with _isolated_page(workdir, runner):
        for block in parse_blocks(page):
            runner.run(block)
    assert "helpers_for_docs_test" not in sys.modules
    assert "DOCS_TEST_VAR" not in os.environ
    assert str(workdir.resolve()) not in sys.path


def test_runner_reports_page_line_and_code(tmp_path: Path) -> None:
    page = _page(tmp_path, "text\n\n```python\nx = 1\nraise ValueError('boom')\n```\n")
    workdir = tmp_path / "work"
    workdir.mkdir()
    runner = PageRunner(page, workdir, lambda text: text)
    with pytest.raises(pytest.fail.Exception) as failed, _isolated_page(workdir, runner):
        for block in parse_blocks(page):
            runner.run(block)
    message = str(failed.value)
    assert f"{page}:4: python block failed" in message
    assert "    5 | raise ValueError('boom')" in message
    assert "ValueError: boom" in message
    assert f'File "{page}", line 5' in message


def test_console_exit_status_is_checked(tmp_path: Path) -> None:
    page = _page(tmp_path, "```console\n$ exit 2\n```\n")
    workdir = tmp_path / "work"
    workdir.mkdir()
    runner = PageRunner(page, workdir, lambda text: text)
    with pytest.raises(pytest.fail.Exception) as failed, _isolated_page(workdir, runner):
        for block in parse_blocks(page):
            runner.run(block)
    assert "`exit 2` exited 2, expected 0" in str(failed.value)


def test_blocks_that_need_a_missing_module_are_left_out_and_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = _page(
        tmp_path,
        """\
        ```python
        ran = ["first"]
        ```

        <!-- docs-test: requires json, no_such_module_for_docs_test -->
        ```python
        import no_such_module_for_docs_test
        ```

        <!-- docs-test: requires json,  os.path -->
        ```python
        ran.append("present")
        ```
        """,
    )
    blocks = parse_blocks(page)
    assert [b.requires for b in blocks] == [
        (),
        ("json", "no_such_module_for_docs_test"),
        ("json", "os.path"),
    ]
    monkeypatch.delenv(REQUIRED_EVERYWHERE_FLAG, raising=False)
    workdir = tmp_path / "work"
    workdir.mkdir()
    runner = PageRunner(page, workdir, lambda text: text)
    with _isolated_page(workdir, runner):
        for block in blocks:
            runner.run(block)
    assert runner.namespace["ran"] == ["first", "present"]
    assert [(b.line, missing) for b, missing in runner.left_out] == [
        (7, ["no_such_module_for_docs_test"])
    ]

    # Where the modules are promised, a missing one fails the page.
    monkeypatch.setenv(REQUIRED_EVERYWHERE_FLAG, "1")
    runner = PageRunner(page, workdir, lambda text: text)
    with pytest.raises(pytest.fail.Exception) as failed, _isolated_page(workdir, runner):
        for block in blocks:
            runner.run(block)
    assert "needs no_such_module_for_docs_test, which is not installed" in str(failed.value)


@pytest.mark.postgresql
def test_postgresql_placeholders_become_real_databases(postgresql_server: Any) -> None:
    import psycopg

    from pydapter_migrations.urls import DatabaseURL

    substitute = PostgresURLs(lambda: postgresql_server)
    urls = substitute(
        "postgresql://user:pass@localhost/mydb postgresql+asyncpg://user:pass@localhost/mydb "
        "postgresql+psycopg://user:pass@localhost/analytics_db"
    ).split()
    assert [url.split("://")[0] for url in urls] == [
        "postgresql",
        "postgresql+asyncpg",
        "postgresql+psycopg",
    ]
    names = []
    for url in urls:
        kwargs = DatabaseURL.parse(url).sync().psycopg_kwargs()
        with psycopg.connect(**kwargs) as conn:
            row = conn.execute("SELECT current_database()").fetchone()
            assert row is not None
            names.append(row[0])
    assert names[0] == names[1] != names[2]
    assert substitute("postgresql://user:pass@localhost/mydb") == urls[0]


@pytest.mark.mariadb
def test_mariadb_placeholders_become_real_databases(mariadb_server: Any) -> None:
    from pydapter_migrations.connections import connect

    substitute = MariaDBURLs(lambda: mariadb_server)
    urls = substitute(
        "mysql://user:pass@localhost/shop mysql+aiomysql://user:pass@localhost/shop "
        "mariadb+pymysql://user:pass@localhost:3306/reports"
    ).split()
    assert [url.split("://")[0] for url in urls] == ["mysql", "mysql+aiomysql", "mariadb+pymysql"]
    names = []
    for url in urls:
        with connect(url) as session:
            names.append(session.scalar("SELECT DATABASE()"))
    assert names[0] == names[1] != names[2]
    assert substitute("mysql://user:pass@localhost/shop") == urls[0]
    assert substitute("postgresql://user:pass@localhost/shop") == (
        "postgresql://user:pass@localhost/shop"
    )
