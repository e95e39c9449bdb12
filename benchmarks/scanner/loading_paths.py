"""Regenerate the scanner's coverage facts from the installed frameworks' source.

    python benchmarks/scanner/loading_paths.py inventory [--json OUT]   # deserialising call sites
    python benchmarks/scanner/loading_paths.py gadgets [--json OUT]     # the gadget sweep

``inventory`` lists every call in the installed ML frameworks that deserialises a pickle
(``weightwatch.testing.scan_corpus_inventory``), grouped per framework and loader, with
the file names that lead to it and the exception fallbacks (EOP). ``gadgets`` runs the
gadget sweep (``weightwatch.testing.scan_corpus_sweep``) over every name the scanner lets
through as safe or review and checks each gadget is reported at high or critical. Both
read source with ``ast`` only; nothing is imported or run. Figures: docs/scanner.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from importlib import metadata
from pathlib import Path

from weightwatch.scan.callables import classify
from weightwatch.scan.findings import Severity
from weightwatch.testing.scan_corpus_inventory import INVENTORY_PACKAGES, inventory
from weightwatch.testing.scan_corpus_source import SourceIndex
from weightwatch.testing.scan_corpus_sweep import (
    SWEEP_PACKAGES,
    Gadget,
    compiled_modules,
    enum_classes,
    reexported_names,
    render_table,
    sweep,
)

TABLE = Path(__file__).resolve().parents[2] / "src" / "weightwatch" / "scan" / "gadgets.py"


def _versions(packages: tuple[str, ...]) -> dict[str, str]:
    dists = metadata.packages_distributions()
    out = {}
    for p in packages:
        for dist in dists.get(p, []):
            out[p] = metadata.version(dist)
            break
    return out


def run_inventory() -> dict[str, object]:
    index = SourceIndex.build(list(INVENTORY_PACKAGES), stdlib=False)
    sites = inventory(index)
    unsafe = [s for s in sites if s.unsafe and not s.in_tests]
    per = Counter(s.package for s in unsafe)
    paths = sorted({(s.package, s.loader, s.files) for s in unsafe})
    print(f"{len(index.modules)} modules parsed, {len(index.errors)} unparsable")
    print(f"{len(sites)} deserialising call sites; outside the packages' test helpers, "
          f"{len(unsafe)} not safe by default")  # fmt: skip
    for pkg, n in per.most_common():
        print(f"  {pkg:24} {n:4} sites  {len({p for p in paths if p[0] == pkg}):3} paths")
    for s in unsafe:
        mark = "  EOP" if s.eop else ""
        files = ",".join(s.files) or "-"
        print(f"{s.module}.{s.function}:{s.line}  {s.loader}  [{s.safety}]  {files}{mark}")
    return {
        "versions": _versions(INVENTORY_PACKAGES),
        "sites": [s.as_json() for s in sites],
        "paths": [[p[0], p[1], list(p[2])] for p in paths],
    }


def run_gadgets(*, write: bool = False) -> dict[str, object]:
    index = SourceIndex.build(list(SWEEP_PACKAGES))
    examined, found = sweep(index)
    enums, bad_enums = enum_classes(index)
    found += bad_enums
    reexported = reexported_names(found, index)
    return report_gadgets(examined, found, enums, reexported, len(index.modules), write=write)


def report_gadgets(
    examined: int,
    found: list[Gadget],
    enums: list[str],
    reexported: dict[str, str],
    modules: int,
    *,
    write: bool,
) -> dict[str, object]:
    compiled = compiled_modules()
    versions = _versions(SWEEP_PACKAGES)
    if write:
        TABLE.write_text(render_table(found, enums, compiled, versions, reexported))
    names = sorted({g.name for g in found})
    weak = [n for n in names if (classify(n)[1] or Severity.INFO) < Severity.HIGH]
    reached = [g for g in found if g.trigger != "re-export"]
    print(f"{modules} modules parsed; {examined} names a pickle may import")
    print(f"{len(names)} gadget names: {len(reached)} reach a sink "
          f"({Counter(g.trigger for g in reached)}), "
          f"{len(found) - len(reached)} re-export a denylisted name")  # fmt: skip
    print("by sink:", Counter(g.sink for g in reached).most_common())
    print("by package:", Counter(g.name.split(".")[0] for g in reached).most_common())
    print(f"{len(enums)} enums and {len(compiled)} compiled modules may be constructed")
    for g in found:
        print(f"{g.name}  [{g.trigger} -> {g.sink}]  {' -> '.join(g.chain)}")
    return {
        "versions": versions,
        "examined": examined,
        "gadgets": [g.as_json() for g in found],
        "enums": enums,
        "compiled": compiled,
        "below_high_by_name": weak,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["inventory", "gadgets"])
    parser.add_argument("--json", help="write the full result here")
    parser.add_argument("--write", action="store_true", help="regenerate scan/gadgets.py")
    args = parser.parse_args()
    start = time.perf_counter()
    result = run_inventory() if args.what == "inventory" else run_gadgets(write=args.write)
    print(f"{time.perf_counter() - start:.0f} s", file=sys.stderr)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
