"""The Jinja environment for proxy templates and the quoting filters they share."""

from __future__ import annotations

import json
from functools import cache
from typing import TYPE_CHECKING, Any

from stackctl import paths
from stackctl.render_memo import core_scope, remembered

if TYPE_CHECKING:  # Jinja is loaded only when a config renders that was not kept
    from jinja2 import Environment


def _quoted(value: str) -> str:
    # Values reach templates already checked (stackctl.proxy.check): no quote, no '$', no
    # control character, and a backslash only as a regex escape such as "\." that nginx,
    # Apache, Caddy and HAProxy all keep as written inside double quotes.
    if '"' in value or value.endswith("\\") or "\\\\" in value or not value.isprintable():
        raise ValueError(f"unchecked value reached a template: {value!r}")
    return f'"{value}"'


def _single(value: str) -> str:
    """HAProxy single quotes: no escapes and no environment expansion inside."""
    if "'" in value or not value.isprintable():
        raise ValueError(f"unchecked value reached a template: {value!r}")
    return f"'{value}'"


def _json(value: Any) -> str:
    # JSON strings are valid YAML flow scalars, so this is also the YAML quoting.
    return json.dumps(value, ensure_ascii=True)


def _xml_attribute(value: Any) -> str:
    """An XML attribute value, quotes included (IIS); imported here, as the XML tools pull
    in the whole HTTP client with them."""
    from xml.sax.saxutils import quoteattr

    return quoteattr(str(value))


@cache
def environment() -> Environment:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    from stackctl.template_cache import bytecode_cache

    env = Environment(
        loader=FileSystemLoader(paths.templates_dir()),
        undefined=StrictUndefined,
        bytecode_cache=bytecode_cache("proxy"),
        keep_trailing_newline=True,
        autoescape=False,
        trim_blocks=False,
        lstrip_blocks=False,
    )
    env.filters["q"] = _quoted
    env.filters["sq"] = _single
    env.filters["json"] = _json
    env.filters["xml"] = _xml_attribute
    env.filters["negative"] = lambda regex: f"(?!{regex})"  # PCRE negative lookahead
    env.filters["prepend"] = lambda text, prefix: prefix + text
    env.filters["sni"] = lambda name: f"HostSNI(`{name}`)"  # Traefik TCP rule
    env.filters["redirect_base"] = lambda url: url.rstrip("/")
    return env


def render_template(name: str, **context: Any) -> str:
    def run() -> str:
        return environment().get_template(f"proxy/{name}").render(**context)

    return remembered(core_scope(), "proxy", name, context, run).rstrip("\n") + "\n"
