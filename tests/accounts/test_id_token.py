"""ID token validation (OIDC Core 3.1.3.7), with tokens minted here: signature, iss, aud, azp,
exp, nonce, at_hash, algorithms. The end-to-end tests use a real provider; these cover what a
real provider does not send."""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, OctKey, RSAKey

from onfile.accounts.sso import SsoError, validate_id_token

ISSUER = "https://login.example.com/tenant/v2.0"
CLIENT = "onfile-client"
NONCE = "n-0S6_WzA2Mj"
RSA = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig"})
EC = ECKey.generate_key("P-256", parameters={"kid": "k2", "use": "sig"})
PUBLIC = KeySet.import_key_set({"keys": [RSA.as_dict(private=False), EC.as_dict(private=False)]})


def _claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": ISSUER, "sub": "248289761001", "aud": CLIENT, "exp": now + 300, "iat": now, "nonce": NONCE,
              "email": "a@firm.example"}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _token(claims: dict[str, Any] | None = None, key: Any = RSA, alg: str = "RS256", kid: str = "k1") -> str:
    return jwt.encode({"alg": alg, "kid": kid}, claims or _claims(), key)


def _validate(token: str, **params: Any) -> dict[str, Any]:
    options = {"keys": PUBLIC, "issuer": ISSUER, "client_id": CLIENT, "nonce": NONCE,
               "algorithms": ["RS256", "ES256"], **params}
    return validate_id_token(token, **options)


def _refused(token: str, reason: str, **params: Any) -> str:
    with pytest.raises(SsoError) as caught:
        _validate(token, **params)
    assert caught.value.reason == reason
    return str(caught.value)


def test_a_good_token_is_accepted() -> None:
    assert _validate(_token())["sub"] == "248289761001"
    assert _validate(_token(key=EC, alg="ES256", kid="k2"))["email"] == "a@firm.example"


def test_a_wrong_nonce_is_refused() -> None:
    assert "nonce" in _refused(_token(_claims(nonce="replayed")), "id_token_claims")


def test_a_missing_nonce_is_refused() -> None:
    _refused(_token(_claims(nonce=None)), "id_token_claims")


def test_another_issuer_is_refused() -> None:
    assert "iss" in _refused(_token(_claims(iss="https://login.example.com/other-tenant/v2.0")), "id_token_claims")


def test_another_audience_is_refused() -> None:
    assert "aud" in _refused(_token(_claims(aud="some-other-app")), "id_token_claims")


def test_several_audiences_need_azp_to_be_us() -> None:
    assert _validate(_token(_claims(aud=[CLIENT, "api"], azp=CLIENT)))["azp"] == CLIENT
    _refused(_token(_claims(aud=[CLIENT, "api"])), "id_token_claims")
    _refused(_token(_claims(aud=[CLIENT, "api"], azp="api")), "id_token_claims")


def test_an_expired_token_is_refused() -> None:
    now = int(time.time())
    _refused(_token(_claims(exp=now - 120, iat=now - 600)), "id_token_claims")
    assert _validate(_token(_claims(exp=now - 30)))  # within the 60 s leeway for clock skew


def test_a_signature_by_another_key_is_refused() -> None:
    impostor = RSAKey.generate_key(2048, parameters={"kid": "k1"})  # same key id, other key
    _refused(_token(key=impostor), "id_token_signature")


def test_an_altered_payload_is_refused() -> None:
    header, _, signature = _token().split(".")
    forged = base64.urlsafe_b64encode(b'{"iss":"%s","sub":"admin","aud":"%s","exp":9999999999,"iat":1,"nonce":"%s"}'
                                      % (ISSUER.encode(), CLIENT.encode(), NONCE.encode())).rstrip(b"=").decode()
    _refused(f"{header}.{forged}.{signature}", "id_token_signature")


def test_unsigned_and_hmac_tokens_are_refused() -> None:
    header = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
    body = _token().split(".")[1]
    _refused(f"{header}.{body}.", "id_token_signature")
    # HS256 with a key an attacker knows (e.g. a public key's bytes) is never an accepted algorithm.
    secret = OctKey.import_key(b"onfile-test-client-secret-0123456789")
    symmetric = jwt.encode({"alg": "HS256", "kid": "k1"}, _claims(), secret)
    _refused(symmetric, "id_token_signature", keys=KeySet([secret]), algorithms=["HS256", "RS256"])


def test_an_algorithm_the_provider_does_not_announce_is_refused() -> None:
    _refused(_token(key=EC, alg="ES256", kid="k2"), "id_token_signature", algorithms=["RS256"])


def test_the_at_hash_must_match_the_access_token() -> None:
    digest = hashlib.sha256(b"the-access-token").digest()[:16]
    at_hash = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    token = _token(_claims(at_hash=at_hash))
    assert _validate(token, access_token="the-access-token")
    _refused(token, "id_token_claims", access_token="another-access-token")
