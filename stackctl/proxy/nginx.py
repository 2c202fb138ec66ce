"""nginx: http{} servers per stack, plus the ssl_preread SNI front for passthrough hosts."""

from __future__ import annotations

from pathlib import Path

from stackctl.proxy.model import ProxySite
from stackctl.proxy.routes import Host, https_suffix, refuse_passthrough
from stackctl.proxy.templating import render_template


def render(hosts: tuple[Host, ...], site: ProxySite, stack: str, stream: bool) -> dict[str, str]:
    if not stream:
        refuse_passthrough(
            hosts,
            stack,
            "which nginx does only in its stream module",
            "render with --dialect nginx-stream",
        )
    context = dict(hosts=hosts, site=site, stack=stack, stream=stream)
    files = {
        "nginx/stackctl-common.conf": render_template("nginx-common.conf.j2"),
        f"nginx/stackctl-{stack}.conf": render_template(
            "nginx.conf.j2", https_suffix=https_suffix(site), **context
        ),
    }
    if stream:
        for part, name in (
            ("front", "nginx-stream/stackctl-stream.conf"),
            ("map", f"nginx-stream/stackctl-{stack}.map"),
            ("relays", f"nginx-stream/stackctl-{stack}.conf"),
        ):
            files[name] = render_template("nginx-stream.conf.j2", part=part, **context)
    return files


def destination(name: str, stack: str) -> Path:
    folder, file = name.split("/", 1)
    if folder == "nginx-stream":
        return Path("/etc/nginx/stream.d") / file
    if file == "stackctl-common.conf":
        return Path("/etc/nginx/conf.d") / file
    return Path("/etc/nginx/sites-available") / file


def needs(hosts: tuple[Host, ...], stack: str, stream: bool, site: ProxySite) -> list[str]:
    out = [
        f"ln -sf ../sites-available/stackctl-{stack}.conf /etc/nginx/sites-enabled/",
        "conf.d/stackctl-common.conf must be inside http {} (Debian's nginx.conf includes "
        "conf.d/*.conf there)",
    ]
    if stream:
        out += [
            "apt-get install libnginx-mod-stream (the stream and ssl_preread modules)",
            "in /etc/nginx/nginx.conf, at top level (not inside http {}): "
            f"stream {{ include {site.nginx_stream_dir}/*.conf; }}",
            f"nothing else may listen on port {site.https_port}: every TLS server block listens "
            f"on 127.0.0.1:{site.stream_backend_port} behind the SNI front",
        ]
        if any(h.vh.tls == "passthrough" for h in hosts):
            out.append(
                f"create {site.runtime_dir} at boot, e.g. /etc/tmpfiles.d/stackctl.conf: "
                f"d {site.runtime_dir} 0755 root root -"
            )
    out.append("nginx -t && nginx -s reload")
    return out
