"""A dask.distributed LocalCluster for the --dask tests, in its own process.

    python tests/remote/dask_cluster.py WORKERS

Prints one line, {"scheduler": "tcp://..."} as JSON, once the workers are up,
and runs until its stdin closes. Each worker has one thread and a nanny, so a
worker that dies is restarted (as on a real cluster).
"""

import json
import sys

from distributed import LocalCluster


def main(argv):
    workers = int(argv[1])
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      host="127.0.0.1") as cluster:
        cluster.wait_for_workers(workers, timeout=120)
        print(json.dumps({"scheduler": cluster.scheduler_address}), flush=True)
        sys.stdin.read()  # until the test closes the pipe
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
