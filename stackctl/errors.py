"""The error types stackctl raises; the CLI boundary turns them into `error: ...` + hint."""

from __future__ import annotations


class StackctlError(Exception):
    """An error the user can act on: a message and an optional hint."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class SettingsError(StackctlError):
    """A wrong key or value in stackctl.toml."""

    exit_code = 2


class RecipeError(StackctlError):
    """A recipe that does not load or is not consistent."""


class ConflictError(StackctlError):
    """A file changed by hand since stackctl wrote it."""

    exit_code = 3


class NetworkError(StackctlError):
    """A subnet or address that cannot be used."""

    exit_code = 2


class EngineError(StackctlError):
    """The Docker engine or compose failed; keeps the command and its output."""

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        command: list[str] | None = None,
        output: str = "",
    ) -> None:
        super().__init__(message, hint)
        self.command = command or []
        self.output = output


class SecretError(StackctlError):
    """A secret that cannot be generated, read or rotated."""


class CommandFailed(StackctlError):
    """A command stackctl ran for the user (an action, a tool in a container) failed;
    stackctl exits with that command's code so scripts can tell."""

    def __init__(self, message: str, hint: str | None = None, exit_code: int = 1) -> None:
        super().__init__(message, hint)
        self.exit_code = exit_code if 0 < exit_code < 126 else 1
