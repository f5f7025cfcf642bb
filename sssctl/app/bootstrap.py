"""``sssctl bootstrap``: the two least-privilege identities a config needs, made by an administrator once.

Signed in as an administrator (the config's ``[auth]``; any interactive or delegated sign-in),
bootstrap makes, read first and written only where something differs (a second run writes
nothing), and shown as a plan before anything is written:

* two Entra ID app registrations, *plan* and *apply* (upserted by ``uniqueName``), each
  with a service principal, a federated identity credential per ``--for`` pipeline
  (https://learn.microsoft.com/entra/workload-id/workload-identity-federation-create-trust)
  or, with ``--credential secret``, one client secret written to a 0600 file and never
  printed, or with ``--credential certificate`` a self-signed certificate whose private key
  never leaves the 0600 PEM file (key + certificate) and whose public part is added to the
  app's ``keyCredentials`` (https://learn.microsoft.com/graph/api/resources/keycredential);
* the admin consent of exactly the Graph and Exchange application permissions each
  identity needs (:mod:`sssctl.app.needs`), never a tier-0 one;
* in Exchange Online, a service principal pointer per identity and a custom management
  role per built-in parent holding exactly the cmdlets it needs, assigned to the pointer
  (parents are found live with ``Get-ManagementRoleEntry "*\\<cmdlet>"``, as Microsoft
  documents for finding the role of a cmdlet:
  https://learn.microsoft.com/powershell/exchange/find-exchange-cmdlet-permissions);
* in the Dataverse environment (or every member of a fleet file, each with its own
  config's needs), an application user per identity holding only a custom security role
  with exactly the computed privileges (:mod:`sssctl.app.dataverse_identity`).

Not done here yet: owners of an own app that already exists (the apply identity becomes
owner of the apps it creates; an existing app needs its owner added by an administrator).
"""

from __future__ import annotations

import base64
import os
import re
import stat
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal

from sssctl.app import dataverse_identity
from sssctl.app.needs import ConfigNeeds, compute
from sssctl.app.runner import Services, default_services
from sssctl.clients.dataverse import DataverseClient
from sssctl.clients.errors import ClientError, GraphNotFound
from sssctl.clients.exchange import ExchangeClient
from sssctl.clients.graph import GraphClient
from sssctl.clients.session import open_clients
from sssctl.config.model import Desired

IDENTITIES: tuple[Literal["plan", "apply"], ...] = ("plan", "apply")
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
FEDERATED_AUDIENCE = "api://AzureADTokenExchange"
EXCHANGE_APP_ID = "00000002-0000-0ff1-ce00-000000000000"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
SECRET_NAME = "sssctl bootstrap"


class BootstrapError(Exception):
    """Bad input (``--for`` value, unsupported credential) or a refusal, said plainly."""


@dataclass(frozen=True)
class Pipeline:
    """One ``--for`` value: which CI, and the federated credential that lets it sign in."""

    ci: Literal["github", "azure-devops"]
    name: str
    issuer: str
    subject: str


def parse_for(value: str, *, azure_devops_issuer: str = "") -> Pipeline:
    """``github:OWNER/REPO[:environment:NAME|:pull_request]`` or ``azure-devops:ORG/PROJECT/CONNECTION``.

    GitHub subjects as GitHub documents them:
    https://docs.github.com/actions/deployment/security-hardening-your-deployments/about-security-hardening-with-openid-connect#example-subject-claims
    (a bare repository means its default branch, ``ref:refs/heads/main``). Azure DevOps:
    ``sc://<org>/<project>/<connection>``, issued by the organization's own issuer, which
    names the organization's id and is passed as ``azure_devops_issuer``.
    """
    kind, _, rest = value.partition(":")
    if kind == "github":
        repo, _, qualifier = rest.partition(":")
        if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo):
            raise BootstrapError(f"--for {value}: expected "
                                 "github:OWNER/REPO[:environment:NAME|:pull_request]")
        if qualifier == "pull_request":
            subject = f"repo:{repo}:pull_request"
        elif qualifier.startswith("environment:") and qualifier[len("environment:"):]:
            subject = f"repo:{repo}:{qualifier}"
        elif not qualifier:
            subject = f"repo:{repo}:ref:refs/heads/main"
        else:
            raise BootstrapError(f"--for {value}: after the repository, only :environment:NAME or "
                                 ":pull_request is understood")
        return Pipeline("github", _credential_name(subject), GITHUB_ISSUER, subject)
    if kind == "azure-devops":
        parts = rest.split("/")
        if len(parts) != 3 or not all(parts):
            raise BootstrapError(f"--for {value}: expected azure-devops:ORG/PROJECT/CONNECTION")
        if not azure_devops_issuer:
            raise BootstrapError(f"--for {value}: an Azure DevOps federated credential names the "
                                 "organization's issuer (https://vstoken.dev.azure.com/<organization id>); "
                                 "pass it with --azure-devops-issuer")
        subject = "sc://" + "/".join(parts)
        return Pipeline("azure-devops", _credential_name(subject), azure_devops_issuer, subject)
    raise BootstrapError(f"--for {value}: expected github:... or azure-devops:...")


def _credential_name(subject: str) -> str:
    return re.sub(r"[^A-Za-z0-9-]+", "-", subject).strip("-")[:120]


@dataclass
class Identity:
    role: Literal["plan", "apply"]
    display_name: str
    unique_name: str
    client_id: str | None = None
    object_id: str | None = None
    sp_id: str | None = None
    secret_file: Path | None = None


@dataclass
class Result:
    """What bootstrap would do (``steps``) or did (``writes`` > 0), and the identities."""

    identities: dict[str, Identity]
    steps: list[str] = field(default_factory=list)
    writes: int = 0
    tenant_id: str = ""
    environment_url: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, identity in self.identities.items():
            entry: dict[str, Any] = {"client_id": identity.client_id}
            if identity.secret_file is not None:
                which = "certificate_file" if identity.secret_file.suffix == ".pem" else "secret_file"
                entry[which] = str(identity.secret_file)
            out[name] = entry
        return {"identities": out, "writes": self.writes, "steps": list(self.steps)}

    def variables(self, ci: str) -> str:
        """The pipeline variables to set, in the chosen CI's words (ids are not secrets)."""
        plan, apply = self.identities["plan"], self.identities["apply"]
        pairs = [("SSSCTL_TENANT_ID", self.tenant_id), ("SSSCTL_URL", self.environment_url),
                 ("SSSCTL_PLAN_CLIENT_ID", plan.client_id or ""),
                 ("SSSCTL_APPLY_CLIENT_ID", apply.client_id or "")]
        if ci == "azure-devops":
            return "\n".join(f"##vso[task.setvariable variable={k}]{v}" for k, v in pairs) + "\n"
        return "\n".join(f"gh variable set {k} --body '{v}'" for k, v in pairs) + "\n"


class _Run:
    """One pass over everything bootstrap manages; ``dry`` records steps instead of writing."""

    def __init__(self, result: Result, dry: bool) -> None:
        self.result, self.dry = result, dry

    def step(self, text: str, write: Callable[[], Any]) -> Any:
        self.result.steps.append(text)
        if self.dry:
            return None
        self.result.writes += 1
        return write()


def _odata(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _get(graph: GraphClient, path: str) -> dict[str, Any] | None:
    try:
        return graph.get(path)
    except GraphNotFound:
        return None


def _role_ids(graph: GraphClient, resource_app_id: str) -> tuple[str, dict[str, str]]:
    resource = graph.get(f"servicePrincipals(appId={_odata(resource_app_id)})")
    return str(resource["id"]), {str(r["value"]): str(r["id"]) for r in resource.get("appRoles") or []}


def _ensure_app(run: _Run, graph: GraphClient, identity: Identity, permissions: Mapping[str, list[str]], *,
                pipelines: Sequence[Pipeline], credential: str | None, secret_dir: Path) -> None:
    path = f"applications(uniqueName={_odata(identity.unique_name)})"
    app = _get(graph, path)
    resources = {EXCHANGE_APP_ID: permissions.get("exchange", []), GRAPH_APP_ID: permissions.get("graph", [])}
    required = []
    for app_id, names in resources.items():
        if names:
            _, ids = _role_ids(graph, app_id)
            required.append({"resourceAppId": app_id,
                             "resourceAccess": [{"id": ids[n], "type": "Role"} for n in sorted(names)]})
    body = {"displayName": identity.display_name, "signInAudience": "AzureADMyOrg",
            "requiredResourceAccess": required}
    differs = (app is None or app.get("displayName") != identity.display_name
               or _declared(app) != _declared(body))
    if differs:
        run.step(f"{'create' if app is None else 'update'} app registration {identity.display_name!r}",
                 lambda: graph.patch(path, body, headers={"Prefer": "create-if-missing"}))
        app = None if run.dry else graph.get(path, wait_for_replication=True)
    if app is None:
        return
    identity.client_id, identity.object_id = str(app["appId"]), str(app["id"])
    sp = _get(graph, f"servicePrincipals(appId={_odata(identity.client_id)})")
    if sp is None:
        sp = run.step(f"create the service principal of {identity.display_name!r}",
                      lambda: graph.post("servicePrincipals", {"appId": identity.client_id},
                                         wait_for_replication=True))
    identity.sp_id = str(sp["id"]) if sp else None
    _ensure_federated(run, graph, identity, pipelines)
    if credential == "secret":
        _ensure_secret(run, graph, identity, app, secret_dir)
    elif credential == "certificate":
        _ensure_certificate(run, graph, identity, app, secret_dir)


def _declared(app: Mapping[str, Any]) -> list[tuple[str, tuple[str, ...]]]:
    return sorted((str(r["resourceAppId"]),
                   tuple(sorted(str(a["id"]) for a in r.get("resourceAccess") or [])))
                  for r in app.get("requiredResourceAccess") or [])


def _ensure_federated(
    run: _Run, graph: GraphClient, identity: Identity, pipelines: Sequence[Pipeline]
) -> None:
    path = f"applications/{identity.object_id}/federatedIdentityCredentials"
    existing = {str(f["name"]): f for f in graph.list(path)}
    for pipeline in pipelines:
        body = {"name": pipeline.name, "issuer": pipeline.issuer, "subject": pipeline.subject,
                "audiences": [FEDERATED_AUDIENCE], "description": f"sssctl {identity.role} ({pipeline.ci})"}
        found = existing.get(pipeline.name)
        if found is None:
            run.step(f"add federated credential {pipeline.subject} to {identity.display_name!r}",
                     partial(graph.post, path, body))
        elif (found.get("issuer"), found.get("subject")) != (pipeline.issuer, pipeline.subject):
            run.step(f"correct federated credential {pipeline.name} of {identity.display_name!r}",
                     partial(graph.patch,
                             f"{path}/{pipeline.name}",
                             {k: v for k, v in body.items() if k != "name"}))


def _ensure_secret(run: _Run, graph: GraphClient, identity: Identity, app: Mapping[str, Any],
                   secret_dir: Path) -> None:
    """One client secret, its text only in a 0600 file; kept while both the file and the secret exist."""
    target = secret_dir / f"{identity.unique_name}.secret"
    identity.secret_file = target
    ours = [c for c in app.get("passwordCredentials") or [] if c.get("displayName") == SECRET_NAME]
    if ours and target.is_file():
        return

    def create() -> None:
        answer = graph.post(f"applications/{identity.object_id}/addPassword",
                            {"passwordCredential": {"displayName": SECRET_NAME}}) or {}
        _write_secret(target, str(answer.get("secretText") or ""))

    run.step(f"create a client secret for {identity.display_name!r} in {target} (mode 0600)", create)


CERTIFICATE_DAYS = 365


def _ensure_certificate(run: _Run, graph: GraphClient, identity: Identity, app: Mapping[str, Any],
                        secret_dir: Path) -> None:
    """A certificate credential: kept while the PEM file's certificate is still on the app."""
    target = secret_dir / f"{identity.unique_name}.pem"
    identity.secret_file = target
    thumbprint = _thumbprint(target)
    registered = [k for k in app.get("keyCredentials") or []]
    if thumbprint and any(str(k.get("customKeyIdentifier") or "").upper() == thumbprint for k in registered):
        return

    def create() -> None:
        pem, der = _new_certificate(identity.display_name)
        kept = [{"keyId": k["keyId"], "type": k.get("type", "AsymmetricX509Cert"),
                 "usage": k.get("usage", "Verify")} for k in registered]
        new = {"type": "AsymmetricX509Cert", "usage": "Verify", "displayName": f"CN={identity.display_name}",
               "key": base64.b64encode(der).decode()}
        graph.patch(f"applications/{identity.object_id}", {"keyCredentials": [*kept, new]})
        _write_secret(target, pem)

    run.step(f"create a certificate for {identity.display_name!r} in {target} (mode 0600), its public part "
             "on the app", create)


def _thumbprint(path: Path) -> str | None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    try:
        certificate = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return None
    return certificate.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - Entra's key identifier


def _new_certificate(name: str) -> tuple[str, bytes]:
    """A self-signed RSA certificate: (PEM of key + certificate, DER of the certificate)."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(minutes=5))
                   .not_valid_after(now + dt.timedelta(days=CERTIFICATE_DAYS))
                   .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    pem = key_pem + certificate.public_bytes(serialization.Encoding.PEM)
    return pem.decode(), certificate.public_bytes(serialization.Encoding.DER)


def _write_secret(target: Path, text: str) -> None:
    if not text:
        raise BootstrapError("Graph returned no secret text")
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(target, stat.S_IRUSR | stat.S_IWUSR)


def _ensure_consent(
    run: _Run, graph: GraphClient, identity: Identity, permissions: Mapping[str, list[str]]
) -> None:
    """Admin consent of exactly the identity's application permissions; others are revoked."""
    if identity.sp_id is None:
        run.result.steps.append(f"grant {identity.display_name!r} its application permissions")
        return
    wanted: dict[tuple[str, str], str] = {}
    for app_id, service in ((GRAPH_APP_ID, "graph"), (EXCHANGE_APP_ID, "exchange")):
        if permissions.get(service):
            resource_id, ids = _role_ids(graph, app_id)
            for name in permissions[service]:
                wanted[(resource_id, ids[name])] = name
    live = {(str(a["resourceId"]), str(a["appRoleId"])): str(a["id"])
            for a in graph.list(f"servicePrincipals/{identity.sp_id}/appRoleAssignments")}
    for (resource_id, role_id), name in sorted(wanted.items()):
        if (resource_id, role_id) not in live:
            body = {"principalId": identity.sp_id, "resourceId": resource_id, "appRoleId": role_id}
            run.step(f"grant {name} to {identity.display_name!r}",
                     partial(graph.post, f"servicePrincipals/{resource_id}/appRoleAssignedTo", body,
                             wait_for_replication=True))
    for (resource_id, role_id), assignment_id in sorted(live.items()):
        if (resource_id, role_id) not in wanted:
            run.step(f"revoke an application permission {role_id} from {identity.display_name!r}",
                     partial(graph.delete,
                             f"servicePrincipals/{resource_id}/appRoleAssignedTo/{assignment_id}"))


def _ensure_exchange(run: _Run, exchange: ExchangeClient, identity: Identity, cmdlets: list[str],
                     environment: str) -> None:
    """Pointer, one custom role per parent with exactly ``cmdlets``, each assigned to the pointer."""
    if not cmdlets:
        return
    if identity.client_id is None or identity.sp_id is None:
        run.result.steps.append(f"give {identity.display_name!r} an Exchange role of {len(cmdlets)} cmdlets")
        return
    app_id = identity.client_id
    pointer = _pointer_exists(exchange, app_id)
    if not pointer:
        run.step(f"create the Exchange service principal pointer of {identity.display_name!r}",
                 lambda: exchange.invoke("New-ServicePrincipal", {
                     "AppId": app_id, "ObjectId": identity.sp_id, "DisplayName": identity.display_name}))
    by_parent: dict[str, list[str]] = {}
    for cmdlet in cmdlets:
        entries = exchange.invoke("Get-ManagementRoleEntry", {"Identity": f"*\\{cmdlet}"})
        parents = sorted({str(e["Role"]) for e in entries if not str(e["Role"]).startswith("sssctl ")})
        if not parents:
            raise BootstrapError(f"no Exchange management role holds {cmdlet}")
        chosen = next((p for p in parents if p in by_parent), parents[0])
        by_parent.setdefault(chosen, []).append(cmdlet)
    rows = exchange.invoke("Get-ManagementRoleAssignment", {"RoleAssignee": app_id}) if pointer else []
    assigned = {str(a.get("Role")) for a in rows}
    for parent, wanted in sorted(by_parent.items()):
        name = f"sssctl {environment} {identity.role} ({parent})"
        _ensure_role(run, exchange, name, parent, set(wanted))
        if name not in assigned:
            run.step(f"assign Exchange role {name!r} to {identity.display_name!r}",
                     partial(exchange.invoke, "New-ManagementRoleAssignment", {"App": app_id, "Role": name}))


def _pointer_exists(exchange: ExchangeClient, app_id: str) -> bool:
    pointers = exchange.invoke("Get-ServicePrincipal", {})
    return any(str(p.get("AppId", "")).lower() == app_id.lower() for p in pointers)


def _ensure_role(run: _Run, exchange: ExchangeClient, name: str, parent: str, wanted: set[str]) -> None:
    def entries() -> set[str]:
        rows = exchange.invoke("Get-ManagementRoleEntry", {"Identity": f"{name}\\*"})
        return {str(e["Name"]) for e in rows}

    exists = any(str(r.get("Name")) == name for r in exchange.invoke("Get-ManagementRole", {}))
    if exists:
        held = entries()
        if wanted - held:
            raise BootstrapError(f"Exchange role {name!r} lacks {', '.join(sorted(wanted - held))}, which a "
                                 "custom role cannot regain: remove the role and run bootstrap again")
    else:
        run.step(f"create Exchange role {name!r} from {parent!r}",
                 lambda: exchange.invoke("New-ManagementRole", {"Name": name, "Parent": parent}))
        held = set() if run.dry else entries()
    for extra in sorted(held - wanted):
        run.step(f"remove {extra} from Exchange role {name!r}",
                 partial(exchange.invoke, "Remove-ManagementRoleEntry",
                         {"Identity": f"{name}\\{extra}", "Confirm": False}))


def _permissions(needs: ConfigNeeds, role: Literal["plan", "apply"]) -> dict[str, list[str]]:
    return {service: needs.names(role, service, "app_role") for service in ("graph", "exchange")}


@dataclass(frozen=True)
class Environment:
    """One Dataverse environment the identities serve: a config, or one member of a fleet."""

    desired: Desired
    needs: ConfigNeeds


def run(
    environments: Sequence[Environment],
    *,
    label: str,
    pipelines: Sequence[Pipeline],
    credential: str | None,
    secret_dir: Path,
    environ: Mapping[str, str],
    dry: bool,
) -> Result:
    """One pass: ``dry`` reads and lists the steps; otherwise it writes them.

    The identities and their Graph and Exchange rights are the tenant's, made once for what
    every environment needs; each environment gets its own application users and roles.
    """
    desired, needs = environments[0].desired, ConfigNeeds.union([e.needs for e in environments])
    environment = label
    identities: dict[str, Identity] = {
        # "sssctl-identity-" keeps these apart from the own apps' "sssctl-<env>-<key>" names.
        role: Identity(role, f"sssctl {role} ({environment})", f"sssctl-identity-{environment}-{role}")
        for role in IDENTITIES}
    result = Result(identities, tenant_id=desired.environment.tenant_id or "",
                    environment_url=desired.environment.url or "")
    current = _Run(result, dry)
    need_exchange = any(needs.names(role, "exchange", "cmdlet") for role in IDENTITIES)
    with open_clients(desired, need_graph=True, need_exchange=need_exchange, environ=environ) as clients:
        graph = clients.graph
        assert graph is not None
        for identity in identities.values():
            role = identity.role
            permissions = _permissions(needs, role)
            _ensure_app(current, graph, identity, permissions, pipelines=pipelines, credential=credential,
                        secret_dir=secret_dir)
            _ensure_consent(current, graph, identity, permissions)
            if clients.exchange is not None:
                _ensure_exchange(current, clients.exchange, identity, needs.names(role, "exchange", "cmdlet"),
                                 environment)
        result.environment_url = str(clients.dataverse.org_url or result.environment_url)
        _provision(result, identities, environments[0], clients.dataverse, dry=dry)
    for member in environments[1:]:
        with open_clients(member.desired, environ=environ) as member_clients:
            _provision(result, identities, member, member_clients.dataverse, dry=dry)
    return result


def _provision(result: Result, identities: Mapping[str, Identity], environment: Environment,
               dataverse: DataverseClient, *, dry: bool) -> None:
    """Each identity's application user and role in one environment, holding that config's needs."""
    where = environment.desired.environment.name or str(dataverse.org_url)
    for identity in identities.values():
        privileges = environment.needs.privileges(identity.role)
        if identity.client_id is None:
            result.steps.append(f"give {identity.display_name!r} an application user in {where} with exactly "
                                f"{len(privileges)} privileges")
            continue
        provisioned = dataverse_identity.provision(
            dataverse, app_id=identity.client_id, user_name=identity.display_name,
            role_name=f"sssctl {identity.role}", privileges=privileges, dry=dry)
        result.steps += [f"{where}: {step}" for step in provisioned.steps]
        result.writes += provisioned.writes


@dataclass(frozen=True)
class Request:
    config_path: Path
    environ: Mapping[str, str]
    pipelines: tuple[str, ...]
    credential: str | None
    secret_dir: Path | None = None
    azure_devops_issuer: str = ""
    fleet: Path | None = None           # every member of a fleet file instead of one config


@dataclass(frozen=True)
class Prepared:
    environments: tuple[Environment, ...]
    label: str
    pipelines: tuple[Pipeline, ...]
    secret_dir: Path


def prepare(request: Request, services: Services | None = None) -> Prepared:
    if request.credential not in (None, "secret", "certificate"):
        raise BootstrapError(f"--credential {request.credential}: expected secret or certificate")
    if not request.pipelines and request.credential is None:
        raise BootstrapError("say how the identities sign in: --for PIPELINE (federated) and/or "
                             "--credential secret|certificate")
    services = services or default_services()
    kinds = services.load_kinds()
    issuer = request.azure_devops_issuer
    pipelines = tuple(parse_for(p, azure_devops_issuer=issuer) for p in request.pipelines)
    if request.fleet is not None:
        from sssctl.app.fleet.run import with_overrides
        from sssctl.fleet.file import load as load_fleet

        fleet = load_fleet(request.fleet)
        loaded = [with_overrides(services.load_config, m)(m.config, request.environ) for m in fleet.members]
        environments = tuple(Environment(d, compute(kinds, d)) for d in loaded)
        label, anchor = request.fleet.stem, request.fleet
    else:
        desired = services.load_config(request.config_path, request.environ)
        environments = (Environment(desired, compute(kinds, desired)),)
        label, anchor = desired.environment.name or "sssctl", request.config_path
    secret_dir = request.secret_dir or anchor.resolve().parent / ".sssctl"
    return Prepared(environments, label, pipelines, secret_dir)


def bootstrap(request: Request, *, confirm: Callable[[Result], bool],
              services: Services | None = None) -> tuple[Result, bool]:
    """Plan, ask, apply. Returns the result and whether anything was applied."""
    ready = prepare(request, services)

    def once(dry: bool) -> Result:
        return run(ready.environments, label=ready.label, pipelines=ready.pipelines,
                   credential=request.credential, secret_dir=ready.secret_dir, environ=request.environ,
                   dry=dry)

    planned = once(True)
    if not planned.steps:
        return planned, False
    if not confirm(planned):
        return planned, False
    try:
        done = once(False)
    except ClientError as exc:
        raise BootstrapError(f"bootstrap stopped: {exc}; what was written stays, "
                             "run it again to finish") from exc
    return done, True
