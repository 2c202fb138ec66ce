"""`stackctl proxy STACK` and `stackctl host-snippets STACK`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

if TYPE_CHECKING:
    import typer

    from stackctl.proxy.model import VirtualHost
    from stackctl.settings import Site
    from stackctl.stack import Stack

RELOADS = {
    "apache": "apachectl -k graceful",
    "nginx": "nginx -s reload",
    "nginx-stream": "nginx -s reload",
    "caddy": "systemctl reload caddy",
    "haproxy": "systemctl reload haproxy",
}


def proxy(
    stack: Annotated[str, typer.Argument(help="Stack name, e.g. ente")],
    dialect: Annotated[
        str | None,
        typer.Option(
            "--dialect",
            "-d",
            help="apache, nginx, nginx-stream, caddy, haproxy, traefik or iis "
            "(default: proxy in stackctl.toml)",
        ),
    ] = None,
    write: Annotated[
        bool, typer.Option("--write", help="Write the files where the server expects them")
    ] = False,
    all_dialects: Annotated[
        bool, typer.Option("--all-dialects", help="Render every dialect (print only)")
    ] = False,
    root: Annotated[
        Path | None,
        typer.Option("--root", help="With --write: write under this folder (default: proxy_root)"),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="With --write: replace files changed by hand")
    ] = False,
    json: Annotated[
        bool, typer.Option("--json", help="Print the files, places and needs as JSON")
    ] = False,
) -> None:
    """Print (or write) the reverse-proxy config for a stack, and what the server needs."""
    from stackctl import console
    from stackctl import proxy as proxies
    from stackctl.commands.options import site
    from stackctl.errors import StackctlError
    from stackctl.locking import stack_lock

    settings = site()
    # the same root deploy installs under, so plan, render and --write agree
    root = root if root is not None else Path(settings.proxy_root)
    if write and root.exists() and not root.is_dir():
        raise StackctlError(
            f"--root {root} is a file, not a folder",
            "give the folder to write under (the server's config tree is made inside it)",
        )
    loaded, vhosts = _vhosts(stack, settings)
    if all_dialects and write:
        raise StackctlError("--write takes one dialect", "drop --all-dialects, or pick -d")
    chosen = list(proxies.DIALECTS) if all_dialects else [dialect or settings.proxy]
    proxy_site = proxies.site_from(settings)
    shown: list[dict[str, object]] = []
    for name in chosen:
        written: list[dict[str, str]] = []
        if write:
            with stack_lock(settings, stack):
                loaded, vhosts = _vhosts(stack, settings)  # state read inside the lock
                files = proxies.render(vhosts, name, proxy_site, stack)
                places = proxies.destinations(name, stack, list(files))
                written = _write(loaded, files, places, root, force, quiet=json)
        else:
            files = proxies.render(vhosts, name, proxy_site, stack)
            places = proxies.destinations(name, stack, list(files))
            if not json:
                for file, text in files.items():
                    console.literal(f"# ==> {places[file]} ({name})")
                    console.literal(text, end="")
        needs = list(proxies.needs(name, vhosts, stack, proxy_site))
        if json:
            shown.append(
                {
                    "dialect": name,
                    "files": [
                        {"file": f, "destination": str(places[f]), "text": t}
                        for f, t in files.items()
                    ],
                    "written": written,
                    "needs": needs,
                }
            )
            continue
        console.literal(f"{name} needs:", stderr=True)
        for line in needs:
            console.literal(f"  - {line}", stderr=True)
    if json:
        console.print_json(shown)


def host_snippets(
    stack: Annotated[str, typer.Argument(help="Stack name, e.g. ente")],
    json: Annotated[
        bool, typer.Option("--json", help="Print the network, addresses and lines as JSON")
    ] = False,
) -> None:
    """Print /etc/hosts, /etc/networks, dnsmasq, Postfix and Sendmail lines for the stack's
    fixed IPs, and the reload lines for certificate renewal."""
    from stackctl import console
    from stackctl.allocate import docker_networks_or_none
    from stackctl.commands.options import engine_or_unknown, site
    from stackctl.hostglue import snippets
    from stackctl.stack import network_plan, open_stack

    settings = site()
    loaded = open_stack(stack, settings)
    plan = network_plan(loaded, docker_networks_or_none(engine_or_unknown()) or {})
    reloads = [RELOADS.get(settings.proxy, ""), "postfix reload"]
    text = snippets(
        plan.name,
        plan.subnet,
        plan.gateway,
        dict(plan.ips),
        stack,
        [r for r in reloads if r],
        prefix=settings.name_prefix,
    )
    if json:
        console.print_json(
            {
                "stack": stack,
                "network": plan.name,
                "subnet": plan.subnet,
                "gateway": plan.gateway,
                "ips": {
                    settings.names(stack).container(service): ip for service, ip in plan.ips.items()
                },
                "text": text,
            }
        )
        return
    console.literal(text, end="")


def _vhosts(stack: str, settings: Site) -> tuple[Stack, list[VirtualHost]]:
    from stackctl.render import stack_vhosts
    from stackctl.stack import open_stack

    loaded = open_stack(stack, settings)
    return loaded, stack_vhosts(loaded.recipe, settings, loaded.settings, loaded.state.facts)


def _write(
    loaded: Stack,
    files: dict[str, str],
    places: dict[str, Path],
    root: Path,
    force: bool,
    quiet: bool = False,
) -> list[dict[str, str]]:
    """Plan-then-write, like every stackctl file: create/identical/update/conflict."""
    from stackctl import console
    from stackctl.apply import write_files
    from stackctl.console import escape
    from stackctl.files import refuse_conflicts
    from stackctl.proxy.install import plan_install

    state = loaded.state
    plans = plan_install(files, places, root, loaded.dir, state.files, pending=state.pending)
    if not force:
        for plan in plans:
            refuse_conflicts(
                plan.base,
                plan.changes,
                f"see them with `stackctl plan {loaded.name} --diff` (it reads the same files "
                f"under {root}); move your change into stackctl.toml, or rerun with --force "
                "(a backup is kept)",
            )
    write_files(state, [(plan.base, plan.changes) for plan in plans], force=force)
    done = []
    for plan in plans:
        for change in plan.changes:
            done.append({"path": str(plan.base / change.file.path), "action": change.action})
            if not quiet:
                path = escape(done[-1]["path"])
                console.info(f"[{change.action}]{change.action}[/] {path}")
    return done


def register(app: typer.Typer) -> None:
    # the annotations above name typer; they are read here, when typer builds the commands,
    # so running a command from its cached description never imports typer
    global typer
    import typer

    app.command("proxy")(proxy)
    app.command("host-snippets")(host_snippets)
