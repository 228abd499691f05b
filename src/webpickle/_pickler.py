"""The Pickler class and the dump/dumps functions over the C++ engine."""

import pickle

from . import _core


class PicklingRecursionError(pickle.PicklingError, RecursionError):
    """The object is nested too deeply to pickle.

    Both what cloudpickle raises (pickle.PicklingError, with its message) and
    what the stdlib's pickler raises (RecursionError), so that code written
    against either catches it. The RecursionError it replaces is its
    __cause__; its notes say where the walk was.
    """


_TOO_DEEP = "Could not pickle object as excessively deep recursion required."


def _too_deep(error):
    replacement = PicklingRecursionError(_TOO_DEEP)
    notes = getattr(error, "__notes__", None)
    if isinstance(notes, list):
        replacement.__notes__ = list(notes)
    return replacement


class Pickler(pickle.Pickler):
    """A pickle.Pickler whose dump() runs webpickle's C++ writer.

    Subclasses may override reducer_override, persistent_id and
    dispatch_table as with pickle.Pickler. The memo is kept between dump()
    calls until clear_memo(), as pickle.Pickler does.
    """

    def __init__(self, file, protocol=None, buffer_callback=None):
        session = _core.Session(protocol, buffer_callback)
        super().__init__(file, protocol=session.protocol, buffer_callback=buffer_callback)
        self._webpickle_session = session
        self._webpickle_write = file.write

    def reducer_override(self, obj):
        """Return NotImplemented to let webpickle pickle obj (the default)."""
        return NotImplemented

    def persistent_id(self, obj):
        """Return None to pickle obj normally (the default)."""
        return None

    def dump(self, obj):
        """Write a pickled representation of obj to the file."""
        try:
            session = self._webpickle_session
        except AttributeError:
            raise pickle.PicklingError(
                f"Pickler.__init__() was not called by {type(self).__name__}.__init__()"
            ) from None
        try:
            data = session.dump(
                obj,
                _overridden(self, "reducer_override"),
                _overridden(self, "persistent_id"),
                getattr(self, "dispatch_table", None),
            )
        except PicklingRecursionError:
            raise
        except RecursionError as error:
            raise _too_deep(error) from error
        self._webpickle_write(data)

    def clear_memo(self):
        """Forget the objects pickled so far, as pickle.Pickler.clear_memo does."""
        self._webpickle_session.clear_memo()
        super().clear_memo()

    @property
    def memo(self):
        """The objects pickled so far, as {id(obj): (memo index, obj)} (a copy).

        Assigning another pickler's memo (pickle.Pickler's or ours, or such a
        dict) primes this one: later dumps refer to those objects by index.
        """
        return {id(obj): (index, obj) for index, obj in self._webpickle_session.memo_items()}

    @memo.setter
    def memo(self, value):
        if isinstance(value, Pickler):
            raise TypeError("assign pickler.memo, not the pickler itself")
        if not isinstance(value, dict):
            copy = getattr(value, "copy", None)  # pickle.Pickler's PicklerMemoProxy
            if type(value).__name__ != "PicklerMemoProxy" or copy is None:
                raise TypeError(f"'memo' attribute must be a PicklerMemoProxy object or dict, "
                                f"not {type(value).__name__}")
            value = copy()
        entries = []
        for pair in value.values():
            if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], int)):
                raise TypeError("'memo' values must be 2-item tuples of (memo index, object)")
            entries.append(pair)
        self._webpickle_session.clear_memo()
        for index, obj in entries:
            self._webpickle_session.prime_memo(index, obj)


CloudPickler = Pickler

_DEFAULTS = {
    "reducer_override": Pickler.reducer_override,
    "persistent_id": Pickler.persistent_id,
}


def _overridden(pickler, name):
    """What pickler overrides `name` with, or None when nothing does.

    Pickler's own reducer_override and persistent_id exist only for
    subclasses' super() calls, so they are looked through: an override in a
    mixin that comes after Pickler in the MRO still counts. An instance
    attribute wins, and must be callable.
    """
    instance_value = vars(pickler).get(name, _MISSING)
    if instance_value is not _MISSING:
        if not callable(instance_value):
            raise TypeError(f"{name} must be callable, not {type(instance_value).__name__}")
        return instance_value
    for klass in type(pickler).__mro__:
        function = vars(klass).get(name, _MISSING)
        if function is _MISSING or function is _DEFAULTS[name]:
            continue
        if klass is pickle.Pickler or klass.__module__ == "_pickle":
            return None  # the C pickler's own default persistent_id
        return function.__get__(pickler, type(pickler))
    return None


_MISSING = object()


def dumps(obj, protocol=None, buffer_callback=None):
    """Return the pickled representation of obj as bytes."""
    try:
        return _core.dumps(obj, protocol, buffer_callback)
    except PicklingRecursionError:
        raise
    except RecursionError as error:
        raise _too_deep(error) from error


def dump(obj, file, protocol=None, buffer_callback=None):
    """Write the pickled representation of obj to the binary file.

    Nothing is written when pickling fails.
    """
    file.write(dumps(obj, protocol, buffer_callback))
