"""Test CA, echo backends, a loopback client and the four real proxy servers.

Everything listens on 127.0.0.1 on free high ports; the servers run as foreground processes in a
world-readable temp dir with their own minimal main config that includes the rendered snippet.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib
import http.client
import io
import json
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.host_requirements import APACHE_MODULE_DIR, APACHE_MODULES, NGINX_STREAM_MODULE
from tests.ports import free_port

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CLIENT_IP = "127.0.0.2"  # the client connects from here so forwarded client IPs are visible
STRAY_HEADERS = {"Access-Control-Max-Age": "600", "X-Powered-By": "echo"}
# dialect -> the server that loads it
E2E_DIALECTS = {
    "nginx": "nginx",
    "nginx-stream": "nginx",
    "apache": "apache",
    "caddy": "caddy",
    "haproxy": "haproxy",
}
PASSTHROUGH = {"nginx-stream", "haproxy", "traefik"}
ACME_TOKEN = "stackctl-token-1"
STATIC_FILE = "system/hello.txt"


# --- certificates -----------------------------------------------------------------------------


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


@dataclass
class TestCA:
    folder: Path
    cn: str = "stackctl test CA"
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    cert: x509.Certificate | None = None

    def __post_init__(self) -> None:
        now = datetime.datetime.now(datetime.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(_name(self.cn))
            .issuer_name(_name(self.cn))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / "ca.pem"
        self.path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, names: list[str], folder: Path) -> tuple[Path, Path]:
        """fullchain.pem + privkey.pem (the Let's Encrypt layout) for these names."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(names[0]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
            .sign(self.key, hashes.SHA256())
        )
        folder.mkdir(parents=True, exist_ok=True)
        chain = folder / "fullchain.pem"
        private = folder / "privkey.pem"
        chain.write_bytes(
            cert.public_bytes(serialization.Encoding.PEM)
            + self.cert.public_bytes(serialization.Encoding.PEM)
        )
        private.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return chain, private

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.path))
        return context


def fingerprint(pem_chain: Path) -> str:
    first = x509.load_pem_x509_certificates(pem_chain.read_bytes())[0]
    return first.fingerprint(hashes.SHA256()).hex()


# --- echo backend -----------------------------------------------------------------------------


class Backend:
    """HTTP/1.1 + websocket echo server in a thread; optionally TLS with its own certificate.

    HTTP answers JSON: which backend, the raw request target, Host and every header. Websocket
    text frames come back as "<backend>:<path>:<text>".
    """

    def __init__(self, ident: str, tls: ssl.SSLContext | None = None) -> None:
        self.ident = ident
        self.tls = tls
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.requests: list[dict] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def start() -> None:
            self._server = await asyncio.start_server(
                self._client, "127.0.0.1", self.port, ssl=self.tls
            )
            self._ready.set()

        self._loop.run_until_complete(start())
        self._loop.run_forever()

    def stop(self) -> None:
        async def close() -> None:
            self._server.close()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers: dict[str, str] = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        key = name.strip().lower()
                        value = value.strip()
                        headers[key] = f"{headers[key]}, {value}" if key in headers else value
                if headers.get("upgrade", "").lower() == "websocket":
                    await self._websocket(reader, writer, target, headers)
                    return
                if headers.get("expect", "").lower() == "100-continue":
                    writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                length = int(headers.get("content-length", "0") or 0)
                body = await reader.readexactly(length) if length else b""
                if headers.get("transfer-encoding", "").lower() == "chunked":
                    body = await _read_chunked(reader)
                record = {
                    "backend": self.ident,
                    "method": method,
                    "path": target,
                    "host": headers.get("host"),
                    "headers": headers,
                    "body_len": len(body),
                    "body_sha256": hashlib.sha256(body).hexdigest(),
                }
                self.requests.append(record)
                payload = json.dumps(record).encode()
                extra = "".join(f"{k}: {v}\r\n" for k, v in STRAY_HEADERS.items())
                origin = headers.get("origin", "*")
                writer.write(
                    (
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        f"Content-Length: {len(payload)}\r\nX-Backend: {self.ident}\r\n"
                        f"Access-Control-Allow-Origin: {origin}\r\n{extra}\r\n"
                    ).encode()
                    + payload
                )
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def _websocket(self, reader, writer, target: str, headers: dict[str, str]) -> None:
        self.requests.append(
            {"backend": self.ident, "method": "WS", "path": target, "headers": headers}
        )
        accept = base64.b64encode(
            hashlib.sha1((headers["sec-websocket-key"] + WS_GUID).encode()).digest()
        ).decode()
        writer.write(
            (
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {accept}\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        while True:
            first, second = await reader.readexactly(2)
            opcode = first & 0x0F
            length = second & 0x7F
            if length == 126:
                length = int.from_bytes(await reader.readexactly(2), "big")
            elif length == 127:
                length = int.from_bytes(await reader.readexactly(8), "big")
            mask = await reader.readexactly(4) if second & 0x80 else b"\0\0\0\0"
            data = bytes(b ^ mask[i % 4] for i, b in enumerate(await reader.readexactly(length)))
            if opcode == 0x8:
                writer.write(bytes([0x88, len(data)]) + data)
                await writer.drain()
                return
            if opcode == 0x9:
                writer.write(bytes([0x8A, len(data)]) + data)
                continue
            if opcode == 0x1:
                reply = f"{self.ident}:{target}:{data.decode()}".encode()
                size = len(reply)
                header = (
                    bytes([0x81, size])
                    if size < 126
                    else bytes([0x81, 126]) + size.to_bytes(2, "big")
                )
                writer.write(header + reply)
                await writer.drain()


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = b""
    while True:
        size = int((await reader.readline()).strip().split(b";")[0], 16)
        if size == 0:
            await reader.readline()
            return body
        body += await reader.readexactly(size)
        await reader.readline()


# --- client -----------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes
    peer_cert: bytes | None = None

    def json(self) -> dict:
        return json.loads(self.body)

    def header_values(self, name: str) -> list[str]:
        return self.headers.get_all(name) or []


def connect(port: int, name: str | None, context: ssl.SSLContext | None) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(CLIENT_IP, 0))
    if context is not None:
        sock = context.wrap_socket(sock, server_hostname=name)
    return sock


def request(
    port: int,
    host: str,
    path: str,
    context: ssl.SSLContext | None = None,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    sock = connect(port, host, context)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.sock = sock
    default_port = 443 if context else 80
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    conn.putheader("Host", host if port == default_port else f"{host}:{port}")
    for name, value in (headers or {}).items():
        conn.putheader(name, value)
    if body is not None:
        conn.putheader("Content-Length", str(len(body)))
        # Like curl: ask first, so a refused body is answered rather than cut off mid-send.
        conn.putheader("Expect", "100-continue")
    conn.endheaders()
    peer = sock.getpeercert(binary_form=True) if context else None
    if body is not None:
        refused = _continue(sock)
        if refused is not None:
            sock.close()
            refused.peer_cert = peer
            return refused
        sock.sendall(body)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return Reply(response.status, response.headers, data, peer)


def _read_head(sock: socket.socket) -> bytes:
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        byte = sock.recv(1)
        if not byte:
            break
        head += byte
    return head


def _continue(sock: socket.socket) -> Reply | None:
    """After `Expect: 100-continue`: None once the server said 100, else its final answer."""
    head = _read_head(sock)
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    if status == 100:
        return None
    headers = http.client.parse_headers(io.BytesIO(head.split(b"\r\n", 1)[1]))
    return Reply(status, headers, b"")


def websocket_echo(port: int, host: str, path: str, context: ssl.SSLContext, text: str) -> str:
    """Open a websocket through the proxy, send `text` and return the first message back.

    With websockets' asyncio client, on one thread. The sync client reads the TLS connection
    in a thread of its own while the caller's thread writes to it, and OpenSSL does not allow
    one connection to be used from two threads at once: when Apache's TLS 1.3 session tickets
    arrive while the upgrade request is written, the client's TLS state breaks (3 upgrades in
    800 through Apache; Apache logged "bad record type", or waited for the request until its
    Timeout while the client timed out in the handshake). One thread cannot race itself.
    """
    return asyncio.run(_websocket_echo(port, host, path, context, text))


def sync_client_context(context: ssl.SSLContext) -> ssl.SSLContext:
    """`context` for websockets' sync client through a proxy: TLS 1.2, which sends nothing
    after the handshake that could race with the client's first write (see websocket_echo)."""
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    return context


async def _websocket_echo(
    port: int, host: str, path: str, context: ssl.SSLContext, text: str
) -> str:
    from websockets.asyncio.client import connect as ws_connect

    sock = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(CLIENT_IP, 0))
    uri = f"wss://{host}:{port}{path}"
    async with ws_connect(uri, sock=sock, ssl=context, server_hostname=host, open_timeout=10) as ws:
        await ws.send(text)
        return str(await asyncio.wait_for(ws.recv(), 10))


def wait_port(port: int, process: subprocess.Popen, log: Path | None, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = log.read_text(errors="replace") if log and log.exists() else ""
            raise RuntimeError(f"server exited with {process.returncode}:\n{output}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port} after {timeout}s")


# --- servers ----------------------------------------------------------------------------------


def is_root() -> bool:
    return os.geteuid() == 0


@dataclass
class Server:
    """One real proxy server: `check()` runs its own config test, `start()` runs it."""

    kind: str
    root: Path  # temp dir holding rendered files and the main config
    files: dict[str, str]
    ports: tuple[int, ...]
    extra: dict = field(default_factory=dict)
    process: subprocess.Popen | None = None

    def write(self) -> None:
        for name, text in self.files.items():
            target = self.root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        self.main().write_text(MAIN[self.kind](self), encoding="utf-8")
        for sub in ("logs", "run", "tmp"):
            (self.root / sub).mkdir(exist_ok=True)

    def main(self) -> Path:
        return self.root / f"main-{self.kind}.conf"

    def command(self, check: bool) -> list[str]:
        return COMMANDS[self.kind](self, check)

    def check(self) -> subprocess.CompletedProcess:
        self.write()
        return subprocess.run(
            self.command(check=True), capture_output=True, text=True, timeout=60, env=self.env()
        )

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            XDG_DATA_HOME=str(self.root / "xdg"),
            XDG_CONFIG_HOME=str(self.root / "xdg"),
            HOME=str(self.root),
        )
        return env

    def start(self) -> None:
        self.write()
        log = self.root / "logs" / f"{self.kind}.out"
        handle = log.open("wb")
        self.process = subprocess.Popen(
            self.command(check=False),
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=self.env(),
            start_new_session=True,
        )
        for port in self.ports:
            wait_port(port, self.process, log)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def log(self) -> str:
        parts = []
        for path in sorted((self.root / "logs").glob("*")):
            parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}")
        return "\n".join(parts)


def _nginx_main(s: Server) -> str:
    r = s.root
    stream = any(n.startswith("nginx-stream/") for n in s.files)
    lines = [f"load_module {NGINX_STREAM_MODULE};"] if stream else []
    if is_root():
        lines.append("user www-data www-data;")
    lines += [
        f"pid {r}/run/nginx.pid;",
        f"error_log {r}/logs/nginx-error.log warn;",
        "worker_processes 1;",
        "events {}",
        "http {",
        "    access_log off;",
        "    include /etc/nginx/mime.types;",
        *(
            f"    {k}_temp_path {r}/tmp/{k};"
            for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        ),
        *(f"    include {r / n};" for n in sorted(s.files) if n.startswith("nginx/")),
        "}",
    ]
    if stream:
        lines += ["stream {", f"    include {r}/nginx-stream/*.conf;", "}"]
    return "\n".join(lines) + "\n"


def _apache_main(s: Server) -> str:
    r = s.root
    loads = "\n".join(
        f"LoadModule {m}_module {APACHE_MODULE_DIR}/mod_{m}.so" for m in APACHE_MODULES
    )
    user = "User www-data\nGroup www-data\n" if is_root() else ""
    listens = "\n".join(f"Listen 127.0.0.1:{p}" for p in s.extra["listen"])
    includes = "\n".join(f"Include {r / n}" for n in sorted(s.files))
    return (
        f"{loads}\n{user}ServerName localhost\nServerRoot {r}\nPidFile {r}/run/apache.pid\n"
        f"DefaultRuntimeDir {r}/run\nMutex file:{r}/run default\nErrorLog {r}/logs/apache-error.log\n"
        f"LogLevel warn\nTypesConfig /etc/mime.types\nSSLSessionCache none\n{listens}\n{includes}\n"
    )


def _caddy_main(s: Server) -> str:
    r = s.root
    return (
        "{\n    admin off\n    auto_https disable_redirects\n"
        f"    storage file_system {r}/caddy-data\n"
        "    log {\n        output stderr\n        level WARN\n    }\n}\n"
        f"import {r}/caddy/*.caddy\n"
    )


def _haproxy_main(s: Server) -> str:
    return "global\n    maxconn 2000\n    stats socket " + str(s.root / "run/haproxy.sock") + "\n"


MAIN: dict[str, Callable[[Server], str]] = {
    "nginx": _nginx_main,
    "apache": _apache_main,
    "caddy": _caddy_main,
    "haproxy": _haproxy_main,
}


def _haproxy_files(s: Server) -> list[str]:
    args = ["-f", str(s.main())]
    for name in sorted(s.files):
        args += ["-f", str(s.root / name)]
    return args


COMMANDS: dict[str, Callable[[Server, bool], list[str]]] = {
    "nginx": lambda s, check: [
        "nginx",
        "-p",
        str(s.root),
        "-c",
        str(s.main()),
        "-e",
        str(s.root / "logs/nginx-early.log"),
        *(["-t"] if check else ["-g", "daemon off;"]),
    ],
    "apache": lambda s, check: [
        "apache2",
        "-d",
        str(s.root),
        "-f",
        str(s.main()),
        *(["-t"] if check else ["-DFOREGROUND"]),
    ],
    "caddy": lambda s, check: [
        "caddy",
        "validate" if check else "run",
        "--config",
        str(s.main()),
        "--adapter",
        "caddyfile",
    ],
    "haproxy": lambda s, check: ["haproxy", *(["-c"] if check else ["-db"]), *_haproxy_files(s)],
}
BINARIES = {"nginx": "nginx", "apache": "apache2", "caddy": "caddy", "haproxy": "haproxy"}


def have(kind: str) -> bool:
    return shutil.which(BINARIES[kind]) is not None or Path(f"/usr/sbin/{BINARIES[kind]}").exists()
