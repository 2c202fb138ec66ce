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


# MAS's task worker, run by the server, logs each user it creates on the homeserver (its
# EventFormatter: time, level, target:line, log context, message, fields); read at
# matrix-authentication-service crates/tasks/src/matrix.rs and crates/context/src/fmt.rs.
ADMIN, ALICE, BOB = (
    "01JQ00000000000000000ADM00",
    "01JQ1111111111111111A11CE1",
    "01JQ2222222222222222B0B222",
)
TRACE = "trace.id=4bf92f3577b34da6a3ce929d0e0e4736"


def _worker(at: str, line: int, job: int, message: str, user: str, name: str) -> str:
    fields = f"user.id={user} mxid=@{name}:test.lan"
    return f"2026-11-30T{at}Z  INFO mas_tasks::matrix:{line} job-provision-user-{job} - {message} {fields}"


MAS_LOG = "\n".join(
    [
        "2026-11-30T10:00:01.123456Z  INFO mas_cli::commands::server:183 Starting task worker",
        _worker("10:00:02.234567", 81, 3, "User created", ADMIN, "admin"),
        _worker("10:05:10.345678", 81, 9, "User created", ALICE, "alice") + f" {TRACE}",
        _worker("10:06:00.456789", 83, 12, "User updated", ALICE, "alice"),
        _worker("10:07:00.567890", 81, 15, "User created", BOB, "bob"),
        "",
    ]
).encode()


def test_mas_user_ids_are_the_kept_admin_then_each_user_mas_created(
    site_file, run_cli, monkeypatch
):
    from stackctl.engine_fake import FakeEngine
    from stackctl.settings import load_site
    from stackctl.stack import open_stack
    from stackctl.steps import kept

    site_file()
    stack = open_stack("mas", load_site())
    step = kept.keeping_step(stack.recipe, "user-ids")
    kept.keep(stack, step, ADMIN, name="user-ids")
    stack.state.journal[step.id] = {"status": "done"}
    stack.state.save()
    engine = FakeEngine(stream_output=MAS_LOG)
    monkeypatch.setattr("stackctl.engine.open_engine", lambda: engine)

    result = run_cli("extract", "mas", "user-ids")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.split() == [ADMIN, ALICE, BOB]  # "User updated" is no new user
    assert ("log_stream", stack.names.container("mas")) in engine.calls
    listed = run_cli("extract", "mas", "user-ids", "--json")
    assert '"mxid": "@bob:test.lan"' in listed.stdout


def test_mas_user_ids_from_the_log_alone_when_nothing_is_kept(site_file, run_cli, monkeypatch):
    from stackctl.engine_fake import FakeEngine

    site_file()
    monkeypatch.setattr(
        "stackctl.engine.open_engine",
        lambda: FakeEngine(stream_output=MAS_LOG.splitlines(True)[-1]),
    )
    result = run_cli("extract", "mas", "user-ids")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.split() == [BOB]
