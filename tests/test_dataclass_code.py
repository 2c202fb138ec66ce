"""The console script keeps the code dataclasses compiles; the classes stay what dataclasses
makes of them."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import pytest

from stackctl import dataclass_code


@pytest.fixture
def cached(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dataclass_code, "_known", {})
    monkeypatch.setattr(dataclass_code, "_new", {})
    monkeypatch.setattr(dataclass_code, "_used", set())
    monkeypatch.setattr(dataclasses, "exec", dataclass_code.cached_exec, raising=False)


def _make() -> type:
    @dataclasses.dataclass(frozen=True)
    class Point:
        """A point, with labels."""

        x: int
        labels: tuple[str, ...] = dataclasses.field(default_factory=tuple)

    return Point


def _shape(made: type) -> tuple[object, ...]:
    point = made(1, ("a",))
    with pytest.raises(dataclasses.FrozenInstanceError):
        point.x = 2
    return (
        made.__init__.__annotations__,
        repr(point).split(".")[-1],
        point == made(1, ("a",)),
        point == made(2),
        hash(made(3)) == hash(made(3)),
        made(4).labels,
    )


def test_a_class_is_what_dataclasses_makes_without_the_cache(cached, monkeypatch):
    with_cache = _shape(_make())
    assert dataclass_code._new  # its methods were compiled here
    monkeypatch.setattr(dataclasses, "exec", exec, raising=False)
    # the annotations are the classes' own (the future flag of dataclass_code stays out)
    assert with_cache == _shape(_make())
    assert with_cache[0]["x"] == "int"  # as this module wrote it, not dataclasses' local name


def test_the_code_stored_is_used_by_the_next_run(cached, monkeypatch, tmp_path):
    path = str(tmp_path / "cache" / "dataclass-code")
    made = _shape(_make())
    dataclass_code.save(path)
    monkeypatch.setattr(dataclass_code, "_new", {})
    dataclass_code.load(path)

    def no_compiling(*args: object, **kwargs: object) -> None:
        raise AssertionError("compiled again")

    monkeypatch.setattr(dataclass_code, "compile", no_compiling, raising=False)
    assert _shape(_make()) == made


def test_a_damaged_cache_is_compiled_again(cached, tmp_path):
    path = tmp_path / "dataclass-code"
    path.write_bytes(b"\x00not marshal")
    dataclass_code.load(str(path))
    _shape(_make())
    dataclass_code.save(str(path))
    dataclass_code.load(str(path))
    assert set(dataclass_code._known) == set(dataclass_code._new)


def test_past_the_limit_only_what_this_run_used_is_kept(cached, monkeypatch, tmp_path):
    path = str(tmp_path / "dataclass-code")
    stale = compile("pass", "<string>", "exec")
    monkeypatch.setattr(dataclass_code, "_known", {f"# old {n}": stale for n in range(5)})
    monkeypatch.setattr(dataclass_code, "LIMIT", 4)
    _make()
    dataclass_code.save(path)
    monkeypatch.setattr(dataclass_code, "_known", {})
    dataclass_code.load(path)
    assert set(dataclass_code._known) == dataclass_code._used


def test_the_console_script_compiles_them_once(tmp_path, site_file):
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env["STACKCTL_CONFIG"] = str(site_file())
    probe = (
        "import sys; sys.argv = ['stackctl', 'plan', 'ente']\n"
        "try:\n    from stackctl.entry import main; main()\nexcept SystemExit: pass\n"
        "from stackctl import dataclass_code as d\n"
        "sys.stderr.write(f'compiled {len(d._new)} of {len(d._used)}')"
    )
    runs = [
        subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env)
        for _ in range(2)
    ]
    assert runs[0].stdout == runs[1].stdout and "ente: files in" in runs[0].stdout
    first, second = (run.stderr.splitlines()[-1].split() for run in runs)
    # the first run also describes the CLI through typer, which makes classes of its own
    assert int(first[1]) >= int(second[3]) > 100 and second[1] == "0"
