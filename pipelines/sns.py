"""Amazon SNS message signatures (SignatureVersion 1 and 2) and where certificates come from.

https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html
Certificates come from the SNS_CERT_DIR folder first (air-gapped installations and tests put
them there, named after the last path segment of SigningCertURL), then from an HTTPS URL on an
`sns.<region>.amazonaws.com` host only, and are kept in the cache once read.
"""

import base64
import binascii
import logging
import re
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError

from pipelines.exceptions import BadSignature

logger = logging.getLogger(__name__)

SNS_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
    "UnsubscribeConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}
FETCH_TIMEOUT_SECONDS = 5
CERTIFICATE_CACHE_SECONDS = 24 * 3600


def is_sns_url(url: object) -> bool:
    """An https URL on an SNS endpoint: the only place we fetch certificates or confirm at."""
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    return parts.scheme == "https" and bool(SNS_HOST.match(parts.hostname or "")) and not parts.port


def verify_sns_message(message: Mapping[str, Any]) -> None:
    """Raise BadSignature unless SNS signed this message with the certificate it names."""
    message_type = message.get("Type")
    if not isinstance(message_type, str) or message_type not in SIGNED_FIELDS:
        raise BadSignature(f"Unknown SNS message Type {str(message_type)[:100]!r}.")
    algorithm = HASHES.get(str(message.get("SignatureVersion")))
    if algorithm is None:
        raise BadSignature("SignatureVersion must be 1 or 2.")
    try:
        signature = base64.b64decode(str(message.get("Signature", "")), validate=True)
    except (binascii.Error, ValueError):
        raise BadSignature("Signature is not base64.") from None
    public_key = signing_certificate(message.get("SigningCertURL")).public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise BadSignature("The signing certificate does not hold an RSA key.")
    try:
        public_key.verify(signature, string_to_sign(message), padding.PKCS1v15(), algorithm())
    except InvalidSignature:
        raise BadSignature("The SNS signature does not match the message.") from None


def string_to_sign(message: Mapping[str, Any]) -> bytes:
    """`name\\nvalue\\n` for each signed field present, in SNS's order."""
    lines = []
    for name in SIGNED_FIELDS[message["Type"]]:
        if name in message and message[name] is not None:
            lines.append(f"{name}\n{message[name]}\n")
    return "".join(lines).encode("utf-8")


def signing_certificate(url: object) -> x509.Certificate:
    """The certificate at SigningCertURL, from SNS_CERT_DIR, the cache, or SNS itself."""
    if not is_sns_url(url):
        raise BadSignature(
            "SigningCertURL must be an https URL on an sns.<region>.amazonaws.com host."
        )
    assert isinstance(url, str)  # noqa: S101 - is_sns_url checked it; tells the type checker
    pem = _from_folder(url) or _from_cache(url) or _fetch(url)
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise BadSignature("The signing certificate is not a PEM certificate.") from None


def _from_folder(url: str) -> bytes | None:
    folder = settings.SNS_CERT_DIR
    if not folder:
        return None
    name = Path(urlsplit(url).path).name
    path = Path(folder) / name
    if not name or not path.is_file():
        return None
    return path.read_bytes()


def _from_cache(url: str) -> bytes | None:
    try:
        return cache.get(f"sns-cert:{url}")
    except (RedisError, OSError):
        return None


def _fetch(url: str) -> bytes:
    try:
        # The host is an SNS endpoint (checked above): no user-chosen address is ever fetched.
        with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_SECONDS) as response:  # noqa: S310
            pem = response.read(64 * 1024)
    except OSError as error:
        logger.warning("could not fetch the SNS signing certificate %s: %s", url, error)
        raise BadSignature("The SNS signing certificate could not be fetched.") from None
    try:
        cache.set(f"sns-cert:{url}", pem, CERTIFICATE_CACHE_SECONDS)
    except (RedisError, OSError):
        logger.warning("could not cache the SNS signing certificate", exc_info=True)
    return pem
