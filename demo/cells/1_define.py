# Defined here, in the page's Python: this function and this class exist
# nowhere else, so webpickle sends them *by value* (code, defaults, the
# globals they use) to the Web Workers and to the server.
import dataclasses
import random


@dataclasses.dataclass(frozen=True)
class Estimate:
    seed: int
    hits: int
    darts: int

    @property
    def pi(self):
        return 4 * self.hits / self.darts


def estimate_pi(seed, darts=400_000):
    """Throw darts at a unit square; the share inside the quarter circle is pi/4."""
    rng = random.Random(seed)  # seeded: every runtime computes the same answer
    hits = sum(rng.random() ** 2 + rng.random() ** 2 < 1 for _ in range(darts))
    return Estimate(seed, hits, darts)


estimate_pi(0)
