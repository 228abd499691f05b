"""Several calls sent as one (one message to a worker, one request to the server).

Importable wherever webpickle is, with nothing else: the receiver loads these
functions by reference, so a worker needs neither joblib nor the sender's modules.
"""


def call_with_each(fn, arg_tuples):
    """fn over several argument tuples: chunks of RemotePoolExecutor.map."""
    return [fn(*args) for args in arg_tuples]


def run_calls(calls):
    """[fn(*args, **kwargs) for each (fn, args, kwargs)]: a joblib batch, without joblib."""
    return [fn(*args, **kwargs) for fn, args, kwargs in calls]
