"""SigV4 signing against the examples AWS publishes for S3 ("Signature Calculations for the
Authorization Header: Transferring Payload in a Single Chunk")."""

from __future__ import annotations

import datetime as dt
import hashlib

from stackctl import s3

# the documentation's example credentials (not a secret)
EXAMPLE = s3.S3Endpoint(
    "examplebucket.s3.amazonaws.com",
    443,
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "us-east-1",
)
WHEN = dt.datetime(2013, 5, 24, tzinfo=dt.UTC)
HOST = {"Host": "examplebucket.s3.amazonaws.com"}


def signature(headers: dict[str, str]) -> str:
    return headers["Authorization"].rsplit("Signature=", 1)[1]


def test_get_object_with_a_range_header() -> None:
    headers = s3.signature_headers(
        EXAMPLE, "GET", "/test.txt", {}, {**HOST, "Range": "bytes=0-9"}, s3.EMPTY_SHA256, WHEN
    )
    assert "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date," in headers["Authorization"]
    assert signature(headers) == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"


def test_put_object_with_an_escaped_key_and_a_payload() -> None:
    body = b"Welcome to Amazon S3."
    headers = s3.signature_headers(
        EXAMPLE,
        "PUT",
        "/" + s3.quote("test$file.text", safe="/"),
        {},
        {
            **HOST,
            "Date": "Fri, 24 May 2013 00:00:00 GMT",
            "x-amz-storage-class": "REDUCED_REDUNDANCY",
        },
        hashlib.sha256(body).hexdigest(),
        WHEN,
    )
    assert signature(headers) == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"


def test_list_objects_with_a_query_string() -> None:
    headers = s3.signature_headers(
        EXAMPLE, "GET", "/", {"max-keys": "2", "prefix": "J"}, HOST, s3.EMPTY_SHA256, WHEN
    )
    assert signature(headers) == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"


def test_query_values_and_keys_are_encoded_as_sigv4_wants() -> None:
    query = {"prefix": "a b/c~d", "continuation-token": "x+y="}
    assert s3.canonical_query(query) == "continuation-token=x%2By%3D&prefix=a%20b%2Fc~d"
