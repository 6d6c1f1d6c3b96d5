"""Amazon SNS message signatures (SignatureVersion 1 and 2) and where certificates come from.

https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html
Certificates come from the SNS_CERT_DIR folder first (air-gapped installations and tests put
them there, named after the last path segment of SigningCertURL), then from an HTTPS URL of a
.pem file on an `sns.<region>.amazonaws.com(.cn)` host only, and are kept in the cache once read.
Wherever it came from, a certificate is used only if it names SNS's signing identity.
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
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError

from pipelines.exceptions import BadSignature

logger = logging.getLogger(__name__)

# SNS's regional endpoints (https://docs.aws.amazon.com/general/latest/gr/sns.html) are
# sns.<region>.amazonaws.com, and sns.<region>.amazonaws.com.cn in the China regions. A region is
# an area code, "-gov" in GovCloud, a direction and a number: us-east-1, us-gov-west-1, cn-north-1.
SNS_HOST = re.compile(
    r"sns\.(?P<region>[a-z]{2}(?:-gov)?-[a-z]+-\d{1,2})\.(?P<domain>amazonaws\.com(?:\.cn)?)"
)
# Printable ASCII only: a space, control character or DEL is no URL (and urllib refuses it).
URL_CHARACTERS = re.compile(r"[\x21-\x7e]{1,2000}")
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
    return _sns_endpoint(url) is not None


def _sns_endpoint(url: object) -> tuple[str, str] | None:
    """(region, domain) of an https URL on an SNS endpoint; None for anything else.

    The whole netloc must be the endpoint's name: no user information, no port, no upper case
    (SNS writes its URLs in lower case).
    """
    if not isinstance(url, str) or not URL_CHARACTERS.fullmatch(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:  # "Invalid IPv6 URL": a bracket in the host (found by the fuzz test)
        return None
    match = SNS_HOST.fullmatch(parts.netloc)
    if not url.startswith("https://") or match is None:  # urlsplit lower-cases the scheme
        return None
    region, domain = match["region"], match["domain"]
    # The China regions are served from amazonaws.com.cn only, and only they are.
    if region.startswith("cn-") != domain.endswith(".cn"):
        return None
    return region, domain


def signing_identities(region: str, domain: str) -> frozenset[str]:
    """The names SNS's signing certificates carry for an endpoint's region.

    sns.amazonaws.com in most regions; sns-signing.<region>.amazonaws.com in the opt-in ones;
    sns-<region>.amazonaws.com.cn in China; sns-us-gov-west-1.amazonaws.com in both GovCloud
    regions (as the AWS SDK for Java's SNS message manager expects them). Each is a name only
    AWS can hold.
    """
    names = {f"sns.{domain}", f"sns-signing.{region}.{domain}", f"sns-{region}.{domain}"}
    if "-gov-" in region:
        names.add(f"sns-us-gov-west-1.{domain}")
    return frozenset(names)


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
    try:
        public_key = signing_certificate(message.get("SigningCertURL")).public_key()
    except UnsupportedAlgorithm:
        public_key = None
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
    """The certificate at SigningCertURL, from SNS_CERT_DIR, the cache, or SNS itself.

    Raises BadSignature for a URL that is not a .pem file on an SNS endpoint (before anything
    is looked up or fetched), and for a certificate that does not name SNS.
    """
    endpoint = _sns_endpoint(url)
    if endpoint is None or not _is_certificate_path(str(url)):
        raise BadSignature(
            "SigningCertURL must be an https URL of a .pem file on an "
            "sns.<region>.amazonaws.com host."
        )
    assert isinstance(url, str)  # noqa: S101 - _sns_endpoint checked it; tells the type checker
    pem = _from_folder(url) or _from_cache(url)
    fetched = pem is None
    if pem is None:
        pem = _fetch(url)
    try:
        certificate = x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise BadSignature("The signing certificate is not a PEM certificate.") from None
    _check_identity(certificate, *endpoint)
    if fetched:  # only a certificate that passed is remembered
        _store_in_cache(url, pem)
    return certificate


def _is_certificate_path(url: str) -> bool:
    parts = urlsplit(url)
    return parts.path.endswith(".pem") and not parts.query and not parts.fragment


def _check_identity(certificate: x509.Certificate, region: str, domain: str) -> None:
    """Raise BadSignature unless the certificate's subject (or a DNS name of it) is SNS's."""
    if not _certificate_names(certificate) & signing_identities(region, domain):
        raise BadSignature(
            "The signing certificate's subject is not SNS's signing identity "
            f"(sns.{domain} or the region's SNS signing name)."
        )


def _certificate_names(certificate: x509.Certificate) -> set[str]:
    """The subject's common names and the DNS names the certificate is issued to."""
    try:
        subject = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        names = {str(attribute.value) for attribute in subject}
        extension = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names.update(extension.value.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        pass
    except ValueError:  # a malformed subject or extension names nobody
        return set()
    return names


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
            return response.read(64 * 1024)
    except (OSError, ValueError) as error:  # ValueError: http.client's InvalidURL, say
        logger.warning("could not fetch the SNS signing certificate %s: %s", url, error)
        raise BadSignature("The SNS signing certificate could not be fetched.") from None


def _store_in_cache(url: str, pem: bytes) -> None:
    try:
        cache.set(f"sns-cert:{url}", pem, CERTIFICATE_CACHE_SECONDS)
    except (RedisError, OSError):
        logger.warning("could not cache the SNS signing certificate", exc_info=True)
