"""Just enough of the S3 protocol to provision buckets, on any S3-compatible server.

Requests are signed with AWS Signature Version 4 using only the standard library, so
bucket provisioning needs neither `mc` nor an SDK inside or outside the stack.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.client
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


@dataclass(frozen=True)
class S3Endpoint:
    """Where and how to reach an S3 store for bucket steps."""

    host: str
    port: int
    access_key: str
    secret_key: str
    region: str = "us-east-1"


def _sign(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def quote(text: str, safe: str = "") -> str:
    """SigV4's URI encoding: everything but the unreserved characters (and `safe`)."""
    return urllib.parse.quote(text, safe=safe)


def canonical_query(query: Mapping[str, str]) -> str:
    return "&".join(f"{quote(k)}={quote(v)}" for k, v in sorted(query.items()))


def signature_headers(
    endpoint: S3Endpoint,
    method: str,
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    payload_hash: str,
    now: dt.datetime,
) -> dict[str, str]:
    """`headers` (Host among them) with x-amz-date, x-amz-content-sha256 and the SigV4
    Authorization added; every header given is signed. `path` is already URI-encoded."""
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = now.strftime("%Y%m%d")
    signing = {k.lower(): " ".join(str(v).split()) for k, v in headers.items()}
    signing.update({"x-amz-content-sha256": payload_hash, "x-amz-date": amz_date})
    names = sorted(signing)
    canonical_headers = "".join(f"{n}:{signing[n]}\n" for n in names)
    signed = ";".join(names)
    canonical_request = "\n".join(
        [method, path, canonical_query(query), canonical_headers, signed, payload_hash]
    )
    scope = f"{day}/{endpoint.region}/s3/aws4_request"
    digest = hashlib.sha256(canonical_request.encode()).hexdigest()
    to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{digest}"
    key = _sign(
        _sign(_sign(_sign(f"AWS4{endpoint.secret_key}".encode(), day), endpoint.region), "s3"),
        "aws4_request",
    )
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return {
        **headers,
        "x-amz-date": amz_date,
        "x-amz-content-sha256": payload_hash,
        "Authorization": f"AWS4-HMAC-SHA256 Credential={endpoint.access_key}/{scope}, "
        f"SignedHeaders={signed}, Signature={signature}",
    }


def signed_headers(
    endpoint: S3Endpoint,
    method: str,
    path: str,
    payload_hash: str,
    now: dt.datetime,
    query: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """SigV4 headers for a path-style request to `endpoint`."""
    host = {"Host": f"{endpoint.host}:{endpoint.port}"}
    return signature_headers(
        endpoint, method, path, query or {}, {**host, **(headers or {})}, payload_hash, now
    )


class S3Error(Exception):
    pass


def _request(endpoint: S3Endpoint, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
    payload_hash = hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256
    headers = signed_headers(endpoint, method, path, payload_hash, dt.datetime.now(dt.UTC))
    connection = http.client.HTTPConnection(endpoint.host, endpoint.port, timeout=10)
    try:
        connection.request(method, path, body=body or None, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    except OSError as exc:
        raise S3Error(f"cannot reach S3 at {endpoint.host}:{endpoint.port}: {exc}") from exc
    finally:
        connection.close()


def bucket_exists(endpoint: S3Endpoint, bucket: str) -> bool:
    status, body = _request(endpoint, "HEAD", f"/{bucket}")
    if status in (200, 301):
        return True
    if status == 404:
        return False
    raise S3Error(f"HEAD /{bucket} answered {status}{_reason(status)}")


def create_bucket(endpoint: S3Endpoint, bucket: str) -> None:
    body = b""
    if endpoint.region != "us-east-1":
        body = (
            '<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"<LocationConstraint>{endpoint.region}</LocationConstraint></CreateBucketConfiguration>"
        ).encode()
    status, answer = _request(endpoint, "PUT", f"/{bucket}", body)
    if status == 200 or b"BucketAlreadyOwnedByYou" in answer:
        return
    raise S3Error(
        f"PUT /{bucket} answered {status}{_reason(status)}: {answer[:300].decode('utf-8', 'replace')}"
    )


def _reason(status: int) -> str:
    return " (wrong access key or secret?)" if status == 403 else ""
