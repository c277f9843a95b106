"""The bundled multi-channel story, as signed HTTP requests (played by ``make demo`` and the e2e
acceptance tests).

Anna Bianchi's order never arrived. She complains publicly on X, then by X DM, under the
brand's Facebook post, in Messenger and on WhatsApp, and finally phones the call centre. Her
platform id differs on every channel; her order number, her name and her phone link them. Marco
Rossi, an unrelated customer, praises the brand on Instagram. Along the way the platforms send
what platforms send: an echo of the page's own reply, a WhatsApp delivery receipt, a batched
Meta POST, redeliveries; and someone tries forged, unsigned and signed-garbage requests.

Payload shapes follow the platforms' documentation (see docs/protocols.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

BRAND_X_ID = "1500000000000000001"
BRAND_PAGE_ID = "104000000000001"
BRAND_IG_ID = "17841400000000900"
BRAND_WA_PHONE_ID = "109876543210"

ANNA = {
    "name": "Anna Bianchi",
    "x_id": "2244994945",
    "x_handle": "anna_bianchi",
    "facebook_id": "10158000000000001",
    "messenger_psid": "6543210987654321",
    "wa_id": "393331112222",
    "phone": "+393331112222",
    "order": "ORD-123456",
}
MARCO = {"name": "Marco Rossi", "instagram_id": "17841400000000001", "handle": "marco.rossi"}


@dataclass(frozen=True)
class Secrets:
    """The local stack's secrets, from the same SOCIALCARE_* variables that seed moto."""

    x_consumer: str
    meta_app: str
    meta_verify: str
    inbound: str
    api_token: str

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Secrets:
        from socialcare_infra.provision import LOCAL_SECRET_DEFAULTS

        e = os.environ if env is None else env

        def value(name: str) -> str:
            return e.get(name) or LOCAL_SECRET_DEFAULTS[name]

        return cls(
            x_consumer=value("SOCIALCARE_X_CONSUMER_SECRET"),
            meta_app=value("SOCIALCARE_META_APP_SECRET"),
            meta_verify=value("SOCIALCARE_META_VERIFY_TOKEN"),
            inbound=value("SOCIALCARE_INBOUND_SECRET"),
            api_token=value("SOCIALCARE_API_TOKEN"),
        )


@dataclass
class Step:
    name: str
    method: str
    path: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    expect_status: int = 200
    genuine: bool = False  # True when it carries customer messages that must be stored once


# ---------------------------------------------------------------- signing (the platforms' schemes)
def x_signature(secret: str, body: bytes) -> str:
    return "sha256=" + base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def x_crc_response(secret: str, token: str) -> str:
    return x_signature(secret, token.encode())


def meta_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def inbound_headers(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    mac = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"x-socialcare-timestamp": ts, "x-socialcare-signature": f"sha256={mac}", "content-type": "application/json"}


def _json(payload: Any) -> bytes:
    # ensure_ascii: Meta escapes non-ASCII as \uXXXX, and signatures cover these exact bytes.
    return json.dumps(payload, ensure_ascii=True, separators=(",", ":")).encode()


# ---------------------------------------------------------------- payloads
def x_mention(now: float) -> dict[str, Any]:
    text = (
        f"@brand il mio ordine {ANNA['order']} non è mai arrivato, è una vergogna! "
        "Nessuno risponde, chiedo il rimborso subito."
    )
    return {
        "for_user_id": BRAND_X_ID,
        "user_has_blocked": False,
        "tweet_create_events": [
            {
                "created_at": time.strftime("%a %b %d %H:%M:%S +0000 %Y", time.gmtime(now - 3600)),
                "id": 1860000000000000001,
                "id_str": "1860000000000000001",
                "text": text[:140],
                "truncated": True,
                "extended_tweet": {"full_text": text},
                "user": {
                    "id": int(ANNA["x_id"]),
                    "id_str": ANNA["x_id"],
                    "name": ANNA["name"],
                    "screen_name": ANNA["x_handle"],
                    "followers_count": 48200,
                },
                "in_reply_to_status_id_str": None,
                "entities": {"user_mentions": [{"id_str": BRAND_X_ID, "screen_name": "brand"}]},
                "timestamp_ms": str(int((now - 3600) * 1000)),
            }
        ],
    }


def x_dm(now: float) -> dict[str, Any]:
    return {
        "for_user_id": BRAND_X_ID,
        "direct_message_events": [
            {
                "type": "message_create",
                "id": "1860000000000000777",
                "created_timestamp": str(int((now - 3000) * 1000)),
                "message_create": {
                    "target": {"recipient_id": BRAND_X_ID},
                    "sender_id": ANNA["x_id"],
                    "message_data": {
                        "text": f"Sono {ANNA['name']}, ordine {ANNA['order']}. "
                        "Il mio numero è +39 333 111 2222, richiamatemi.",
                        "entities": {"hashtags": [], "symbols": [], "user_mentions": [], "urls": []},
                    },
                },
            }
        ],
        "users": {
            ANNA["x_id"]: {"id": ANNA["x_id"], "name": ANNA["name"], "screen_name": ANNA["x_handle"]},
            BRAND_X_ID: {"id": BRAND_X_ID, "name": "Brand", "screen_name": "brand"},
        },
    }


def meta_page_batch(now: float) -> dict[str, Any]:
    """One POST, two entries: a feed comment, a Messenger message and the page's own echo."""
    t = int(now - 2400)
    return {
        "object": "page",
        "entry": [
            {
                "id": BRAND_PAGE_ID,
                "time": t,
                "changes": [
                    {
                        "field": "feed",
                        "value": {
                            "item": "comment",
                            "verb": "add",
                            "from": {"id": ANNA["facebook_id"], "name": ANNA["name"]},
                            "post_id": f"{BRAND_PAGE_ID}_900000000000001",
                            "comment_id": "900000000000001_1200000000000001",
                            "parent_id": f"{BRAND_PAGE_ID}_900000000000001",
                            "message": f"Ancora nessuna notizia dell'ordine {ANNA['order']}. Pessimo servizio.",
                            "created_time": t,
                        },
                    }
                ],
            },
            {
                "id": BRAND_PAGE_ID,
                "time": t * 1000 + 500,
                "messaging": [
                    {
                        "sender": {"id": ANNA["messenger_psid"]},
                        "recipient": {"id": BRAND_PAGE_ID},
                        "timestamp": t * 1000 + 400,
                        "message": {
                            "mid": "m_AnnaMessenger0001",
                            "text": f"Ciao, sono {ANNA['name']}. L'ordine {ANNA['order']} non è arrivato: "
                            "chiedo il rimborso.",
                        },
                    },
                    {
                        "sender": {"id": BRAND_PAGE_ID},
                        "recipient": {"id": ANNA["messenger_psid"]},
                        "timestamp": t * 1000 + 450,
                        "message": {"mid": "m_PageEcho0001", "is_echo": True, "text": "Ci scusi, verifichiamo."},
                    },
                ],
            },
        ],
    }


def _whatsapp(value: dict[str, Any]) -> dict[str, Any]:
    """The Cloud API envelope around one `messages` change of the brand's number."""
    metadata = {"display_phone_number": "390212345678", "phone_number_id": BRAND_WA_PHONE_ID}
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {"field": "messages", "value": {"messaging_product": "whatsapp", "metadata": metadata, **value}}
                ],
            }
        ],
    }


def whatsapp_message(now: float) -> dict[str, Any]:
    return _whatsapp(
        {
            "contacts": [{"profile": {"name": ANNA["name"]}, "wa_id": ANNA["wa_id"]}],
            "messages": [
                {
                    "from": ANNA["wa_id"],
                    "id": "wamid.HBgMMzkzMzMxMTEyMjIyFQIAEhgWQU5OQTAwMDE=",
                    "timestamp": str(int(now - 1800)),
                    "type": "text",
                    "text": {
                        "body": f"Buongiorno, scrivo ancora per l'ordine {ANNA['order']}. "
                        "Se non ricevo il rimborso mi rivolgo a un avvocato."
                    },
                }
            ],
        }
    )


def whatsapp_status(now: float) -> dict[str, Any]:
    return _whatsapp(
        {
            "statuses": [
                {
                    "id": "wamid.OUTBOUND0001",
                    "status": "delivered",
                    "timestamp": str(int(now - 1700)),
                    "recipient_id": ANNA["wa_id"],
                }
            ]
        }
    )


def instagram_praise(now: float) -> dict[str, Any]:
    return {
        "object": "instagram",
        "entry": [
            {
                "id": BRAND_IG_ID,
                "time": int(now - 1200),
                "changes": [
                    {
                        "field": "comments",
                        "value": {
                            "from": {"id": MARCO["instagram_id"], "username": MARCO["handle"]},
                            "media": {"id": "17900000000000001", "media_product_type": "FEED"},
                            "id": "17950000000000001",
                            "text": "Adoro i vostri prodotti, servizio fantastico! Grazie mille ❤️",
                        },
                    }
                ],
            }
        ],
    }


def connect_call(phone: str = "+393331112222") -> dict[str, Any]:
    contact_id = str(uuid.uuid4())
    return {
        "Name": "ContactFlowEvent",
        "Details": {
            "ContactData": {
                "Attributes": {},
                "Channel": "VOICE",
                "ContactId": contact_id,
                "CustomerEndpoint": {"Address": phone, "Type": "TELEPHONE_NUMBER"},
                "InitialContactId": contact_id,
                "InitiationMethod": "INBOUND",
                "InstanceARN": "arn:aws:connect:eu-west-1:123456789012:instance/00000000-0000-0000-0000-000000000001",
                "PreviousContactId": contact_id,
                "Queue": None,
                "SystemEndpoint": {"Address": "+390212345678", "Type": "TELEPHONE_NUMBER"},
            },
            "Parameters": {},
        },
    }


# ---------------------------------------------------------------- the story
def story(secrets: Secrets, now: float | None = None) -> list[Step]:
    now = time.time() if now is None else now

    def signed(path: str, header: str, sign: Any, secret: str) -> Any:
        def post(name: str, payload: dict[str, Any], genuine: bool = True) -> Step:
            body = _json(payload)
            headers = {"content-type": "application/json", header: sign(secret, body)}
            return Step(name, "POST", path, body, headers, genuine=genuine)

        return post

    x_post = signed("/webhooks/x", "x-twitter-webhooks-signature", x_signature, secrets.x_consumer)
    meta_post = signed("/webhooks/meta", "x-hub-signature-256", meta_signature, secrets.meta_app)

    mention, batch = x_mention(now), meta_page_batch(now)
    forged = _json(x_mention(now))
    garbage = b'{"object": "page", "entry": [ this is not json'
    return [
        Step("X CRC check", "GET", "/webhooks/x?crc_token=demo-crc-token"),
        Step(
            "Meta verification",
            "GET",
            f"/webhooks/meta?hub.mode=subscribe&hub.verify_token={secrets.meta_verify}&hub.challenge=1158201444",
        ),
        x_post("X: public mention", mention),
        x_post("X: direct message", x_dm(now)),
        meta_post("Meta: batched page POST (comment, Messenger, echo)", batch),
        meta_post("WhatsApp: message", whatsapp_message(now)),
        meta_post("WhatsApp: delivery receipt", whatsapp_status(now), genuine=False),
        meta_post("Instagram: unrelated customer's praise", instagram_praise(now)),
        x_post("X: redelivered mention", mention),
        meta_post("Meta: redelivered batch", batch),
        Step(
            "forged X signature",
            "POST",
            "/webhooks/x",
            forged,
            {"x-twitter-webhooks-signature": x_signature("not-the-secret", forged)},
            expect_status=401,
        ),
        Step("unsigned Meta POST", "POST", "/webhooks/meta", _json(batch), {}, expect_status=401),
        Step(
            "signed garbage",
            "POST",
            "/webhooks/meta",
            garbage,
            {"x-hub-signature-256": meta_signature(secrets.meta_app, garbage)},
            expect_status=400,
        ),
    ]
