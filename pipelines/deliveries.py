"""The delivery log: what each recent request to an integration did.

No credential reaches the log. A JSON body is redacted on the parsed document, so that an
escaped field name (`"routing\\u005fkey"`) is the name it spells, and kept re-serialised when
anything was redacted; a body that is not JSON is kept only when it shows no credential.
"""

import json
import re
from collections.abc import Collection
from datetime import datetime
from urllib.parse import unquote

from common.payloads import masked, normalised_name
from common.tokens import hash_token
from pipelines.models import AlertSource, Delivery, DeploymentPipeline, Integration

KEEP_PER_INTEGRATION = 100
REDACTED = "[redacted]"
WITHHELD = (
    "[body withheld: it is not JSON and contains the integration key or a credential field, "
    "which the delivery log never keeps]"
)
# Field names that carry a credential, as common.payloads normalises them (lower case, no "_"
# or "-"), matched at the end of a name: PagerDuty's routing_key and ilert's integrationKey
# (the integration key itself), any token, secret, password, API key, Authorization or cookie a
# producer sends or echoes (GitHub's ping carries its hook's secret), and SNS's subscription
# Token with the SubscribeURL that embeds it and the UnsubscribeURL that acts without one.
CREDENTIAL_SUFFIXES = (
    "routingkey",
    "integrationkey",
    "apikey",
    "token",
    "secret",
    "password",
    "passwd",
    "authorization",
    "cookie",
    "subscribeurl",
)
# A name before a value in a body that is not JSON (`"name":`, `name=`, `Name: `), looked for
# after undoing the escapes.
NAME_BEFORE_VALUE = re.compile(r"([A-Za-z][\w-]{0,99})[\"']?\s*[:=]")
JSON_ESCAPE = re.compile(r'\\(?:u([0-9a-fA-F]{4})|(["\\/bfnrt]))')
SIMPLE_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
# Trimming costs a query, so only every Nth delivery does it; the log may briefly hold N more.
TRIM_EVERY = 20


def record_delivery(
    *,
    integration: Integration,
    received_at: datetime,
    event_type: str,
    status_code: int,
    outcome: str,
    reason: str,
    body: bytes,
    object_id: int | None = None,
    keys: Collection[str] = (),
) -> Delivery:
    """Store one delivery record, outside the ingest transaction (the event is already safe).

    `keys` are what the request presented as keys (path, header, body field): the one that is
    this integration's key is kept out of the payload, event type and reason wherever it is.
    """
    delivery = delivery_record(
        integration=integration,
        received_at=received_at,
        event_type=event_type,
        status_code=status_code,
        outcome=outcome,
        reason=reason,
        body=body,
        object_id=object_id,
        keys=keys,
    )
    delivery.save(force_insert=True)
    delivery_stored(delivery, integration)
    return delivery


def delivery_record(
    *,
    integration: Integration,
    received_at: datetime,
    event_type: str,
    status_code: int,
    outcome: str,
    reason: str,
    body: bytes,
    object_id: int | None = None,
    keys: Collection[str] = (),
) -> Delivery:
    """The delivery record as record_delivery stores it, not saved: for a write that stores it
    with the event, in the same statement (common.rows.insert_rows), after which
    `delivery_stored` is called."""
    key = next((key for key in keys if key and hash_token(key) == integration.key_hash), "")
    return Delivery(
        **_owner(integration),
        received_at=received_at,
        event_type=_without(event_type, key)[:100],
        status_code=status_code,
        outcome=outcome,
        reason=_without(reason, key)[:500],
        size=len(body),
        payload=loggable_payload(body, key=key),
        object_id=object_id,
    )


def delivery_stored(delivery: Delivery, integration: Integration) -> None:
    """What follows storing a delivery record: now and then, trimming the log."""
    if delivery.pk % TRIM_EVERY == 0:
        trim_deliveries(integration)


def trim_deliveries(integration: Integration) -> int:
    """Keep the newest KEEP_PER_INTEGRATION records of an integration; returns how many went."""
    owner = _owner(integration)
    newest = Delivery.objects.filter(**owner).order_by("-received_at", "-id")
    cutoff = newest.values_list("received_at", "id")[
        KEEP_PER_INTEGRATION : KEEP_PER_INTEGRATION + 1
    ]
    if not cutoff:
        return 0
    at, pk = cutoff[0]
    older = (
        Delivery.objects.filter(**owner)
        .filter(received_at__lte=at)
        .exclude(received_at=at, id__gt=pk)
    )
    deleted, _ = older.delete()
    return deleted


def _owner(integration: Integration) -> dict[str, Integration]:
    if isinstance(integration, DeploymentPipeline):
        return {"pipeline": integration}
    if isinstance(integration, AlertSource):
        return {"alert_source": integration}
    raise TypeError(f"not an integration: {integration!r}")


def loggable_payload(body: bytes, *, key: str = "") -> str:
    """The payload as the log keeps it, cut at the limit, with no credential in it.

    A JSON body is kept as received when it holds no credential field and the key appears in it
    in no form; otherwise its redacted document is kept, re-serialised. A body that is not JSON
    is kept only when neither the key nor a credential field's name appears in it in any form
    (raw, JSON-escaped, percent-encoded); otherwise a placeholder says it was withheld.
    """
    text = body.decode("utf-8", "replace").replace("\x00", "")
    try:
        document = json.loads(body.decode("utf-8-sig"))
        redacted = masked(document, _is_credential, secret=key, mask=REDACTED)
    except (ValueError, RecursionError):  # not JSON (UnicodeDecodeError is a ValueError)
        if _shows_key(text, key) or _names_credential(text):
            return WITHHELD
        return _cut(text)
    if redacted == document and not _shows_key(text, key):
        return _cut(text)
    serialised = json.dumps(redacted, ensure_ascii=False, indent=2)
    # Lone surrogates and NUL decoded from escapes: no database stores them.
    serialised = serialised.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")
    # Masking replaced the key as written; a percent-encoded copy inside a string stays.
    return WITHHELD if _shows_key(serialised, key) else _cut(serialised)


def _cut(text: str) -> str:
    return text.encode("utf-8")[: Delivery.PAYLOAD_LIMIT].decode("utf-8", "ignore")


def _is_credential(name: str) -> bool:
    return name.endswith(CREDENTIAL_SUFFIXES)


def _without(text: str, key: str) -> str:
    return text.replace(key, REDACTED) if key else text


def _forms(text: str) -> tuple[str, ...]:
    """`text` as written, with its JSON escapes undone, and each percent-decoded."""
    unescaped = JSON_ESCAPE.sub(_unescape, text)
    return text, unescaped, unquote(text), unquote(unescaped)


def _unescape(match: re.Match[str]) -> str:
    code, simple = match.groups()
    if code is not None:
        return chr(int(code, 16))
    return SIMPLE_ESCAPES.get(simple, simple)


def _shows_key(text: str, key: str) -> bool:
    return bool(key) and any(key in form for form in _forms(text))


def _names_credential(text: str) -> bool:
    return any(
        _is_credential(normalised_name(name))
        for form in _forms(text)
        for name in NAME_BEFORE_VALUE.findall(form)
    )
