"""`stackctl backup` and `stackctl restore`: one encrypted archive of the stacks, and back."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stackctl.commands._shapes import AllStacks, Stacks


def register(app: typer.Typer) -> None:
    @app.command("backup")
    def backup(
        stacks: Stacks = None,
        all_stacks: AllStacks = False,
        output: Annotated[
            Path | None,
            typer.Option("--output", "-o", help="Archive to write (default: in [backup] folder)"),
        ] = None,
        passphrase_file: Annotated[
            Path | None,
            typer.Option("--passphrase-file", help="File holding the passphrase (age scrypt)"),
        ] = None,
        recipient: Annotated[
            list[str] | None,
            typer.Option("--recipient", help="age public key to encrypt to (repeatable)"),
        ] = None,
        keep: Annotated[
            int | None,
            typer.Option("--keep", help="Archives to keep in the folder; older ones are removed"),
        ] = None,
        no_encrypt: Annotated[
            bool,
            typer.Option("--no-encrypt", help="Write the archive unencrypted (secrets in clear)"),
        ] = False,
        json: Annotated[bool, typer.Option("--json", help="Print a JSON summary")] = False,
    ) -> None:
        """One archive: each stack's folder, data, proxy config and database dumps, the site config."""
        from stackctl import console
        from stackctl.backup.keys import writing_keys
        from stackctl.backup.progress import bytes_bar
        from stackctl.backup.prune import default_output, prune
        from stackctl.backup.take import take_backup
        from stackctl.commands.options import chosen_stacks, site
        from stackctl.engine import open_engine

        settings = site()
        names = chosen_stacks(settings, stacks, all_stacks, verb="back up")
        keys = writing_keys(settings, passphrase_file, recipient or [], no_encrypt)
        target = output or default_output(settings, keys)
        engine = open_engine()
        opened = [_opener(settings, name) for name in names]
        with bytes_bar("archive", quiet=json) as progress:
            report = take_backup(
                settings,
                opened,
                engine,
                keys,
                target,
                progress,
                on_dump=lambda what: progress.describe(f"dump {what}"),
            )
        removed = prune(target.parent, keep if keep is not None else settings.backup.keep, target)
        summary = {
            "archive": str(report.archive),
            "stacks": report.stacks,
            "dumps": report.dumps,
            "objects": report.objects,
            "members": report.members,
            "bytes": report.plain_bytes,
            "archive_bytes": report.archive_bytes,
            "seconds": round(report.seconds, 2),
            "encrypted": keys.encrypted,
            "pruned": [str(p) for p in removed],
        }
        if json:
            console.print_json(summary)
            return
        console.ok(
            f"{report.archive}: {', '.join(report.stacks)}; {report.members} members, "
            f"{report.plain_bytes / 1e6:.1f} MB -> {report.archive_bytes / 1e6:.1f} MB "
            f"in {report.seconds:.1f} s" + ("" if keys.encrypted else " (NOT encrypted)")
        )
        for path in removed:
            console.step(f"removed older archive {path}")

    @app.command("restore")
    def restore(
        archive: Annotated[Path, typer.Argument(help="The archive `stackctl backup` wrote")],
        stacks: Stacks = None,
        passphrase_file: Annotated[
            Path | None, typer.Option("--passphrase-file", help="File holding the passphrase")
        ] = None,
        identity: Annotated[
            Path | None, typer.Option("--identity", "-i", help="age identity file (age-keygen)")
        ] = None,
        force: Annotated[
            bool,
            typer.Option(
                "--force", help="Replace stacks whose secrets differ (the current ones kept aside)"
            ),
        ] = False,
        deploy: Annotated[
            bool, typer.Option("--deploy", help="Deploy the restored stacks afterwards")
        ] = False,
        json: Annotated[bool, typer.Option("--json", help="Print a JSON summary")] = False,
    ) -> None:
        """Check the archive, then put back the site config, stack folders, data and dumps."""
        from stackctl import console
        from stackctl.backup.keys import reading_keys
        from stackctl.backup.progress import bytes_bar
        from stackctl.backup.restore import restore as put_back
        from stackctl.commands import options
        from stackctl.engine import open_engine, reachable

        current = _site_or_none()
        keys = reading_keys(current, passphrase_file, identity)
        engine = reachable(open_engine())
        with bytes_bar("check and unpack", quiet=json) as progress:
            report = put_back(archive, keys, stacks or [], force, engine, progress, current)
        if json and not deploy:
            console.print_json(report.summary())
        else:
            # with --deploy, these lines come before deploy's own, as progress lines do
            # before `deploy --json`'s report
            for line in report.lines():
                console.step(line)
            console.ok(f"restored {', '.join(report.stacks)} from {archive}")
        if deploy:
            if options.config_path is None and report.site_config is not None:
                options.config_path = report.site_config
            from stackctl.cli import build

            also = ["--json"] if json else []
            build("deploy")(["deploy", *report.stacks, *also], standalone_mode=False)


def _opener(settings, name):  # type: ignore[no-untyped-def]
    from contextlib import contextmanager

    @contextmanager
    def opened():  # type: ignore[no-untyped-def]
        from stackctl.locking import stack_lock
        from stackctl.stack import open_stack

        with stack_lock(settings, name):
            yield open_stack(name, settings)

    return opened


def _site_or_none():  # type: ignore[no-untyped-def]
    """The site config when this server has one (a fresh server has none yet)."""
    from stackctl.commands import options
    from stackctl.errors import SettingsError
    from stackctl.settings import find_config

    try:
        path, _ = find_config(options.config_path)
    except SettingsError:
        return None  # the config named is not there yet: the archive brings it
    return options.site() if path is not None else None
