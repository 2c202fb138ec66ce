"""Fixtures for the real-server proxy tests: a test CA, echo backends and running proxies."""

from __future__ import annotations

import dataclasses
import os
import shutil
import ssl
import tempfile
from pathlib import Path

import pytest

from stackctl.proxy import render
from stackctl.proxy.model import ProxySite, VirtualHost
from stackctl.values import hostname
from tests.proxy import proxy_samples
from tests.proxy_real import harness
from tests.proxy_real.harness import ACME_TOKEN, E2E_DIALECTS, PASSTHROUGH, STATIC_FILE


@dataclasses.dataclass
class World:
    root: Path
    ca: harness.TestCA
    backends: dict[str, harness.Backend]
    site: ProxySite
    passthrough_cert: Path

    def up(self, key: str) -> str:
        return self.backends[key].address

    def vhosts(self, dialect: str) -> list[VirtualHost]:
        hosts = proxy_samples.vhosts(up=self.up, static_root=str(self.root / "static"))
        return hosts if dialect in PASSTHROUGH else proxy_samples.terminating(hosts)

    def certify(self, hosts: list[VirtualHost]) -> None:
        for vh in hosts:
            names = [hostname(n) for n in vh.names]  # A-labels, as the renderer writes them
            folder = self.root / "certs" / names[0]
            if vh.tls == "terminate" and not folder.exists():
                self.ca.issue(names, folder)
                chain = (folder / "fullchain.pem").read_bytes()
                key = (folder / "privkey.pem").read_bytes()
                (self.root / "haproxy-certs" / f"{names[0]}.pem").write_bytes(chain + key)

    def context(self) -> ssl.SSLContext:
        return self.ca.client_context()


def _world_root() -> Path:
    # World-readable: worker processes run as www-data when the tests run as root.
    root = Path(tempfile.mkdtemp(prefix="stackctl-proxy-"))
    os.chmod(root, 0o755)
    for sub in ("certs", "haproxy-certs", "acme", "static/system"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "acme" / ACME_TOKEN).write_text("acme-ok")
    (root / "static" / STATIC_FILE).write_text("static-ok")
    return root


@pytest.fixture(scope="session")
def world():
    root = _world_root()
    ca = harness.TestCA(root / "ca")
    backend_ca = harness.TestCA(root / "backend-ca", "passthrough backend CA")
    chain, key = backend_ca.issue([f"pbx.{proxy_samples.DOMAIN}"], root / "pbx-cert")
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(chain, key)
    backends = {
        name: harness.Backend(name, tls if name == "pbx" else None)
        for name in (*proxy_samples.UPSTREAMS, "acme")
    }
    ports = [harness.free_port() for _ in range(3)]
    site = ProxySite(
        certificate=lambda host: (
            str(root / "certs" / host / "fullchain.pem"),
            str(root / "certs" / host / "privkey.pem"),
        ),
        acme_webroot=str(root / "acme"),
        http_port=ports[0],
        https_port=ports[1],
        stream_backend_port=ports[2],
        listen_address="127.0.0.1",
        ipv6=False,
        acme_upstream=backends["acme"].address,
        haproxy_cert_dir=str(root / "haproxy-certs"),
    )
    # The passthrough client must trust the backend's own CA too, to see which cert it got.
    backend_ca_path = backend_ca.path
    world = World(root, ca, backends, site, chain)
    world.ca_bundle = root / "ca" / "bundle.pem"
    world.ca_bundle.write_bytes(ca.path.read_bytes() + backend_ca_path.read_bytes())
    yield world
    for backend in backends.values():
        backend.stop()
    shutil.rmtree(root, ignore_errors=True)


def server_for(
    world: World,
    dialect: str,
    hosts: list[VirtualHost],
    folder: str,
    stack: str = "demo",
    fresh_ports: bool = False,
) -> harness.Server:
    """Render `hosts` for `dialect` into a fresh folder with the server's main config.

    With fresh_ports the server gets its own ports (see server.extra["site"]), so it cannot
    collide with the module-scoped sample proxy that may still be running."""
    kind = E2E_DIALECTS.get(dialect, dialect)
    root = world.root / folder
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o755)
    (root / "run").mkdir(exist_ok=True)
    site = dataclasses.replace(
        world.site, nginx_stream_dir=str(root / "nginx-stream"), runtime_dir=str(root / "run")
    )
    if fresh_ports:
        http, https, stream = (harness.free_port() for _ in range(3))
        site = dataclasses.replace(
            site, http_port=http, https_port=https, stream_backend_port=stream
        )
    world.certify(hosts)
    files = render(hosts, dialect, site, stack)
    ports = (site.http_port, site.https_port)
    return harness.Server(kind, root, files, ports, extra={"listen": list(ports), "site": site})


@pytest.fixture(scope="module", params=list(E2E_DIALECTS))
def proxy(request, world):
    dialect = request.param
    kind = E2E_DIALECTS[dialect]
    if not harness.have(kind):
        pytest.skip(f"{kind} is not installed")
    hosts = world.vhosts(dialect)
    server = server_for(world, dialect, hosts, f"run-{dialect}")
    try:
        server.start()
    except RuntimeError as exc:
        pytest.fail(f"{dialect} did not start: {exc}\n{server.log()}")
    yield dialect, hosts, server
    server.stop()
