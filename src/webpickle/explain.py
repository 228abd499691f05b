"""webpickle.explain(obj): what a stream of obj carries, part by part, before it travels.

    >>> print(webpickle.explain(predict))
    webpickle.explain: 8.4 MB in all, 4 parts
          bytes  how           part
      8,388,652  by value      global 'MODEL' of function 'predict' (bytes)
            291  by value      function 'predict'
             38  by reference  global 'np' of function 'predict' (module)

Each part's size is its own share of the stream: a function's size leaves out
the globals, closure variables and defaults listed under it, and an object
met twice (the stream refers back to it) is listed once. The sizes are those
of each part pickled alone, so they add up to about the whole, not exactly.
"""

import html
import sys
import types

from ._pickler import dumps
from ._registry import list_registry_pickle_by_value

__all__ = ["Explanation", "Part", "explain"]

# Past this depth parts are folded into their parent's size (deep structures stay readable).
_MAX_DEPTH = 8
# Items of a list, tuple or dict listed one by one; the rest count in the container's own size.
_MAX_ITEMS = 50
# Pickle writes these anew each time (no memo): meeting one twice is no back-reference.
_NOT_MEMOIZED = frozenset({int, float, complex, bool, type(None)})
_SMALL_ATOM_LENGTH = 256
_CLASS_ATTRIBUTES_SKIPPED = frozenset({"__dict__", "__weakref__", "__module__", "__qualname__", "__doc__",
                                       "__firstlineno__", "__static_attributes__", "__annotate_func__",
                                       "__annotations_cache__"})


class Part:
    """One part of a stream.

    path: where it sits, e.g. "global 'MODEL' of function 'predict'";
    by_value: whether its definition or contents travel (else only a name to import);
    type_name: its type; size: bytes of its own share of the stream;
    captured: a value a function or class captured (not itself a function, class or module).
    """

    __slots__ = ("path", "by_value", "type_name", "size", "captured")

    def __init__(self, path, by_value, type_name, size, captured):
        self.path, self.by_value, self.type_name, self.size, self.captured = path, by_value, type_name, size, captured

    @property
    def how(self):
        return "by value" if self.by_value else "by reference"

    def __repr__(self):
        return f"<Part {self.path} ({self.type_name}): {self.size} bytes {self.how}>"


class Explanation:
    """What explain() returns: entries (Parts, biggest first) and total (bytes of the whole stream)."""

    def __init__(self, entries, total):
        self.entries = sorted(entries, key=lambda part: -part.size)
        self.total = total

    def __iter__(self):
        return iter(self.entries)

    def __len__(self):
        return len(self.entries)

    def __str__(self):
        lines = [f"webpickle.explain: {readable_size(self.total)} in all, {len(self.entries)} parts",
                 f"{'bytes':>13}  {'how':<12}  part"]
        lines += [f"{part.size:>13,}  {part.how:<12}  {part.path} ({part.type_name})" for part in self.entries]
        return "\n".join(lines)

    def __repr__(self):
        return f"<Explanation: {self.total} bytes, {len(self.entries)} parts>"

    def _repr_html_(self):
        rows = "".join(
            f"<tr><td style='text-align:right'>{part.size:,}</td><td>{part.how}</td>"
            f"<td>{html.escape(part.path)}</td><td>{html.escape(part.type_name)}</td></tr>"
            for part in self.entries)
        return (f"<div class='webpickle-explain'><b>webpickle.explain</b>: {readable_size(self.total)} in all, "
                f"{len(self.entries)} parts<table><thead><tr><th>bytes</th><th>how</th><th>part</th>"
                f"<th>type</th></tr></thead><tbody>{rows}</tbody></table></div>")


def explain(obj, protocol=5):
    """An Explanation of what webpickle.dumps(obj) carries, biggest part first."""
    walker = _Walker(protocol)
    walker.visit(_label(obj, f"the {type(obj).__qualname__}"), obj, captured=False, depth=0)
    return Explanation(walker.entries, len(dumps(obj, protocol=protocol)))


class _Walker:
    def __init__(self, protocol):
        self.protocol = protocol
        self.entries = []
        self._seen = set()
        self._keep_alive = []  # ids stay unique while the walk runs

    def visit(self, path, obj, captured, depth):
        """List obj's part and its children's; returns the bytes its whole subtree stands for."""
        if type(obj) not in _NOT_MEMOIZED:
            if id(obj) in self._seen:
                return 0  # the stream refers back to it
            self._seen.add(id(obj))
            self._keep_alive.append(obj)
        try:
            size = len(dumps(obj, protocol=self.protocol))
        except Exception as exc:
            self.entries.append(Part(f"{path}: cannot be pickled ({exc})", True, type(obj).__qualname__, 0, captured))
            return 0
        by_value = _by_value(obj)
        children = list(_children(obj)) if by_value and depth < _MAX_DEPTH else []
        label = _label(obj, path)
        nested = sum(self.visit(f"{where} of {label}", child, child_captured, depth + 1)
                     for where, child, child_captured in children)
        kind = "module" if isinstance(obj, types.ModuleType) else type(obj).__qualname__
        captured = captured and not isinstance(obj, (types.FunctionType, type, types.ModuleType))
        self.entries.append(Part(path, by_value, kind, max(size - nested, 0), captured))
        return max(size, nested)


def _label(obj, path):
    """How the paths of obj's parts name obj: a function or class by its name, anything else by its path."""
    if isinstance(obj, types.FunctionType):
        return f"function {obj.__qualname__!r}"
    if isinstance(obj, type):
        return f"class {obj.__qualname__!r}"
    return path


def _children(obj):
    """(where, child, captured) for each part of obj that the stream carries within it."""
    if isinstance(obj, types.FunctionType):
        yield from _function_parts(obj)
    elif isinstance(obj, type):
        yield from _class_parts(obj)
    elif type(obj) in (list, tuple, set, frozenset):
        for index, item in enumerate(obj if type(obj) in (list, tuple) else sorted(obj, key=repr)):
            if index == _MAX_ITEMS:
                return
            if not _small_atom(item):
                yield f"item {index}", item, False
    elif type(obj) is dict:
        for index, (key, value) in enumerate(obj.items()):
            if index == _MAX_ITEMS:
                return
            if not _small_atom(value):
                yield f"key {key!r}", value, False


def _small_atom(obj):
    """Numbers and short strings in a container count in its own size rather than as parts of their own."""
    return type(obj) in _NOT_MEMOIZED or (type(obj) in (str, bytes) and len(obj) < _SMALL_ATOM_LENGTH)


def _function_parts(function):
    code = function.__code__
    names = sorted(_global_names(code))
    for name in names:
        if name in function.__globals__:
            yield f"global {name!r}", function.__globals__[name], True
    for name, cell in zip(code.co_freevars, function.__closure__ or ()):
        try:
            yield f"closure variable {name!r}", cell.cell_contents, True
        except ValueError:
            pass  # an empty cell
    for name, value in zip(code.co_varnames[code.co_argcount - len(function.__defaults__ or ()):],
                           function.__defaults__ or ()):
        yield f"default of {name!r}", value, True
    for name, value in (function.__kwdefaults__ or {}).items():
        yield f"default of {name!r}", value, True
    for name, value in vars(function).items():
        yield f"attribute {name!r}", value, True


def _global_names(code):
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def _class_parts(cls):
    for base in cls.__bases__:
        if base is not object:
            yield f"base class {base.__qualname__!r}", base, False
    for name, value in vars(cls).items():
        if name in _CLASS_ATTRIBUTES_SKIPPED:
            continue
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        kind = "method" if isinstance(value, types.FunctionType) else "attribute"
        yield f"{kind} {name!r}", value, True


def _by_value(obj):
    """Whether webpickle writes obj's definition or contents (else a name to import), as its pickler decides."""
    if isinstance(obj, types.ModuleType):
        return _registered(obj.__name__) or obj.__name__ not in sys.modules
    if not isinstance(obj, (types.FunctionType, type, types.BuiltinFunctionType)):
        return True
    module_name = getattr(obj, "__module__", None)
    if module_name is None or module_name == "__main__" or _registered(module_name):
        return True
    target = sys.modules.get(module_name)
    for name in obj.__qualname__.split("."):
        if target is None or name == "<locals>":
            return True
        target = getattr(target, name, None)
    return target is not obj


def _registered(module_name):
    return any(module_name == name or module_name.startswith(name + ".") for name in list_registry_pickle_by_value())


def readable_size(n):
    """n bytes for people: 8.4 MB, 12.0 kB, 512 bytes."""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n:,} bytes"
