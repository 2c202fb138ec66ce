"""The strict env-file reader and the writer's quoting: what is written reads back byte for byte."""

from __future__ import annotations

import os
import random
import stat

import pytest

from stackctl.envfile import format_value, merge_env, parse_env, read_env, write_private
from stackctl.errors import SecretError

HOSTILE = [
    "abc\\",
    "\\",
    "\\\\",
    "a'b",
    "'",
    "it\\'s",
    'q"b',
    "$HOME #x",
    "$$",
    "\\$",
    "${X:-y}",
    "pa ss # not a comment",
    "  leading and trailing  ",
    "tab\there",
    "é ☃ 𝄞 zero\u200bwidth",
    "a\u2028b\u0085c\x0bd",
    "#starts-with-hash",
    "=starts=with=equals",
    "\"'\\$#` ;&|",
    "",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_read_back_unchanged(value):
    (entry,) = parse_env(f"KEY={format_value(value)}\n", "t")
    assert entry.value == value


def test_random_values_read_back_unchanged():
    alphabet = "ab $#'\"\\=`{}\t é☃"
    rng = random.Random(8)
    for _ in range(3000):
        value = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        assert parse_env(f"K={format_value(value)}", "t")[0].value == value, value


def test_generated_formats_stay_bare():
    # base64, URL-safe base64, hex, alnum and usernames are written exactly as before
    for value in ["YWJj+/==", "YWJj-_==", "00ff", "AbC123", "ente-x1"]:
        assert format_value(value) == value


@pytest.mark.parametrize("value", ["two\nlines", "cr\rhere", "nul\0byte"])
def test_values_an_env_file_cannot_hold_are_refused(value):
    with pytest.raises(SecretError, match="newline, carriage return or NUL"):
        format_value(value)


def test_reader_agrees_with_compose_on_the_forms_people_write():
    text = "\n".join(
        [
            "# comment",
            "  ",
            "A=plain # trailing comment",
            "B = spaced",
            "export C='single $HOME \\q'",
            'D="double \\\\ \\" \\$ $$"',
            "E=x\t#tab is not a comment",
            "F='it\\'s'",
            "G=#not-a-comment",
            "H=",
        ]
    )
    assert {e.key: e.value for e in parse_env(text, "t")} == {
        "A": "plain",
        "B": "spaced",
        "C": "single $HOME \\q",
        "D": 'double \\ " $ $',
        "E": "x\t#tab is not a comment",
        "F": "it's",
        "G": "#not-a-comment",
        "H": "",
    }


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("KEY='abc\\'", "never closed"),  # what `secrets set` once wrote for `abc\`
        ("KEY='abc", "never closed"),
        ('KEY="abc', "never closed"),
        ('KEY="a\\qb"', "escape"),
        ('KEY="a\\nb"', "escape"),
        ('KEY="$HOME"', "expand"),
        ("KEY=$HOME", "expand"),
        ("KEY='x' trailing", "follows the closing quote"),
        ("just words", "is not KEY=VALUE"),
        ("1KEY=x", "is not KEY=VALUE"),
        ("KEY=x\r", "carriage return"),
    ],
)
def test_lines_that_do_not_parse_stop_with_file_and_line(line, problem):
    with pytest.raises(SecretError, match=problem) as err:
        parse_env(f"# head\nOK=1\n{line}\n", "/s/.env")
    assert err.value.message.startswith("/s/.env:3: ")
    assert "abc" not in err.value.message and "HOME" not in err.value.message


def test_a_key_set_twice_is_refused():
    with pytest.raises(SecretError, match=r"/s/.env:3: KEY is set twice \(first on line 1\)"):
        parse_env("KEY=a\nX=1\nKEY=b\n", "/s/.env")


def test_binary_nul_and_folder_env_files_are_refused(tmp_path):
    path = tmp_path / ".env"
    path.write_bytes(b"A=1\nB=\xff\xfe\n")
    with pytest.raises(SecretError, match=r"\.env:2: is not UTF-8"):
        read_env(path)
    path.write_bytes(b"A=1\n\nB=\0\n")
    with pytest.raises(SecretError, match=r"\.env:3: holds a NUL"):
        read_env(path)
    path.unlink()
    path.mkdir()
    with pytest.raises(SecretError, match="not a regular file"):
        read_env(path)


def test_a_symlinked_env_is_refused_and_left_alone(tmp_path):
    real = tmp_path / "elsewhere.env"
    real.write_text("A=1\n")
    real.chmod(0o600)
    link = tmp_path / "stack" / ".env"
    link.parent.mkdir(mode=0o700)
    link.symlink_to(real)
    with pytest.raises(SecretError, match="symbolic link") as err:
        read_env(link)
    assert "readlink" in err.value.hint
    with pytest.raises(SecretError, match="symbolic link"):
        merge_env(link, {"B": "2"})
    with pytest.raises(SecretError, match="symbolic link"):
        write_private(link, "B=2\n")
    assert link.is_symlink() and real.read_text() == "A=1\n"


def test_modes_readable_by_others_are_reported_and_fixed(tmp_path, capsys):
    folder = tmp_path / "stack"
    folder.mkdir()
    folder.chmod(0o755)
    env = folder / ".env"
    env.write_text("A=1\n")
    env.chmod(0o644)
    assert read_env(env) == {"A": "1"}
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    err = capsys.readouterr().err
    assert "was mode 0644" in err and "was mode 0755" in err


def test_merge_fills_empty_values_in_place_and_keeps_every_other_line(tmp_path):
    env = tmp_path / ".env"
    env.write_text("# mine\nexport A=\nB='kept'\n\nC=1\n")
    merge_env(env, {"A": "new value", "B": "other", "D": "d"})
    assert env.read_text() == "# mine\nexport A='new value'\nB='kept'\n\nC=1\nD=d\n"
    merge_env(env, {}, replace={"C": "$2"})
    assert read_env(env) == {"A": "new value", "B": "kept", "C": "$2", "D": "d"}
    assert os.listdir(tmp_path) == [".env"]
