"""Exact one-sided upper confidence bounds on the share of objects that differ.

A uniform sample of ``n`` objects, ``k`` of which failed their content check, bounds the
number of differing objects in the population from above. Two exact methods, no normal
approximation:

* :func:`binomial_upper` (Clopper-Pearson): the population is treated as unbounded;
  zero failures give ``1 - alpha ** (1/n)`` (about 3/n at 95%, the rule of three).
* :func:`hypergeometric_upper`: the population of ``N`` objects is finite and the sample
  is drawn without replacement; the bound is the largest defect count ``D`` that the
  sample does not reject, so it is never looser than the binomial one and is exact
  when ``n == N``.

:func:`planned_size` inverts the finite bound: the smallest sample whose clean result
proves the share of differing objects is below a given rate.
"""

import math

# scipy.stats is imported where a bound is computed: importing it costs about 0.8 s of CPU,
# which every run (and every drill that verifies all objects) would pay for nothing


def binomial_upper(failures: int, sampled: int, confidence: float) -> float:
    """Clopper-Pearson one-sided upper bound on a rate, as a fraction in [0, 1]."""
    if sampled == 0 or failures >= sampled:
        return 1.0
    from scipy.stats import beta

    return float(beta.ppf(confidence, failures + 1, sampled - failures))


def hypergeometric_upper(failures: int, sampled: int, population: int,
                         confidence: float) -> int:
    """Largest number of differing objects among *population* that a uniform sample of
    *sampled* objects (drawn without replacement) with *failures* failures does not
    reject at *confidence*: ``max D`` with ``P(X <= failures | N, D, n) > 1 - confidence``.
    """
    if population == 0:
        return 0
    from scipy.stats import hypergeom

    alpha = 1.0 - confidence
    unseen = population - sampled
    low, high = failures, failures + unseen  # the cdf falls as D grows; low always holds
    while low < high:
        middle = (low + high + 1) // 2
        if hypergeom.cdf(failures, population, middle, sampled) > alpha:
            low = middle
        else:
            high = middle - 1
    return low


def planned_size(max_rate: float, confidence: float, population: int) -> int:
    """Smallest sample from *population* whose zero failures prove fewer than
    ``ceil(max_rate * population)`` differing objects at *confidence* (finite-population
    exact); *population* itself when nothing smaller does."""
    if population == 0:
        return 0
    from scipy.stats import hypergeom

    defects = max(1, math.ceil(max_rate * population))
    alpha = 1.0 - confidence
    low, high = 1, population - defects + 1  # at high, a clean sample is impossible
    while low < high:
        middle = (low + high) // 2
        if hypergeom.pmf(0, population, defects, middle) <= alpha:
            high = middle
        else:
            low = middle + 1
    return min(low, population)
