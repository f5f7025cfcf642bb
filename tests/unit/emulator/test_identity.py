"""Token verification as every emulated service relies on it."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from sssctl.emulator import constants as c
from sssctl.emulator.certs import load_key_material
from sssctl.emulator.context import InvalidToken
from sssctl.emulator.directory import Directory
from sssctl.emulator.identity import STORAGE_AUDIENCE, Identity, Principal

URL = "https://127.0.0.1:9"
DATAVERSE = f"{URL}/dataverse"
GRAPH = f"{URL}/graph"


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory) -> Identity:
    keys = load_key_material(Path(tmp_path_factory.mktemp("keys")))
    directory = Directory(
        client_secret="s" * 40,
        client_certificate_der=keys.client_certificate_der,
        issuer_url=f"{URL}/_issuer",
    )
    directory.reset(mailboxes=None, large=False)
    return Identity(
        url=URL,
        directory=directory,
        token_key=keys.token_key,
        issuer_key=keys.issuer_key,
        resources={DATAVERSE: c.DATAVERSE_RESOURCE_APP_ID, GRAPH: c.GRAPH_RESOURCE_APP_ID},
        msi_header="h",
    )


def _token(identity: Identity, audience: str = DATAVERSE, lifetime: int | None = None) -> str:
    return identity.mint(Principal(c.SSSCTL_APP_ID), audience, lifetime=lifetime)[0]


def test_valid_token_gives_the_caller(identity: Identity) -> None:
    caller = identity.verify(f"Bearer {_token(identity)}", DATAVERSE)
    assert (caller.app_id, caller.object_id, caller.tenant_id) == (
        c.SSSCTL_APP_ID,
        c.SSSCTL_SP_OBJECT_ID,
        c.TENANT_ID,
    )
    assert identity.verify(f"bearer {_token(identity)}", DATAVERSE + "/").audience == DATAVERSE


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer ", "Bearer not.a.jwt"])
def test_missing_or_malformed_headers_are_refused(identity: Identity, header: str | None) -> None:
    with pytest.raises(InvalidToken):
        identity.verify(header, DATAVERSE)


def test_wrong_audience_is_refused(identity: Identity) -> None:
    with pytest.raises(InvalidToken, match="audience"):
        identity.verify(f"Bearer {_token(identity, GRAPH)}", DATAVERSE)


def test_expired_token_is_refused_even_after_it_was_once_valid(identity: Identity) -> None:
    with pytest.raises(InvalidToken, match="expired"):
        identity.verify(f"Bearer {_token(identity, lifetime=-5)}", DATAVERSE)


def test_token_signed_by_another_key_is_refused(identity: Identity) -> None:
    claims = jwt.decode(_token(identity), options={"verify_signature": False})
    forged = jwt.encode(
        claims, rsa.generate_private_key(public_exponent=65537, key_size=2048), algorithm="RS256"
    )
    with pytest.raises(InvalidToken, match="not valid"):
        identity.verify(f"Bearer {forged}", DATAVERSE)


def test_challenge_header_names_the_authority_and_resource(identity: Identity) -> None:
    assert identity.challenge_header(GRAPH) == (
        f"Bearer authorization_uri={URL}/{c.TENANT_ID}/oauth2/authorize, resource_id={GRAPH}"
    )


def test_delegated_token_is_for_the_admin_user(identity: Identity) -> None:
    token = identity.mint(
        Principal(c.SSSCTL_APP_ID, c.ADMIN_USER_OBJECT_ID, "0"),
        DATAVERSE,
        scopes=(f"{DATAVERSE}/user_impersonation",),
    )[0]
    caller = identity.verify(f"Bearer {token}", DATAVERSE)
    assert caller.object_id == c.ADMIN_USER_OBJECT_ID
    assert caller.claims["scp"] == "user_impersonation" and caller.claims["idtyp"] == "user"


def test_storage_gets_a_v1_token_without_roles_as_entra_issues_it(identity: Identity) -> None:
    audience = identity.resource_for("https://storage.azure.com/")
    assert audience == STORAGE_AUDIENCE
    claims = jwt.decode(_token(identity, audience), options={"verify_signature": False})
    assert (claims["aud"], claims["iss"], claims["ver"]) == (
        "https://storage.azure.com", f"https://sts.windows.net/{c.TENANT_ID}/", "1.0")
    assert claims["appid"] == c.SSSCTL_APP_ID and "roles" not in claims
    with pytest.raises(InvalidToken, match="audience"):
        identity.verify(f"Bearer {_token(identity, audience)}", DATAVERSE)
