"""Turn a validated document into the typed :class:`~sssctl.config.model.Desired`.

Only ever called after :func:`sssctl.config.validate.validate` found nothing, so the types
here are trusted; the casts only tell mypy what the validator already proved.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

from sssctl.config import model, spec

Resolve = Callable[[tuple[str, ...], str], Path]


def _t(doc: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    value = doc.get(key)
    return value if isinstance(value, dict) else None


def _secret(raw: Mapping[str, Any] | None, path: tuple[str, ...], resolve: Resolve) -> model.SecretRef | None:
    if raw is None:
        return None
    if "env" in raw:
        return model.SecretRef(env=raw["env"])
    return model.SecretRef(file=resolve((*path, "file"), raw["file"]))


def _path(raw: Mapping[str, Any], key: str, path: tuple[str, ...], resolve: Resolve) -> Path | None:
    value = raw.get(key)
    return None if value is None else resolve((*path, key), value)


def environment(raw: Mapping[str, Any], resolve: Resolve) -> model.Environment:
    ends = _t(raw, "endpoints") or {}
    return model.Environment(
        name=raw.get("name"),
        url=raw.get("url"),
        tenant_id=raw.get("tenant_id"),
        cloud=cast(model.Cloud, raw.get("cloud", "public")),
        endpoints=model.Endpoints(
            login_url=ends.get("login_url"),
            graph_url=ends.get("graph_url"),
            exchange_url=ends.get("exchange_url"),
            ca_bundle=_path(ends, "ca_bundle", ("environment", "endpoints"), resolve),
        ),
    )


def auth(raw: Mapping[str, Any], resolve: Resolve, here: tuple[str, ...] = ("auth",)) -> model.Auth:
    """``[auth]``, or another table of the same keys at ``here`` (``[state.auth]``)."""
    return model.Auth(
        method=cast(model.AuthMethod, raw.get("method", "client_secret")),
        client_id=raw.get("client_id"),
        client_secret=_secret(_t(raw, "client_secret"), (*here, "client_secret"), resolve),
        certificate_file=_path(raw, "certificate_file", here, resolve),
        certificate_password=_secret(_t(raw, "certificate_password"), (*here, "certificate_password"),
                                     resolve),
        federated_token_file=_path(raw, "federated_token_file", here, resolve),
        service_connection_id=raw.get("service_connection_id"),
        managed_identity_client_id=raw.get("managed_identity_client_id"),
        token_cache=_path(raw, "token_cache", here, resolve),
    )


def state(raw: Mapping[str, Any], resolve: Resolve) -> model.StateSettings:
    here = ("state",)
    # The default sits beside the file that names the environment, not in the current
    # directory: a pipeline and a laptop running from different folders share one snapshot.
    path = (_path(raw, "path", here, resolve) if "path" in raw
            else resolve(("environment", "name"), "state"))
    return model.StateSettings(
        backend=cast(model.StateBackendName, raw.get("backend", "local")),
        path=path,
        account_url=raw.get("account_url"),
        container=raw.get("container"),
        key=raw.get("key"),
        lease_seconds=raw.get("lease_seconds", 60),
        sas_token=_secret(_t(raw, "sas_token"), (*here, "sas_token"), resolve),
        connection_string=_secret(_t(raw, "connection_string"), (*here, "connection_string"), resolve),
        auth=_optional(raw, "auth", lambda r: auth(r, resolve, (*here, "auth"))),
    )


def _app(key: str, raw: Mapping[str, Any]) -> model.AppRegistration:
    credential = _t(raw, "credential") or {}
    scope = _t(raw, "mailbox_scope")
    return model.AppRegistration(
        key=key,
        display_name=raw["display_name"],
        permissions=tuple(raw.get("permissions", ())),
        credential=model.CredentialSpec(rotate_days=credential.get("rotate_days", 180)),
        mailbox_scope=_mailbox_scope(scope) if scope else None,
        ews=raw.get("ews"),
        ews_enabled=bool(raw.get("ews_enabled", False)),
    )


def _mailbox_scope(raw: Mapping[str, Any]) -> model.MailboxScope:
    return model.MailboxScope(
        group=raw.get("group"),
        method=raw.get("method", "access_policy"),
        administrative_unit=raw.get("administrative_unit"),
        filter=raw.get("filter"),
        canary=raw.get("canary"),
        propagation_minutes=raw.get("propagation_minutes", 120),
    )


def _optional(doc: Mapping[str, Any], key: str, make: Callable[[Mapping[str, Any]], Any]) -> Any:
    raw = _t(doc, key)
    return None if raw is None else make(raw)


def desired(doc: Mapping[str, Any], *, source: Path, digest: str, resolve: Resolve,
            state_dir: Path | None) -> model.Desired:
    profiles = _t(doc, "server_profiles") or {}
    default = _t(profiles, "default")
    custom = _t(profiles, "custom") or {}
    return model.Desired(
        version=doc.get("version", 1),
        source=source,
        digest=digest,
        environment=environment(_t(doc, "environment") or {}, resolve),
        auth=auth(_t(doc, "auth") or {}, resolve),
        default_profile=model.DefaultProfile(active=default["active"]) if default else None,
        custom_profiles={
            name: model.CustomProfile(name=name, app_registration=raw["app_registration"],
                                      tenant_id=raw.get("tenant_id"))
            for name, raw in custom.items()
        },
        approval=_optional(doc, "approval", lambda r: model.Approval(
            require_for_users=r.get("require_for_users"), require_for_queues=r.get("require_for_queues"))),
        org_settings=dict(_t(doc, "org_settings") or {}),
        privileges={
            name: model.PrivilegeAllowlist(privilege=name, allowed_roles=tuple(raw["allowed_roles"]))
            for name, raw in (_t(doc, "privileges") or {}).items()
        },
        mailbox_defaults=_optional(doc, "mailbox_defaults", lambda r: model.MailboxDefaults(
            server_profile=r.get("server_profile"), incoming_email=r.get("incoming_email"),
            outgoing_email=r.get("outgoing_email"),
            appointments_contacts_tasks=r.get("appointments_contacts_tasks"))),
        mailboxes=_optional(doc, "mailboxes", lambda r: model.MailboxPolicy(
            enforce=r.get("enforce", "off"), scope=r.get("scope", "users"),
            exclude=tuple(r.get("exclude", ())))),
        user_settings=_optional(doc, "user_settings", lambda r: model.UserSettingsPolicy(
            incoming_email_filtering=r.get("incoming_email_filtering"))),
        app_registrations={key: _app(key, raw) for key, raw in (_t(doc, "app_registrations") or {}).items()},
        watch=watch(_t(doc, "watch") or {}),
        state_dir=state_dir,
        state=state(_t(doc, "state") or {}, resolve),
    )


def watch(raw: Mapping[str, Any]) -> model.WatchPolicy:
    notify = _t(raw, "notify") or {}
    interval = raw.get("interval")
    return model.WatchPolicy(
        interval_seconds=spec.duration_seconds(interval) if interval else 60.0,
        revert=tuple(raw.get("revert", ("mailboxes", "user_settings"))),
        webhook=notify.get("webhook"),
        email_user=bool(notify.get("email_user", False)),
        email_from=notify.get("from"),
    )

