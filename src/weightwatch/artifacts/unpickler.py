"""A restricted pickle interpreter: it builds plain data and our own stand-ins, nothing else.

We do not subclass ``pickle.Unpickler``: its memo is an array sized by the largest index
in the file and its stacks grow without bound, so a hostile pickle could exhaust memory
before ``find_class`` is ever asked, and its C code hashes whatever the file builds (a
tuple nested a million deep crashes the interpreter). Instead a small stack machine runs
over ``pickletools.genops`` (which only decodes opcodes) with hard limits on opcodes,
nesting, memo and stack size (``pickle_limits``, the scanner's too); dict keys and set
items must be flat scalars, so nothing deep is ever hashed. Globals resolve only through
``allowed`` — a table of our own callables — so no module named by the file is ever
imported and nothing in it runs.
"""

from __future__ import annotations

import encodings.latin_1
import encodings.raw_unicode_escape  # noqa: F401  genops decodes protocol-0 text with these
import io
import pickletools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import IO, Any, BinaryIO, Protocol, cast

from weightwatch.artifacts.pickle_limits import LIMITS, PickleLimits

_SCALARS = (str, bytes, int, float, bool, type(None))


class PickleRefused(Exception):
    """Internal: the pickle asked for something we do not do. Callers wrap it."""


class StateDict(dict[Any, Any]):
    """Stand-in for ``collections.OrderedDict``: a dict that can carry BUILD state."""

    def __init__(self, *args: Any) -> None:
        if len(args) > 1:
            raise PickleRefused("OrderedDict takes at most one argument")
        super().__init__()
        self.state: dict[str, Any] = {}
        if args:
            pairs = args[0]
            if not isinstance(pairs, list | tuple) or not all(
                isinstance(p, tuple) and len(p) == 2 for p in pairs
            ):
                raise PickleRefused("OrderedDict built from something other than pairs")
            _setitems(self, [x for p in pairs for x in p])


@dataclass(frozen=True)
class Global:
    """What a GLOBAL resolved to: our stand-in callable (or marker) and its name."""

    name: str
    target: Callable[..., Any] | None  # None: a marker that must never be called


class BoundedReader(io.RawIOBase):
    """A read-only view of ``[start, end)`` of a file that never reads past ``end``.

    Length fields in a hostile pickle can claim terabytes; capping each read at what is
    left keeps allocation bounded by the real data.
    """

    def __init__(self, f: BinaryIO, start: int, end: int) -> None:
        self._f, self._pos, self._end = f, start, end
        f.seek(start)

    def read(self, n: int = -1) -> bytes:
        left = self._end - self._pos
        n = left if n is None or n < 0 else min(n, left)
        data = self._f.read(n)
        self._pos += len(data)
        return data

    def readline(self, size: int | None = -1, /) -> bytes:
        cap = 1 << 16 if size is None or size < 0 else min(size, 1 << 16)
        data = self._f.readline(min(cap, self._end - self._pos))
        self._pos += len(data)
        return data

    def tell(self) -> int:
        return self._pos

    def readable(self) -> bool:
        return True


class Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...
    def readline(self, size: int | None = -1, /) -> bytes: ...
    def tell(self) -> int: ...


def run(
    stream: Readable,
    *,
    allowed: Mapping[str, Global],
    persistent_load: Callable[[Any], Any] | None = None,
    limits: PickleLimits = LIMITS,
) -> tuple[Any, int]:
    """Interpret one pickle from ``stream``; return (object, position after STOP)."""
    stack: list[Any] = []
    marks: list[int] = []
    memo: dict[int, Any] = {}
    max_ops, max_stack = limits.ops, limits.stack  # locals: checked on every opcode
    for ops, (op, arg, _pos) in enumerate(pickletools.genops(cast("IO[bytes]", stream)), 1):
        if ops > max_ops or len(stack) > max_stack:
            raise PickleRefused("pickle exceeds the opcode or stack limit")
        name = op.name
        handler = _HANDLERS.get(name)
        if name == "STOP":
            if len(stack) != 1 or marks:
                raise PickleRefused("malformed pickle: STOP with an unbalanced stack")
            return stack[0], stream.tell()
        if name == "MARK":
            if len(marks) >= limits.depth:
                raise PickleRefused(f"pickle nests deeper than {limits.depth} levels")
            marks.append(len(stack))
            continue
        if name in ("GLOBAL", "STACK_GLOBAL"):
            if name == "GLOBAL":
                module, _, qual = str(arg).partition(" ")
            else:
                qual, module = _pop(stack), _pop(stack)
                if not isinstance(module, str) or not isinstance(qual, str):
                    raise PickleRefused("STACK_GLOBAL with non-string module or name")
            full = f"{module}.{qual}"
            if full not in allowed:
                shown = full if len(full) <= 200 else full[:200] + "..."
                raise PickleRefused(f"refused callable {shown}")
            stack.append(allowed[full])
            continue
        if name in ("PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"):
            idx = len(memo) if name == "MEMOIZE" else _index(arg)
            if len(memo) >= limits.memo or not 0 <= idx < 1 << 40:
                raise PickleRefused("pickle memo exceeds its limit")
            if not stack:
                raise PickleRefused("malformed pickle: memo store with an empty stack")
            memo[idx] = stack[-1]
            continue
        if name in ("GET", "BINGET", "LONG_BINGET"):
            if _index(arg) not in memo:
                raise PickleRefused(f"malformed pickle: memo key {_index(arg)} not defined")
            stack.append(memo[_index(arg)])
            continue
        if name in ("PERSID", "BINPERSID"):
            pid = arg if name == "PERSID" else _pop(stack)
            if persistent_load is None:
                raise PickleRefused("persistent id in a pickle that may not have any")
            stack.append(persistent_load(pid))
            continue
        if handler is None:
            raise PickleRefused(f"pickle opcode {name} is not allowed in weight files")
        handler(stack, marks, arg)
    raise PickleRefused("truncated pickle: no STOP opcode")


def _index(arg: Any) -> int:
    if not isinstance(arg, int):
        raise PickleRefused("malformed pickle: memo index is not an integer")
    return arg


def _pop(stack: list[Any]) -> Any:
    if not stack:
        raise PickleRefused("malformed pickle: stack underflow")
    return stack.pop()


def _pop_mark(stack: list[Any], marks: list[int]) -> list[Any]:
    if not marks:
        raise PickleRefused("malformed pickle: missing MARK")
    at = marks.pop()
    items = stack[at:]
    del stack[at:]
    return items


def _call(func: Any, args: Any) -> Any:
    if not isinstance(func, Global) or func.target is None:
        raise PickleRefused(f"pickle calls {getattr(func, 'name', type(func).__name__)}")
    if not isinstance(args, tuple):
        raise PickleRefused("malformed pickle: REDUCE arguments are not a tuple")
    try:
        return func.target(*args)
    except PickleRefused:
        raise
    except (TypeError, ValueError, KeyError, IndexError, OverflowError, RecursionError) as exc:
        raise PickleRefused(f"bad arguments to {func.name}: {type(exc).__name__}") from exc


def _flat_key(key: Any) -> Any:
    """Only scalars and tuples of scalars may be hashed: hashing nests in C, unguarded."""
    if isinstance(key, _SCALARS) or (
        isinstance(key, tuple) and len(key) <= 64 and all(isinstance(k, _SCALARS) for k in key)
    ):
        return key
    raise PickleRefused(f"pickle uses a {type(key).__name__} as a dict key or set item")


def _setitems(target: Any, items: list[Any]) -> None:
    if not isinstance(target, dict) or len(items) % 2:
        raise PickleRefused("malformed pickle: SETITEMS on a non-dict")
    for k, v in zip(items[::2], items[1::2], strict=True):
        target[_flat_key(k)] = v


def _build(stack: list[Any], marks: list[int], arg: Any) -> None:
    state = _pop(stack)
    inst = stack[-1] if stack else None
    if isinstance(inst, StateDict) and isinstance(state, dict):
        inst.state.update({k: v for k, v in state.items() if isinstance(k, str)})
        return
    if getattr(inst, "accepts_state", False):
        return  # tensor stand-ins ignore hooks/metadata state
    raise PickleRefused(f"pickle sets state on {type(inst).__name__}")


def _tuple_n(n: int) -> Callable[[list[Any], list[int], Any], None]:
    def h(stack: list[Any], marks: list[int], arg: Any) -> None:
        if len(stack) < n:
            raise PickleRefused("malformed pickle: stack underflow")
        items = tuple(stack[len(stack) - n :]) if n else ()
        del stack[len(stack) - n :]
        stack.append(items)

    return h


def _hashable(items: list[Any]) -> list[Any]:
    return [_flat_key(i) for i in items]


_Handler = Callable[[list[Any], list[int], Any], None]
_HANDLERS: dict[str, _Handler] = {
    "PROTO": lambda s, m, a: None,
    "FRAME": lambda s, m, a: None,
    "NONE": lambda s, m, a: s.append(None),
    "NEWTRUE": lambda s, m, a: s.append(True),
    "NEWFALSE": lambda s, m, a: s.append(False),
    "POP": lambda s, m, a: (_pop(s), None)[1],
    "DUP": lambda s, m, a: s.append(_peek(s)),
    "POP_MARK": lambda s, m, a: (_pop_mark(s, m), None)[1],
    "EMPTY_DICT": lambda s, m, a: s.append({}),
    "EMPTY_LIST": lambda s, m, a: s.append([]),
    "EMPTY_TUPLE": lambda s, m, a: s.append(()),
    "EMPTY_SET": lambda s, m, a: s.append(set()),
    "TUPLE": lambda s, m, a: s.append(tuple(_pop_mark(s, m))),
    "TUPLE1": _tuple_n(1),
    "TUPLE2": _tuple_n(2),
    "TUPLE3": _tuple_n(3),
    "LIST": lambda s, m, a: s.append(_pop_mark(s, m)),
    "DICT": lambda s, m, a: s.append(_dict(_pop_mark(s, m))),
    "FROZENSET": lambda s, m, a: s.append(frozenset(_hashable(_pop_mark(s, m)))),
    "APPEND": lambda s, m, a: _append(s, [_pop(s)]),
    "APPENDS": lambda s, m, a: _append(s, _pop_mark(s, m)),
    "SETITEM": lambda s, m, a: _setitem(s),
    "SETITEMS": lambda s, m, a: _setitems_op(s, m),
    "ADDITEMS": lambda s, m, a: _additems(s, m),
    "REDUCE": lambda s, m, a: _reduce(s),
    "BUILD": _build,
}
for _name in (
    "INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "FLOAT", "BINFLOAT",
    "STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE", "SHORT_BINUNICODE",
    "BINUNICODE8", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8",
):  # fmt: skip
    _HANDLERS[_name] = lambda s, m, a: s.append(a)


def _dict(items: list[Any]) -> dict[Any, Any]:
    d: dict[Any, Any] = {}
    _setitems(d, items)
    return d


def _peek(stack: list[Any]) -> Any:
    if not stack:
        raise PickleRefused("malformed pickle: stack underflow")
    return stack[-1]


def _append(stack: list[Any], items: list[Any]) -> None:
    if not stack or not isinstance(stack[-1], list):
        raise PickleRefused("malformed pickle: APPEND to a non-list")
    stack[-1].extend(items)


def _setitem(stack: list[Any]) -> None:
    v, k = _pop(stack), _pop(stack)
    _setitems(stack[-1] if stack else None, [k, v])


def _setitems_op(stack: list[Any], marks: list[int]) -> None:
    items = _pop_mark(stack, marks)
    _setitems(stack[-1] if stack else None, items)


def _additems(stack: list[Any], marks: list[int]) -> None:
    items = _hashable(_pop_mark(stack, marks))
    if not stack or not isinstance(stack[-1], set):
        raise PickleRefused("malformed pickle: ADDITEMS to a non-set")
    stack[-1].update(items)


def _reduce(stack: list[Any]) -> None:
    args = _pop(stack)
    func = _pop(stack)
    stack.append(_call(func, args))
