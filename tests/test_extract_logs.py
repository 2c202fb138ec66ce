"""Extractors and log filtering on museum log lines in the real logrus format (colour codes included)."""

from stackctl.extract import scan
from stackctl.logs import blocks, compile_grep, grep_blocks, lines, strip_ansi
from stackctl.recipe import get_recipe

from .conftest import DATA


def log_lines():
    raw = (DATA / "museum-log.txt").read_bytes()
    # split into odd-sized chunks: partial lines must be joined correctly
    chunks = [raw[i : i + 37] for i in range(0, len(raw), 37)]
    return list(lines(blocks(chunks)))


def test_ansi_is_stripped():
    assert (
        strip_ansi("\x1b[36mINFO\x1b[0m[0082]x \x1b[36muser_id\x1b[0m=5") == "INFO[0082]x user_id=5"
    )
    assert all("\x1b" not in line for line in log_lines())


def test_ott_in_every_museum_format():
    ott = get_recipe("ente").extractor("ott")
    assert [f.value for f in scan(ott, log_lines(), "me@home.lan")] == ["123456"]
    # old format: hash line, then the email on the next line; then the current format twice
    friend = [f.value for f in scan(ott, log_lines(), "FRIEND@foo.bar")]
    assert friend == ["519032", "204817", "775102"]
    everyone = list(scan(ott, log_lines()))
    assert {f.groups["email"].lower() for f in everyone} == {"me@home.lan", "friend@foo.bar"}


def test_user_ids_are_distinct_and_non_zero():
    ids = get_recipe("ente").extractor("user-ids")
    assert [f.value for f in scan(ids, log_lines())] == ["5551234567654321", "5555820399142322"]


def test_grep_matches_whole_lines_after_stripping():
    matcher = compile_grep("SendEmailOTT")
    text = "".join(grep_blocks(blocks([(DATA / "museum-log.txt").read_bytes()]), matcher))
    assert text.count("\n") == 3 and "\x1b" not in text
    assert "returning hardcoded ott for me@home.lan" in text
    # a key wrapped in colour codes is still found once stripped
    matcher = compile_grep(r"user_id=5551234567654321")
    assert (
        len(
            "".join(
                grep_blocks(blocks([(DATA / "museum-log.txt").read_bytes()]), matcher)
            ).splitlines()
        )
        == 2
    )


def test_grep_anchors_apply_per_line():
    matcher = compile_grep("^WARN")
    found = "".join(grep_blocks(blocks([(DATA / "museum-log.txt").read_bytes()]), matcher))
    assert found.startswith("WARN[0082]") and found.count("\n") == 1


def test_stripper_learns_codes_and_still_strips_new_ones():
    from stackctl.logs import AnsiStripper

    strip = AnsiStripper()
    assert strip("\x1b[36mINFO\x1b[0m x") == "INFO x"
    assert strip("\x1b[31mERRO\x1b[0m \x1b[1;4mbold\x1b[0m") == "ERRO bold"
    assert "\x1b[1;4m" in strip.known
    assert strip("plain") == "plain"


def test_grep_handles_empty_matches_and_last_line_without_newline():
    from stackctl.logs import matching_lines

    assert matching_lines("a\nb\nab", compile_grep("b")) == ["b", "ab"]
    assert matching_lines("x\ny\n", compile_grep("^")) == ["x", "y"]
