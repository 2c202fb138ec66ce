"""Objects through the S3 API, streamed: list a bucket page by page (ListObjectsV2), read an
object (GET) and write one back (PUT) without holding it whole in memory.

Used by the `s3-objects` backup method (stackctl/backup/s3_backup.py); signed with
stackctl.s3's SigV4 on the standard library, so no SDK is needed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import http.client
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

from stackctl.s3 import EMPTY_SHA256, S3Endpoint, S3Error, quote, signed_headers

PAGE = 1000  # ListObjectsV2's own largest page
TIMEOUT = 60
BLOCK = 1024 * 1024
_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


@dataclass(frozen=True)
class ListedObject:
    """One object of a bucket listing: its key, size and ETag."""

    key: str
    size: int
    etag: str


@dataclass(frozen=True)
class Download:
    """An object's answer, its body still to be read from `body`."""

    body: BinaryIO
    size: int
    etag: str
    content_type: str


def object_path(bucket: str, key: str) -> str:
    return f"/{bucket}/{quote(key, safe='/')}"


def _connection(endpoint: S3Endpoint) -> http.client.HTTPConnection:
    return http.client.HTTPConnection(
        endpoint.host, endpoint.port, timeout=TIMEOUT, blocksize=BLOCK
    )


def _send(
    endpoint: S3Endpoint,
    method: str,
    path: str,
    query: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    body: BinaryIO | None = None,
    payload_hash: str = EMPTY_SHA256,
) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    signed = signed_headers(
        endpoint, method, path, payload_hash, dt.datetime.now(dt.UTC), query, headers
    )
    target = path + (f"?{_query_string(query)}" if query else "")
    connection = _connection(endpoint)
    try:
        connection.request(method, target, body=body, headers=signed)
        return connection, connection.getresponse()
    except OSError as exc:
        connection.close()
        raise S3Error(f"cannot reach S3 at {endpoint.host}:{endpoint.port}: {exc}") from exc


def _query_string(query: Mapping[str, str]) -> str:
    return "&".join(f"{quote(k)}={quote(v)}" for k, v in sorted(query.items()))


def _failure(method: str, path: str, response: http.client.HTTPResponse) -> S3Error:
    answer = response.read(2000)
    code = ""
    try:
        code = ET.fromstring(answer).findtext("Code") or ""
    except ET.ParseError:
        pass
    return S3Error(f"{method} {path} answered {response.status} {code}".rstrip())


def list_objects(endpoint: S3Endpoint, bucket: str, page: int = PAGE) -> Iterator[ListedObject]:
    """Every object of `bucket`, in key order, one page of the listing at a time."""
    token = ""
    while True:
        query = {"list-type": "2", "max-keys": str(page)}
        if token:
            query["continuation-token"] = token
        connection, response = _send(endpoint, "GET", f"/{bucket}", query)
        try:
            if response.status != 200:
                raise _failure("GET", f"/{bucket}?list-type=2", response)
            root = ET.fromstring(response.read())
        finally:
            connection.close()
        for item in root.iter(f"{_NS}Contents"):
            yield ListedObject(
                key=item.findtext(f"{_NS}Key") or "",
                size=int(item.findtext(f"{_NS}Size") or 0),
                etag=item.findtext(f"{_NS}ETag") or "",
            )
        token = root.findtext(f"{_NS}NextContinuationToken") or ""
        if root.findtext(f"{_NS}IsTruncated") != "true" or not token:
            return


@contextmanager
def get_object(endpoint: S3Endpoint, bucket: str, key: str) -> Iterator[Download | None]:
    """The object's body to stream from; None when it is gone (deleted since it was listed)."""
    path = object_path(bucket, key)
    connection, response = _send(endpoint, "GET", path)
    try:
        if response.status == 404:
            yield None
            return
        if response.status != 200:
            raise _failure("GET", path, response)
        yield Download(
            body=response,  # type: ignore[arg-type]
            size=int(response.getheader("Content-Length") or 0),
            etag=response.getheader("ETag") or "",
            content_type=response.getheader("Content-Type") or "",
        )
    finally:
        connection.close()


def put_object(
    endpoint: S3Endpoint,
    bucket: str,
    key: str,
    body: BinaryIO,
    size: int,
    sha256: str,
    content_type: str = "",
) -> str:
    """Streams `size` bytes of `body`; the server checks them against `sha256` (signed as the
    payload's hash). The object's ETag."""
    headers = {"Content-Length": str(size)}
    if content_type:
        headers["Content-Type"] = content_type
    path = object_path(bucket, key)
    connection, response = _send(endpoint, "PUT", path, None, headers, body, sha256)
    try:
        if response.status != 200:
            raise _failure("PUT", path, response)
        response.read()
        return response.getheader("ETag") or ""
    finally:
        connection.close()


def head_object(endpoint: S3Endpoint, bucket: str, key: str) -> tuple[int, str] | None:
    """The stored object's size and ETag; None when there is none."""
    path = object_path(bucket, key)
    connection, response = _send(endpoint, "HEAD", path)
    try:
        response.read()
        if response.status == 404:
            return None
        if response.status != 200:
            raise S3Error(f"HEAD {path} answered {response.status}")
        return int(response.getheader("Content-Length") or 0), response.getheader("ETag") or ""
    finally:
        connection.close()


def sha256_of(body: BinaryIO) -> str:
    digest = hashlib.sha256()
    while chunk := body.read(BLOCK):
        digest.update(chunk)
    return digest.hexdigest()
