"""Every `stackctl` example in README.md and docs/ keeps working.

Examples that need no engine are run against a throw-away site; the others are checked as
far as can be without one: the stack, action or extractor they name exists. Examples with
placeholders (STACK, NAME, `...`, `<name>`, `[--days N]`) are templates, not commands."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from stackctl.recipe import all_recipes

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"```\w*\n(.*?)```", re.DOTALL)
INLINE = re.compile(r"`((?:sudo )?stackctl [^`\n]+)`")
PLACEHOLDER = re.compile(r"\b[A-Z][A-Z_]+\b|\.\.\.|…|[<\[]")
# command words that never ask the engine (deploy only with --dry-run)
ENGINE_FREE = {"init", "config", "recipes", "plan", "render", "proxy", "host-snippets", "--help"}
ENGINE_FREE_SUB = {("secrets", "gen"), ("secrets", "show"), ("images", "list")}


def examples() -> list[tuple[str, str]]:
    found: dict[str, str] = {}
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        lines = [
            line.strip() for block in FENCE.findall(text) for line in block.splitlines()
        ] + INLINE.findall(FENCE.sub("", text))
        for line in lines:
            command = line.split("  #")[0].strip().removeprefix("sudo ")
            if command.startswith("stackctl ") and not PLACEHOLDER.search(command[9:]):
                found.setdefault(command, str(doc.relative_to(ROOT)))
    return sorted(found.items(), key=lambda item: item[1])


def engine_free(argv: list[str]) -> bool:
    if argv[0] in ENGINE_FREE or tuple(argv[:2]) in ENGINE_FREE_SUB:
        return True
    return argv[0] == "deploy" and "--dry-run" in argv


def test_the_docs_hold_examples_of_both_kinds():
    argvs = [shlex.split(c)[1:] for c, _ in examples()]
    assert sum(engine_free(a) for a in argvs) >= 8
    assert any(not engine_free(a) for a in argvs)


@pytest.mark.parametrize(("command", "doc"), examples())
def test_example_works(command, doc, run_cli, site_file, tmp_path, monkeypatch):
    argv = shlex.split(command)[1:]
    # system paths go into the throw-away site
    argv = [a.replace("/etc/stackctl/", f"{tmp_path}/etc/") for a in argv]
    site_file()
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    (tmp_path / "etc").mkdir()
    recipes = all_recipes()
    if engine_free(argv):
        if argv[0] == "images":
            argv.append("--offline")
        result = run_cli(*argv)
        assert result.exit_code == 0, f"{doc}: `{command}` failed:\n{result.stderr}"
        assert "Traceback" not in result.stderr
        return
    # the command itself exists: its words before the first stack name answer --help
    words = []
    for word in argv:
        if word in recipes or word.startswith("-"):
            break
        words.append(word)
    assert run_cli(*words, "--help").exit_code == 0, f"{doc}: `{command}`: no such command"
    if argv[0] in ("run", "extract") and len(argv) > 2:
        from stackctl.steps.kept import keeping_step

        recipe = recipes[argv[1]]  # a stack the docs name must exist
        names = (
            {a.name for a in recipe.actions}
            if argv[0] == "run"
            else {e.name for e in recipe.extractors}
        )
        found = argv[2] in names or (argv[0] == "extract" and keeping_step(recipe, argv[2]))
        assert found, f"{doc}: `{command}` names no {argv[0]} target of {argv[1]}"
