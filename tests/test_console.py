"""Where rich would write plain text, the console writes it itself, byte for byte as rich does;
what it is not sure of goes to rich. Engine-free commands do not load rich or typer."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from stackctl import console

LINES = [
    "plain words",
    "  [create]   create[/] docker-compose.yml  (new)",
    "[bold]services[/] and [dim]more[/dim]",
    "a path /srv/stacks/docker-ente/.env and 10.0.0.1:8080",
    "brackets [1] and [A] and a:b and 12:30",
    "a tag-like text " + console.escape("[ok] kept [/] as text") + " end",
    "backslash \\ alone and at the end\\",
    ":smile: and :thumbs_up: and a:b:c",
    "a tab\there",
    "two\nlines",
    "wide 漢字 and bullets ••••",
    "[bogus]unknown style[/]",
]


LITERALS = [
    "",
    "server {\n    listen 443 ssl;\n    location ~ \\.php$ {\n"
    "        proxy_pass http://127.0.0.1:3000;\n    }\n}\n",
    "listen [::1]:8080; and :: and a:b:c and 12:30:45",
    "[bold]not markup[/] and [ok]x[/ok] and \\[escaped]",
    ":smile: and :Thumbs_Up: and :+1: and :smile-text: here",
    "header X-Upgrade:websocket:yes and :no such emoji:",
    "trailing spaces   \n\n  indented\n",
    "a tab\there",
    "{\n\treverse_proxy 10.0.0.2 {\n\t\theader_up Host {host}\n\t}\n1234567\tx\t\t\n",
    "tabs after wide text: 漢字\tx",
    "a carriage\rreturn",
    "wide 漢字 and bullets ••••",
]


@pytest.fixture
def fresh_rich(monkeypatch: pytest.MonkeyPatch) -> None:
    """rich consoles made anew for each case (they read $COLUMNS when made)."""
    for name in ("out", "err"):
        monkeypatch.delitem(console.__dict__, name, raising=False)


def _both(capsys, monkeypatch, write) -> tuple[str, str]:
    capsys.readouterr()
    write()
    ours = capsys.readouterr()
    with monkeypatch.context() as patched:
        patched.setattr(console, "_plain_text", lambda markup: None)
        patched.setattr(console, "_plain_table", lambda *args: None)
        write()
    by_rich = capsys.readouterr()
    return ours.out + "|" + ours.err, by_rich.out + "|" + by_rich.err


@pytest.mark.parametrize("line", LINES)
def test_a_line_is_written_as_rich_writes_it(line, capsys, monkeypatch, fresh_rich):
    for write in (console.info, console.ok, console.warn, console.step):
        ours, by_rich = _both(capsys, monkeypatch, lambda w=write: w(line))
        assert ours == by_rich, write.__name__


@pytest.mark.parametrize("text", LITERALS)
@pytest.mark.parametrize("end", ["\n", ""])
def test_literal_text_is_written_as_rich_writes_it(text, end, capsys, monkeypatch, fresh_rich):
    capsys.readouterr()
    console.literal(text, end=end)
    console.literal(text, stderr=True, end=end)
    ours = capsys.readouterr()
    with monkeypatch.context() as patched:
        patched.setattr(console, "_plain_literal", lambda text: False)
        console.literal(text, end=end)
        console.literal(text, stderr=True, end=end)
    by_rich = capsys.readouterr()
    assert (ours.out, ours.err) == (by_rich.out, by_rich.err)


def test_a_proxy_config_needs_no_rich():
    assert console._plain_literal(LITERALS[1])
    assert not console._plain_literal(LITERALS[8])  # a tab: literal() expands it first
    assert console._plain_literal(LITERALS[8].expandtabs(8))
    assert not console._plain_literal(LITERALS[4])


def test_an_error_and_its_hint_as_rich_writes_them(capsys, monkeypatch, fresh_rich):
    ours, by_rich = _both(capsys, monkeypatch, lambda: console.error("x [y] z", "see `a --b`"))
    assert ours == by_rich and "error: x [y] z" in ours


def test_escape_shows_text_as_it_is(capsys, monkeypatch, fresh_rich):
    from rich.markup import escape as rich_escape

    for text in [*LINES, "[a]", "\\[a]", "\\\\[a]", "end\\", "end\\\\", "[#fff]", "[@x]"]:
        assert console.escape(text) == rich_escape(text)


TABLES = [
    (
        "secrets of ente (/srv/ente/.env)",
        ["name", "value", "format", "check"],
        [["ENTE_KEY", "••••••••", "base64", "ok"], ["ENTE_SMTP", "(missing)", "provided", ""]],
    ),
    ("", ["a"], [["1"], [""]]),
    ("a title much longer than the little table it names", ["k", "v"], [["a", "b"]]),
    (
        "recipes",
        ["recipe", "app version", "services", "description"],
        [["ente", "1.2", "museum, web", "Photos " * 12], ["wbo", "", "wbo", "Board"]],
    ),
    ("odd", ["k", "v"], [["[x]", "a:smile:b"], ["tab\there", "漢字"]]),
]


@pytest.mark.parametrize("columns", ["40", "80", "200"])
@pytest.mark.parametrize(("title", "heads", "rows"), TABLES)
def test_a_table_is_drawn_as_rich_draws_it(
    title, heads, rows, columns, capsys, monkeypatch, fresh_rich
):
    monkeypatch.setenv("COLUMNS", columns)
    ours, by_rich = _both(capsys, monkeypatch, lambda: console.table(title, heads, rows))
    assert ours == by_rich


def test_the_width_is_the_one_rich_gives(monkeypatch, fresh_rich):
    from rich.console import Console

    for columns in ("33", "0", None):
        if columns is None:
            monkeypatch.delenv("COLUMNS", raising=False)
        else:
            monkeypatch.setenv("COLUMNS", columns)
        assert console._width() == Console().width


def test_a_terminal_or_forced_colour_goes_to_rich(monkeypatch):
    class Terminal:
        def isatty(self) -> bool:
            return True

    assert not console._plain_stream(Terminal())
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert not console._plain_stream(sys.stdout)
    monkeypatch.setenv("TTY_COMPATIBLE", "0")
    assert console._plain_stream(Terminal())


@pytest.mark.parametrize(
    "argv",
    [
        ["recipes"],
        ["secrets", "show", "ente"],
        ["plan", "ente"],
        ["config"],
        ["proxy", "ente", "--dialect", "nginx"],
        ["host-snippets", "ente"],
    ],
)
def test_engine_free_commands_load_neither_rich_typer_nor_jinja(argv, tmp_path, site_file):
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env["STACKCTL_CONFIG"] = str(site_file())  # a long stacks path: a title wider than its table
    env.pop("COLUMNS", None)
    probe = (
        f"import sys; sys.argv = ['stackctl', *{argv!r}]\n"
        "try:\n    from stackctl.entry import main; main()\nexcept SystemExit: pass\n"
        "sys.stderr.write(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    for _ in range(2):  # the first run describes the CLI with typer, and renders with Jinja
        done = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, env=env
        )
    loaded = set(done.stderr.split())
    assert done.stdout and not loaded & {"rich", "typer", "click", "jinja2"}
    assert not loaded & {"docker", "python_on_whales", "pydantic"}


def test_simple_tables_and_lines_need_no_rich(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    secrets, one_column, _, recipes, odd = TABLES
    assert console._plain_table(*secrets) is not None
    assert console._plain_table(*one_column) is not None
    assert console._plain_table(*recipes).startswith("recipes\n  ente\n    app version: 1.2\n")
    assert console._plain_table(*odd) is None
    assert console._plain_table(*TABLES[2]).startswith(TABLES[2][0] + "\n┏━━━┳━━━┓\n")
    assert console._plain_text(LINES[1]) == "     create docker-compose.yml  (new)"
