"""Registry commands: ``registry init|resume|proof``, ``register``, ``status``,
``lineage-tree``, ``takedown``, ``reinstate`` and ``release``.

The registry is chosen by ``--registry DIR`` (else ``WEIGHTWATCH_REGISTRY``, else the
user's data directory) and ``--db-url`` (else ``WEIGHTWATCH_DB_URL``, else SQLite in it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from weightwatch.cli import inputs
from weightwatch.cli.app import EXIT_ERROR, typer_app
from weightwatch.cli.output import console as new_console
from weightwatch.cli.output import progress
from weightwatch.registry.states import Status

if TYPE_CHECKING:  # the registry pulls in SQLAlchemy and Alembic: only when a command runs
    from weightwatch.registry.registry import Registry, TreeNode, VersionView

registry_app = typer_app(help="Create and maintain a registry.", no_args_is_help=True)

RegistryDir = Annotated[
    Path | None,
    typer.Option(
        "--registry",
        help="Registry data directory [env WEIGHTWATCH_REGISTRY; default: the user's data "
        "directory].",
    ),
]
DbUrl = Annotated[
    str | None,
    typer.Option(
        "--db-url",
        help="Database URL, e.g. postgresql+psycopg://… [env WEIGHTWATCH_DB_URL; default: "
        "SQLite in the registry directory].",
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]

STATUS_COLOURS: dict[str, str] = {
    Status.PUBLISHED: "green",
    Status.GATED: "yellow",
    Status.RESTRICTED: "yellow",
    Status.QUARANTINED: "magenta",
    Status.TAKEN_DOWN: "red",
    Status.BLOCKED: "red",
    Status.FAILED: "red",
}


def _open(registry: Path | None, db_url: str | None, *, runner: str = "inline") -> Registry:
    from weightwatch.registry.registry import Registry

    return Registry.open(registry, db_url, runner=runner)


def _badge(status: str) -> str:
    return f"[bold {STATUS_COLOURS.get(status, 'white')}]{status}[/]"


_MODERATED = {"takedown": "taken down", "reinstatement": "reinstated", "release": "released"}


def _timeline(view: VersionView) -> list[tuple[str, str]]:
    """Decisions and moderation actions, oldest first, as (time, what happened)."""
    events: list[tuple[str, int, str]] = []
    for d in view.history:
        what = f"{d.cause}: {d.action} → {_badge(d.status)}"
        events.append((d.created_at, d.log_index or 0, what + f" (log entry {d.log_index})"))
    for m in view.moderation:
        what = f"{_MODERATED.get(m.action, m.action)} by {escape(m.actor)}: {escape(m.reason)}"
        logged = "" if m.action == "release" else f" (log entry {m.log_index})"
        events.append((m.created_at, m.log_index, what + logged))
    return [(t[:19].replace("T", " "), what) for t, _, what in sorted(events)]


def _show(view: VersionView) -> None:
    """The version's current state first (status and, if moderated since, by whom and
    why), then what it is, its policy decision, lineage and the whole history."""
    console = new_console()
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("model", escape(view.model))
    grid.add_row("status", _badge(view.status) + f"  (requested access: {view.access})")
    latest = view.moderation[-1] if view.moderation else None
    if latest is not None and (
        view.decision is None or latest.created_at >= view.decision.created_at
    ):
        grid.add_row(
            "",
            f"{_MODERATED.get(latest.action, latest.action)} by {escape(latest.actor)} "
            f"on {latest.created_at[:10]}: {escape(latest.reason)}",
        )
    grid.add_row("files", str(view.files))
    grid.add_row("scan", str(view.scan_verdict))
    grid.add_row("weights digest", view.weights_digest or "-")
    if view.decision:
        grid.add_row("decision", f"{view.decision.action} (log entry {view.decision.log_index})")
        for r in view.decision.reasons:
            grid.add_row("", "• " + escape(r))
    for p in view.parents:
        grid.add_row(
            "parent",
            f"{escape(p.model)} — {p.kind} {p.relation}"
            + (f", p = {p.p_value:.2g}" if p.p_value is not None else ""),
        )
    for w in view.watermarks:
        grid.add_row("watermark", escape(w))
    for c in view.children:
        grid.add_row("child", f"{escape(c.model)} — {c.kind} {c.relation}")
    if view.error:
        grid.add_row("error", escape(view.error))
    timeline = _timeline(view)
    if len(timeline) > 1:  # a single registration decision is already shown above
        for i, (when, what) in enumerate(timeline):
            grid.add_row("history" if i == 0 else "", f"{when}  {what}")
    console.print(grid)


def _report(view: VersionView, as_json: bool) -> None:
    if as_json:
        typer.echo(view.model_dump_json(indent=2))
    else:
        _show(view)


@registry_app.command("init")
def init_command(
    registry: RegistryDir = None, db_url: DbUrl = None, as_json: AsJson = False
) -> None:
    """Create a registry (data directory, database schema, signing key)."""
    from weightwatch.registry.registry import Registry

    reg = Registry.open(registry, db_url, init=True)
    if as_json:
        doc = {"root": str(reg.store.root), "key_id": reg.store.signer.key_id}
        typer.echo(json.dumps(doc, indent=2))
        return
    typer.echo(f"registry ready at {reg.store.root} (signing key {reg.store.signer.key_id[:16]}…)")


@registry_app.command("resume")
def resume_command(
    registry: RegistryDir = None, db_url: DbUrl = None, as_json: AsJson = False
) -> None:
    """Finish registrations whose process died (or that were queued in the background);
    says what it will register, and publish if the policy allows, before it starts."""
    reg = _open(registry, db_url)
    todo = reg.resumable()
    if not as_json:
        for j in todo:
            typer.echo(f"resuming job {j.job}: {j.model} from {j.source} (next step {j.step})")
    states = reg.resume()
    if as_json:
        doc = [
            {**j.model_dump(mode="json"), "result": r} for j, r in zip(todo, states, strict=False)
        ]
        typer.echo(json.dumps(doc, indent=2))
    else:
        typer.echo(f"resumed {len(states)} job(s): " + (", ".join(states) or "none"))


@registry_app.command("jobs")
def jobs_command(
    registry: RegistryDir = None, db_url: DbUrl = None, as_json: AsJson = False
) -> None:
    """List registrations not finished yet: queued, running, or being cancelled."""
    jobs = _open(registry, db_url).jobs()
    if as_json:
        typer.echo(json.dumps([j.model_dump(mode="json") for j in jobs], indent=2))
        return
    if not jobs:
        typer.echo("no pending registrations")
        return
    for j in jobs:
        who = f"{j.owner} ({'alive' if j.owner_alive else 'dead'})" if j.owner else "-"
        typer.echo(f"job {j.job}  {j.state}  {j.model}  next step {j.step}  owner {who}")


@registry_app.command("cancel")
def cancel_command(
    job: Annotated[int, typer.Argument(help="Job id (from `weightwatch registry jobs`).")],
    registry: RegistryDir = None,
    db_url: DbUrl = None,
    as_json: AsJson = False,
) -> None:
    """Cancel a registration: its pending version is removed and never published."""
    outcome = _open(registry, db_url).cancel(job)
    if as_json:
        typer.echo(json.dumps({"job": job, "outcome": outcome}))
    else:
        typer.echo(f"job {job}: {outcome}")


@registry_app.command("proof")
def proof_command(
    ref: Annotated[str, typer.Argument(help="NAMESPACE/NAME[@VERSION]")],
    out: Annotated[
        Path,
        typer.Option("--output", "-o", "--out", help="Folder for entry, proof and checkpoint."),
    ],
    registry: RegistryDir = None,
    db_url: DbUrl = None,
    as_json: AsJson = False,
) -> None:
    """Export the version's latest logged event (its latest decision, or a later takedown or
    reinstatement) and its inclusion proof, for `weightwatch log verify`."""
    reg = _open(registry, db_url)
    doc = reg.decision_proof(ref)
    out.mkdir(parents=True, exist_ok=True)
    (out / "entry.json").write_text(doc["leaf"])
    (out / "proof.json").write_text(json.dumps({"index": doc["index"], "hashes": doc["hashes"]}))
    (out / "checkpoint.txt").write_text(doc["checkpoint"])
    pub = reg.store.root / "keys" / "registry-ed25519.pub"
    (out / "log.pub").write_bytes(pub.read_bytes())
    if as_json:
        names = ("entry.json", "proof.json", "checkpoint.txt", "log.pub")
        doc = {"index": doc["index"], "files": [str(out / n) for n in names]}
        typer.echo(json.dumps(doc, indent=2))
        return
    typer.echo(
        f"wrote {out}/entry.json, proof.json, checkpoint.txt, log.pub — check with:\n"
        f"  weightwatch log verify --entry {out}/entry.json --proof {out}/proof.json "
        f"--checkpoint {out}/checkpoint.txt --pub {out}/log.pub"
    )


@registry_app.command("token")
def token_command(
    user: Annotated[str, typer.Option("--user", help="Who the token is for.")],
    role: Annotated[
        str | None,
        typer.Option("--role", help="Confirm the account's role (a token carries that role)."),
    ] = None,
    org: Annotated[str | None, typer.Option("--org", help="The user's organisation.")] = None,
    registry: RegistryDir = None,
    db_url: DbUrl = None,
    as_json: AsJson = False,
) -> None:
    """Create an API token (printed once; only its hash is stored)."""
    from weightwatch.registry.access import create_token

    token = create_token(_open(registry, db_url).store, user, role=role, org=org)
    typer.echo(json.dumps({"user": user, "token": token}) if as_json else token)


@registry_app.command("user")
def user_command(
    name: Annotated[str, typer.Argument(help="User name (lower-case).")],
    role: Annotated[
        str, typer.Option("--role", help="admin, reviewer, publisher, auditor or user.")
    ] = "user",
    org: Annotated[
        list[str] | None, typer.Option("--org", help="Organisation to join (repeatable).")
    ] = None,
    email: Annotated[str | None, typer.Option("--email", help="Contact address.")] = None,
    country: Annotated[
        str | None, typer.Option("--country", help="Country (name or ISO code).")
    ] = None,
    password_env: Annotated[
        str | None,
        typer.Option("--password-env", help="Read the password from this environment variable."),
    ] = None,
    registry: RegistryDir = None,
    db_url: DbUrl = None,
    as_json: AsJson = False,
) -> None:
    """Create a web/API account; without --password-env a random password is printed once."""
    import os
    import secrets

    from weightwatch.registry.accounts import create_user

    password = os.environ.get(password_env, "") if password_env else secrets.token_urlsafe(12)
    user = create_user(
        _open(registry, db_url).store,
        name,
        password,
        role=role,
        email=email,
        country=country,
        orgs=tuple(org or ()),
    )
    if as_json:
        doc = {"user": user.name, "role": user.role, "orgs": list(user.orgs)}
        typer.echo(json.dumps(doc | ({} if password_env else {"password": password})))
        return
    typer.echo(f"user {user.name} ({user.role}; orgs: {', '.join(user.orgs) or '-'})")
    if not password_env:
        typer.echo(f"password: {password}")


@registry_app.command("namespace")
def namespace_command(
    namespace: Annotated[str, typer.Argument(help="Model namespace, e.g. 'acme'.")],
    org: Annotated[str, typer.Option("--org", help="The organisation that owns it.")],
    registry: RegistryDir = None,
    db_url: DbUrl = None,
    as_json: AsJson = False,
) -> None:
    """Give a namespace to an organisation (its members publish there, manage requests)."""
    from weightwatch.registry.accounts import set_namespace_owner

    set_namespace_owner(_open(registry, db_url).store, namespace, org)
    doc = {"namespace": namespace, "org": org}
    typer.echo(json.dumps(doc) if as_json else f"{namespace}/* is owned by {org}")


@registry_app.command("gate")
def gate_command(
    name: Annotated[str, typer.Argument(help="NAMESPACE/NAME")],
    mode: Annotated[
        str | None, typer.Option("--mode", help="auto or manual approval of requests.")
    ] = None,
    allow_org: Annotated[
        list[str] | None,
        typer.Option("--allow-org", help="Organisation allowed to a restricted model."),
    ] = None,
    registry: RegistryDir = None,
    db_url: DbUrl = None,
    as_json: AsJson = False,
) -> None:
    """Set a model's gate approval mode and the organisations of a restricted model."""
    from weightwatch.registry.access import set_model_access

    ma = set_model_access(
        _open(registry, db_url).store, name, gate_mode=mode, allowed_orgs=allow_org
    )
    if as_json:
        doc = {"model": ma.name, "gate_mode": ma.gate_mode, "allowed_orgs": list(ma.allowed_orgs)}
        typer.echo(json.dumps(doc))
        return
    typer.echo(f"{ma.name}: {ma.gate_mode} approval; orgs: {', '.join(ma.allowed_orgs) or '-'}")


@registry_app.command("grant")
def grant_command(
    name: Annotated[str, typer.Argument(help="NAMESPACE/NAME of a gated model")],
    user: Annotated[str, typer.Option("--user", help="Whose access.")],
    state: Annotated[
        str, typer.Option("--state", help="pending, accepted or rejected.")
    ] = "accepted",
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why (required to reject).")
    ] = None,
    registry: RegistryDir = None,
    db_url: DbUrl = None,
    as_json: AsJson = False,
) -> None:
    """Record an access request or decide on one."""
    from weightwatch.registry.access import set_grant

    set_grant(_open(registry, db_url).store, name, user, state, reason=reason)
    doc = {"model": name, "user": user, "state": state, "reason": reason}
    typer.echo(json.dumps(doc) if as_json else f"{name}: access for {user} is {state}")


@registry_app.command("audit")
def audit_command(
    ref: Annotated[str, typer.Argument(help="NAMESPACE/NAME[@VERSION] of the derivative")],
    report: Annotated[
        Path,
        typer.Option(
            "--report",
            help="JSON from `weightwatch audit compare --json`, or a bundle from "
            "`weightwatch audit sign` (then --pub).",
        ),
    ],
    pub: Annotated[
        Path | None,
        typer.Option("--pub", help="Auditor's public key: verify and log a signed audit."),
    ] = None,
    proof_out: Annotated[
        Path | None,
        typer.Option("--proof-out", help="Write the bundle with its log proof here."),
    ] = None,
    registry: RegistryDir = None,
    db_url: DbUrl = None,
    as_json: AsJson = False,
) -> None:
    """Attach a base-vs-derivative safety audit and re-decide the version; a signed audit
    is verified, appended to the transparency log, and returned with its proof."""
    from weightwatch.errors import UsageError

    doc = inputs.json_object(report, "audit report")
    reg = _open(registry, db_url)
    if "dsseEnvelope" not in doc:
        _report(reg.add_audit(ref, doc), as_json)
        return
    if pub is None:
        raise UsageError(f"{report}: a signed audit needs the auditor's key (--pub)")
    from weightwatch.attest import load_verifier

    logged = reg.add_signed_audit(ref, doc, load_verifier(pub))
    out = proof_out or report.with_name(report.name + ".logged.json")
    try:
        out.write_text(json.dumps(logged, indent=2) + "\n")
    except OSError as exc:
        raise UsageError(f"{out}: cannot write the logged bundle: {exc}") from exc
    if not as_json:
        typer.echo(f"logged at index {logged['weightwatchLog']['index']} -> {out}")
    _report(reg.status(ref), as_json)


@registry_app.command("forensics")
def forensics_command(
    ref: Annotated[str, typer.Argument(help="NAMESPACE/NAME[@VERSION] of the derivative")],
    report: Annotated[
        Path, typer.Option("--report", help="JSON from `weightwatch diff BASE DERIVATIVE --json`.")
    ],
    base: Annotated[
        str | None, typer.Option("--base", help="The registered base it was compared with.")
    ] = None,
    registry: RegistryDir = None,
    db_url: DbUrl = None,
    as_json: AsJson = False,
) -> None:
    """Attach a weight diff (abliteration, LoRA, ...) and re-decide the version."""

    doc = inputs.json_object(report, "weight diff")
    _report(_open(registry, db_url).add_forensics(ref, doc, base=base), as_json)


@registry_app.command("watermark")
def watermark_command(
    ref: Annotated[str, typer.Argument(help="NAMESPACE/NAME[@VERSION]")],
    key: Annotated[
        Path, typer.Option("--key", help="Master secret (weightwatch watermark keygen).")
    ],
    deployment: Annotated[str, typer.Option("--deployment", help="Deployment name.")],
    scheme: Annotated[
        str, typer.Option("--scheme", help="kgw, gumbel, tournament or kgw-hf.")
    ] = "kgw",
    param: Annotated[
        list[str] | None, typer.Option("--param", help="NAME=VALUE (repeatable).")
    ] = None,
    rotation: Annotated[int, typer.Option("--rotation", help="Key rotation counter.")] = 0,
    registry: RegistryDir = None,
    db_url: DbUrl = None,
    as_json: AsJson = False,
) -> None:
    """Record that a version is served by a watermarked deployment (its public key id)."""
    from weightwatch.watermark.deployments import WatermarkDeployment
    from weightwatch.watermark.inputs import parse_params
    from weightwatch.watermark.keys import MasterSecret

    dep = WatermarkDeployment.create(
        MasterSecret.load(key),
        deployment,
        scheme=scheme,
        rotation=rotation,
        **parse_params(param or []),
    )
    reg = _open(registry, db_url)
    reg.add_watermark(ref, dep)
    model = reg.status(ref).model
    if as_json:  # the public record (key id and parameters), never the master secret
        typer.echo(json.dumps({"model": model, **dep.model_dump(mode="json")}))
        return
    typer.echo(f"{model}: deployment {deployment!r} ({scheme}) key id {dep.key_id}")


def register_command(
    path: Annotated[Path, typer.Argument(help="A model folder or file.", metavar="PATH")],
    name: Annotated[str, typer.Option("--name", help="NAMESPACE/NAME to register it under.")],
    access: Annotated[
        str, typer.Option("--access", help="public, gated or restricted.")
    ] = "public",
    runner: Annotated[
        str, typer.Option("--runner", help="Job runner: inline, thread or ray.")
    ] = "inline",
    new_version: Annotated[
        bool,
        typer.Option(
            "--new-version", help="Register even if the newest version has identical files."
        ),
    ] = False,
    background: Annotated[
        bool,
        typer.Option(
            "--background",
            help="Only queue it: `registry resume` or a running server finishes it "
            "(Ctrl-C then leaves it queued).",
        ),
    ] = False,
    registry: RegistryDir = None,
    db_url: DbUrl = None,
    as_json: AsJson = False,
) -> None:
    """Register a model folder or file as a new version: scan, identify, fingerprint,
    trace lineage, decide, sign and log. Ctrl-C rolls the pending version back.
    Identical files to the newest version register nothing and name that version."""
    reg = _open(registry, db_url, runner=runner)
    if background:
        job = reg.submit(path, name, access=access)
        if as_json:
            typer.echo(json.dumps({"job": job, "state": "queued"}))
        else:
            typer.echo(f"queued job {job}; `weightwatch registry resume` finishes it")
        return
    existing = None if new_version else reg.identical_version(path, name)
    if existing is not None:
        if as_json:
            typer.echo(existing.model_dump_json(indent=2))
        else:
            typer.echo(
                f"{existing.model} already has these exact files; nothing registered\n"
                "(--new-version registers them again)"
            )
        return
    steps = ("ingest", "scan", "identity", "fingerprint", "lineage", "decide")
    with progress(f"registering {name}", quiet=as_json, total=len(steps)) as update:
        view = reg.register(
            path,
            name,
            access=access,
            on_step=lambda s: update(steps.index(s), label=f"registering {name}: {s}"),
        )
    if as_json:
        typer.echo(view.model_dump_json(indent=2))
    else:
        _show(view)
    if view.state != "complete":
        raise typer.Exit(EXIT_ERROR)


def status_command(
    ref: Annotated[str, typer.Argument(help="NAMESPACE/NAME[@VERSION]")],
    registry: RegistryDir = None,
    db_url: DbUrl = None,
    as_json: AsJson = False,
) -> None:
    """A registered version: its current status first (with any takedown, reinstatement or
    release: who, why, when), then its decision and reasons, lineage and history."""
    view = _open(registry, db_url).status(ref)
    if as_json:
        typer.echo(view.model_dump_json(indent=2))
    else:
        _show(view)


def lineage_tree_command(
    ref: Annotated[str, typer.Argument(help="NAMESPACE/NAME[@VERSION]")],
    registry: RegistryDir = None,
    db_url: DbUrl = None,
    as_json: AsJson = False,
) -> None:
    """Every known descendant of a version, declared and detected."""
    root = _open(registry, db_url).lineage_tree(ref)
    if as_json:
        typer.echo(root.model_dump_json(indent=2))
        return

    def add(tree: Tree, node: TreeNode) -> None:
        for child in node.children:
            label = f"{escape(child.model)} {_badge(child.status)} — {child.kind} {child.relation}"
            add(tree.add(label), child)

    tree = Tree(f"{escape(root.model)} {_badge(root.status)}")
    add(tree, root)
    new_console().print(tree)


def takedown_command(
    ref: Annotated[str, typer.Argument(help="NAMESPACE/NAME@VERSION")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept and logged).")],
    actor: Annotated[str, typer.Option("--actor", help="Who is taking it down.")] = "cli",
    registry: RegistryDir = None,
    db_url: DbUrl = None,
    as_json: AsJson = False,
) -> None:
    """Take a version down, log it, and re-decide all its descendants."""
    _report(_open(registry, db_url).takedown(ref, reason=reason, actor=actor), as_json)


def reinstate_command(
    ref: Annotated[str, typer.Argument(help="NAMESPACE/NAME@VERSION")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept and logged).")],
    actor: Annotated[str, typer.Option("--actor", help="Who is reinstating it.")] = "cli",
    registry: RegistryDir = None,
    db_url: DbUrl = None,
    as_json: AsJson = False,
) -> None:
    """Undo a takedown (logged), then re-decide the version and its descendants."""
    _report(_open(registry, db_url).reinstate(ref, reason=reason, actor=actor), as_json)


def release_command(
    ref: Annotated[str, typer.Argument(help="NAMESPACE/NAME@VERSION")],
    reason: Annotated[str, typer.Option("--reason", help="Why, after review (kept and logged).")],
    actor: Annotated[str, typer.Option("--actor", help="Who reviewed it.")] = "cli",
    registry: RegistryDir = None,
    db_url: DbUrl = None,
    as_json: AsJson = False,
) -> None:
    """Release a quarantined version after review (logged); blocks and gates still apply."""
    _report(_open(registry, db_url).release(ref, reason=reason, actor=actor), as_json)


def register(app: typer.Typer) -> None:
    """Attach the ``registry`` group and the top-level registry commands."""
    from weightwatch.cli import blobs_cmd, recipients_cmd

    blobs_cmd.attach(registry_app)
    recipients_cmd.attach(registry_app)
    app.add_typer(registry_app, name="registry")
    app.command("register")(register_command)
    app.command("status")(status_command)
    app.command("lineage-tree")(lineage_tree_command)
    app.command("takedown")(takedown_command)
    app.command("reinstate")(reinstate_command)
    app.command("release")(release_command)
