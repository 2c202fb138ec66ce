"""`stackctl secrets gen|show|rotate`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

if TYPE_CHECKING:
    import typer


def gen(
    stacks: Annotated[
        list[str] | None,
        typer.Argument(help="Stacks (default: the stacks enabled in stackctl.toml)"),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be created")] = False,
    json: Annotated[
        bool, typer.Option("--json", help="Print what was created and kept (names only)")
    ] = False,
) -> None:
    """Create missing secrets only, each in its app's exact format. Existing values always win."""
    from contextlib import nullcontext

    from stackctl import console
    from stackctl import secrets as store
    from stackctl.commands.options import chosen_stacks, site
    from stackctl.locking import stack_lock
    from stackctl.recipe import get_recipe

    settings = site()
    names = chosen_stacks(settings, stacks, all_stacks=not stacks, verb="create secrets for")
    recipes = [get_recipe(name) for name in names]  # unknown names fail before any write
    shown: list[dict[str, object]] = []
    for recipe in recipes:
        name = recipe.name
        with nullcontext() if dry_run else stack_lock(settings, name):
            result = store.ensure(recipe, settings.stack_dir(name), dry_run=dry_run, site=settings)
        if json:
            shown.append(
                {
                    "stack": name,
                    "file": str(result.path),
                    "dry_run": dry_run,
                    "created": list(result.created),
                    "kept": list(result.kept),
                    "to_provide": list(result.to_provide),
                }
            )
            continue
        verb = "would create" if dry_run else "created"
        if result.created:
            console.ok(f"{name}: {verb} {', '.join(result.created)} in {result.path}")
        if result.to_provide:
            # optional until the feature their help names is switched on: said, not warned
            console.info(
                f"{name}: not set, and only you can give them: {', '.join(result.to_provide)} "
                f"(`stackctl secrets show {name}` says what each is for; "
                f"`stackctl secrets set {name} NAME`)"
            )
        if not result.created and not result.to_provide:
            console.ok(
                f"{name}: all {len(result.kept)} secrets present in {result.path}; nothing changed"
            )
    if json:
        console.print_json(shown)


def show(
    stack: Annotated[str, typer.Argument(help="Stack name")],
    reveal: Annotated[bool, typer.Option("--reveal", help="Print the values themselves")] = False,
    json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List a stack's secrets, masked unless --reveal."""
    from stackctl import console
    from stackctl import secrets as store
    from stackctl.commands.options import site
    from stackctl.masking import MASK
    from stackctl.recipe import get_recipe
    from stackctl.views import print_table

    settings = site()
    recipe = get_recipe(stack)
    values = store.load(settings.stack_dir(stack))
    rows = []
    for spec in recipe.secrets:
        value = values.get(spec.name)
        problem = store.check_format(spec, value) if value else None
        shown = (value if reveal else MASK) if value else None
        rows.append(
            {
                "name": spec.name,
                "value": shown,
                "set": bool(value),
                "format": spec.format,
                "problem": problem,
            }
        )
    from stackctl import secret_files

    for spec in recipe.secret_files:  # never printed, --reveal or not: read the file
        path = secret_files.path_of(settings.stack_dir(stack), spec)
        data = path.read_bytes() if path.is_file() else b""
        rows.append(
            {
                "name": spec.name,
                "value": f"file {path}" if data else None,
                "set": bool(data),
                "format": spec.format,
                "problem": secret_files.check(spec, data) if data else None,
            }
        )
    if json:
        console.print_json(rows)
        return
    print_table(
        f"secrets of {stack} ({store.env_path(settings.stack_dir(stack))})",
        ["name", "value", "format", "check"],
        [[r["name"], r["value"] or "(missing)", r["format"], r["problem"] or "ok"] for r in rows],
    )


def set_secret(
    stack: Annotated[str, typer.Argument(help="Stack name")],
    name: Annotated[str, typer.Argument(help="Secret name, e.g. an SSO client secret")],
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace even a key whose loss makes data unreadable"),
    ] = False,
) -> None:
    """Store a value you were given (all of stdin, or a hidden prompt on a terminal).

    One trailing newline is dropped; a value of several lines is refused, never cut.
    The value replaced is kept under the stack's .stackctl/secrets-old/.
    """
    import getpass
    import sys

    from stackctl import console
    from stackctl import secrets as store
    from stackctl.commands.options import site
    from stackctl.locking import stack_lock
    from stackctl.recipe import get_recipe

    settings = site()
    recipe = get_recipe(stack)
    if any(f.name == name for f in recipe.secret_files):
        _set_file(settings, recipe, name, force)
        return
    recipe.secret(name)
    value = getpass.getpass(f"{name}: ") if sys.stdin.isatty() else _read_stdin(name)
    with stack_lock(settings, stack):
        replaced = store.set_value(recipe, settings.stack_dir(stack), name, value, force=force)
    if replaced is None:
        console.ok(f"{name} already had that value; nothing changed")
        return
    console.ok(f"{', '.join(replaced.names)} stored")
    if replaced.kept:
        console.ok(f"the previous value is kept in {replaced.kept}")


def rotate(
    stack: Annotated[str, typer.Argument(help="Stack name")],
    name: Annotated[str, typer.Argument(help="Secret name")],
    force: Annotated[
        bool, typer.Option("--force", help="Rotate even a key whose loss makes data unreadable")
    ] = False,
) -> None:
    """Replace one secret with a new value (refused for data keys without --force).

    The value replaced is kept under the stack's .stackctl/secrets-old/.
    """
    from stackctl import console
    from stackctl import secrets as store
    from stackctl.commands.options import site
    from stackctl.locking import stack_lock
    from stackctl.recipe import get_recipe

    settings = site()
    recipe = get_recipe(stack)
    if any(f.name == name for f in recipe.secret_files):
        from stackctl import secret_files

        with stack_lock(settings, stack):
            kept = secret_files.replace(recipe, settings.stack_dir(stack), name, None, force)
        console.ok(f"{name} rotated; run `stackctl deploy {stack}` to apply it")
        if kept:
            console.ok(f"the previous file is kept in {kept}")
        return
    with stack_lock(settings, stack):
        replaced = store.rotate(recipe, settings.stack_dir(stack), name, force=force)
    console.ok(f"{', '.join(replaced.names)} rotated; run `stackctl deploy {stack}` to apply it")
    if replaced.kept:
        console.ok(f"the previous value is kept in {replaced.kept}")


def _read_stdin(name: str) -> str:
    """All of stdin as UTF-8, less one trailing line end; several lines are refused."""
    import sys

    from stackctl.errors import SecretError

    stream = getattr(sys.stdin, "buffer", None)  # bytes where there are any: checked as UTF-8
    try:
        value = stream.read().decode("utf-8") if stream else sys.stdin.read()
    except UnicodeDecodeError:
        raise SecretError(
            f"the value given for {name} is not UTF-8 text; nothing was changed"
        ) from None
    value = value.removesuffix("\n").removesuffix("\r")
    if "\n" in value or "\r" in value:
        raise SecretError(
            f"the value given for {name} has {value.count(chr(10)) + 1} lines; stackctl stores one line and never cuts a value",
            "give the value on one line (a trailing newline is fine); nothing was changed",
        )
    return value


def _set_file(settings: Any, recipe: Any, name: str, force: bool) -> None:
    """A secret file takes all of stdin as it is: a PEM key has several lines."""
    import sys

    from stackctl import console, secret_files
    from stackctl.errors import SecretError
    from stackctl.locking import stack_lock

    if sys.stdin.isatty():
        raise SecretError(f"{name} is a file: give its content on stdin", f"e.g. < {name}.pem")
    data = sys.stdin.buffer.read()
    if not data.strip():
        raise SecretError(f"no content given for {name}; nothing was changed")
    with stack_lock(settings, recipe.name):
        kept = secret_files.replace(recipe, settings.stack_dir(recipe.name), name, data, force)
    console.ok(f"{name} stored")
    if kept:
        console.ok(f"the previous file is kept in {kept}")


def register(app: typer.Typer) -> None:
    # the annotations above name typer; they are read here, when typer builds the commands,
    # so running a command from its cached description never imports typer
    global typer
    import typer

    group = typer.Typer(
        help="Create, show and rotate stack secrets (kept in the stack's .env, mode 0600).",
        rich_markup_mode=None,
        no_args_is_help=True,
    )
    app.add_typer(group, name="secrets")
    group.command("gen")(gen)
    group.command("show")(show)
    group.command("set")(set_secret)
    group.command("rotate")(rotate)
