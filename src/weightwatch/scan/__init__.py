"""The scanner: find code execution hidden in model files, without executing anything.

``scan_paths(paths)`` returns a ``ScanReport`` with per-file findings (stable rule ids,
severities, locations) and a verdict. Pickles are analysed opcode by opcode wherever a
loader could reach them: plain files, PyTorch checkpoints, zip/tar members, compressed
streams and NumPy object arrays.
"""

from weightwatch.scan.findings import FileReport, Finding, Location, ScanReport, Severity, Verdict
from weightwatch.scan.scanner import scan_paths

__all__ = ["FileReport", "Finding", "Location", "ScanReport", "Severity", "Verdict", "scan_paths"]
