"""A failed call's traceback as frames: captured where the call ran, rendered
where it was made.

The side that runs a call often lacks the source of the code it ran: a function
defined in a notebook cell travels by value, so a worker's traceback names
`File "<cell 7>", line 7, in shaky` without the line. The caller has that line
in its own linecache. So the traceback travels as data, a chain of

    (frames, exception_text, joiner)

oldest exception first, where frames are (file, line number, function, line
text or "") and joiner says how the next exception of the chain relates to this
one ("cause", "context" or None). The caller renders it in the stdlib's format,
taking each missing line from its linecache.

Frames of webpickle's own machinery (its package folder) are left out, unless
the failure is webpickle's own: raised in its code, not in the code it called
(its entry points, which call the user's function, say where that boundary is).
An exception group keeps its remote text whole, as its exception_text, with no frames.
"""

import os
import traceback

__all__ = ["RemoteTraceback", "capture", "render"]

_PACKAGE_FOLDER = os.path.dirname(os.path.abspath(__file__)) + os.sep
_JOINERS = {
    "cause": "\nThe above exception was the direct cause of the following exception:\n\n",
    "context": "\nDuring handling of the above exception, another exception occurred:\n\n",
}


class RemoteTraceback(Exception):
    """Where a call failed, on the side that ran it; set as the raised exception's __cause__.

    str() shows the remote frames with the lines of this side's own code filled in;
    `text` is the remote side's own rendering; `chain` the frames as data (see the module).
    """

    def __init__(self, text, chain=()):
        super().__init__(text, chain)
        self.text = text
        self.chain = chain

    def __str__(self):
        return "\n" + (render(self.chain) if self.chain else self.text)


def capture(exc, entry_points=()):
    """exc and the exceptions it was raised from, as a chain of plain tuples (see the module).

    entry_points: the code objects of webpickle's frames that call the user's code.
    """
    links, seen, joiner = [], set(), None
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, BaseExceptionGroup):
            links.append(((), "".join(traceback.format_exception(exc, chain=False)), joiner))
        else:
            text = "".join(traceback.format_exception_only(exc))
            links.append((_frames(exc.__traceback__, entry_points), text, joiner))
        if exc.__cause__ is not None:
            joiner, exc = "cause", exc.__cause__
        elif exc.__context__ is not None and not exc.__suppress_context__:
            joiner, exc = "context", exc.__context__
        else:
            exc = None
    # Walked newest first. A link's joiner says how it led to the newer exception found before
    # it (it is that one's cause or context): printed oldest first, it comes right after the link.
    return tuple(reversed(links))


def _frames(tb, entry_points):
    walked = list(traceback.walk_tb(tb))
    innermost = walked[-1][0].f_code if walked else None
    if innermost is None or not _is_machinery(innermost.co_filename) or innermost in entry_points:
        # The call's own failure: only its frames, and only theirs are looked up in linecache.
        walked = [(frame, number) for frame, number in walked if not _is_machinery(frame.f_code.co_filename)]
    return tuple((f.filename, f.lineno or 0, f.name, f.line or "") for f in traceback.StackSummary.extract(walked))


def _is_machinery(filename):
    return filename.startswith(_PACKAGE_FOLDER)


def render(chain, local_lines=True):
    """The chain as the stdlib prints a traceback; local_lines: fill missing lines from this side's linecache."""
    parts = []
    for frames, text, joiner in chain:
        if frames:
            summaries = [traceback.FrameSummary(file, number, function, lookup_line=False,
                                                line=line or (None if local_lines else ""))
                         for file, number, function, line in frames]
            parts.append("Traceback (most recent call last):\n")
            parts.extend(traceback.StackSummary.from_list(summaries).format())
        parts.append(text)
        if joiner:
            parts.append(_JOINERS[joiner])
    return "".join(parts)
