"""Running a command from a cached description of the CLI, without importing typer.

Importing typer and click costs about as much as `docker compose version` takes in total. The
first run after an install or an upgrade builds the whole typer app once and stores what the
parser needs of it: each command's options and arguments and the function that runs it. Later
runs read that description, parse the arguments the way click does and call the function with
the values typer would pass.

The description only ever answers for what it is sure of: anything else (help, completion,
--version, an unknown or mistyped option, a missing argument, a value that needs converting
beyond text, paths and counts) returns None, and typer parses it as always: its usage errors,
its help and its completion stay the only ones.
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from typing import Any

FORMAT = 1  # bumped whenever the description's shape changes
COMPLETION_VARIABLE = "_STACKCTL_COMPLETE"

Node = dict[str, Any]
# click type names (they differ between click and typer's copy of it) to what is parsed
_VALUES = {"text": "text", "str": "text", "path": "path", "integer": "int", "int": "int"}
_VALUES |= {"boolean": "bool", "bool": "bool"}


# ---- describing typer's click tree (on the first run only; typer is loaded then) ----


def describe(command: Any, root: bool = True) -> Node:
    """The description of a click command or group, as typer built it. A command whose
    function cannot be imported by name, or with a parameter the parser would not read
    exactly, gets params None: typer runs it."""
    node: Node = {"params": None, "target": None, "context": None}
    node["no_args_is_help"] = bool(getattr(command, "no_args_is_help", False))
    if hasattr(command, "commands"):
        node["invoke_without_command"] = bool(command.invoke_without_command)
        node["commands"] = {
            name: describe(sub, root=False) for name, sub in command.commands.items()
        }
    params = [_describe_param(p, root) for p in command.params]
    if not all(params):
        return node
    callback = getattr(command.callback, "__wrapped__", None)
    if callback is None:
        node["params"] = params if command.callback is None else None
        return node
    import inspect

    extra = set(inspect.signature(callback).parameters) - {p["name"] for p in params}
    if "<" not in callback.__qualname__ and len(extra) <= 1:  # typer's context parameter
        node["target"] = f"{callback.__module__}:{callback.__qualname__}"
        node["context"] = next(iter(extra), None)
        node["params"] = params
    return node


def _describe_param(param: Any, root: bool) -> dict[str, Any] | None:
    """One option or argument, or None when the fast parser would not read it exactly."""
    count = bool(getattr(param, "count", False))
    flag = bool(getattr(param, "is_flag", False)) and not count
    value = "int" if count else _VALUES.get(param.type.name)
    # an option with a callback (--version, --install-completion) is typer's: declined
    # when given; on the root only, where those callbacks do nothing unless it is given
    typer_only = param.callback is not None or bool(getattr(param, "is_eager", False))
    if (
        value is None
        or (typer_only and not root)
        or param.envvar
        or param.nargs not in (1, -1)
        or not _plain_path(param.type)
        or not isinstance(param.default, str | int | bool | type(None))
        or getattr(param, "prompt", None)
        or flag
        and not getattr(param, "is_bool_flag", False)
    ):
        return None
    return {
        "name": param.name,
        "kind": param.param_type_name,  # "option" or "argument"
        "opts": list(param.opts),
        "off": list(getattr(param, "secondary_opts", [])),
        "flag": flag,
        "count": count,
        "typer_only": typer_only,
        "many": bool(getattr(param, "multiple", False)) or param.nargs == -1,
        "value": value,
        "required": bool(param.required),
        "default": param.default,
    }


def _plain_path(kind: Any) -> bool:
    """A click.Path that checks nothing on disk: typer only turns its text into a Path."""
    if kind.name != "path":
        return True
    return not (kind.exists or kind.resolve_path or not kind.file_okay or not kind.dir_okay)


# ---- the cache ----


def load(path: str) -> Node | None:
    try:
        with open(path, encoding="utf-8") as handle:
            stored = json.load(handle)
    except (OSError, ValueError):
        return None
    return stored.get("root") if stored.get("format") == FORMAT else None


def store(path: str, root: Node) -> None:
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        temporary = f"{path}.{os.getpid()}.tmp"
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump({"format": FORMAT, "root": root}, handle)
        os.replace(temporary, path)
    except OSError:
        pass  # a read-only home only costs speed


# ---- parsing, as click does, for what the description covers ----


class _Declined(Exception):
    """The arguments need typer: help, completion, a usage error, or a shape not described."""


class Call:
    """A command resolved from the arguments: the root options, then each function to call
    (the groups' callbacks first, as click calls them) with its keyword arguments. A plain
    class: a dataclass costs a good part of a millisecond to make at every start."""

    def __init__(
        self, config: Path | None, verbose: int, calls: list[tuple[str, dict[str, Any]]]
    ) -> None:
        self.config = config
        self.verbose = verbose
        self.calls = calls

    def run(self) -> Any:
        from stackctl.commands import options

        options.config_path = self.config
        options.verbose = self.verbose
        result = None
        for target, kwargs in self.calls:
            module, name = target.split(":")
            result = getattr(importlib.import_module(module), name)(**kwargs)
        return result


class Invocation:
    """What a group's callback reads of typer's context: the subcommand that follows it."""

    def __init__(self, invoked_subcommand: str | None) -> None:
        self.invoked_subcommand = invoked_subcommand


def resolve(root: Node, argv: list[str]) -> Call | None:
    """The call the arguments make, or None when typer must parse them."""
    if any(name.startswith(COMPLETION_VARIABLE) for name in os.environ):
        return None
    try:
        return _resolve(root, argv)
    except _Declined:
        return None


def _resolve(root: Node, argv: list[str]) -> Call:
    if root["params"] is None:
        raise _Declined
    rest = list(argv)
    given, _ = _parse(root["params"], rest, interspersed=False)
    root_values = given
    calls: list[tuple[str, dict[str, Any]]] = []
    node = root
    while "commands" in node:
        name = rest.pop(0) if rest else None
        if name is None and (node["no_args_is_help"] or not node["invoke_without_command"]):
            raise _Declined
        if node is not root:  # click calls a group's callback before its subcommand
            calls.extend(_call(node, given, name))
        if name is None:
            break
        node = node["commands"].get(name) or {"params": None}
        if node["params"] is None:
            raise _Declined
        if "commands" not in node and node["no_args_is_help"] and not rest:
            raise _Declined
        given, positional = _parse(node["params"], rest, interspersed="commands" not in node)
    else:
        _assign(node["params"], positional, given)
        calls.extend(_call(node, given, None))
    config = root_values.get("config")
    return Call(config and Path(config), root_values.get("verbose", 0), calls)


def _call(
    node: Node, given: dict[str, Any], subcommand: str | None
) -> list[tuple[str, dict[str, Any]]]:
    if node["target"] is None:
        if given or "commands" not in node:
            raise _Declined
        return []  # a group with no callback of its own
    kwargs = {
        p["name"]: _convert(p, given[p["name"]]) if p["name"] in given else p["default"]
        for p in node["params"]
    }
    if node["context"]:
        kwargs[node["context"]] = Invocation(subcommand)
    return [(node["target"], kwargs)]


def _convert(param: dict[str, Any], value: Any) -> Any:
    """The value typer passes for a given one: a Path for a path, a list for several."""
    if param["flag"] or param["count"]:
        return value
    if param["value"] != "path":
        return value
    return [Path(v) for v in value] if param["many"] else Path(value)


def _parse(
    params: list[dict[str, Any]], rest: list[str], *, interspersed: bool
) -> tuple[dict[str, Any], list[str]]:
    """Take the options off the front of `rest` (interspersed: off all of it, the other
    words kept in order as the positional ones)."""
    options = {o: p for p in params if p["kind"] == "option" for o in p["opts"]}
    negative = {o: p for p in params if p["kind"] == "option" for o in p["off"]}
    values: dict[str, Any] = {}
    positional: list[str] = []
    while rest:
        token = rest[0]
        if token == "--":
            raise _Declined
        if not token.startswith("-") or token == "-":
            if not interspersed:
                break
            positional.append(rest.pop(0))
            continue
        rest.pop(0)
        name, equals, attached = token.partition("=")
        if equals:  # --name=value; a short option with "=" means something else to click
            param = options.get(name)
            if not name.startswith("--") or param is None or param["flag"] or param["count"]:
                raise _Declined
            _store(param, attached, values)
        elif token in negative:
            values[negative[token]["name"]] = False
        elif token in options:
            _take(options[token], rest, values)
        elif token.startswith("--"):
            raise _Declined  # an unknown option: typer names it
        else:
            _short_flags(token, options, values)
    return values, positional


def _short_flags(token: str, options: dict[str, Any], values: dict[str, Any]) -> None:
    """`-vv`: several short flags or counts in one word; anything else is declined."""
    for letter in token[1:]:
        param = options.get(f"-{letter}")
        if param is None or not (param["flag"] or param["count"]):
            raise _Declined
        _take(param, [], values)


def _take(param: dict[str, Any], rest: list[str], values: dict[str, Any]) -> None:
    if param["typer_only"]:
        raise _Declined  # --version, completion: typer answers
    if param["count"]:
        values[param["name"]] = values.get(param["name"], 0) + 1
    elif param["flag"]:
        values[param["name"]] = True
    elif not rest or rest[0].startswith("-"):
        raise _Declined  # a missing value, or one that looks like an option
    else:
        _store(param, rest.pop(0), values)


def _store(param: dict[str, Any], text: str, values: dict[str, Any]) -> None:
    if param["typer_only"]:
        raise _Declined
    value = _checked(param, text)
    if param["many"]:
        values.setdefault(param["name"], []).append(value)
    else:
        values[param["name"]] = value


def _checked(param: dict[str, Any], text: str) -> Any:
    if param["value"] == "int":
        try:
            return int(text)
        except ValueError:
            raise _Declined from None
    return text


def _assign(params: list[dict[str, Any]], positional: list[str], values: dict[str, Any]) -> None:
    """Hand the positional words to the arguments in order, as click does."""
    arguments = [p for p in params if p["kind"] == "argument"]
    if sum(p["many"] for p in arguments) > 1:
        raise _Declined
    for index, param in enumerate(arguments):
        if param["many"]:
            after = len(arguments) - index - 1
            taken = positional[: len(positional) - after] if after else positional[:]
            del positional[: len(taken)]
            if taken:
                values[param["name"]] = [_checked(param, t) for t in taken]
        elif positional:
            values[param["name"]] = _checked(param, positional.pop(0))
        if param["required"] and param["name"] not in values:
            raise _Declined
    if positional:
        raise _Declined  # too many arguments: typer says so
