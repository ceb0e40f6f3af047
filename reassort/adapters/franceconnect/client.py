"""The FranceConnect v2 relying party: an adapter that knows nothing of Flask requests.

It takes its settings (``Settings.from_config(app.config)``), a
``requests.Session`` for its server-side calls and a clock, and offers three
steps of the authorization-code flow (FRANCECONNECT.md):

- ``new_attempt()`` then ``authorization_url(attempt)``: where to send the browser;
  the caller keeps the attempt (``state``, ``nonce``) in the browser's session;
- ``finish(attempt, callback_args)``: checks the callback, exchanges the code
  (client_secret_post), verifies the ID token and the signed userinfo JWT, and
  returns the verified claims; raises ``Cancelled`` or ``FranceConnectError``;
- ``logout_url(id_token, state)``: the browser's way out through ``/session/end``.

Every host comes from ``FRANCECONNECT_ISSUER``: sandbox or production is a
matter of configuration only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import string
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import jwt
import requests
from oauthlib.oauth2 import OAuth2Error
from requests_oauthlib import OAuth2Session

log = logging.getLogger("reassort.franceconnect")
# requests-oauthlib logs the token request body (client secret) and the tokens
# at DEBUG: keep them out of the logs whatever the root level (SEC-37).
logging.getLogger("requests_oauthlib").setLevel(logging.INFO)
logging.getLogger("oauthlib").setLevel(logging.INFO)

#: Signature algorithms FranceConnect uses; never the token header's own choice.
ALGORITHMS = ("ES256", "RS256")
#: eIDAS levels, lowest first; anything else ranks below eidas1 and is refused.
ACR_LEVELS = ("eidas1", "eidas2", "eidas3")
ACR_REQUESTED = "eidas1"
#: Where the in-app stand-in lives under PUBLIC_URL (development only).
STANDIN_PATH = "/fc-standin/api/v2"
STANDIN_CLIENT_ID = "reassort-standin"
STANDIN_CLIENT_SECRET = "standin-secret-not-for-production"  # noqa: S105  (stand-in only; refused in production)
CALLBACK_PATH = "/reassort/franceconnect/retour"
LOGOUT_RETURN_PATH = "/reassort/franceconnect/deconnexion/retour"
STANDARD_PATHS = {"authorization_endpoint": "/authorize", "token_endpoint": "/token",
                  "userinfo_endpoint": "/userinfo", "end_session_endpoint": "/session/end",
                  "jwks_uri": "/jwks"}
METADATA_MAX_AGE = 3600
_ALNUM = string.ascii_letters + string.digits


class FranceConnectError(Exception):
    """The provider's answer cannot be used; ``reason`` is a short word for the audit trail."""

    def __init__(self, reason: str, message: str = ""):
        super().__init__(f"{reason}: {message}" if message else reason)
        self.reason = reason


class Cancelled(Exception):
    """The voter cancelled at FranceConnect (``error=access_denied``)."""


@dataclass(frozen=True)
class Settings:
    issuer: str
    client_id: str
    client_secret: str
    redirect_uri: str
    post_logout_redirect_uri: str
    scopes: tuple[str, ...]
    leeway: int = 30
    timeout: float = 10.0
    allow_http: bool = False
    in_app_standin: bool = False

    @classmethod
    def from_config(cls, config: Mapping) -> Settings:
        """Settings from the app's configuration; the in-app stand-in when no issuer is set."""
        public = str(config["PUBLIC_URL"]).rstrip("/")
        issuer = str(config.get("FRANCECONNECT_ISSUER") or "").rstrip("/")
        standin = bool(config.get("FRANCECONNECT_STANDIN"))
        in_app = standin and not issuer
        scopes = str(config["FRANCECONNECT_SCOPES"]).split()
        return cls(
            issuer=public + STANDIN_PATH if in_app else issuer,
            client_id=str(config.get("FRANCECONNECT_CLIENT_ID") or (STANDIN_CLIENT_ID if in_app else "")),
            client_secret=str(config.get("FRANCECONNECT_CLIENT_SECRET")
                              or (STANDIN_CLIENT_SECRET if in_app else "")),
            # Exactly as registered at FranceConnect: built from PUBLIC_URL, no query string.
            redirect_uri=public + CALLBACK_PATH,
            post_logout_redirect_uri=public + LOGOUT_RETURN_PATH,
            scopes=tuple(scopes),
            leeway=int(config["FRANCECONNECT_LEEWAY"]),
            timeout=float(config["FRANCECONNECT_TIMEOUT"]),
            # Plain http only for local stand-ins; production refuses it in config.py too.
            allow_http=standin or config.get("ENV") == "development",
            in_app_standin=in_app,
        )


@dataclass(frozen=True)
class Attempt:
    """One authorization attempt: kept in the browser's session, used once."""

    state: str
    nonce: str
    started_at: int

    def to_dict(self) -> dict:
        return {"state": self.state, "nonce": self.nonce, "at": self.started_at}

    @classmethod
    def from_dict(cls, data) -> Attempt | None:
        try:
            return cls(str(data["state"]), str(data["nonce"]), int(data["at"]))
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True)
class Identity:
    """What a successful ``finish`` returns: verified claims and the raw ID token (for logout)."""

    claims: dict
    id_token: str
    acr: str


def random_token(length: int = 32) -> str:
    """Alphanumeric, as FranceConnect wants for ``state`` and ``nonce`` (≥ 22; 32 ≈ 190 bits)."""
    return "".join(secrets.choice(_ALNUM) for _ in range(length))


# oauthlib refuses http:// unless OAUTHLIB_INSECURE_TRANSPORT is set in the
# environment.  It is set only around the calls to a plain-http local stand-in,
# counted so that overlapping requests in a threaded dev server do not unset it
# under each other, and never for an https issuer.
_insecure_lock = threading.Lock()
_insecure_users = 0
_insecure_before: str | None = None


@contextlib.contextmanager
def _plain_http(needed: bool):
    global _insecure_users, _insecure_before
    if not needed:
        yield
        return
    with _insecure_lock:
        if _insecure_users == 0:
            _insecure_before = os.environ.get("OAUTHLIB_INSECURE_TRANSPORT")
            os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
        _insecure_users += 1
    try:
        yield
    finally:
        with _insecure_lock:
            _insecure_users -= 1
            if _insecure_users == 0:
                if _insecure_before is None:
                    os.environ.pop("OAUTHLIB_INSECURE_TRANSPORT", None)
                else:
                    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = _insecure_before


class FranceConnectClient:
    """The relying party for one provider; endpoints and keys are cached between attempts."""

    def __init__(self, settings: Settings, http: requests.Session | None = None,
                 now: Callable[[], float] = time.time):
        self.settings = settings
        self.http = http or requests.Session()
        self.now = now
        self._metadata: dict | None = None
        self._metadata_at = 0.0
        self._keys: dict[str, jwt.PyJWK] | None = None

    # -- endpoints ---------------------------------------------------------

    def _check_url(self, url: str) -> str:
        scheme = urlsplit(url).scheme
        if scheme == "https" or (scheme == "http" and self.settings.allow_http):
            return url
        raise FranceConnectError("config", f"adresse refusée : {url!r}")

    def endpoints(self) -> dict:
        """The provider's endpoints: its discovery document, else the standard v2 paths."""
        s = self.settings
        if not s.issuer or not s.client_id or not s.client_secret:
            raise FranceConnectError("config", "FRANCECONNECT_ISSUER, _CLIENT_ID et _CLIENT_SECRET requis")
        self._check_url(s.issuer)
        if self._metadata is not None and self.now() - self._metadata_at < METADATA_MAX_AGE:
            return self._metadata
        try:
            response = self.http.get(s.issuer + "/.well-known/openid-configuration", timeout=s.timeout)
            response.raise_for_status()
            document = response.json()
            if not isinstance(document, dict):
                raise TypeError("not a JSON object")
        except (requests.RequestException, ValueError, TypeError) as exc:
            log.info("FranceConnect : document de découverte indisponible (%s), chemins standard", exc)
            return {name: s.issuer + path for name, path in STANDARD_PATHS.items()}
        # OpenID Connect Discovery §4.3: the document must name the issuer we asked.
        if document.get("issuer") != s.issuer:
            raise FranceConnectError("config", "le document de découverte annonce un autre émetteur")
        metadata = {name: self._check_url(str(document.get(name) or s.issuer + path))
                    for name, path in STANDARD_PATHS.items()}
        self._metadata, self._metadata_at = metadata, self.now()
        return metadata

    def _oauth(self, state: str | None = None, token: dict | None = None) -> OAuth2Session:
        s = self.settings
        oauth = OAuth2Session(s.client_id, scope=list(s.scopes), redirect_uri=s.redirect_uri,
                              state=state, token=token)
        # Same transport as our own calls (pools, proxies, test adapters).
        for prefix, adapter in self.http.adapters.items():
            oauth.mount(prefix, adapter)
        oauth.verify, oauth.proxies, oauth.trust_env = self.http.verify, self.http.proxies, self.http.trust_env
        return oauth

    def _plain_http_needed(self) -> bool:
        return self.settings.allow_http and self.settings.issuer.startswith("http://")

    # -- the flow ----------------------------------------------------------

    def new_attempt(self) -> Attempt:
        """A fresh ``state`` and ``nonce`` for one attempt."""
        return Attempt(state=random_token(), nonce=random_token(), started_at=int(self.now()))

    def authorization_url(self, attempt: Attempt) -> str:
        """Where to send the browser: ``/authorize`` with every parameter FranceConnect requires."""
        endpoint = self.endpoints()["authorization_endpoint"]
        with _plain_http(self._plain_http_needed()):
            url, _state = self._oauth(state=attempt.state).authorization_url(
                endpoint, state=attempt.state, nonce=attempt.nonce, acr_values=ACR_REQUESTED)
        return url

    def finish(self, attempt: Attempt, args: Mapping[str, str]) -> Identity:
        """Check the callback ``args`` against ``attempt``, then fetch and verify the identity."""
        if not secrets.compare_digest(str(args.get("state", "")).encode(), attempt.state.encode()):
            raise FranceConnectError("state")
        error = args.get("error")
        if error == "access_denied":
            raise Cancelled()
        if error:
            raise FranceConnectError("provider_error", str(error)[:60])
        code = args.get("code")
        if not code:
            raise FranceConnectError("no_code")
        endpoints = self.endpoints()
        with _plain_http(self._plain_http_needed()):
            oauth = self._oauth(state=attempt.state)
            token = self._exchange(oauth, endpoints["token_endpoint"], code)
            raw_id_token = token.get("id_token")
            if not isinstance(raw_id_token, str):
                raise FranceConnectError("id_token", "absent de la réponse")
            id_claims = self.verify_jwt(raw_id_token, endpoints["jwks_uri"], "id_token")
            self._check_id_token(id_claims, attempt)
            claims = self._userinfo(oauth, endpoints)
        if claims.get("sub") != id_claims.get("sub"):
            # OpenID Connect Core §5.3.4: otherwise the userinfo may be someone else's.
            raise FranceConnectError("userinfo", "sub différent de celui du jeton d'identité")
        return Identity(claims=claims, id_token=raw_id_token, acr=id_claims["acr"])

    def _exchange(self, oauth: OAuth2Session, token_url: str, code: str) -> dict:
        try:
            # client_secret_post: both in the body, no HTTP Basic (FranceConnect requires it).
            return oauth.fetch_token(token_url, code=code, include_client_id=True,
                                     client_secret=self.settings.client_secret, timeout=self.settings.timeout)
        except Warning as changed:
            # oauthlib raises (not warns) "Scope has changed" when the provider answers
            # with another scope string, e.g. aliases expanded.  The scope granted is
            # informative only: the claims we need are checked one by one afterwards.
            token = getattr(changed, "token", None)
            if token is None or "access_token" not in token:
                raise FranceConnectError("token", str(changed)) from None
            log.info("FranceConnect : %s", changed)
            oauth.token = dict(token)
            return oauth.token
        except (OAuth2Error, requests.RequestException, ValueError) as exc:
            raise FranceConnectError("token", type(exc).__name__) from None

    def _userinfo(self, oauth: OAuth2Session, endpoints: dict) -> dict:
        try:
            response = oauth.get(endpoints["userinfo_endpoint"], timeout=self.settings.timeout)
        except (OAuth2Error, requests.RequestException, ValueError) as exc:
            raise FranceConnectError("userinfo", type(exc).__name__) from None
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if response.status_code != 200 or content_type != "application/jwt":
            # FranceConnect v2 signs its userinfo: plain JSON would be unverifiable.
            raise FranceConnectError("userinfo", f"HTTP {response.status_code} {content_type}")
        return self.verify_jwt(response.text.strip(), endpoints["jwks_uri"], "userinfo")

    def _check_id_token(self, claims: dict, attempt: Attempt) -> None:
        for name in ("iat", "sub"):
            if claims.get(name) is None:
                raise FranceConnectError("id_token", f"{name} absent")
        if not secrets.compare_digest(str(claims.get("nonce", "")).encode(), attempt.nonce.encode()):
            raise FranceConnectError("id_token", "nonce")
        acr = claims.get("acr")
        if acr not in ACR_LEVELS or ACR_LEVELS.index(acr) < ACR_LEVELS.index(ACR_REQUESTED):
            raise FranceConnectError("id_token", "acr insuffisant")

    def logout_url(self, id_token: str, state: str) -> str:
        """The browser's redirect to ``/session/end`` (pre-registered return address)."""
        endpoint = self.endpoints()["end_session_endpoint"]
        query = urlencode({"id_token_hint": id_token, "state": state,
                           "post_logout_redirect_uri": self.settings.post_logout_redirect_uri})
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"

    # -- signatures ----------------------------------------------------------

    def _fetch_keys(self, jwks_uri: str) -> dict[str, jwt.PyJWK]:
        try:
            response = self.http.get(jwks_uri, timeout=self.settings.timeout)
            response.raise_for_status()
            keys = jwt.PyJWKSet.from_dict(response.json()).keys
        except (requests.RequestException, ValueError, jwt.PyJWTError) as exc:
            raise FranceConnectError("jwks", type(exc).__name__) from None
        return {k.key_id: k for k in keys if k.key_id and k.algorithm_name in ALGORITHMS}

    def _key(self, kid: str, jwks_uri: str) -> jwt.PyJWK:
        """The key named ``kid``; keys rotate, so an unknown kid refetches the JWKS once."""
        if self._keys is None or kid not in self._keys:
            self._keys = self._fetch_keys(jwks_uri)
        if kid not in self._keys:
            raise FranceConnectError("jwks", "clé inconnue")
        return self._keys[kid]

    def verify_jwt(self, token: str, jwks_uri: str, what: str) -> dict:
        """Signature (fixed algorithms, key by ``kid``), ``iss``, ``aud``, ``exp``/``iat`` by our clock."""
        s = self.settings
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise FranceConnectError(what, "illisible") from None
        # Checked before any key is looked up: "none" and HS256 (signed with the
        # public key as a shared secret) never reach the verifier.
        if header.get("alg") not in ALGORITHMS or not isinstance(header.get("kid"), str):
            raise FranceConnectError(what, "algorithme ou kid refusé")
        key = self._key(header["kid"], jwks_uri)
        try:
            claims = jwt.decode(
                token, key, algorithms=list(ALGORITHMS), audience=s.client_id, issuer=s.issuer,
                # PyJWT reads the system clock: time is checked below with ours.
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False, "strict_aud": True,
                         "require": ["iss", "aud", "exp"] if what == "id_token" else ["iss", "aud"]})
        except jwt.PyJWTError as exc:
            raise FranceConnectError(what, type(exc).__name__) from None
        now = self.now()
        try:
            # The ID token always carries exp; the userinfo JWT is checked when it does.
            exp = float(claims.get("exp", now + s.leeway + 1))
            iat = float(claims.get("iat", now))
        except (TypeError, ValueError):
            raise FranceConnectError(what, "dates illisibles") from None
        if exp <= now - s.leeway:
            raise FranceConnectError(what, "expiré")
        if iat > now + s.leeway:
            raise FranceConnectError(what, "émis dans le futur")
        return claims
