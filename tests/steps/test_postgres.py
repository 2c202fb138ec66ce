"""The postgres-role step's password handling: SCRAM verifiers and stored-password checks."""

import base64
import hashlib
import hmac

from stackctl.steps.postgres import password_matches, scram_sha_256


def test_scram_verifier_follows_rfc_7677():
    # RFC 7677's example exchange: user "user", password "pencil"
    salt = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
    verifier = scram_sha_256("pencil", salt, 4096)
    head, keys = verifier.split("$", 1)[1].split("$")
    assert head == "4096:W22ZaJ0SNY7soEsUEjb6gQ=="
    stored_key, server_key = (base64.b64decode(k) for k in keys.split(":"))
    nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
    auth_message = (
        f"n=user,r=rOprNGfwEbeRWgbNEkqO,r={nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,"
        f"c=biws,r={nonce}"
    ).encode()
    server_signature = hmac.new(server_key, auth_message, "sha256").digest()
    assert base64.b64encode(server_signature).decode() == (
        "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
    )
    proof = base64.b64decode("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
    client_signature = hmac.new(stored_key, auth_message, "sha256").digest()
    client_key = bytes(a ^ b for a, b in zip(proof, client_signature, strict=True))
    assert hashlib.sha256(client_key).digest() == stored_key


def test_stored_passwords_are_recognised():
    verifier = scram_sha_256("s3cret")
    assert password_matches(verifier, "s3cret", "mastodon")
    assert not password_matches(verifier, "other", "mastodon")
    md5 = "md5" + hashlib.md5(b"s3cretmastodon").hexdigest()
    assert password_matches(md5, "s3cret", "mastodon")
    assert not password_matches("", "s3cret", "mastodon")
