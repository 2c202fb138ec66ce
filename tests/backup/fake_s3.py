"""A tiny S3 server in the test process: path-style buckets and objects in a dict, just the
calls the `s3-objects` backup makes. It checks each request's SigV4 signature from the bytes
on the wire (not with stackctl's signer) and, as S3 does, a PUT's body against its signed
SHA-256. `page` makes listings short, so paging is exercised with a few objects."""

from __future__ import annotations

import hashlib
import hmac
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from xml.sax.saxutils import escape


class FakeS3:
    def __init__(self, access_key: str, secret_key: str, page: int = 2) -> None:
        self.access_key, self.secret_key, self.page = access_key, secret_key, page
        self.buckets: dict[str, dict[str, tuple[bytes, str]]] = {}  # key -> (bytes, type)
        self.puts: list[str] = []  # every object PUT, in order
        self.fail_put_after: int | None = None  # answer 500 once this many PUTs succeeded
        self.cut: set[str] = set()  # keys whose GET announces every byte but sends half
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeS3:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def signature_ok(self, method: str, raw_path: str, headers: Any) -> bool:
        auth = headers.get("Authorization", "")
        fields = dict(p.strip().split("=", 1) for p in auth.split(" ", 1)[1].split(","))
        key, day, region, service, _ = fields["Credential"].split("/")
        if key != self.access_key:
            return False
        path, _, query = raw_path.partition("?")
        pairs = sorted(
            (urllib.parse.quote(urllib.parse.unquote(k), safe="-_.~"),
             urllib.parse.quote(urllib.parse.unquote(v), safe="-_.~"))
            for k, _, v in (p.partition("=") for p in query.split("&") if p)
        )  # fmt: skip
        names = fields["SignedHeaders"].split(";")
        canonical = "\n".join(
            [
                method,
                path,
                "&".join(f"{k}={v}" for k, v in pairs),
                "".join(f"{n}:{' '.join(headers.get(n, '').split())}\n" for n in names),
                fields["SignedHeaders"],
                headers["x-amz-content-sha256"],
            ]
        )
        scope = f"{day}/{region}/{service}/aws4_request"
        text = "\n".join(
            ["AWS4-HMAC-SHA256", headers["x-amz-date"], scope, hashlib.sha256(canonical.encode()).hexdigest()]
        )  # fmt: skip
        signing = ("AWS4" + self.secret_key).encode()
        for part in (day, region, service, "aws4_request"):
            signing = hmac.new(signing, part.encode(), hashlib.sha256).digest()
        expected = hmac.new(signing, text.encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, fields["Signature"])


def _handler(s3: FakeS3) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: bytes = b"", headers: dict | None = None) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if "Content-Length" not in (headers or {}):
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _error(self, status: int, code: str) -> None:
            self._answer(status, f"<Error><Code>{code}</Code></Error>".encode())

        def _route(self) -> tuple[str, str, dict[str, str]] | None:
            if not s3.signature_ok(self.command, self.path, self.headers):
                self._error(403, "SignatureDoesNotMatch")
                return None
            path, _, query = self.path.partition("?")
            bucket, _, key = urllib.parse.unquote(path).lstrip("/").partition("/")
            return bucket, key, dict(urllib.parse.parse_qsl(query))

        def do_HEAD(self) -> None:  # noqa: N802
            self.do_GET()

        def do_GET(self) -> None:  # noqa: N802
            route = self._route()
            if route is None:
                return
            bucket, key, query = route
            if bucket not in s3.buckets:
                return self._error(404, "NoSuchBucket")
            if not key and self.command == "HEAD":
                return self._answer(200)
            if not key:
                return self._list(bucket, query)
            if key not in s3.buckets[bucket]:
                return self._error(404, "NoSuchKey")
            data, kind = s3.buckets[bucket][key]
            etag = f'"{hashlib.md5(data).hexdigest()}"'
            if key in s3.cut:
                self.close_connection = True
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
                return
            self._answer(
                200, data, {"Content-Length": str(len(data)), "ETag": etag, "Content-Type": kind}
            )

        def _list(self, bucket: str, query: dict[str, str]) -> None:
            keys = sorted(k for k in s3.buckets[bucket] if k > query.get("continuation-token", ""))
            page = min(int(query.get("max-keys", 1000)), s3.page)
            shown, more = keys[:page], len(keys) > page
            items = "".join(
                f"<Contents><Key>{escape(k)}</Key><Size>{len(s3.buckets[bucket][k][0])}</Size>"
                f"<ETag>&quot;{hashlib.md5(s3.buckets[bucket][k][0]).hexdigest()}&quot;</ETag></Contents>"
                for k in shown
            )
            token = (
                f"<NextContinuationToken>{escape(shown[-1])}</NextContinuationToken>"
                if more
                else ""
            )
            body = (
                '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                f"<Name>{bucket}</Name><IsTruncated>{'true' if more else 'false'}</IsTruncated>"
                f"{items}{token}</ListBucketResult>"
            )
            self._answer(200, body.encode())

        def do_PUT(self) -> None:  # noqa: N802
            route = self._route()
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if route is None:
                return
            bucket, key, _ = route
            if not key:
                s3.buckets.setdefault(bucket, {})
                return self._answer(200)
            if hashlib.sha256(body).hexdigest() != self.headers["x-amz-content-sha256"]:
                return self._error(400, "XAmzContentSHA256Mismatch")
            if s3.fail_put_after is not None and len(s3.puts) >= s3.fail_put_after:
                s3.fail_put_after = None
                return self._error(500, "InternalError")
            s3.buckets[bucket][key] = (
                body,
                self.headers.get("Content-Type", "binary/octet-stream"),
            )
            s3.puts.append(f"{bucket}/{key}")
            self._answer(200, headers={"ETag": f'"{hashlib.md5(body).hexdigest()}"'})

    return Handler
