"""Where an SNS message's signing certificate may come from, and whose it must be.

SigningCertURL is chosen by whoever sends the message: only an https URL of a .pem file on an
SNS endpoint (sns.<region>.amazonaws.com, or .amazonaws.com.cn in China) is looked up, and the
certificate found must name SNS's signing identity. Anything else is a bad signature (401),
never a 500. Nothing here reaches the network: certificates come from the SNS_CERT_DIR folder or
the certificate cache, as in air-gapped installations.
"""

import base64
import json
import shutil
from datetime import UTC, datetime
from functools import cache as remembered

import pytest
import time_machine
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from django.core.cache import cache

from common.times import parse_timestamp
from incidents.models import Incident
from pipelines.models import Delivery
from pipelines.sns import string_to_sign
from tests.fixtures import load_fixture
from tests.incidents.ingest import SNS_CERT_URL, SNS_CERTIFICATE, SNS_KEY, send, source_for, url_for

pytestmark = pytest.mark.django_db

SNS_HOST = "https://sns.us-east-1.amazonaws.com"
CERT_NAME = SNS_CERT_URL.rsplit("/", 1)[1]


@pytest.fixture
def cert_dir(tmp_path, settings):
    settings.SNS_CERT_DIR = str(tmp_path)
    return tmp_path


@remembered
def forger_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def certificate_for(common_name: str, dns_names: tuple[str, ...] = ()) -> bytes:
    """A self-signed certificate with this subject, for forger_key()."""
    key = forger_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime(2025, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2035, 1, 1, tzinfo=UTC))
    )
    if dns_names:
        alternative = x509.SubjectAlternativeName([x509.DNSName(dns) for dns in dns_names])
        builder = builder.add_extension(alternative, critical=False)
    certificate = builder.sign(key, hashes.SHA256())
    return certificate.public_bytes(serialization.Encoding.PEM)


def signed(message: dict, key: rsa.RSAPrivateKey | None = None) -> dict:
    """The message signed (SignatureVersion 2) as SNS would, by the fixtures' key by default."""
    if key is None:
        key = serialization.load_pem_private_key(SNS_KEY.read_bytes(), password=None)
    message = {**message, "SignatureVersion": "2"}
    signature = key.sign(string_to_sign(message), padding.PKCS1v15(), hashes.SHA256())
    return {**message, "Signature": base64.b64encode(signature).decode()}


def post_alarm(client, cert_url: str, key: rsa.RSAPrivateKey | None = None):
    """The fixture's CloudWatch alarm, signed, naming `cert_url`, at the fixture's time."""
    fixture = load_fixture("sns_cloudwatch", "02_alarm_metric")
    message = signed({**json.loads(fixture["body"]), "SigningCertURL": cert_url}, key)
    with time_machine.travel(parse_timestamp(fixture["received_at"]), tick=False):
        return send(client, fixture, url_for(fixture), body=json.dumps(message))


@pytest.fixture
def source():
    return source_for("sns_cloudwatch", load_fixture("sns_cloudwatch", "02_alarm_metric"))


def assert_refused(response, source, words: str) -> None:
    assert response.status_code == 401, response.content
    answer = response.json()
    assert answer["code"] == "bad_signature" and words in answer["message"], answer
    assert not Incident.objects.exists()
    assert Delivery.objects.get(alert_source=source).outcome == "rejected"


@pytest.mark.parametrize(
    "cert_url",
    [
        f"{SNS_HOST}/SimpleNotificationService 1591f31e.pem",  # a space
        f"{SNS_HOST}/SimpleNotificationService-1591f31e.pem\n",  # a newline
        f"{SNS_HOST}/Simple\rNotificationService.pem",  # a carriage return
        f"{SNS_HOST}/SimpleNotificationService-\x7f.pem",  # DEL
        f"{SNS_HOST}/Simple\tNotificationService.pem",  # a tab
        f"{SNS_HOST}/SimpleNotificationService-ü.pem",  # not ASCII
    ],
)
def test_a_signing_cert_url_with_characters_no_url_has_is_a_401_not_a_500(
    client, cert_dir, source, cert_url
):
    # Not in the folder nor the cache: before the fix, the fetch raised InvalidURL (a 500).
    assert_refused(post_alarm(client, cert_url), source, "SigningCertURL")


@pytest.mark.parametrize(
    "cert_url",
    [
        f"https://sns.s3.amazonaws.com/{CERT_NAME}",  # not a region
        f"https://sns.s3-website.amazonaws.com/{CERT_NAME}",
        f"https://sns.amazonaws.com/{CERT_NAME}",
        f"https://sns.us-east-1.amazonaws.com.evil.io/{CERT_NAME}",
        f"https://sns.us-east-1.amazonaws.com./{CERT_NAME}",  # a trailing dot
        f"https://sns.us-east-1.amazonaws.com.cn/{CERT_NAME}",  # .cn is for China only
        f"https://sns.cn-north-1.amazonaws.com/{CERT_NAME}",  # and China is on .cn
        f"https://SNS.US-EAST-1.amazonaws.com/{CERT_NAME}",
        f"https://x.sns.us-east-1.amazonaws.com/{CERT_NAME}",
        f"https://[sns.us-east-1.amazonaws.com/{CERT_NAME}",  # urlsplit raises ValueError
        f"http://sns.us-east-1.amazonaws.com/{CERT_NAME}",  # not https
        f"HTTPS://sns.us-east-1.amazonaws.com/{CERT_NAME}",
        f"https://sns.us-east-1.amazonaws.com:443/{CERT_NAME}",  # a port
        f"https://sns.us-east-1.amazonaws.com:/{CERT_NAME}",  # an empty port
        f"https://user@sns.us-east-1.amazonaws.com/{CERT_NAME}",  # user information
        f"https://evil.io:x@sns.us-east-1.amazonaws.com/{CERT_NAME}",
        f"https://sns.us-east-1.amazonaws.com@evil.io/{CERT_NAME}",
        f"{SNS_HOST}/certificate.txt",  # not a .pem file
        f"{SNS_HOST}/{CERT_NAME}?Action=Publish",  # a query
        f"{SNS_HOST}/{CERT_NAME}#fragment",
        f"{SNS_HOST}/{CERT_NAME}/",
        f"//sns.us-east-1.amazonaws.com/{CERT_NAME}",  # no scheme
        CERT_NAME,
    ],
)
def test_a_signing_cert_url_off_the_sns_endpoints_is_refused_before_any_lookup(
    client, cert_dir, source, cert_url
):
    # The folder holds the fixtures' valid certificate under the URL's last segment: a URL
    # that got as far as the lookup would verify.
    name = cert_url.rstrip("/").rsplit("/", 1)[-1].split("?")[0].split("#")[0]
    shutil.copy(SNS_CERTIFICATE, cert_dir / name)

    assert_refused(post_alarm(client, cert_url), source, "SigningCertURL")


@pytest.mark.parametrize(
    ("cert_url", "common_name", "dns_names"),
    [
        (SNS_CERT_URL, "attacker.example", ()),
        (SNS_CERT_URL, "sns.amazonaws.com.attacker.example", ()),
        (SNS_CERT_URL, "attacker.example", ("attacker.example",)),
        (SNS_CERT_URL, "sns.amazonaws.com.cn", ()),  # China's name on a global endpoint
        (SNS_CERT_URL, "sns-signing.ap-east-1.amazonaws.com", ()),  # another region's name
        ("https://sns.cn-north-1.amazonaws.com.cn/cert.pem", "sns.amazonaws.com", ()),
    ],
)
def test_a_certificate_that_does_not_name_sns_is_refused(
    client, cert_dir, source, cert_url, common_name, dns_names
):
    (cert_dir / cert_url.rsplit("/", 1)[1]).write_bytes(certificate_for(common_name, dns_names))

    response = post_alarm(client, cert_url, key=forger_key())

    assert_refused(response, source, "signing identity")


@pytest.mark.parametrize(
    ("cert_url", "common_name", "dns_names"),
    [
        (SNS_CERT_URL, "sns.amazonaws.com", ()),
        (SNS_CERT_URL, "SimpleNotificationService", ("sns.amazonaws.com",)),
        ("https://sns.ap-east-1.amazonaws.com/c.pem", "sns-signing.ap-east-1.amazonaws.com", ()),
        ("https://sns.cn-north-1.amazonaws.com.cn/c.pem", "sns-cn-north-1.amazonaws.com.cn", ()),
        ("https://sns.cn-northwest-1.amazonaws.com.cn/c.pem", "sns.amazonaws.com.cn", ()),
        ("https://sns.us-gov-east-1.amazonaws.com/c.pem", "sns-us-gov-west-1.amazonaws.com", ()),
        ("https://sns.eu-central-2.amazonaws.com/c.pem", "sns.amazonaws.com", ()),
    ],
)
def test_a_certificate_naming_sns_for_the_urls_region_is_accepted(
    client, cert_dir, source, cert_url, common_name, dns_names
):
    (cert_dir / cert_url.rsplit("/", 1)[1]).write_bytes(certificate_for(common_name, dns_names))

    response = post_alarm(client, cert_url, key=forger_key())

    assert response.status_code == 202, response.content
    assert Incident.objects.get().alias == "cloudwatch-HighErrorRate"


def test_the_fixtures_certificate_is_still_accepted(client, cert_dir, source):
    shutil.copy(SNS_CERTIFICATE, cert_dir / CERT_NAME)
    assert post_alarm(client, SNS_CERT_URL).status_code == 202
    assert Incident.objects.count() == 1


def test_a_cached_certificate_must_name_sns_too(client, settings, source):
    # No folder: the certificate comes from the cache, as one fetched earlier would.
    settings.SNS_CERT_DIR = ""
    cache.set(f"sns-cert:{SNS_CERT_URL}", certificate_for("attacker.example"), 60)

    response = post_alarm(client, SNS_CERT_URL, key=forger_key())

    assert_refused(response, source, "signing identity")


def test_a_cached_sns_certificate_is_used(client, settings, source):
    settings.SNS_CERT_DIR = ""
    cache.set(f"sns-cert:{SNS_CERT_URL}", SNS_CERTIFICATE.read_bytes(), 60)
    assert post_alarm(client, SNS_CERT_URL).status_code == 202
