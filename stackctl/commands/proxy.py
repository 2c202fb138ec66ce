"""`stackctl proxy STACK` and `stackctl host-snippets STACK`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
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


def register(app: typer.Typer) -> None:
    @app.command("proxy")
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
            Path, typer.Option("--root", help="With --write: write under this folder, not /")
        ] = Path("/"),
        force: Annotated[
            bool, typer.Option("--force", help="With --write: replace files changed by hand")
        ] = False,
    ) -> None:
        """Print (or write) the reverse-proxy config for a stack, and what the server needs."""
        from stackctl import console
        from stackctl import proxy as proxies
        from stackctl.commands.options import site
        from stackctl.errors import StackctlError
        from stackctl.locking import stack_lock

        if write and root.exists() and not root.is_dir():
            raise StackctlError(
                f"--root {root} is a file, not a folder",
                "give the folder to write under (the server's config tree is made inside it)",
            )
        settings = site()
        loaded, vhosts = _vhosts(stack, settings)
        if all_dialects and write:
            raise StackctlError("--write takes one dialect", "drop --all-dialects, or pick -d")
        chosen = list(proxies.DIALECTS) if all_dialects else [dialect or settings.proxy]
        proxy_site = proxies.site_from(settings)
        for name in chosen:
            if write:
                with stack_lock(settings, stack):
                    loaded, vhosts = _vhosts(stack, settings)  # state read inside the lock
                    files = proxies.render(vhosts, name, proxy_site, stack)
                    places = proxies.destinations(name, stack, list(files))
                    _write(loaded, files, places, root, force)
            else:
                files = proxies.render(vhosts, name, proxy_site, stack)
                places = proxies.destinations(name, stack, list(files))
                for file, text in files.items():
                    console.out.print(f"# ==> {places[file]} ({name})", markup=False)
                    console.out.print(text, markup=False, highlight=False, end="")
            console.err.print(f"{name} needs:", markup=False)
            for line in proxies.needs(name, vhosts, stack, proxy_site):
                console.err.print(f"  - {line}", markup=False, highlight=False)

    @app.command("host-snippets")
    def host_snippets(
        stack: Annotated[str, typer.Argument(help="Stack name, e.g. ente")],
    ) -> None:
        """Print /etc/hosts, /etc/networks, dnsmasq, Postfix and Sendmail lines for the stack's
        fixed IPs, and the reload lines for certificate renewal."""
        from stackctl import console
        from stackctl.allocate import docker_networks_or_none
        from stackctl.commands._shapes import engine_or_unknown
        from stackctl.commands.options import site
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
        console.out.print(text, markup=False, highlight=False, end="")


def _vhosts(stack: str, settings: Site) -> tuple[Stack, list[VirtualHost]]:
    from stackctl.render import stack_vhosts
    from stackctl.stack import open_stack

    loaded = open_stack(stack, settings)
    return loaded, stack_vhosts(loaded.recipe, settings, loaded.settings, loaded.state.facts)


def _write(
    loaded: Stack, files: dict[str, str], places: dict[str, Path], root: Path, force: bool
) -> None:
    """Plan-then-write, like every stackctl file: create/identical/update/conflict."""
    from rich.markup import escape

    from stackctl import console
    from stackctl.apply import write_files
    from stackctl.files import refuse_conflicts
    from stackctl.proxy.install import plan_install

    state = loaded.state
    plans = plan_install(files, places, root, loaded.dir, state.files, pending=state.pending)
    if not force:
        for plan in plans:
            refuse_conflicts(plan.base, plan.changes)
    write_files(state, [(plan.base, plan.changes) for plan in plans], force=force)
    for plan in plans:
        for change in plan.changes:
            path = escape(str(plan.base / change.file.path))
            console.info(f"[{change.action}]{change.action}[/] {path}")
