"""Opcode-level analysis of pickle streams: what would loading this call, with what?

A symbolic stack machine runs over ``pickletools.genops`` (which only decodes opcodes)
for every protocol, tracking the stack, marks and memo, and resolves what each GLOBAL /
STACK_GLOBAL / INST / OBJ / REDUCE / NEWOBJ / NEWOBJ_EX / BUILD would import or call,
with constant arguments where they are known. Nothing is imported or executed. A stream
that breaks part-way is still judged on everything before the break — loaders execute
opcodes as they read them — and analysis continues with any pickle after STOP.
"""

from __future__ import annotations

import base64
import binascii
import io
import pickletools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from weightwatch.artifacts.pickle_limits import LIMITS, PickleLimits
from weightwatch.scan import joblib_arrays, rules
from weightwatch.scan.callables import (
    CONSTRUCTOR_OPCODES,
    NESTED_LOADERS,
    Outcome,
    canonical,
    classify,
    constructor_is_gadget,
)
from weightwatch.scan.findings import Finding, Location

MAX_NESTING = 4  # pickles embedded in pickles (the stream limits are ``PickleLimits``)
MAX_STREAMS = 100_000  # the op budget bounds the work; this only bounds bookkeeping
PREVIEW = 120


@dataclass(frozen=True)
class Const:
    value: Any


@dataclass(frozen=True)
class Ref:
    """A global: the callable or class a GLOBAL-like opcode would import."""

    name: str


@dataclass(frozen=True)
class Result:
    """What calling ``func`` returned (unknown, but we remember who made it)."""

    func: str | None
    args: Any


@dataclass(frozen=True)
class Tup:
    items: tuple[Any, ...]


@dataclass(eq=False)
class DictV:
    """A dict the pickle builds, with the items it sets (joblib's wrapper state)."""

    items: list[tuple[Any, Any]] = field(default_factory=list)


class _Mark:
    pass


class _Unknown:
    """A value the analysis does not track (a list, a dict, a call's result…)."""


MARK = _Mark()
UNKNOWN = _Unknown()


@dataclass
class Call:
    callable: str
    opcode: str
    offset: int
    args: str


@dataclass
class PickleAnalysis:
    """Everything learned from one byte stream (possibly several pickles)."""

    imports: dict[str, int] = field(default_factory=dict)  # callable -> first offset
    calls: list[Call] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    protocols: list[int] = field(default_factory=list)
    streams: int = 0
    end: int = 0  # where pickle data ends (start of trailing non-pickle bytes)
    error: str | None = None
    persistent_ids: int = 0
    getattr_pushes: int = 0  # times builtins.getattr reached the stack
    getattr_resolved: int = 0  # calls of it on a global and a constant name (ZoneInfo)


def _show(v: Any, depth: int = 0) -> str:
    if depth > 3:
        return "…"
    if isinstance(v, Const):
        r = repr(v.value)
        return r if len(r) <= PREVIEW else r[:PREVIEW] + "…"
    if isinstance(v, Ref):
        return v.name
    if isinstance(v, Result):
        return f"{v.func or '?'}(…)"
    if isinstance(v, _Unknown):
        return "…"
    if isinstance(v, Tup):
        return (
            "("
            + ", ".join(_show(i, depth + 1) for i in v.items)
            + ("," if len(v.items) == 1 else "")
            + ")"
        )
    return "?"


class _Machine:
    def __init__(
        self,
        source: Source,
        location: Location,
        depth: int,
        out: PickleAnalysis,
        limits: PickleLimits,
        *,
        joblib: bool = True,
    ) -> None:
        self.source, self.loc, self.depth, self.out = source, location, depth, out
        self.limits = limits
        self.joblib = joblib  # follow joblib's arrays after a NumpyArrayWrapper's BUILD
        self.stack: list[Any] = []
        self.memo: dict[int, Any] = {}
        self.marks = 0  # MARKs on the stack: open depth, and not values for the stack limit
        self.states: dict[int, Any] = {}  # id(object) -> the state BUILD gave it
        self.stream: BinaryIO | None = None

    # -- helpers ---------------------------------------------------------------------
    def push_mark(self) -> None:
        self.stack.append(MARK)
        self.marks += 1

    def pop(self) -> Any:
        item = self.stack.pop() if self.stack else UNKNOWN
        if item is MARK:
            self.marks -= 1
        return item

    def pop_mark(self) -> list[Any]:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i] is MARK:
                items = self.stack[i + 1 :]
                del self.stack[i:]
                self.marks -= 1
                return items
        items = self.stack[:]
        self.stack.clear()
        return items

    def at(self, offset: int) -> Location:
        return Location(file=self.loc.file, member=self.loc.member, offset=offset)

    def resolve(self, module: Any, name: Any, offset: int, opcode: str) -> Any:
        if not (isinstance(module, Const) and isinstance(module.value, str)) or not (
            isinstance(name, Const) and isinstance(name.value, str)
        ):
            self.out.findings.append(
                rules.PICKLE_UNRESOLVED.finding(
                    self.at(offset),
                    f"{opcode} imports a name computed at load time "
                    f"(module {_show(module)}, name {_show(name)})",
                )
            )
            return Ref("?")
        full = canonical(module.value, name.value)
        self.out.imports.setdefault(full, offset)
        self.out.getattr_pushes += full == _GETATTR
        return Ref(full)

    def call(self, func: Any, args: Any, offset: int, opcode: str) -> Any:
        name = func.name if isinstance(func, Ref) else None
        shown = _show(args) if isinstance(args, Tup) else "(…)"
        items = args.items if isinstance(args, Tup) else ()
        if (
            name == _GETATTR
            and len(items) == 2
            and isinstance(items[0], Ref)
            and items[0].name != "?"
            and isinstance(items[1], Const)
            and isinstance(items[1].value, str)
            and items[1].value.isidentifier()
        ):
            # getattr(SomeClass, "name") is the global SomeClass.name (zoneinfo pickles
            # this way): judge that name, like a protocol-4 dotted STACK_GLOBAL.
            full = f"{items[0].name}.{items[1].value}"
            self.out.imports.setdefault(full, offset)
            self.out.getattr_resolved += 1
            self.out.calls.append(Call(name, opcode, offset, shown))
            return Ref(full)
        if name is not None:
            self.out.calls.append(Call(name, opcode, offset, shown))
            if name in NESTED_LOADERS:
                self.nested(args, offset)
        elif isinstance(func, Result) and func.func is not None:
            # calling what a call returned: e.g. getattr(module, "system")(cmd)
            self.out.calls.append(Call(f"{func.func}(…)", opcode, offset, shown))
        return Result(name, args)

    def nested(self, args: Any, offset: int) -> None:
        first = args.items[0] if isinstance(args, Tup) and args.items else None
        payload = None
        if isinstance(first, Const) and isinstance(first.value, bytes | bytearray):
            payload = bytes(first.value)
        elif (
            isinstance(first, Result)
            and first.func == "codecs.encode"  # protocol 2/3 write bytes this way
            and isinstance(first.args, Tup)
            and first.args.items
            and isinstance(first.args.items[0], Const)
            and isinstance(first.args.items[0].value, str)
        ):
            try:
                payload = first.args.items[0].value.encode("latin-1")
            except UnicodeEncodeError:
                payload = None
        elif isinstance(first, Result) and first.func in (
            "base64.b64decode",
            "binascii.a2b_base64",
        ):
            arg = first.args.items[0] if isinstance(first.args, Tup) and first.args.items else None
            if isinstance(arg, Const) and isinstance(arg.value, str | bytes):
                try:
                    payload = base64.b64decode(arg.value)
                except (binascii.Error, ValueError):
                    payload = None
        self.out.findings.append(
            rules.PICKLE_NESTED.finding(
                self.at(offset),
                "the pickle passes "
                + ("an embedded pickle" if payload else "data")
                + " to a loader",
            )
        )
        if payload is not None and self.depth < MAX_NESTING:
            member = f"{self.loc.member or ''}>nested@{offset}".lstrip(">")
            inner = analyze(
                payload,
                location=Location(file=self.loc.file, member=member),
                depth=self.depth + 1,
                limits=self.limits,
            )
            self.out.findings.extend(inner.findings)  # judged with the nested location

    # -- the machine -------------------------------------------------------------------
    def run(self, start: int) -> int:
        """Interpret one pickle from ``start``; return the offset after STOP."""
        with self.source.open() as stream:
            stream.seek(start)
            return self._run(stream)

    def _run(self, stream: BinaryIO) -> int:
        limits = self.limits
        self.stream = stream
        for ops, (op, arg, raw_pos) in enumerate(pickletools.genops(stream), 1):
            pos = int(raw_pos or 0)
            if (
                ops > limits.ops
                or len(self.stack) - self.marks > limits.stack
                or len(self.memo) > limits.memo
                or self.marks > limits.depth
            ):
                self.out.findings.append(
                    rules.PICKLE_LIMIT.finding(self.at(pos), "analysis limits reached")
                )
                raise _Stop
            self.step(op, arg, pos)
            if op.name == "STOP":
                return stream.tell()
        raise ValueError("pickle exhausted before STOP")

    def step(self, op: Any, arg: Any, pos: int) -> None:
        name = op.name
        s = self.stack
        if name == "PROTO":
            self.out.protocols.append(int(arg))
        elif name in ("GLOBAL", "INST"):
            module, _, qual = str(arg).partition(" ")
            ref = self.resolve(Const(module), Const(qual), pos, name)
            if name == "INST":
                s.append(self.call(ref, Tup(tuple(self.pop_mark())), pos, name))
            else:
                s.append(ref)
        elif name == "STACK_GLOBAL":
            qual, module = self.pop(), self.pop()
            s.append(self.resolve(module, qual, pos, name))
        elif name == "REDUCE":
            args, func = self.pop(), self.pop()
            s.append(self.call(func, args, pos, name))
        elif name == "NEWOBJ":
            args, cls = self.pop(), self.pop()
            s.append(self.call(cls, args, pos, name))
        elif name == "NEWOBJ_EX":
            _kwargs, args, cls = self.pop(), self.pop(), self.pop()
            s.append(self.call(cls, args, pos, name))
        elif name == "OBJ":
            items = self.pop_mark()
            cls = items[0] if items else UNKNOWN
            s.append(self.call(cls, Tup(tuple(items[1:])), pos, name))
        elif name == "BUILD":
            state = self.pop()  # on an object of a blocked class: covered by its import
            if s and isinstance(s[-1], Result):
                self.states[id(s[-1])] = state
                if self.joblib and _joblib_wrapper(s[-1]):
                    s[-1] = self.joblib_array(s[-1], state, pos)
        elif name == "EMPTY_DICT":
            s.append(DictV())
        elif name == "DICT":
            items = self.pop_mark()
            s.append(DictV(list(zip(items[::2], items[1::2], strict=False))))
        elif name == "SETITEM":
            value, key = self.pop(), self.pop()
            if s and isinstance(s[-1], DictV):
                s[-1].items.append((key, value))
        elif name == "SETITEMS":
            items = self.pop_mark()
            if s and isinstance(s[-1], DictV):
                s[-1].items.extend(zip(items[::2], items[1::2], strict=False))
        elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
            if s:
                self.memo[int(arg)] = s[-1]
        elif name == "MEMOIZE":
            if s:
                self.memo[len(self.memo)] = s[-1]
        elif name in ("GET", "BINGET", "LONG_BINGET"):
            if int(arg) not in self.memo:
                raise ValueError(f"memo key {arg} used before it was set")
            if self.memo[int(arg)] is MARK:  # a PUT right after a MARK memoised it
                self.push_mark()
            else:
                s.append(self.memo[int(arg)])
                self.out.getattr_pushes += s[-1] == Ref(_GETATTR)
        elif name in ("EXT1", "EXT2", "EXT4"):
            self.out.findings.append(
                rules.PICKLE_EXTENSION.finding(
                    self.at(pos), f"{name} {arg} resolves through copyreg"
                )
            )
            s.append(Ref(f"copyreg.extension[{arg}]"))
        elif name in ("PERSID", "BINPERSID"):
            if name == "BINPERSID":
                self.pop()
            self.out.persistent_ids += 1
            s.append(UNKNOWN)
        elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
            n = int(name[-1])
            items = [self.pop() for _ in range(n)][::-1]
            s.append(Tup(tuple(items)))
        elif name == "TUPLE":
            s.append(Tup(tuple(self.pop_mark())))
        elif name == "EMPTY_TUPLE":
            s.append(Tup(()))
        elif (
            op.stack_before == []
            and len(op.stack_after) == 1
            and op.stack_after[0] is not pickletools.markobject
        ):
            s.append(Const(arg))  # constants: ints, floats, strings, bytes, None, bools, empties
        else:
            self.generic(op)

    def joblib_array(self, wrapper: Result, state: Any, pos: int) -> Any:
        """Step over the array joblib reads after this wrapper's BUILD, as it reads it."""
        stream = self.stream
        assert stream is not None
        fields = _py(state)
        dtype = fields.get("dtype") if isinstance(fields, dict) else None
        is_dtype = isinstance(dtype, Result) and dtype.func == "numpy.dtype"
        args = _py(dtype.args) if isinstance(dtype, Result) and is_dtype else None
        found = joblib_arrays.layout(
            fields if isinstance(fields, dict) else {},
            args if isinstance(args, tuple) else None,
            _py(self.states.get(id(dtype))) if is_dtype else None,
        )
        if isinstance(found, str):
            raise ValueError(f"joblib array after the wrapper at byte {pos}: {found}")
        start = stream.tell()
        if found.has_object:  # joblib runs a fresh unpickler over a nested pickle here
            inner = _Machine(self.source, self.loc, self.depth, self.out, self.limits, joblib=False)
            inner._run(stream)
            return Result("numpy.ndarray", Tup(()))
        if found.aligned:
            pad = stream.read(1)
            if not pad:
                raise ValueError(f"joblib array at byte {start}: stream ends before its data")
            stream.seek(pad[0], io.SEEK_CUR)
        end = stream.tell() + found.nbytes
        if end > self.source.size:
            raise ValueError(
                f"joblib array at byte {start}: {found.nbytes} bytes of data, "
                f"{self.source.size - stream.tell()} left"
            )
        self.plain_view(stream, start)
        stream.seek(end)
        return Result("numpy.ndarray", Tup(()))

    def plain_view(self, stream: BinaryIO, start: int) -> None:
        """What ``pickle.load`` (not joblib) would import from the array bytes on: it reads
        them as opcodes. Joblib's padding byte is never an opcode, so real files add
        nothing; a forged one hiding opcodes in "array data" is judged. The first byte
        decides: one that is no opcode stops ``pickle.load`` there, so only a stream that
        starts with an opcode is read on (up to 1 MiB)."""
        if self.depth >= MAX_NESTING:
            return
        back = stream.tell()
        stream.seek(start)
        first = stream.read(1)
        chunk = first + stream.read(_PLAIN_VIEW - 1) if first in _OPCODE_BYTES else b""
        stream.seek(back)
        if not chunk:
            return
        side = analyze(
            chunk,
            location=Location(file=self.loc.file, member=self.loc.member),
            depth=self.depth + 1,
            trailing_ok=True,
            limits=self.limits,
        )
        for full, offset in side.imports.items():
            if all(part.isidentifier() for part in full.split(".")):
                self.out.imports.setdefault(full, start + offset)
        self.out.calls.extend(
            Call(c.callable, c.opcode, start + c.offset, c.args)
            for c in side.calls
            if c.callable in side.imports
        )

    def generic(self, op: Any) -> None:
        before = op.stack_before
        if pickletools.markobject in before:
            self.pop_mark()
            for _ in range(before.index(pickletools.markobject)):
                self.pop()
        else:
            for _ in before:
                self.pop()
        for item in op.stack_after:
            if item is pickletools.markobject:
                self.push_mark()
            else:
                self.stack.append(UNKNOWN)


class _Stop(Exception):
    pass


_GETATTR = "builtins.getattr"
_PLAIN_VIEW = 1 << 20  # bytes of joblib array data also read as pickle.load would
_OPCODE_BYTES = frozenset(op.code.encode("latin-1") for op in pickletools.opcodes)


def _joblib_wrapper(obj: Result) -> bool:
    if obj.func in joblib_arrays.WRAPPERS:
        return True
    first = obj.args.items[0] if isinstance(obj.args, Tup) and obj.args.items else None
    return (
        obj.func == "copyreg._reconstructor"
        and isinstance(first, Ref)
        and first.name in joblib_arrays.WRAPPERS
    )


def _py(value: Any, depth: int = 0) -> Any:
    """A tracked value as plain Python (constants, tuples, dicts; anything else as is)."""
    if depth > 8:
        return value
    if isinstance(value, Const):
        return value.value
    if isinstance(value, Tup):
        return tuple(_py(v, depth + 1) for v in value.items)
    if isinstance(value, DictV):
        return {
            _py(k, depth + 1): _py(v, depth + 1) for k, v in value.items if isinstance(k, Const)
        }
    return value


@dataclass(frozen=True)
class Source:
    """Bytes in memory or a file on disk, read as a stream: a multi-GB legacy checkpoint
    is analysed up to the end of its pickles without reading its tensor data."""

    data: bytes | None = None
    path: Path | None = None

    def open(self) -> BinaryIO:
        if self.path is not None:
            return _CappedFile(self.path)  # type: ignore[return-value]
        return io.BytesIO(self.data or b"")

    @property
    def size(self) -> int:
        return self.path.stat().st_size if self.path is not None else len(self.data or b"")


class _CappedFile(io.FileIO):
    """A file whose reads never ask for more than is left: a forged length field in a
    pickle cannot make the reader allocate a buffer of that size."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, "rb")
        self._size = path.stat().st_size

    def read(self, size: int | None = -1, /) -> bytes:
        left = max(0, self._size - self.tell())
        return super().read(left if size is None or size < 0 else min(size, left))

    def readline(self, size: int | None = -1, /) -> bytes:
        cap = 1 << 24 if size is None or size < 0 else min(size, 1 << 24)
        return super().readline(cap)  # protocol-0 text arguments: 16 MiB per line at most


def analyze(
    data: bytes | Path,
    *,
    location: Location,
    depth: int = 0,
    trailing_ok: bool = False,
    required_streams: int = 0,
    limits: PickleLimits = LIMITS,
) -> PickleAnalysis:
    """Analyse every pickle in ``data`` (bytes, or a file); ``trailing_ok`` when raw data
    follows the pickles (legacy torch checkpoints), after the ``required_streams`` pickles
    the loader always reads (torch's legacy format: five) — a break inside one of those is
    judged, since the loader resolved what came before it. ``limits`` are the reader's, so
    a stream it would refuse as too large is reported here, not passed as clean."""
    source = Source(path=data) if isinstance(data, Path) else Source(data=data)
    size = source.size
    out = PickleAnalysis()
    pos = 0
    while pos < size:
        if out.streams >= MAX_STREAMS:  # never stop silently: a payload may follow
            out.error = "analysis limits reached"
            out.findings.append(
                rules.PICKLE_LIMIT.finding(
                    Location(file=location.file, member=location.member, offset=pos),
                    f"more than {MAX_STREAMS} pickles in one stream",
                )
            )
            out.end = size
            break
        mark = (len(out.imports), len(out.calls), len(out.findings), len(out.protocols))
        machine = _Machine(source, location, depth, out, limits)
        try:
            end = machine.run(pos)
        except _Stop:
            out.error = "analysis limits reached"
            out.end = size
            break
        except Exception as exc:  # genops raises ValueError for malformed input, and more
            resolved = len(out.imports) > mark[0] or len(out.findings) > mark[2]
            if out.streams >= max(1, required_streams) and (trailing_ok or not resolved):
                # Not another pickle: raw bytes (legacy torch storages, which torch never
                # unpickles) or plain trailing data. Whatever the garbage decoded to is
                # dropped; a pure pickle file keeps what a load() loop would have run.
                _rollback(out, mark)
                _trailing(out, location, pos, size - pos, trailing_ok)
                break
            out.error = f"malformed pickle at byte {pos}: {exc}"
            out.findings.append(
                rules.PICKLE_MALFORMED.finding(
                    Location(file=location.file, member=location.member, offset=pos),
                    f"the stream breaks: {exc}; everything resolved before the break is reported",
                )
            )
            out.end = size
            break
        out.streams += 1
        out.end = pos = end
    _judge(out, location)
    return out


def _rollback(out: PickleAnalysis, mark: tuple[int, int, int, int]) -> None:
    for key in list(out.imports)[mark[0] :]:
        del out.imports[key]
    del out.calls[mark[1] :]
    del out.findings[mark[2] :]
    del out.protocols[mark[3] :]


def _trailing(out: PickleAnalysis, location: Location, pos: int, n: int, ok: bool) -> None:
    out.end = pos
    if not ok:
        out.findings.append(
            rules.PICKLE_TRAILING.finding(
                Location(file=location.file, member=location.member, offset=pos),
                f"{n} bytes follow the last pickle",
            )
        )


def _judge(out: PickleAnalysis, location: Location) -> None:
    called: dict[str, Call] = {}
    constructed: dict[str, Call] = {}  # review classes whose constructor the pickle runs
    for call in out.calls:
        called.setdefault(call.callable, call)
        if call.opcode in CONSTRUCTOR_OPCODES and (call.opcode == "REDUCE" or call.args != "()"):
            constructed.setdefault(call.callable, call)
    for full, offset in sorted(out.imports.items(), key=lambda kv: kv[1]):
        if full == _GETATTR and 0 < out.getattr_pushes == out.getattr_resolved:
            continue  # every use named a global and a constant; those names are judged
        outcome, severity = classify(full)
        if outcome is Outcome.SAFE or severity is None:
            continue
        c = called.get(full)
        how = f"calls {full}{c.args}" if c else f"imports {full}"
        loc = Location(file=location.file, member=location.member, offset=c.offset if c else offset)
        if outcome is Outcome.REVIEW and full in constructed and constructor_is_gadget(full):
            c = constructed[full]
            where = Location(file=location.file, member=location.member, offset=c.offset)
            out.findings.append(
                rules.PICKLE_GADGET.finding(
                    where, f"loading calls {full}{c.args} (its constructor runs)", callable=full
                )
            )
        elif outcome is Outcome.REVIEW:
            out.findings.append(rules.PICKLE_REVIEW.finding(loc, f"loading {how}", callable=full))
        elif severity.rank >= rules.PICKLE_DANGEROUS.severity.rank:
            out.findings.append(
                rules.PICKLE_DANGEROUS.finding(
                    loc, f"loading {how} (known-dangerous)", callable=full
                )
            )
        else:
            out.findings.append(
                rules.PICKLE_UNKNOWN.finding(
                    loc, f"loading {how} (not on the allowlist)", callable=full
                )
            )
