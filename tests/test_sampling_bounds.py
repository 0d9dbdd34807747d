"""Exact bounds and planned samples against published values and an independent count.

Pure arithmetic: no server. The published values are the rule of three's exact form
1 - alpha**(1/n), and Clopper-Pearson limits from the standard tables.
"""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exitkit.drill.spec import Sample
from exitkit.providers.contract import ObjectInfo
from exitkit.verify.bounds import binomial_upper, hypergeometric_upper, planned_size
from exitkit.verify.entries import Entry
from exitkit.verify.sampling import Sampler, score

MIB = 1024 * 1024


def clean_probability(population: int, defects: int, sampled: int) -> float:
    """P(no defect in a sample drawn without replacement), by counting."""
    return math.comb(population - defects, sampled) / math.comb(population, sampled)


def test_zero_failures_in_300_bound_the_rate_below_one_percent():
    bound = binomial_upper(0, 300, 0.95)
    assert bound == pytest.approx(1 - 0.05 ** (1 / 300), rel=1e-9)
    assert round(100 * bound, 3) == 0.994  # "about 0.99%", the rule of three's 3/300 = 1%


@pytest.mark.parametrize(("failures", "sampled", "confidence", "published"), [
    (0, 10, 0.95, 0.2589),    # 1 - 0.05 ** 0.1
    (5, 20, 0.975, 0.4910),   # two-sided 95% Clopper-Pearson interval (0.0866, 0.4910)
    (1, 100, 0.95, 0.0466),   # one-sided 95%, one failure in a hundred
    (0, 3000, 0.95, 0.000998),
])
def test_clopper_pearson_matches_published_tables(failures, sampled, confidence, published):
    assert binomial_upper(failures, sampled, confidence) == pytest.approx(published, abs=5e-5)


@settings(max_examples=60, deadline=None)
@given(population=st.integers(1, 60), data=st.data(),
       confidence=st.sampled_from([0.9, 0.95, 0.99]))
def test_finite_bound_is_the_largest_defect_count_the_sample_does_not_reject(
        population, data, confidence):
    sampled = data.draw(st.integers(0, population))
    failures = data.draw(st.integers(0, sampled))
    bound = hypergeometric_upper(failures, sampled, population, confidence)

    def accepted(defects: int) -> bool:
        tail = sum(math.comb(defects, k) * math.comb(population - defects, sampled - k)
                   for k in range(failures + 1)) / math.comb(population, sampled)
        return tail > 1 - confidence

    plausible = [d for d in range(failures, population - sampled + failures + 1) if accepted(d)]
    assert bound == max(plausible)
    if sampled == population:
        assert bound == failures  # everything checked: the count is exact


def test_finite_bound_never_exceeds_the_binomial_one():
    for population in (500, 5_000, 500_000):
        finite = hypergeometric_upper(0, 300, population, 0.95) / population
        assert finite <= binomial_upper(0, 300, 0.95)
    assert hypergeometric_upper(0, 300, 10**9, 0.95) == pytest.approx(0.00994 * 10**9, rel=1e-3)


@pytest.mark.parametrize(("rate", "confidence", "population"), [
    (0.001, 0.99, 10**9), (0.001, 0.99, 20_000), (0.01, 0.95, 1_000), (0.05, 0.95, 40),
    (0.001, 0.99, 100)])
def test_planned_size_is_the_smallest_clean_sample_that_proves_the_rate(
        rate, confidence, population):
    sampled = planned_size(rate, confidence, population)
    defects = max(1, math.ceil(rate * population))
    if population <= 20_000:
        assert clean_probability(population, defects, sampled) <= 1 - confidence
        assert clean_probability(population, defects, sampled - 1) > 1 - confidence
    assert hypergeometric_upper(0, sampled, population, confidence) < defects


def test_planned_size_for_a_large_estate_is_the_textbook_figure():
    # ln(0.01) / ln(0.999) = 4602.9: 4,603 clean objects prove < 0.1% at 99%.
    assert planned_size(0.001, 0.99, 10**9) == 4603
    assert planned_size(0.001, 0.99, 20_000) < 4603  # finite-population correction


def estate(sizes: list[int], classes: list[str]) -> list[Entry]:
    return [Entry(f"k/{i:05d}", 0, ObjectInfo(f"k/{i:05d}", size, storage_class=cls))
            for i, (size, cls) in enumerate(zip(sizes, classes))]


def test_few_huge_objects_are_their_own_stratum_and_are_all_checked():
    sizes = [1000 + i % 700 for i in range(20_000)] + [3 * 1024 * MIB] * 4
    classes = ["STANDARD"] * 19_990 + ["GLACIER"] * 10 + ["STANDARD"] * 4
    sample = Sample(max_defect_rate="0.1%", confidence="99%", seed=42,
                    storage_classes=["GLACIER"])
    sampler = Sampler(sample, estate(sizes, classes), 8 * MIB)
    assert {name: s.objects for name, s in sampler.strata.items()} == {
        "small": 19_990, "class:GLACIER small": 10, "large": 4}
    # each stratum planned at 1 - 0.01/3 (Bonferroni), so the three hold together at 99%
    assert sampler.strata["small"].planned == planned_size(0.001, 1 - 0.01 / 3, 19_990)
    assert sampler.strata["large"].planned == 4 and sampler.strata["large"].cutoff > 1
    drawn = [e for e in estate(sizes, classes)
             if sampler.drawn(e.relative, sampler.stratum_of(e.relative, e.info))]
    by_stratum = {}
    for e in drawn:
        name = sampler.stratum_of(e.relative, e.info)
        by_stratum[name] = by_stratum.get(name, 0) + 1
    assert by_stratum == {name: s.planned for name, s in sampler.strata.items()}
    assert not sampler.verifies_everything


def test_a_bucket_too_small_for_sampling_is_verified_whole():
    sample = Sample(max_defect_rate="1%", confidence="95%", seed=1)
    sampler = Sampler(sample, estate([100] * 40, ["STANDARD"] * 40), 8 * MIB)
    assert sampler.strata["small"].planned == 40 and sampler.verifies_everything


def test_count_is_spread_over_strata_and_the_draw_is_the_lowest_scores():
    entries = estate([10] * 90 + [9 * MIB] * 10, ["STANDARD"] * 100)
    sampler = Sampler(Sample(count=20, seed=5), entries, 8 * MIB)
    assert (sampler.strata["small"].planned, sampler.strata["large"].planned) == (18, 2)
    large = sorted((e for e in entries if e.info.size >= 8 * MIB),
                   key=lambda e: score(5, e.relative))
    assert {e.relative for e in large if sampler.drawn(e.relative, "large")} == {
        e.relative for e in large[:2]}
