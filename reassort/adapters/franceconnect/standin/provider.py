"""The stand-in's state and protocol rules, without HTTP: keys, codes, tokens, faults.

It follows FRANCECONNECT.md: ES256-signed ID token and userinfo JWT, JWKS with
``kid``, client_secret_post, codes single use for 30 s, tokens for 60 s,
``acr=eidas1``, pivot-identity claims.  ``faults`` makes it misbehave on demand
so the tests can check that the client refuses each kind of bad answer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from reassort.adapters.franceconnect.standin.identities import BY_KEY, IDENTITIES, TestIdentity

CODE_SECONDS = 30
TOKEN_SECONDS = 60
PENDING_SECONDS = 600
CLAIM_SCOPES = ("openid", "given_name", "family_name", "birthdate", "gender", "birthplace", "birthcountry",
                "email", "preferred_username")
ALIASES = {"profile": ("given_name", "family_name", "birthdate", "gender", "preferred_username"),
           "birth": ("birthplace", "birthcountry"),
           "identite_pivot": ("given_name", "family_name", "birthdate", "gender", "birthplace", "birthcountry")}
_STATE_OR_NONCE = re.compile(r"[A-Za-z0-9]{22,}")

#: What the stand-in can be told to get wrong (``provider.faults.add(name)``).
FAULTS = frozenset({
    # ID token
    "wrong_aud", "wrong_iss", "expired", "bad_signature", "alg_none", "hs256_public_key",
    "no_acr", "low_acr", "wrong_nonce", "unknown_kid",
    # token endpoint
    "token_error", "token_unavailable",
    # userinfo
    "userinfo_json", "userinfo_bad_signature", "userinfo_wrong_aud", "userinfo_wrong_iss", "userinfo_other_sub",
})


class Faults(set):
    """A set of fault names that refuses typos (a misspelt fault would test nothing)."""

    def add(self, name: str) -> None:
        if name not in FAULTS:
            raise ValueError(f"unknown fault {name!r}")
        super().add(name)

    def update(self, *names: Iterable[str]) -> None:
        for group in names:
            for name in group:
                self.add(name)


@dataclass(frozen=True)
class RegisteredClient:
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...] = ()


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: ec.EllipticCurvePrivateKey

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(kid=secrets.token_hex(8), private=ec.generate_private_key(ec.SECP256R1()))

    @property
    def public_jwk(self) -> dict:
        jwk = jwt.algorithms.ECAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        return {**jwk, "kid": self.kid, "alg": "ES256", "use": "sig"}

    @property
    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(serialization.Encoding.PEM,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo)


@dataclass
class Grant:
    """One authorization in flight: what was asked, and the identity chosen on the consent page."""

    client_id: str
    redirect_uri: str
    nonce: str
    scopes: tuple[str, ...]
    identity: TestIdentity | None = None
    state: str = ""
    expires_at: float = 0.0


@dataclass
class Reply:
    """An HTTP answer for the views: status, body, content type."""

    status: int
    body: object
    content_type: str = "application/json"
    headers: dict = field(default_factory=dict)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _with_query(url: str, params: dict) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"


class Provider:
    """One stand-in provider: its issuer, registered clients, keys and in-flight grants."""

    def __init__(self, issuer: str, clients: Iterable[RegisteredClient], now: Callable[[], float] = time.time,
                 identities: Iterable[TestIdentity] = IDENTITIES):
        self.issuer = issuer.rstrip("/")
        self.clients = {c.client_id: c for c in clients}
        self.now = now
        self.identities = tuple(identities)
        self.faults = Faults()
        self.hits: Counter = Counter()  # requests per endpoint, for the tests
        self.keys = [SigningKey.generate()]  # current key first
        self._lock = threading.Lock()
        self._pending: dict[str, Grant] = {}
        self._codes: dict[str, Grant] = {}
        self._tokens: dict[str, Grant] = {}

    # -- keys ----------------------------------------------------------------

    def rotate_keys(self) -> str:
        """Sign with a new key from now on; the JWKS keeps the previous one (real rotations overlap)."""
        with self._lock:
            self.keys = [SigningKey.generate(), self.keys[0]]
            return self.keys[0].kid

    def jwks(self) -> dict:
        return {"keys": [k.public_jwk for k in self.keys]}

    def discovery(self) -> dict:
        i = self.issuer
        return {
            "issuer": i, "authorization_endpoint": i + "/authorize", "token_endpoint": i + "/token",
            "userinfo_endpoint": i + "/userinfo", "end_session_endpoint": i + "/session/end",
            "jwks_uri": i + "/jwks", "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"], "subject_types_supported": ["pairwise"],
            "scopes_supported": list(CLAIM_SCOPES) + list(ALIASES),
            "acr_values_supported": ["eidas1"],
            "token_endpoint_auth_methods_supported": ["client_secret_post"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "userinfo_signing_alg_values_supported": ["ES256"],
            "claims_supported": [s for s in CLAIM_SCOPES if s != "openid"] + ["sub", "given_name_array"],
        }

    def _sign(self, claims: dict, faults: set[str]) -> str:
        key = self.keys[0]
        header = {"kid": key.kid, "typ": "JWT"}
        if "alg_none" in faults or "hs256_public_key" in faults:
            alg = "none" if "alg_none" in faults else "HS256"
            signing_input = (_b64(json.dumps({**header, "alg": alg}).encode()) + "."
                             + _b64(json.dumps(claims).encode()))
            if alg == "none":
                return signing_input + "."
            # The classic confusion attack: the public key used as an HMAC secret.
            mac = hmac.new(key.public_pem, signing_input.encode(), hashlib.sha256).digest()
            return signing_input + "." + _b64(mac)
        signer = key
        if "unknown_kid" in faults:
            signer = SigningKey.generate()
            header["kid"] = signer.kid
        elif "bad_signature" in faults:
            signer = SigningKey.generate()  # a valid ES256 signature, by the wrong key
        return jwt.encode(claims, signer.private, algorithm="ES256", headers=header)

    # -- authorize -------------------------------------------------------------

    def begin(self, args) -> str:
        """Check an authorization request; return its id for the consent page, or raise ValueError."""
        client = self.clients.get(args.get("client_id", ""))
        if client is None:
            raise ValueError("client_id inconnu")
        if args.get("redirect_uri") not in client.redirect_uris:
            raise ValueError("redirect_uri non enregistrée (correspondance exacte exigée)")
        if args.get("response_type") != "code":
            raise ValueError("response_type doit valoir « code »")
        if not args.get("acr_values"):
            raise ValueError("acr_values manquant")
        for name in ("state", "nonce"):
            if not _STATE_OR_NONCE.fullmatch(args.get(name, "")):
                raise ValueError(f"{name} absent ou trop court (22 caractères alphanumériques au moins)")
        requested = args.get("scope", "").split()
        if "openid" not in requested:
            raise ValueError("le scope doit contenir openid")
        unknown = [s for s in requested if s not in CLAIM_SCOPES and s not in ALIASES]
        if unknown:
            raise ValueError("scope inconnu : " + " ".join(unknown))
        granted = {x for s in requested for x in ALIASES.get(s, (s,))}
        grant = Grant(client_id=client.client_id, redirect_uri=args["redirect_uri"], nonce=args["nonce"],
                      scopes=tuple(s for s in CLAIM_SCOPES if s in granted), state=args["state"],
                      expires_at=self.now() + PENDING_SECONDS)
        request_id = secrets.token_urlsafe(16)
        with self._lock:
            self._purge()
            self._pending[request_id] = grant
        return request_id

    def pending(self, request_id: str) -> Grant | None:
        with self._lock:
            return self._pending.get(request_id)

    def decide(self, request_id: str, identity_key: str | None) -> str | None:
        """The redirect back to the client: a code for ``identity_key``, or access_denied when ``None``."""
        identity = BY_KEY.get(identity_key or "")
        if identity_key is not None and (identity is None or identity not in self.identities):
            return None  # no identity picked: the request stays pending
        with self._lock:
            self._purge()
            grant = self._pending.pop(request_id, None)
        if grant is None:
            return None
        if identity is None:
            return _with_query(grant.redirect_uri, {"error": "access_denied",
                                                    "error_description": "User auth aborted", "state": grant.state})
        grant.identity = identity
        grant.expires_at = self.now() + CODE_SECONDS
        code = secrets.token_urlsafe(32)
        with self._lock:
            self._codes[code] = grant
        return _with_query(grant.redirect_uri, {"code": code, "state": grant.state})

    # -- token -----------------------------------------------------------------

    def token(self, form) -> Reply:
        """The token endpoint: client_secret_post only; the code is single use and lives 30 s."""
        if "token_unavailable" in self.faults:
            return Reply(503, "<h1>Service indisponible</h1>", "text/html")
        if "token_error" in self.faults:
            return Reply(400, {"error": "invalid_request", "error_description": "panne simulée"})
        client = self.clients.get(form.get("client_id", ""))
        secret = form.get("client_secret", "")
        if client is None or not secret or not hmac.compare_digest(secret.encode(), client.client_secret.encode()):
            return Reply(401, {"error": "invalid_client"})
        if form.get("grant_type") != "authorization_code":
            return Reply(400, {"error": "unsupported_grant_type"})
        with self._lock:
            grant = self._codes.pop(form.get("code", ""), None)  # single use, even when refused below
        if (grant is None or grant.expires_at <= self.now() or grant.client_id != client.client_id
                or grant.redirect_uri != form.get("redirect_uri")):
            return Reply(400, {"error": "invalid_grant"})
        now = int(self.now())
        access_token = secrets.token_urlsafe(32)
        grant.expires_at = now + TOKEN_SECONDS
        with self._lock:
            self._tokens[access_token] = grant
        return Reply(200, {"access_token": access_token, "token_type": "Bearer", "expires_in": TOKEN_SECONDS,
                           "id_token": self._id_token(grant, now), "scope": " ".join(grant.scopes)},
                     headers={"Cache-Control": "no-store"})

    def _sub(self, grant: Grant) -> str:
        # Pairwise: the same person has another sub at another service.
        return hashlib.sha256(f"{grant.client_id}:{_chosen(grant).key}".encode()).hexdigest()

    def _id_token(self, grant: Grant, now: int) -> str:
        f = self.faults
        claims = {"iss": self.issuer + ("-autre" if "wrong_iss" in f else ""),
                  "aud": "un-autre-service" if "wrong_aud" in f else grant.client_id,
                  "sub": self._sub(grant), "iat": now, "exp": now + TOKEN_SECONDS,
                  "nonce": secrets.token_hex(16) if "wrong_nonce" in f else grant.nonce,
                  "acr": "eidas0" if "low_acr" in f else "eidas1", "amr": ["pwd"]}
        if "expired" in f:
            claims["iat"], claims["exp"] = now - 600, now - 600 + TOKEN_SECONDS
        if "no_acr" in f:
            del claims["acr"]
        return self._sign(claims, f)

    # -- userinfo ----------------------------------------------------------------

    def userinfo(self, authorization: str) -> Reply:
        """Claims of the granted scopes, as a signed JWT (``application/jwt``)."""
        scheme, _, access_token = (authorization or "").partition(" ")
        with self._lock:
            grant = self._tokens.get(access_token) if scheme.lower() == "bearer" else None
        if grant is None or grant.expires_at <= self.now():
            return Reply(401, {"error": "invalid_token"}, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        claims = self._identity_claims(grant)
        if "userinfo_json" in self.faults:
            return Reply(200, claims)
        now = int(self.now())
        f = {name[len("userinfo_"):] for name in self.faults if name.startswith("userinfo_")}
        claims.update(iss=self.issuer + ("-autre" if "wrong_iss" in f else ""),
                      aud="un-autre-service" if "wrong_aud" in f else grant.client_id,
                      iat=now, exp=now + TOKEN_SECONDS)
        if "other_sub" in f:
            claims["sub"] = hashlib.sha256(b"someone else").hexdigest()
        return Reply(200, self._sign(claims, f), "application/jwt")

    def _identity_claims(self, grant: Grant) -> dict:
        person = _chosen(grant)
        values: dict[str, object] = {"given_name": person.given_name, "family_name": person.family_name,
                  "birthdate": person.birthdate, "gender": person.gender, "birthplace": person.birthplace,
                  "birthcountry": person.birthcountry, "email": person.email,
                  "preferred_username": ""}
        claims: dict[str, object] = {"sub": self._sub(grant)}
        for scope in grant.scopes:
            if scope in values:
                claims[scope] = values[scope]
        if "given_name" in claims:
            claims["given_name_array"] = person.given_name.split()
        return claims

    # -- logout ------------------------------------------------------------------

    def end_session(self, args) -> str:
        """The redirect back after logout; raises ValueError on a bad request."""
        hint, state = args.get("id_token_hint", ""), args.get("state", "")
        target = args.get("post_logout_redirect_uri", "")
        if not hint or not state or not target:
            raise ValueError("id_token_hint, state et post_logout_redirect_uri sont requis")
        try:
            kid = jwt.get_unverified_header(hint).get("kid")
            key = next(k for k in self.keys if k.kid == kid)
            # The hint may have expired by now: only its signature and audience matter.
            claims = jwt.decode(hint, key.private.public_key(), algorithms=["ES256"], issuer=self.issuer,
                                options={"verify_exp": False, "verify_iat": False, "verify_aud": False})
        except (jwt.PyJWTError, StopIteration):
            raise ValueError("id_token_hint invalide") from None
        client = self.clients.get(str(claims.get("aud")))
        if client is None or target not in client.post_logout_redirect_uris:
            raise ValueError("post_logout_redirect_uri non enregistrée")
        return _with_query(target, {"state": state})

    def _purge(self) -> None:
        now = self.now()
        for table in (self._pending, self._codes, self._tokens):
            for k in [k for k, g in table.items() if g.expires_at <= now]:
                del table[k]


def _chosen(grant: Grant) -> TestIdentity:
    """The identity of a grant past the consent page (codes are issued only once one was chosen)."""
    if grant.identity is None:
        raise ValueError("aucune identité choisie")
    return grant.identity
