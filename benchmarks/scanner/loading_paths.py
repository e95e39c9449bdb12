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

from weightwatch.scan.callables import classify
from weightwatch.scan.findings import Severity
from weightwatch.testing.scan_corpus_inventory import INVENTORY_PACKAGES, inventory
from weightwatch.testing.scan_corpus_source import SourceIndex
from weightwatch.testing.scan_corpus_sweep import SWEEP_PACKAGES, sweep


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
    unsafe = [s for s in sites if s.unsafe]
    per = Counter(s.package for s in unsafe)
    paths = sorted({(s.package, s.loader, s.files) for s in unsafe})
    print(f"{len(index.modules)} modules parsed, {len(index.errors)} unparsable")
    print(f"{len(sites)} deserialising call sites, {len(unsafe)} not safe by default")
    for pkg, n in per.most_common():
        print(f"  {pkg:24} {n:4} sites  {len({p for p in paths if p[0] == pkg}):3} paths")
    for s in unsafe:
        mark = "  EOP" if s.eop else ""
        files = ",".join(s.files) or "-"
        print(f"{s.module}.{s.function}:{s.line}  {s.loader}  [{s.safety}]  {files}{mark}")
    return {
        "versions": _versions(INVENTORY_PACKAGES),
        "sites": [s.as_json() for s in sites],
        "paths": [list(p[:2]) + [list(p[2])] for p in paths],
    }


def run_gadgets() -> dict[str, object]:
    index = SourceIndex.build(list(SWEEP_PACKAGES))
    examined, found = sweep(index)
    names = sorted({g.name for g in found})
    weak = [n for n in names if (classify(n)[1] or Severity.INFO) < Severity.HIGH]
    print(f"{len(index.modules)} modules parsed; {examined} names a pickle may import")
    print(f"{len(found)} gadget entries, {len(names)} distinct names; {len(weak)} below high")
    print(Counter(g.sink for g in found).most_common())
    for g in found:
        print(f"{g.name}  [{g.trigger} -> {g.sink}]  {' -> '.join(g.chain)}")
    return {
        "versions": _versions(SWEEP_PACKAGES),
        "examined": examined,
        "gadgets": [g.as_json() for g in found],
        "below_high": weak,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["inventory", "gadgets"])
    parser.add_argument("--json", help="write the full result here")
    args = parser.parse_args()
    start = time.perf_counter()
    result = run_inventory() if args.what == "inventory" else run_gadgets()
    print(f"{time.perf_counter() - start:.0f} s", file=sys.stderr)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return 1 if result.get("below_high") else 0


if __name__ == "__main__":
    raise SystemExit(main())
