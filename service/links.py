"""Signed, expiring report links: with API keys configured, a browser opens a study's report page with a
token in its URL instead of the key. The token names the study and an expiry, signed with HMAC-SHA256."""

import base64
import hashlib
import hmac
import time

from optadvisor.service.settings import Settings

_SIGNATURE_BYTES = 18


def _signature(secret: bytes, study_id: str, expires: int) -> bytes:
    return hmac.new(secret, f"{study_id}.{expires}".encode(), hashlib.sha256).digest()[:_SIGNATURE_BYTES]


class ReportLinks:
    """Makes and checks report tokens; without API keys there is nothing to sign (`secret` None)."""

    def __init__(self, secret: bytes | None, lifetime_seconds: int) -> None:
        self.secret = secret
        self.lifetime_seconds = lifetime_seconds

    @staticmethod
    def from_settings(settings: Settings) -> "ReportLinks":
        if not settings.api_keys:
            return ReportLinks(None, settings.report_link_seconds)
        if settings.report_secret is not None:
            secret = settings.report_secret.get_secret_value().encode()
        else:
            # Derived from the keys: replicas configured alike accept each other's links, and rotating
            # the keys invalidates the links.
            secret = hashlib.sha256(
                b"optadvisor report links\0" + "\0".join(sorted(settings.api_keys)).encode()
            ).digest()
        return ReportLinks(secret, settings.report_link_seconds)

    def token(self, study_id: str, now: float | None = None) -> str | None:
        if self.secret is None:
            return None
        expires = int(now if now is not None else time.time()) + self.lifetime_seconds
        signature = base64.urlsafe_b64encode(_signature(self.secret, study_id, expires)).decode().rstrip("=")
        return f"{expires}.{signature}"

    def valid(self, study_id: str, token: str, now: float | None = None) -> bool:
        """Whether `token` was made for `study_id` by this secret and has not expired."""
        if self.secret is None:
            return False
        expires_text, _, signature_text = token.partition(".")
        if not expires_text.isdigit() or len(expires_text) > 12 or len(signature_text) != 24:
            return False
        try:
            signature = base64.urlsafe_b64decode(signature_text + "=" * (-len(signature_text) % 4))
        except ValueError:
            return False
        expected = _signature(self.secret, study_id, int(expires_text))
        fresh = int(expires_text) >= (now if now is not None else time.time())
        return hmac.compare_digest(signature, expected) and fresh
