"""`stackctl logs` and `stackctl extract`."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from stackctl.extract import Found
    from stackctl.stack import Stack


def register(app: typer.Typer) -> None:
    @app.command("logs")
    def logs(
        stack: Annotated[str, typer.Argument(help="Stack name")],
        service: Annotated[
            str | None, typer.Argument(help="Service (default: all, prefixed by container)")
        ] = None,
        grep: Annotated[
            str | None,
            typer.Option("--grep", "-g", help="Only lines matching this regular expression"),
        ] = None,
        ignore_case: Annotated[
            bool, typer.Option("--ignore-case", "-i", help="Case-insensitive --grep")
        ] = False,
        follow: Annotated[
            bool, typer.Option("--follow", "-f", help="Keep streaming new lines")
        ] = False,
        since: Annotated[
            str | None,
            typer.Option("--since", help="Only lines newer than this (10m, 2h, a timestamp)"),
        ] = None,
        tail: Annotated[
            int | None, typer.Option("--tail", "-n", help="Only the last N lines (before --grep)")
        ] = None,
    ) -> None:
        """Stream container logs with colour codes stripped; --grep filters and highlights."""
        from stackctl.commands.options import site
        from stackctl.engine import open_engine
        from stackctl.logs import blocks, compile_grep, grep_blocks
        from stackctl.recipe import all_recipes, get_recipe
        from stackctl.settings import stack_settings

        settings = site()
        recipe = get_recipe(stack)
        # validates the stack's settings without loading the renderer: logs start fast
        stack_settings(settings, stack, recipe.settings, list(all_recipes()))
        engine = open_engine()
        if service:
            recipe.service(service)
            chunks = engine.log_stream(
                settings.names(stack).container(service), follow=follow, since=since, tail=tail
            )
        else:
            chunks = engine.log_stream(
                "", follow=follow, since=since, tail=tail, compose_dir=settings.stack_dir(stack)
            )
        text = blocks(chunks)
        matcher = compile_grep(grep, ignore_case) if grep else None
        output = grep_blocks(text, matcher) if matcher else text
        highlight = matcher is not None and sys.stdout.isatty()
        write = sys.stdout.write
        try:
            for block in output:
                if highlight:
                    _highlight(block, grep, ignore_case)
                else:
                    write(block)
                if follow:
                    sys.stdout.flush()
        except BrokenPipeError:  # `| head` closed the pipe: not an error
            sys.stderr.close()

    @app.command("extract")
    def extract(
        stack: Annotated[str, typer.Argument(help="Stack name")],
        name: Annotated[
            str, typer.Argument(help="Extractor name (see `stackctl recipes show STACK`)")
        ],
        argument: Annotated[
            str | None, typer.Argument(help="Value to look for, e.g. an email for `ott`")
        ] = None,
        json: Annotated[bool, typer.Option("--json")] = False,
        wait: Annotated[
            float,
            typer.Option(
                "--wait", help="Keep watching the log up to this many seconds for a match"
            ),
        ] = 0,
    ) -> None:
        """Run a recipe's named extractor over the service log (e.g. Ente one-time codes, account ids)."""
        from stackctl import console
        from stackctl.commands.options import site
        from stackctl.engine import open_engine
        from stackctl.errors import StackctlError
        from stackctl.extract import scan
        from stackctl.logs import blocks, lines
        from stackctl.stack import open_stack
        from stackctl.steps import kept

        loaded = open_stack(stack, site())
        in_log = any(e.name == name for e in loaded.recipe.extractors)
        if kept.keeping_step(loaded.recipe, name) and not in_log:
            # captured by a bootstrap step only, not a log
            value = kept.read(loaded, name)
            if json:
                console.print_json([{"value": value}])
            else:
                print(value)
            return
        # a name both kept and logged (MAS's user ids): what the step kept, then the log's
        found = _kept_found(loaded, name)
        extractor = loaded.recipe.extractor(name)
        engine = open_engine()
        container = loaded.names.container(extractor.service)
        started = time.time()
        known = {f.value for f in found}
        for match in scan(extractor, lines(blocks(engine.log_stream(container))), argument):
            if match.value not in known or not extractor.distinct:
                found.append(match)
                known.add(match.value)
        if not found and wait > 0:
            deadline = time.monotonic() + wait
            since = str(int(started) - 1)
            stream = engine.log_stream(container, follow=True, since=since, deadline=deadline)
            for match in scan(extractor, lines(blocks(stream)), argument):
                found.append(match)
                break
        if not found:
            what = f" for {argument}" if argument else ""
            raise StackctlError(
                f"no {name}{what} in the {extractor.service} log yet",
                "use --wait SECONDS to watch for it"
                if not wait
                else "check the address, and that the request reached the server",
            )
        if json:
            console.print_json([{"value": f.value, **f.groups} for f in found])
            return
        if argument and not extractor.distinct:
            # the newest code is the one that works
            print(found[-1].value)
        else:
            for item in found:
                print(item.value)


def _kept_found(stack: Stack, name: str) -> list[Found]:
    """One Found per line of what a bootstrap step kept under `name`; none when nothing is."""
    from stackctl.errors import StackctlError
    from stackctl.extract import Found
    from stackctl.steps import kept

    if not kept.keeping_step(stack.recipe, name):
        return []
    try:
        value = kept.read(stack, name)
    except StackctlError:  # nothing kept (yet, or any more): the log may still tell
        return []
    return [Found(line) for line in value.splitlines() if line.strip()]


def _highlight(block: str, pattern: str, ignore_case: bool) -> None:
    import re

    from rich.text import Text

    from stackctl import console

    regex = re.compile(pattern, re.IGNORECASE if ignore_case else 0)
    for line in block.splitlines():
        text = Text(line)
        text.highlight_regex(regex, style="match")
        console.out.print(text, soft_wrap=True)
