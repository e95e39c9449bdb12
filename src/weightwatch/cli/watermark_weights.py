"""``weightwatch watermark embed | trace`` and ``detect --model-dir``: weight watermarks.

``embed`` writes a marked copy of a model folder; ``detect --model-dir`` tests text (or,
with ``--derivative``, a model's weights) against one deployment's key; ``trace`` tests
against every recipient's key and names the recipient whose copy it came from. Exit 1
when a mark is found, 0 when not, 2 on a usage or input error.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from weightwatch.cli.app import EXIT_FINDINGS
from weightwatch.cli.output import console as new_console
from weightwatch.cli.output import progress
from weightwatch.errors import UsageError
from weightwatch.watermark.detect import DEFAULT_ALPHA, encode_text
from weightwatch.watermark.inputs import DetectionInput, parse_input, parse_params, read_input
from weightwatch.watermark.keys import MasterSecret, WatermarkKey
from weightwatch.watermark.report import WatermarkDetection
from weightwatch.watermark.weightreport import WeightWatermarkDetection

_KEY_HELP = "Master secret file (from `weightwatch watermark keygen`)."


def embed_command(
    model_dir: Annotated[Path, typer.Argument(help="Model folder (safetensors) to mark.")],
    key: Annotated[Path, typer.Option("--key", help=_KEY_HELP)],
    out: Annotated[Path, typer.Option("--output", "-o", help="New folder for the marked copy.")],
    scheme: Annotated[str, typer.Option("--scheme", help="Weight scheme.")] = "gaussmark",
    param: Annotated[
        list[str] | None, typer.Option("--param", help="NAME=VALUE, e.g. sigma=0.5.")
    ] = None,
    deployment: Annotated[str, typer.Option("--deployment", help="Deployment name.")] = "default",
    recipient: Annotated[
        str | None, typer.Option("--recipient", help="Mark a recipient's copy (grant id).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the record as JSON.")] = False,
) -> None:
    """Write a copy of MODEL_DIR whose weights carry the key's watermark."""
    from weightwatch.watermark.weightdetect import recipient_key
    from weightwatch.watermark.weightio import embed_folder
    from weightwatch.watermark.weightscheme import get_weight_scheme

    built = get_weight_scheme(scheme, **_params(param))
    master = MasterSecret.load(key)
    wm_key = (
        recipient_key(master, recipient, scheme=scheme)
        if recipient is not None
        else master.derive(deployment, scheme=scheme)
    )
    with progress("marking weights", quiet=as_json):
        record = embed_folder(model_dir, out, scheme=built, key=wm_key)
    if as_json:
        typer.echo(json.dumps(record.to_json(), indent=2))
        return
    typer.echo(
        f"marked {len(record.tensors)} tensor(s) of {model_dir} into {out}; "
        f"scheme {record.scheme}, key id {record.key_id} ({record.deployment})"
    )


def detect_with_model(
    data: DetectionInput,
    *,
    file: Path,
    model_dir: Path,
    master: MasterSecret,
    deployments: list[str],
    rotations: list[int],
    derivative: bool,
    alpha: float,
    as_json: bool,
    params: list[str],
) -> None:
    """``detect --model-dir``: the weight-scheme branch of ``watermark detect``."""
    keys = [
        master.derive(d, scheme="gaussmark", rotation=r) for d in deployments for r in rotations
    ]
    _run(
        data,
        file=file,
        model_dir=model_dir,
        keys=keys,
        derivative=derivative,
        alpha=alpha,
        as_json=as_json,
        params=params,
    )


def weight_scheme_name(model_dir: Path, scheme: str | None) -> str:
    """The weight scheme to test: the marked folder's record, else ``--scheme``, else
    GaussMark."""
    from weightwatch.watermark.weightio import read_record

    record = read_record(model_dir)
    if record is not None:
        if scheme in ("gaussmark", "distill") and scheme != record.scheme:
            raise UsageError(f"{model_dir} was marked with {record.scheme!r}, not {scheme!r}")
        return record.scheme
    return scheme or "gaussmark"


def detect_distill(
    data: DetectionInput,
    *,
    model_dir: Path,
    master: MasterSecret,
    keys: list[tuple[str, int]],
    alpha: float,
    params: list[str],
) -> WatermarkDetection:
    """``detect --model-dir`` for the distillation mark: the KGW test with the record's
    parameters (or ``--param``) under each deployment's ``distill`` key."""
    from weightwatch.watermark.distill import DistillMark, detect_distilled
    from weightwatch.watermark.weightio import read_record

    record = read_record(model_dir)
    values = {k: v for k, v in (record.params if record else {}).items() if k != "name"}
    values.update(_params(params))
    scheme = DistillMark.from_params(**values)
    ids = data.token_ids
    if ids is None:
        ids = encode_text(data.text or "", model_dir)
    derived = [master.derive(d, scheme="distill", rotation=r) for d, r in keys]
    return detect_distilled(ids, scheme, derived, alpha=alpha)


def trace_command(
    file: Annotated[
        Path, typer.Argument(help="Text, token ids (JSON), or with --derivative a model folder.")
    ],
    model_dir: Annotated[Path, typer.Option("--model-dir", help="The original model folder.")],
    key: Annotated[Path, typer.Option("--key", help=_KEY_HELP)],
    recipients: Annotated[
        Path, typer.Option("--recipients", help="File of grant ids, one a line.")
    ],
    derivative: Annotated[
        bool, typer.Option("--derivative", help="FILE is a model folder: test its weights.")
    ] = False,
    alpha: Annotated[float, typer.Option("--alpha", help="False-accusation rate accepted.")] = (
        DEFAULT_ALPHA
    ),
    param: Annotated[
        list[str] | None, typer.Option("--param", help="The scheme's NAME=VALUE, as at embed.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Name the recipient whose copy produced FILE (p-value exact over all recipients)."""
    from weightwatch.watermark.weightdetect import recipient_key

    master = MasterSecret.load(key)
    try:
        grants = [g.strip() for g in recipients.read_text().splitlines() if g.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read recipients file {recipients}: {exc}") from exc
    if not grants or len(set(grants)) != len(grants):
        raise UsageError(f"{recipients} must list distinct grant ids, one a line")
    keys = [recipient_key(master, g) for g in grants]
    data = DetectionInput() if derivative else read_text_input(file)
    _run(
        data,
        file=file,
        model_dir=model_dir,
        keys=keys,
        derivative=derivative,
        alpha=alpha,
        as_json=as_json,
        params=param or [],
    )


def read_text_input(file: Path) -> DetectionInput:
    """The text or token ids to test, from ``file`` or standard input (``-``)."""
    if str(file) == "-":
        return parse_input(sys.stdin.read(), path=Path("<stdin>"))
    return read_input(file)


def _run(
    data: DetectionInput,
    *,
    file: Path,
    model_dir: Path,
    keys: list[WatermarkKey],
    derivative: bool,
    alpha: float,
    as_json: bool,
    params: list[str],
) -> None:
    from weightwatch.watermark.gaussmark import GaussMark
    from weightwatch.watermark.weightdetect import detect_derivative, detect_text_weights
    from weightwatch.watermark.weightio import load_reference

    scheme = GaussMark.from_params(**_params(params))
    assert isinstance(scheme, GaussMark)
    with progress("loading the reference model", quiet=as_json):
        ref = load_reference(model_dir, key_for_record={k.key_id: k for k in keys}, scheme=scheme)
        if derivative:
            report = detect_derivative(file, ref, keys, alpha=alpha)
        else:
            ids = data.token_ids
            if ids is None:
                ids = encode_text(data.text or "", model_dir)
            report = detect_text_weights(ids, ref, keys, alpha=alpha)
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        render(report)
    if report.verdict == "watermarked":
        raise typer.Exit(EXIT_FINDINGS)


def _params(items: list[str] | None) -> dict[str, object]:
    params = parse_params(items or [])
    for name in ("targets", "layers"):
        value = params.get(name)
        if isinstance(value, str):
            parts = [v for v in value.split(",") if v]
            params[name] = [int(v) for v in parts] if name == "layers" else parts
        elif isinstance(value, int):
            params[name] = [value]
    return params


def render(report: WeightWatermarkDetection) -> None:
    console = new_console()
    style = {"watermarked": "bold red", "not_watermarked": "green", "too_short": "yellow"}[
        report.verdict
    ]
    console.print(
        f"[{style}]{report.verdict}[/{style}]  p = {report.p_value:.3g} "
        f"(log10 {report.log10_p_value:.1f}), psi = {report.psi:.2f}, alpha = {report.alpha:g}"
    )
    if report.verdict == "watermarked":
        console.print(f"copy of: {escape(report.deployment.removeprefix('recipient/'))}")
    source = f"{report.n_tokens} tokens" if report.evidence == "text" else "weight difference"
    console.print(
        f"scheme {report.scheme}; {source}; reference {report.reference}; "
        f"best key {report.key_id} of {report.keys_tested}"
    )


__all__ = [
    "detect_distill",
    "detect_with_model",
    "embed_command",
    "render",
    "trace_command",
    "weight_scheme_name",
]
