"""``weightwatch audit run | compare``: red-team audits of a model or an endpoint.

``run`` exits 0 whatever the attack success rate (it measures); ``compare`` exits 1 when
the derivative's safety was stripped or it over-refuses (a finding); both exit 2 on a
usage or input error.

The audit library (and what it pulls in: scipy, SQLAlchemy, model runtimes) is imported
when a command runs, not when the CLI starts, so ``weightwatch --help`` stays quick.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from weightwatch.cli import inputs
from weightwatch.cli.app import EXIT_FINDINGS, typer_app
from weightwatch.cli.output import console as new_console
from weightwatch.errors import UsageError

if TYPE_CHECKING:
    from weightwatch.audit.cache import ResponseCache
    from weightwatch.audit.comparison import ComparisonResult
    from weightwatch.audit.datasets import Behavior
    from weightwatch.audit.derivative import DerivativeReport
    from weightwatch.audit.report import AuditReport
    from weightwatch.audit.runner import AuditConfig
    from weightwatch.audit.targets import Target

audit_app = typer_app(help="Red-team safety audits.", no_args_is_help=True)

SuiteOpt = Annotated[
    str, typer.Option("--suite", help="Built-in suite name or a .csv/.jsonl file.")
]
OverOpt = Annotated[
    str,
    typer.Option(
        "--over-refusal",
        help="Benign suite for over-refusal, 'none', or 'auto' (xstest-safe unless the "
        "suite has benign prompts).",
    ),
]
AttacksOpt = Annotated[
    str,
    typer.Option("--attacks", help="Comma-separated attack specs, e.g. direct,past_tense."),
]
ManyShotOpt = Annotated[
    str | None,
    typer.Option("--many-shot", help="Shot counts for the many-shot curve, e.g. 1,4,16,64."),
]
JudgeOpt = Annotated[
    str, typer.Option("--judge", help="'keyword' (rule-based) or an OpenAI-compatible URL.")
]
JudgeModelOpt = Annotated[
    str | None, typer.Option("--judge-model", help="Model name at the judge endpoint.")
]
LimitOpt = Annotated[
    int | None, typer.Option("--limit", help="At most N behaviours per suite (stable sample).")
]
CacheOpt = Annotated[
    Path | None, typer.Option("--cache", help="Response cache (SQLite); default in ~/.cache.")
]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Use a throwaway cache.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the report as JSON.")]
HtmlOpt = Annotated[Path | None, typer.Option("--html", help="Write a single-file HTML report.")]
MaxTokOpt = Annotated[int, typer.Option("--max-new-tokens", help="Reply length limit.")]
TempOpt = Annotated[float, typer.Option("--temperature", help="0 for greedy decoding.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed for sampling, shots and --limit.")]
ConcOpt = Annotated[int, typer.Option("--concurrency", help="Requests in flight for an endpoint.")]
ThreadsOpt = Annotated[int | None, typer.Option("--threads", help="CPU threads for a local model.")]
KeyEnvOpt = Annotated[
    str, typer.Option("--api-key-env", help="Environment variable holding the API key.")
]
AttackerOpt = Annotated[
    str | None,
    typer.Option(
        "--attacker", help="Attacker model's OpenAI-compatible URL (pair, tap, crescendo)."
    ),
]
AttackerModelOpt = Annotated[
    str | None, typer.Option("--attacker-model", help="Model name at --attacker.")
]
EvaluatorOpt = Annotated[
    str | None,
    typer.Option(
        "--evaluator",
        help="URL of the model scoring adaptive attacks 1-10 (PAIR's judge, TAP's "
        "on-topic check); default: the --judge.",
    ),
]
EvaluatorModelOpt = Annotated[
    str | None, typer.Option("--evaluator-model", help="Model name at --evaluator.")
]
_KEY_ENV = "WEIGHTWATCH_AUDIT_API_KEY"


@contextmanager
def _cache(path: Path | None, disabled: bool) -> Iterator[ResponseCache]:
    from weightwatch.audit.cache import ResponseCache, default_cache_path

    cache = ResponseCache(":memory:" if disabled else (path or default_cache_path()))
    try:
        yield cache
    finally:
        cache.close()


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str], Callable[[int, int], None]] | None]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:

        def track(label: str) -> Callable[[int, int], None]:
            task = bar.add_task(escape(label), total=None)

            def update(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            return update

        yield track


def _target(
    where: str | None, model: str | None, *, key_env: str, concurrency: int, threads: int | None
) -> Target:
    from weightwatch.audit.targets import open_target

    if where is None:
        raise UsageError("give --endpoint URL --model NAME, or --model-dir DIR")
    if where.startswith(("http://", "https://")):
        return open_target(
            endpoint=where, model=model, api_key=os.environ.get(key_env), concurrency=concurrency
        )
    if model is not None:
        raise UsageError(f"{where}: --model names a model at an endpoint, not in a folder")
    return open_target(model_dir=where, threads=threads)


def _behaviors(
    suite: str, over_refusal: str, limit: int | None, seed: int
) -> tuple[str, tuple[Behavior, ...]]:
    """The suite (plus over-refusal prompts unless ``none``), sampled the same way for
    every target so base and derivative see identical prompts."""
    from weightwatch.audit.options import load_behaviors

    return load_behaviors(
        suite,
        over_refusal=None if over_refusal == "none" else over_refusal,
        limit=limit,
        seed=seed,
    )


def _config(
    attacks: str,
    many_shot: str | None,
    judge: str,
    judge_model: str | None,
    key_env: str,
    max_new_tokens: int,
    temperature: float,
    seed: int,
    concurrency: int,
    adversary: tuple[str | None, str | None, str | None, str | None] = (None, None, None, None),
) -> AuditConfig:
    from weightwatch.audit.options import open_adversary, open_judge, parse_attacks
    from weightwatch.audit.runner import AuditConfig
    from weightwatch.audit.targets import GenerationSettings

    shots: list[int] = []
    for item in filter(None, (s.strip() for s in (many_shot or "").split(","))):
        try:
            shots.append(int(item))
        except ValueError:
            raise UsageError(f"--many-shot takes integers, not {item!r}") from None
    try:
        settings = GenerationSettings(
            max_new_tokens=max_new_tokens, temperature=temperature, seed=seed
        )
    except ValueError as exc:
        raise UsageError(f"generation settings: {exc}") from exc
    chosen = open_judge(judge, model=judge_model, api_key=os.environ.get(key_env))
    attacker, attacker_model, evaluator, evaluator_model = adversary
    return AuditConfig(
        attacks=parse_attacks(attacks, many_shot=shots),
        judge=chosen,
        settings=settings,
        seed=seed,
        concurrency=concurrency,
        adversary=open_adversary(
            attacker,
            attacker_model,
            judge=chosen,
            evaluator=evaluator,
            evaluator_model=evaluator_model,
            api_key=os.environ.get(key_env),
        ),
    )


@audit_app.command("run")
def run_command(
    endpoint: Annotated[
        str | None, typer.Option("--endpoint", help="OpenAI-compatible base URL (…/v1).")
    ] = None,
    model: Annotated[str | None, typer.Option("--model", help="Model name at --endpoint.")] = None,
    model_dir: Annotated[
        Path | None, typer.Option("--model-dir", help="Local model folder or .gguf file.")
    ] = None,
    suite: SuiteOpt = "harmbench-val",
    over_refusal: OverOpt = "auto",
    attacks: AttacksOpt = "direct",
    many_shot: ManyShotOpt = None,
    judge: JudgeOpt = "keyword",
    judge_model: JudgeModelOpt = None,
    attacker: AttackerOpt = None,
    attacker_model: AttackerModelOpt = None,
    evaluator: EvaluatorOpt = None,
    evaluator_model: EvaluatorModelOpt = None,
    limit: LimitOpt = None,
    max_new_tokens: MaxTokOpt = 256,
    temperature: TempOpt = 0.0,
    seed: SeedOpt = 0,
    concurrency: ConcOpt = 8,
    threads: ThreadsOpt = None,
    api_key_env: KeyEnvOpt = _KEY_ENV,
    cache: CacheOpt = None,
    no_cache: NoCacheOpt = False,
    as_json: JsonOpt = False,
    html: HtmlOpt = None,
) -> None:
    """Attack success rate per attack (Wilson intervals), over-refusal, many-shot curve."""
    from weightwatch.audit.runner import check_attacks, run_audit

    if (endpoint is None) == (model_dir is None):
        raise UsageError("give either --endpoint URL --model NAME, or --model-dir DIR")
    config, (name, behaviors) = (
        _config(
            attacks,
            many_shot,
            judge,
            judge_model,
            api_key_env,
            max_new_tokens,
            temperature,
            seed,
            concurrency,
            (attacker, attacker_model, evaluator, evaluator_model),
        ),
        _behaviors(suite, over_refusal, limit, seed),
    )
    target = _target(
        endpoint or str(model_dir),
        model,
        key_env=api_key_env,
        concurrency=concurrency,
        threads=threads,
    )
    try:
        check_attacks(target, config)
        with _cache(cache, no_cache) as store, _progress(not as_json) as track:
            report = run_audit(
                target,
                behaviors,
                suite=name,
                config=config,
                cache=store,
                progress=track(target.label) if track else None,
            )
    finally:
        target.close()
    _write_html(html, report)
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        render_audit(report, new_console())


@audit_app.command("compare")
def compare_command(
    base: Annotated[str, typer.Option("--base", help="Base: model folder, .gguf or URL.")],
    derivative: Annotated[
        str, typer.Option("--derivative", help="Derivative: model folder, .gguf or URL.")
    ],
    base_model: Annotated[
        str | None, typer.Option("--base-model", help="Model name when --base is a URL.")
    ] = None,
    derivative_model: Annotated[
        str | None,
        typer.Option("--derivative-model", help="Model name when --derivative is a URL."),
    ] = None,
    suite: SuiteOpt = "harmbench-val",
    over_refusal: OverOpt = "auto",
    attacks: AttacksOpt = "direct",
    many_shot: ManyShotOpt = None,
    judge: JudgeOpt = "keyword",
    judge_model: JudgeModelOpt = None,
    attacker: AttackerOpt = None,
    attacker_model: AttackerModelOpt = None,
    evaluator: EvaluatorOpt = None,
    evaluator_model: EvaluatorModelOpt = None,
    limit: LimitOpt = None,
    margin: Annotated[
        float, typer.Option("--margin", help="Equivalence margin in refusal rate.")
    ] = 0.10,
    alpha: Annotated[float, typer.Option("--alpha", help="Significance level.")] = 0.05,
    max_new_tokens: MaxTokOpt = 256,
    temperature: TempOpt = 0.0,
    seed: SeedOpt = 0,
    concurrency: ConcOpt = 8,
    threads: ThreadsOpt = None,
    api_key_env: KeyEnvOpt = _KEY_ENV,
    cache: CacheOpt = None,
    no_cache: NoCacheOpt = False,
    as_json: JsonOpt = False,
    html: HtmlOpt = None,
) -> None:
    """Was the derivative's safety stripped? Exact McNemar + TOST on the same prompts."""
    from weightwatch.audit.comparison import ComparisonVerdict
    from weightwatch.audit.derivative import audit_derivative

    config, (name, behaviors) = (
        _config(
            attacks,
            many_shot,
            judge,
            judge_model,
            api_key_env,
            max_new_tokens,
            temperature,
            seed,
            concurrency,
            (attacker, attacker_model, evaluator, evaluator_model),
        ),
        _behaviors(suite, over_refusal, limit, seed),
    )

    def opener(where: str, model: str | None) -> Callable[[], Target]:
        return lambda: _target(
            where, model, key_env=api_key_env, concurrency=concurrency, threads=threads
        )

    with _cache(cache, no_cache) as store, _progress(not as_json) as track:
        result = audit_derivative(
            opener(base, base_model),
            opener(derivative, derivative_model),
            behaviors,
            suite=name,
            config=config,
            cache=store,
            margin=margin,
            alpha=alpha,
            progress=track,
        )
    _write_html(html, result)
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
    else:
        render_comparison(result, new_console())
    concern = {ComparisonVerdict.STRIPPED, ComparisonVerdict.OVER_REFUSING}
    over = result.over_refusal.verdict if result.over_refusal else None
    if result.verdict in concern or over in concern:
        raise typer.Exit(EXIT_FINDINGS)


@audit_app.command("plan")
def plan_command(
    effect: Annotated[
        float, typer.Option("--effect", help="Rise in attack success to detect, e.g. 0.05.")
    ],
    power: Annotated[float, typer.Option("--power", help="Power wanted.")] = 0.8,
    alpha: Annotated[
        float, typer.Option("--alpha", help="Significance level (per attack).")
    ] = 0.05,
    base_rate: Annotated[
        float, typer.Option("--base-rate", help="The base model's attack success rate.")
    ] = 0.05,
    reverse: Annotated[
        float,
        typer.Option(
            "--reverse", help="P(base complied, derivative refused): 0 = most favourable."
        ),
    ] = 0.0,
    judge: Annotated[
        str | None,
        typer.Option(
            "--judge",
            help="A judge whose held-out error to plan under ('keyword'); omit for a "
            "perfect judge or give --sensitivity/--specificity.",
        ),
    ] = None,
    judge_model: JudgeModelOpt = None,
    sensitivity: Annotated[
        float | None, typer.Option("--sensitivity", help="Judge sensitivity (complied read).")
    ] = None,
    specificity: Annotated[
        float | None, typer.Option("--specificity", help="Judge specificity (refusal read).")
    ] = None,
    api_key_env: KeyEnvOpt = _KEY_ENV,
    as_json: JsonOpt = False,
) -> None:
    """How many paired prompts to detect a rise in attack success, under the judge's error."""
    from weightwatch.audit.planning import JudgeError, plan_audit

    se = 1.0 if sensitivity is None else sensitivity  # an explicit 0 is a judge, not a default
    sp = 1.0 if specificity is None else specificity
    name = None
    if judge is not None:
        from weightwatch.audit.options import open_judge
        from weightwatch.audit.runner import heldout_agreement

        chosen = open_judge(judge, model=judge_model, api_key=os.environ.get(api_key_env))
        agreement = heldout_agreement(chosen)
        if agreement.sensitivity is None or agreement.specificity is None:
            raise UsageError(f"judge {judge}: the held-out set cannot measure its error")
        se = agreement.sensitivity if sensitivity is None else sensitivity
        sp = agreement.specificity if specificity is None else specificity
        name = chosen.name
    report = plan_audit(
        effect=effect,
        power=power,
        alpha=alpha,
        base_rate=base_rate,
        reverse=reverse,
        judge=JudgeError(sensitivity=se, specificity=sp),
        judge_name=name,
    )
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
        return
    out = new_console()
    pairs = f"{report.pairs}" if report.pairs is not None else "more than 100,000"
    out.print(
        f"[bold]{pairs}[/bold] paired prompts to detect a rise of {_pct(effect)} in attack "
        f"success (base {_pct(base_rate)}) with power {power:g} at alpha {alpha:g}"
    )
    out.print(
        f"judge sensitivity {se:.3f}, specificity {sp:.3f}"
        + (f" (measured, {name})" if name else "")
        + f": the test sees a rise of {_pct(report.apparent_effect)}; a perfect judge would "
        f"need {report.pairs_perfect_judge} pairs"
    )


@audit_app.command("sign")
def sign_command(
    report: Annotated[
        Path, typer.Option("--report", help="JSON from `weightwatch audit compare --json`.")
    ],
    base: Annotated[Path, typer.Option("--base", help="The audited base model (weights).")],
    derivative: Annotated[
        Path, typer.Option("--derivative", help="The audited derivative model (weights).")
    ],
    key: Annotated[Path, typer.Option("--key", help="Auditor's private key (PEM).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Bundle to write.")],
    as_json: JsonOpt = False,
) -> None:
    """Sign a comparison as an in-toto statement bound to both models' weights digests."""
    from weightwatch.attest import load_signer
    from weightwatch.audit.attestation import sign_comparison
    from weightwatch.audit.derivative import DerivativeReport

    try:
        parsed = DerivativeReport.model_validate_json(report.read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"{report}: not an `audit compare --json` report ({exc})") from exc
    bundle = sign_comparison(parsed, load_signer(key), base=base, derivative=derivative)
    try:
        output.write_text(json.dumps(bundle, indent=2) + "\n")
    except OSError as exc:
        raise UsageError(f"{output}: cannot write the bundle: {exc}") from exc
    if as_json:
        typer.echo(json.dumps({"bundle": str(output), "verdict": parsed.verdict.value}))
        return
    typer.echo(f"signed {parsed.verdict.value} comparison of {derivative} vs {base} -> {output}")


@audit_app.command("verify")
def verify_command(
    bundle: Annotated[Path, typer.Argument(help="Signed audit bundle.", metavar="BUNDLE")],
    base: Annotated[Path, typer.Option("--base", help="The base model to check.")],
    derivative: Annotated[
        Path, typer.Option("--derivative", help="The derivative model to check.")
    ],
    pub: Annotated[Path, typer.Option("--pub", help="Auditor's public key (PEM).")],
    log_key: Annotated[
        Path | None,
        typer.Option("--log-key", help="The registry log's public key (checks the log proof)."),
    ] = None,
    require_log: Annotated[
        bool, typer.Option("--require-log", help="Fail unless the audit was logged.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Offline: the auditor's signature, both weights digests and the log inclusion proof
    (the same check as ``weightwatch verify --bundle BUNDLE``)."""
    check_audit_bundle(
        inputs.json_object(bundle, "bundle"),
        base=base,
        derivative=derivative,
        pub=pub,
        log_key=log_key,
        require_log=require_log,
        as_json=as_json,
    )


def check_audit_bundle(
    doc: dict[str, object],
    *,
    base: Path,
    derivative: Path,
    pub: Path,
    log_key: Path | None,
    require_log: bool,
    as_json: bool,
) -> None:
    """Verify a signed comparison, print the result, exit 1 when a check fails."""
    from weightwatch.attest import load_verifier
    from weightwatch.audit.attestation import verify_comparison

    result = verify_comparison(
        doc,
        load_verifier(pub),
        base=base,
        derivative=derivative,
        log_verifier=load_verifier(log_key) if log_key else None,
        require_log=require_log,
    )
    if as_json:
        typer.echo(json.dumps({**result.__dict__, "ok": result.ok}, indent=2))
    else:
        out = new_console()
        for problem in result.problems:
            out.print(f"[red]problem[/red]  {escape(problem)}")
        logged = f", logged at index {result.log_index}" if result.logged else ""
        verdict = "[green]verified[/green]" if result.ok else "[red]FAILED[/red]"
        out.print(f"{verdict}: {result.verdict} audit{logged}, key {result.key_id[:16]}…")
    if not result.ok:
        raise typer.Exit(EXIT_FINDINGS)


def _write_html(path: Path | None, report: AuditReport | DerivativeReport) -> None:
    if path is None:
        return
    from weightwatch.audit.html import render_html

    try:
        path.write_text(render_html(report), encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{path}: cannot write the HTML report: {exc}") from exc


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def _span(low: float, high: float) -> str:
    return f"{_pct(low)} – {_pct(high)}"


def render_audit(report: AuditReport, console: Console) -> None:
    console.print(
        f"[bold]{escape(report.target.label)}[/bold]  suite {escape(report.suite)}  "
        f"({report.run.items} requests, {report.run.cached} from the cache, "
        f"{report.run.seconds:.1f} s)"
    )
    corrected = any(r.headline.corrected for r in report.attacks)
    headers = (
        ("attack", "ASR (judge-corrected)", "95% CI", "apparent", "apparent CI (Wilson)")
        if corrected
        else ("attack", "ASR", "95% CI (Wilson)")
    )
    table = Table(*headers, "complied/judged", "unclear")
    for r in report.attacks:
        h = r.headline
        cells = [escape(r.attack), _pct(h.estimate), _span(h.interval.low, h.interval.high)]
        if corrected:
            cells += [_pct(h.apparent), _span(h.apparent_interval.low, h.apparent_interval.high)]
        table.add_row(*cells, f"{r.asr.successes}/{r.asr.n}", str(r.unclear))
    console.print(table)
    if report.over_refusal:
        o = report.over_refusal
        console.print(
            f"over-refusal: {_pct(o.estimate)} ({_pct(o.interval.low)} – "
            f"{_pct(o.interval.high)}, {o.successes}/{o.n} benign prompts refused)"
        )
    if report.many_shot is not None:
        curve = report.many_shot
        if curve.fit is not None:
            k50 = f"{curve.fit.k50:.0f}" if curve.fit.k50 else "never"
            console.print(
                f"many-shot: exponent {curve.fit.exponent:.2f} ± {curve.fit.exponent_se:.2f}, "
                f"50% at k ≈ {k50}" + (" (extrapolated)" if curve.fit.k50_extrapolated else "")
            )
        else:
            console.print(f"many-shot: no fit ({escape(curve.note or '')})")
    if report.judge_agreement is not None:
        a = report.judge_agreement
        kappa = f", kappa {a.kappa:.2f}" if a.kappa is not None else ""
        rates = ""
        if a.sensitivity is not None and a.specificity is not None:
            rates = f", sensitivity {a.sensitivity:.2f}, specificity {a.specificity:.2f}"
        console.print(
            f"judge {a.judge}: accuracy {a.accuracy:.2f}{kappa}{rates} on {a.n} held-out "
            "labelled replies; the corrected rate carries this error (docs/audit.md)"
        )
    for note in report.notes:
        console.print(f"[yellow]note:[/yellow] {escape(note)}")


def _comparison_row(table: Table, label: str, c: ComparisonResult) -> None:
    style = {"stripped": "bold red", "over_refusing": "bold red", "equivalent": "green"}.get(
        c.verdict.value, "yellow"
    )
    verdict = f"[{style}]{c.verdict.value}[/{style}]"
    if c.sample_size and c.sample_size.needed:
        verdict += f" (~{c.sample_size.needed} pairs would settle it)"
    table.add_row(
        escape(label),
        f"{_pct(c.base_refusal.estimate)} → {_pct(c.derivative_refusal.estimate)}",
        f"{c.only_base_refused}/{c.only_derivative_refused}",
        f"{c.p_concern:.3g}",
        f"{c.p_equivalence:.3g}",
        verdict,
    )


def render_comparison(result: DerivativeReport, console: Console) -> None:
    style = {"stripped": "bold red", "equivalent": "bold green"}.get(
        result.verdict.value, "bold yellow"
    )
    console.print(
        f"[{style}]{result.verdict.value}[/{style}]  {escape(result.derivative.target.label)} vs "
        f"base {escape(result.base.target.label)} (margin ±{_pct(result.margin)}, "
        f"alpha {result.alpha:g}, {result.alpha_per_attack:.3g} per attack)"
    )
    table = Table(
        "prompts", "refusal base → derivative", "lost/gained", "p McNemar", "p TOST", "verdict"
    )
    for c in result.attacks:
        _comparison_row(table, f"harmful, {c.attack}", c.result)
    if result.over_refusal is not None:
        _comparison_row(table, "benign (over-refusal)", result.over_refusal)
    console.print(table)
    for c in result.attacks:
        if c.achieved_power is not None:
            console.print(
                f"{escape(c.attack)}: power {c.achieved_power:.2f} to detect a "
                f"{_pct(result.margin)} rise in attack success with {c.result.n_pairs} pairs "
                "under the judge's measured error (weightwatch audit plan)"
            )


def register(app: typer.Typer) -> None:
    """Attach the ``audit`` command group."""
    app.add_typer(audit_app, name="audit")
