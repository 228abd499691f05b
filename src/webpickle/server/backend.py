"""What the HTTP layer needs of a backend (the process pool, or Dask), and how a call fails.

A backend has:
    name                     "processes" or "dask", for the log
    async start()            ready to run calls, or raises with what to fix
    async run(payload, timeout, function=None) -> (raised, stream)
                             run one call (payload: the request body; timeout:
                             seconds or None; function: (digest, stream) of a
                             call by digest, whose payload pickles (args, kwargs)
                             only); raises CallFailed when the call could not
                             run to its end
    async close()            once no call runs any more
"""


class CallFailed(Exception):
    """A call that ran into trouble outside the function: its process died, it timed out, ...

    status: the HTTP status to answer with; kind: the error's name for clients
    (they map it to an exception class); message: what happened, for people.
    """

    def __init__(self, status, kind, message):
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message
