"""Standard Webhooks verification and bearer secrets."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from connectors import signatures
from connectors.signatures import SignatureError, derive_secret, sign, verify, verify_bearer
from gateway.errors import Unauthorized

SECRET = derive_secret("server-key-0123456789", "salt-1")
OTHER = derive_secret("server-key-0123456789", "salt-2")
BODY = b'{"email": "ann@example.com"}'
NOW = 1_760_000_000


def test_signature_matches_the_standard_webhooks_reference_computation():
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    expected = base64.b64encode(hmac.new(key, b"msg_1.%d." % NOW + BODY,
                                         hashlib.sha256).digest()).decode()
    assert sign(SECRET, "msg_1", NOW, BODY) == f"v1,{expected}"
    assert SECRET.startswith("whsec_") and SECRET != OTHER


def test_a_valid_signature_is_accepted():
    verify([SECRET], "msg_1", str(NOW), sign(SECRET, "msg_1", NOW, BODY), BODY, now=NOW)


@pytest.mark.parametrize("case", ["wrong secret", "tampered body", "other id", "v2 scheme",
                                  "garbage"])
def test_bad_signatures_are_refused(case):
    signature = {"wrong secret": sign(OTHER, "msg_1", NOW, BODY),
                 "tampered body": sign(SECRET, "msg_1", NOW, BODY + b" "),
                 "other id": sign(SECRET, "msg_2", NOW, BODY),
                 "v2 scheme": sign(SECRET, "msg_1", NOW, BODY).replace("v1,", "v2,"),
                 "garbage": "v1,not-base64"}[case]
    with pytest.raises(SignatureError) as exc:
        verify([SECRET], "msg_1", str(NOW), signature, BODY, now=NOW)
    assert exc.value.status == 401 and exc.value.code == "invalid_signature"


@pytest.mark.parametrize("skew", [-301, 301, -10_000])
def test_timestamps_outside_five_minutes_are_refused(skew):
    signature = sign(SECRET, "msg_1", NOW + skew, BODY)
    with pytest.raises(SignatureError, match="5 minutes"):
        verify([SECRET], "msg_1", str(NOW + skew), signature, BODY, now=NOW)


@pytest.mark.parametrize("skew", [-300, 300])
def test_timestamps_at_the_tolerance_edge_are_accepted(skew):
    verify([SECRET], "msg_1", str(NOW + skew), sign(SECRET, "msg_1", NOW + skew, BODY), BODY,
           now=NOW)


def test_several_signatures_one_matching_is_accepted():
    header = f"{sign(OTHER, 'msg_1', NOW, BODY)} {sign(SECRET, 'msg_1', NOW, BODY)}"
    verify([SECRET], "msg_1", str(NOW), header, BODY, now=NOW)


def test_during_rotation_old_and_new_secret_are_both_accepted():
    for secret in (SECRET, OTHER):
        verify([OTHER, SECRET], "msg_1", str(NOW), sign(secret, "msg_1", NOW, BODY), BODY,
               now=NOW)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_headers_are_refused(missing):
    values = {"webhook-id": "msg_1", "webhook-timestamp": str(NOW),
              "webhook-signature": sign(SECRET, "msg_1", NOW, BODY)}
    values[missing] = None
    with pytest.raises(SignatureError, match="Missing"):
        verify([SECRET], values["webhook-id"], values["webhook-timestamp"],
               values["webhook-signature"], BODY, now=NOW)


def test_a_non_numeric_timestamp_is_refused():
    with pytest.raises(SignatureError, match="Unix seconds"):
        verify([SECRET], "msg_1", "yesterday", sign(SECRET, "msg_1", NOW, BODY), BODY, now=NOW)


def test_bearer_secret():
    verify_bearer([SECRET], f"Bearer {SECRET}")
    verify_bearer([OTHER, SECRET], f"bearer {SECRET}")
    for header in (None, "", f"Basic {SECRET}", f"Bearer {OTHER}", "Bearer "):
        with pytest.raises(Unauthorized):
            verify_bearer([SECRET], header)


def test_headers_helper_signs_what_verify_accepts():
    headers = signatures.headers(SECRET, "msg_9", BODY, timestamp=NOW)
    verify([SECRET], headers["webhook-id"], headers["webhook-timestamp"],
           headers["webhook-signature"], BODY, now=NOW)


def test_a_secret_that_is_not_base64_is_reported():
    with pytest.raises(ValueError, match="whsec_"):
        sign("whsec_***", "msg_1", NOW, BODY)
