"""Entra ID token answers, as MSAL hands them over (the OAuth 2.0 token response, RFC 6749 §5.1).

The access token goes into an ``Authorization`` header on every request: it must be a
non-empty string without spaces or line breaks (a JWT, or an opaque token), never a
number, an object or ``null``. ``expires_in`` is a number of seconds when present.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from sssctl.clients.models import Reply

BearerToken = Annotated[str, msgspec.Meta(min_length=1, pattern=r"^[^\s]+$")]


class TokenAnswer(Reply):
    access_token: BearerToken
    token_type: str | None = None
    expires_in: int | None = None
