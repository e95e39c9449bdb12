"""``weightwatch watermark keygen | generate | detect | embed | trace``: watermarking.

``embed``/``trace`` and ``detect --model-dir`` are the weight watermarks
(``cli.watermark_weights``); the rest are the sampling-time schemes.

``detect`` exits 0 when the text is not shown to be watermarked (or is too short), 1 when
it is (a finding), 2 on a usage or input error.
"""

from __future__ import annotations

import contextlib
import itertools
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from weightwatch.cli.app import EXIT_FINDINGS, typer_app
from weightwatch.cli.output import console as new_console
from weightwatch.cli.output import progress
from weightwatch.cli.watermark_weights import (
    detect_distill,
    detect_with_model,
    embed_command,
    read_text_input,
    trace_command,
    weight_scheme_name,
)
from weightwatch.errors import UsageError
from weightwatch.watermark.detect import DEFAULT_ALPHA, detect, encode_text
from weightwatch.watermark.inputs import DetectionInput, parse_params
from weightwatch.watermark.keys import MasterSecret
from weightwatch.watermark.report import WatermarkDetection
from weightwatch.watermark.scheme import get_scheme
from weightwatch.watermark.windows import DEFAULT_WINDOWS

watermark_app = typer_app(
    help="Usage watermarking: keys, generation, detection.", no_args_is_help=True
)

_KEY_HELP = "Master secret file (from `weightwatch watermark keygen`)."
_PARAM_HELP = "Scheme parameter NAME=VALUE (repeatable), e.g. gamma=0.25."


@watermark_app.command("keygen")
def keygen_command(
    out: Annotated[Path, typer.Argument(help="Master secret file to write (mode 0600).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create a master secret; deployment keys are derived from it."""
    master = MasterSecret.generate()
    master.save(out)
    if as_json:
        typer.echo(json.dumps({"master_secret": str(out), "key_id": master.key_id}, indent=2))
        return
    typer.echo(f"master secret: {out}\nkey id:        {master.key_id}")


@watermark_app.command("generate")
def generate_command(
    model: Annotated[Path, typer.Option("--model", help="Local model folder (transformers).")],
    key: Annotated[Path, typer.Option("--key", help=_KEY_HELP)],
    prompt: Annotated[str, typer.Option("--prompt", help="Text to continue.")],
    scheme: Annotated[
        str, typer.Option("--scheme", help="kgw, gumbel, tournament or kgw-hf.")
    ] = "kgw",
    param: Annotated[list[str] | None, typer.Option("--param", help=_PARAM_HELP)] = None,
    deployment: Annotated[str, typer.Option("--deployment", help="Deployment name.")] = "default",
    rotation: Annotated[int, typer.Option("--rotation", help="Key rotation counter.")] = 0,
    max_new_tokens: Annotated[
        int, typer.Option("--max-new-tokens", help="Longest completion, in tokens.")
    ] = 200,
    top_k: Annotated[
        int | None, typer.Option("--top-k", help="Hash only the top-k candidates.")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Sampling seed.")] = None,
    out: Annotated[
        Path | None,
        typer.Option("--output", "-o", "--out", help="Write the generation (JSON) here."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the generation as JSON.")] = False,
) -> None:
    """Sample a watermarked completion; --out keeps the token ids for exact detection."""
    from weightwatch.watermark.generation import generate, load_model

    built = get_scheme(scheme, **_scheme_params(scheme, param or [], model))
    wm_key = MasterSecret.load(key).derive(deployment, scheme=scheme, rotation=rotation)
    with progress(f"generating {max_new_tokens} tokens", quiet=as_json):
        lm, tok = load_model(model)
        gen = generate(
            lm,
            tok,
            prompt,
            scheme=built,
            key=wm_key,
            max_new_tokens=max_new_tokens,
            top_k=top_k,
            seed=seed,
        )
    doc = gen.model_dump_json(indent=2)
    if out is not None:
        out.write_text(doc + "\n")
    if as_json:
        typer.echo(doc)
    else:
        typer.echo(gen.text)
        typer.echo(
            f"[{len(gen.token_ids)} tokens, scheme {gen.scheme}, key id {gen.key_id}"
            + (f", written to {out}]" if out is not None else "]"),
            err=True,
        )


@watermark_app.command("detect")
def detect_command(
    file: Annotated[
        Path,
        typer.Argument(help="Token ids (JSON list or generate's JSON) or text; - for stdin."),
    ],
    key: Annotated[Path, typer.Option("--key", help=_KEY_HELP)],
    tokenizer: Annotated[
        Path | None,
        typer.Option("--tokenizer", help="Folder with the deployment's tokenizer.json (text)."),
    ] = None,
    scheme: Annotated[
        str | None, typer.Option("--scheme", help="Default: the file's scheme, else kgw.")
    ] = None,
    param: Annotated[list[str] | None, typer.Option("--param", help=_PARAM_HELP)] = None,
    deployment: Annotated[
        list[str] | None, typer.Option("--deployment", help="Deployment name (repeatable).")
    ] = None,
    rotation: Annotated[
        list[int] | None, typer.Option("--rotation", help="Rotation to test (repeatable).")
    ] = None,
    alpha: Annotated[float, typer.Option("--alpha", help="False-positive rate accepted.")] = (
        DEFAULT_ALPHA
    ),
    windowed: Annotated[
        bool, typer.Option("--windowed", help="Also search for watermarked spans.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    model_dir: Annotated[
        Path | None,
        typer.Option("--model-dir", help="Weight watermark: the original or marked model folder."),
    ] = None,
    derivative: Annotated[
        bool, typer.Option("--derivative", help="With --model-dir: FILE is a model folder.")
    ] = False,
) -> None:
    """Exact p-value that FILE was generated with the key; exit 1 when watermarked."""
    if model_dir is not None and weight_scheme_name(model_dir, scheme) == "distill":
        if derivative:
            raise UsageError("--derivative tests GaussMark weights, not the distillation mark")
        report = detect_distill(
            read_text_input(file),
            model_dir=model_dir,
            master=MasterSecret.load(key),
            keys=list(itertools.product(deployment or ["default"], rotation or [0])),
            alpha=alpha,
            params=param or [],
        )
        _output(report, as_json)
        return
    if model_dir is not None:
        detect_with_model(
            DetectionInput() if derivative else read_text_input(file),
            file=file,
            model_dir=model_dir,
            master=MasterSecret.load(key),
            deployments=deployment or ["default"],
            rotations=rotation or [0],
            derivative=derivative,
            alpha=alpha,
            as_json=as_json,
            params=param or [],
        )
        return
    if derivative:
        raise UsageError("--derivative needs --model-dir (the original model folder)")
    data = read_text_input(file)
    name = scheme or data.scheme or "kgw"
    params = dict(data.params) if name == data.scheme else {}
    params.update(_scheme_params(name, param or [], None))
    built = get_scheme(name, **params)
    master = MasterSecret.load(key)
    keys = [
        master.derive(d, scheme=name, rotation=r)
        for d, r in itertools.product(deployment or ["default"], rotation or [0])
    ]
    if data.token_ids is not None:
        ids = data.token_ids
    else:
        if tokenizer is None:
            raise UsageError(
                f"{file} holds text: give --tokenizer DIR to tokenize it",
                hint="or pass the token ids (JSON) that generate --out wrote",
            )
        ids = encode_text(data.text or "", tokenizer)
    report = detect(
        ids,
        scheme=built,
        keys=keys,
        alpha=alpha,
        windows=DEFAULT_WINDOWS if windowed else None,
    )
    _output(report, as_json)


def _output(report: WatermarkDetection, as_json: bool) -> None:
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        render(report, new_console())
    if report.verdict == "watermarked":
        raise typer.Exit(EXIT_FINDINGS)


def _scheme_params(name: str, items: list[str], model: Path | None) -> dict[str, Any]:
    params = parse_params(items)
    if name == "kgw-hf" and "vocab_size" not in params and model is not None:
        # when this fails, get_scheme names the missing parameter
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            config = json.loads((model / "config.json").read_text())
            params["vocab_size"] = int(config["vocab_size"])
    return params


def render(report: WatermarkDetection, console: Console) -> None:
    style = {"watermarked": "bold red", "not_watermarked": "green", "too_short": "yellow"}[
        report.verdict
    ]
    params = ", ".join(f"{k}={v}" for k, v in report.params.items() if k != "name")
    console.print(
        f"[{style}]{report.verdict}[/{style}]  p = {report.p_value:.3g} "
        f"(log10 {report.log10_p_value:.1f}), z = {report.z:.2f}, alpha = {report.alpha:g}"
    )
    detail = f"{report.n_tokens} tokens, {report.n_scored} scored"
    if report.green_fraction is not None:
        detail += f", hit fraction {report.green_fraction:.3f}"
    console.print(
        f"scheme {report.scheme} ({escape(params)}); key id {report.key_id}; "
        f"{report.keys_tested} key(s) and {report.tests // report.keys_tested} test(s) per key; "
        + detail
    )
    for span in report.spans:
        console.print(
            f"  span tokens [{span.start}, {span.end}): {span.n_scored} scored, "
            f"p = {span.p_value:.3g} adjusted for its boundaries "
            f"(best window, adjusted for the search: {span.adjusted_p_value:.3g})"
        )


watermark_app.command("embed")(embed_command)
watermark_app.command("trace")(trace_command)


def register(app: typer.Typer) -> None:
    """Attach the ``watermark`` command group."""
    app.add_typer(watermark_app, name="watermark")
