"""``hmac-sha256``: the generic body HMAC, for vendors without a preset (inbound only).

One header holds ``prefix + encode(HMAC-SHA256(UTF-8 bytes of the secret, raw body))``; no
timestamp. The webhook's ``signature_options`` choose the header (default ``X-Signature``), the
encoding (``hex``, the default, compared without regard to letter case, prefix included; ``base64``;
``base64url``, compared with or without ``=`` padding), a literal ``prefix`` such as
``sha256=``, and the headers that carry the provider's delivery id (``id_header``: kept with
the message, but not its dedupe key, since nothing signs it) and event name
(``event_header``). Every secret in force verifies (rotation grace).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import Any, Final

from hookwire.signing.base import HeaderHmac

NAME: Final = "hmac-sha256"
DEFAULT_HEADER: Final = "X-Signature"
HEADER_NAME: Final = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$"
_ENCODERS: Final[dict[str, Callable[[bytes], str]]] = {
    "hex": bytes.hex,
    "base64": lambda raw: base64.b64encode(raw).decode(),
    "base64url": lambda raw: base64.urlsafe_b64encode(raw).decode(),
}
_NORMALIZE: Final[dict[str, Callable[[str], str]]] = {
    "hex": str.lower,
    "base64": lambda value: value,
    "base64url": lambda value: value.rstrip("="),
}
OPTIONS_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "header": {"type": "string", "pattern": HEADER_NAME},
        "encoding": {"enum": list(_ENCODERS)},
        "prefix": {"type": "string", "maxLength": 32, "pattern": "^[\\x20-\\x7e]*$"},
        "id_header": {"type": "string", "pattern": HEADER_NAME},
        "event_header": {"type": "string", "pattern": HEADER_NAME},
    },
}


def configured(options: Mapping[str, str]) -> HeaderHmac:
    """The scheme that ``signature_options`` (checked against OPTIONS_SCHEMA) describe."""
    encoding = options.get("encoding", "hex")
    encode, prefix = _ENCODERS[encoding], options.get("prefix", "")
    return HeaderHmac(
        NAME,
        options.get("header", DEFAULT_HEADER),
        lambda raw: prefix + encode(raw),
        id_headers=(options["id_header"],) if "id_header" in options else (),
        normalize=_NORMALIZE[encoding],
    )


SCHEME = configured({})
