"""Scanner rules: stable ids, default severities, one-line titles and remediations.

Analysers refer to rules by id; adding a rule is a new entry here, and ids never change
meaning (SARIF consumers and policies key on them). ``RULES`` is the rules' plugin
registry: it refuses a second rule under a taken id, and ``RULES.lookup`` names the known
ids when asked for an unknown one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from weightwatch.plugins import Registry
from weightwatch.scan.findings import Finding, Location, Severity


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    title: str
    remediation: str

    def finding(
        self,
        location: Location,
        explanation: str,
        *,
        severity: Severity | None = None,
        callable: str | None = None,
        **evidence: Any,
    ) -> Finding:
        return Finding(
            rule_id=self.id,
            severity=severity or self.severity,
            title=self.title,
            location=location,
            explanation=explanation,
            remediation=self.remediation,
            callable=callable,
            evidence=evidence,
        )


RULES: Registry[Rule] = Registry("scanner rule", key=lambda r: r.id)


def rule(id: str, severity: Severity, title: str, remediation: str) -> Rule:
    """Define and register one rule (a taken id is refused)."""
    return RULES.register(Rule(id, severity, title, remediation))


LOAD_WEIGHTS_ONLY = (
    "Do not load this file with pickle or torch.load(weights_only=False). Ask for the "
    "weights as safetensors, or load with torch.load(weights_only=True) after review."
)

PICKLE_DANGEROUS = rule(
    "WW-PICKLE-001",
    Severity.CRITICAL,
    "Pickle calls a known-dangerous function",
    "Treat the file as malicious: quarantine it and do not load it anywhere. " + LOAD_WEIGHTS_ONLY,
)
PICKLE_UNKNOWN = rule(
    "WW-PICKLE-002",
    Severity.HIGH,
    "Pickle imports or calls a callable outside the allowlist",
    "Loading runs code from this module. " + LOAD_WEIGHTS_ONLY,
)
PICKLE_REVIEW = rule(
    "WW-PICKLE-003",
    Severity.MEDIUM,
    "Pickle rebuilds a framework object (code is imported on load)",
    "A whole module/optimizer/estimator was saved instead of a state dict. A reviewer may "
    "approve it; better, re-export the weights as safetensors.",
)
PICKLE_UNRESOLVED = rule(
    "WW-PICKLE-004",
    Severity.HIGH,
    "Pickle computes the name of what it imports",
    "STACK_GLOBAL names built at load time hide the real target; treat as malicious.",
)
PICKLE_EXTENSION = rule(
    "WW-PICKLE-005",
    Severity.HIGH,
    "Pickle uses the copyreg extension registry (EXT opcodes)",
    "Extension codes resolve to callables chosen by the loading process; "
    "no weight file needs them.",
)
PICKLE_MALFORMED = rule(
    "WW-PICKLE-006",
    Severity.MEDIUM,
    "Pickle stream is malformed or truncated",
    "Loaders execute opcodes up to the error point; the findings before it still apply. "
    "Re-export the file.",
)
PICKLE_TRAILING = rule(
    "WW-PICKLE-007",
    Severity.LOW,
    "Data after the end of the pickle stream",
    "Some loaders read further pickles after STOP; the trailing bytes were analysed too.",
)
PICKLE_NESTED = rule(
    "WW-PICKLE-008",
    Severity.CRITICAL,
    "Pickle unpickles embedded data (nested pickle)",
    "A pickle that loads another pickle hides its payload from shallow scanners; "
    "treat as malicious.",
)
PICKLE_LIMIT = rule(
    "WW-PICKLE-009",
    Severity.HIGH,
    "Pickle exceeds analysis limits",
    "The stream is larger or deeper than any weight file needs; it was not fully analysed.",
)
PICKLE_GADGET = rule(
    "WW-PICKLE-010",
    Severity.HIGH,
    "Pickle calls a framework class's constructor with its own arguments (gadget)",
    "Checkpoints rebuild framework objects without running their constructors; the gadget "
    "sweep found constructors that reach code execution, imports, downloads or file "
    "writes. " + LOAD_WEIGHTS_ONLY,
)
FILE_UNREADABLE = rule(
    "WW-FILE-001",
    Severity.MEDIUM,
    "File could not be read as its detected format",
    "Unreadable files are never clean: re-export or remove the file.",
)
ARCHIVE_DIFFERENTIAL = rule(
    "WW-ARCHIVE-001",
    Severity.HIGH,
    "Zip structure differs between readers",
    "Local and central headers disagree or entries are duplicated: different loaders see "
    "different files. Rebuild the archive.",
)
ARCHIVE_BOMB = rule(
    "WW-ARCHIVE-002",
    Severity.HIGH,
    "Archive member exceeds the decompression bound",
    "Decompression bombs exhaust memory or disk of whoever opens them; remove the archive.",
)
ARCHIVE_TRAVERSAL = rule(
    "WW-ARCHIVE-003",
    Severity.HIGH,
    "Archive member path escapes the extraction folder",
    "Extraction would write outside the target folder (path traversal); remove the archive.",
)
FILE_LINK_ESCAPES = rule(
    "WW-FILE-002",
    Severity.MEDIUM,
    "Symlink points outside the model folder",
    "Serving or copying the folder would follow the link to a file that is not part of the "
    "model; replace the link with the file itself.",
)
TEMPLATE_ESCAPE = rule(
    "WW-TEMPLATE-001",
    Severity.CRITICAL,
    "Chat template reaches Python internals (sandbox escape pattern)",
    "Chat templates are rendered by every inference server; dunder attributes and "
    "template globals are how Jinja sandbox escapes start. Remove the template.",
)
TEMPLATE_DYNAMIC = rule(
    "WW-TEMPLATE-002",
    Severity.HIGH,
    "Chat template looks up attributes by computed names or loads other templates",
    "Attribute names assembled at render time and include/import/extends hide what the "
    "template reaches; replace the template with a plain one.",
)
TEMPLATE_UNPARSEABLE = rule(
    "WW-TEMPLATE-003",
    Severity.MEDIUM,
    "Chat template does not parse",
    "A template that does not parse cannot be judged; fix or remove it.",
)
REMOTE_CODE = rule(
    "WW-CODE-001",
    Severity.MEDIUM,
    "Model ships Python code that trust_remote_code would run",
    "Loading with trust_remote_code=True runs this code. Review every file listed, or use "
    "an architecture transformers implements natively.",
)
REMOTE_CODE_DANGEROUS = rule(
    "WW-CODE-002",
    Severity.HIGH,
    "Model code imports process, network or dynamic-code facilities",
    "Code shipped with a model has no reason to spawn processes, open sockets or eval "
    "strings; treat the model as malicious until reviewed.",
)
KERAS_LAMBDA = rule(
    "WW-KERAS-001",
    Severity.CRITICAL,
    "Keras model contains a Lambda layer (serialized Python code)",
    "Lambda layers carry marshalled bytecode that runs on load unless safe_mode is on "
    "(CVE-2024-3660); rebuild the model without Lambda layers.",
)
KERAS_CUSTOM = rule(
    "WW-KERAS-002",
    Severity.HIGH,
    "Keras model needs custom objects from outside Keras",
    "Loading imports the named module; review it or rebuild with built-in layers.",
)
ONNX_EXTERNAL = rule(
    "WW-ONNX-001",
    Severity.HIGH,
    "ONNX external-data path escapes the model folder",
    "The model would read a file outside its folder when loaded; fix the external data path.",
)
TRAILING_DATA = rule(
    "WW-FILE-003",
    Severity.MEDIUM,
    "Bytes after the end of the weights (possible polyglot)",
    "Weight files end where their last tensor ends; extra bytes can carry a second format "
    "that another loader reads. They were scanned too; strip them.",
)
SKOPS_TYPE = rule(
    "WW-SKOPS-001",
    Severity.HIGH,
    "skops file names a type or function that loading would import",
    "skops.io.load refuses it unless told to trust it; never pass "
    "trusted=get_untrusted_types(...) for a file you did not make. Review the type.",
)
CODE_NOT_LOADED = rule(
    "WW-CODE-003",
    Severity.INFO,
    "Python file that no loader runs (informational)",
    "No auto_map, custom pipeline, diffusers/sentence-transformers config or torch.hub "
    "entry point names this file, so loading the model does not run it. Running it by "
    "hand is another matter: read it first.",
)
