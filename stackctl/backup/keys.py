"""Where the archive's key comes from: a file named on the command line, else the site's
[backup] settings. A passphrase is never taken from the command line itself."""

from __future__ import annotations

from pathlib import Path

from stackctl.backup.archive import Keys
from stackctl.errors import StackctlError
from stackctl.settings import Site


def read_secret_file(path: Path, what: str) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise StackctlError(
            f"cannot read the {what} file {path}: {getattr(exc, 'strerror', None) or exc}",
            "give a readable file (mode 0600, owned by the user running stackctl)",
        ) from None
    return text


def passphrase_from(path: Path) -> bytes:
    # a file written with `echo` ends in a newline that is not part of the passphrase
    passphrase = read_secret_file(path, "passphrase").rstrip("\r\n")
    if not passphrase:
        raise StackctlError(f"the passphrase file {path} is empty", "write the passphrase in it")
    return passphrase.encode("utf-8")


def writing_keys(
    site: Site, passphrase_file: Path | None, recipients: list[str], no_encrypt: bool
) -> Keys:
    if no_encrypt and (passphrase_file or recipients):
        raise StackctlError("--no-encrypt with a passphrase or recipient: choose one")
    if passphrase_file and recipients:
        raise StackctlError("--passphrase-file and --recipient: choose one")
    if passphrase_file:
        return Keys(passphrase=passphrase_from(passphrase_file))
    if recipients:
        return Keys(recipients=tuple(recipients))
    if no_encrypt:
        return Keys()
    if site.backup.passphrase_file:
        return Keys(passphrase=passphrase_from(Path(site.backup.passphrase_file)))
    if site.backup.recipients:
        return Keys(recipients=site.backup.recipients)
    raise StackctlError(
        "no encryption is set for backups: the archive would hold every secret in the clear",
        f"set [backup] passphrase_file or recipients in {site.where()}, give --passphrase-file "
        "or --recipient, or say --no-encrypt",
    )


def reading_keys(site: Site | None, passphrase_file: Path | None, identity: Path | None) -> Keys:
    if passphrase_file and identity:
        raise StackctlError("--passphrase-file and --identity: choose one")
    if passphrase_file:
        return Keys(passphrase=passphrase_from(passphrase_file))
    if identity:
        return Keys(identities=read_secret_file(identity, "identity"))
    if site is not None and site.backup.passphrase_file:
        path = Path(site.backup.passphrase_file)
        if path.is_file():
            return Keys(passphrase=passphrase_from(path))
    return Keys()
