#!/usr/bin/env python3
"""Reference values for core/src/stats/ tests, from GrowthBook's gbstats 0.8.0 (and SciPy).

Run: python3 -m venv /tmp/gb && /tmp/gb/bin/pip install gbstats==0.8.0 \
     && /tmp/gb/bin/python scripts/gbstats_reference.py
The printed numbers are pasted into the unit tests; the tests name the case they come from.
"""
import json
import sys

# Guarded rollouts (core/src/stats/evidence.rs, one_sided_bound_matches_gbstats): the bounds of
# gbstats' one-sided sequential tests, absolute difference, tuning 5000 — the upper bound of
# SequentialOneSidedTreatmentLesserTTest and the lower bound of the Greater test. gbstats 0.8.0
# (PyPI) has no such tests, and the gbstats that has them (GrowthBook's repository at 8f1db445,
# packages/stats) has another API, so this script prints one set or the other, by the gbstats
# installed: `git archive 8f1db445 packages/stats | tar -x -C /tmp/gbsrc` in a clone of
# growthbook/growthbook, then `python3 -m venv /tmp/gbh && /tmp/gbh/bin/pip install
# /tmp/gbsrc/packages/stats && /tmp/gbh/bin/python scripts/gbstats_reference.py`.
try:
    from gbstats.frequentist.tests import (SequentialOneSidedTreatmentGreaterTTest,
                                           SequentialOneSidedTreatmentLesserTTest)
except ImportError:
    print("one_sided_*: not printed (gbstats 0.8.0 has no sequential one-sided tests; see the comment)")
else:
    from gbstats.frequentist.tests import SequentialConfig
    from gbstats.models.statistics import ProportionStatistic, SampleMeanStatistic

    def stat_mean(n, m, var):
        return SampleMeanStatistic(n=n, sum=n * m, sum_squares=n * (m * m + var))

    one_sided = {
        "one_sided_binary_25": (ProportionStatistic(n=25, sum=2), ProportionStatistic(n=25, sum=6), 0.05),
        "one_sided_binary_250": (ProportionStatistic(n=250, sum=10), ProportionStatistic(n=250, sum=20), 0.0083),
        "one_sided_binary_25000": (ProportionStatistic(n=25000, sum=250), ProportionStatistic(n=25000, sum=300), 0.025),
        "one_sided_mean_250": (SampleMeanStatistic(n=250, sum=300.0, sum_squares=900.0),
                               SampleMeanStatistic(n=250, sum=360.0, sum_squares=1200.0), 0.0167),
        "one_sided_mean_25000": (stat_mean(25000, 120.0, 400.0), stat_mean(25000, 121.0, 420.0), 0.05),
    }
    for name, (a, b, alpha) in one_sided.items():
        cfg = SequentialConfig(difference_type="absolute", alpha=alpha, sequential_tuning_parameter=5000)
        upper = SequentialOneSidedTreatmentLesserTTest([(a, b)], cfg).compute_result().ci[1]
        lower = SequentialOneSidedTreatmentGreaterTTest([(a, b)], cfg).compute_result().ci[0]
        print(name, json.dumps({"upper": upper, "lower": lower}))
    print("(the other cases need gbstats 0.8.0: see the docstring)")
    sys.exit(0)

import numpy as np
from scipy.stats import false_discovery_control

from gbstats.bayesian.tests import EffectBayesianABTest, EffectBayesianConfig, GaussianPrior
from gbstats.frequentist.tests import (FrequentistConfig, SequentialConfig,
                                       SequentialTwoSidedTTest, TwoSidedTTest)
from gbstats.models.statistics import (ProportionStatistic, QuantileStatistic,
                                       SampleMeanStatistic)
from gbstats.utils import check_srm


def prop(n, x):
    return ProportionStatistic(n=n, sum=x)


def mean(n, s, ss):
    return SampleMeanStatistic(n=n, sum=s, sum_squares=ss)


def run(name, a, b, inverse=False, prior=None, tuning=5000):
    out = {}
    for diff in ("relative", "absolute"):
        f = TwoSidedTTest(a, b, FrequentistConfig(difference_type=diff)).compute_result()
        s = SequentialTwoSidedTTest(
            a, b, SequentialConfig(difference_type=diff, sequential_tuning_parameter=tuning)
        ).compute_result()
        cfg = EffectBayesianConfig(difference_type=diff, inverse=inverse)
        if prior is not None:
            cfg = EffectBayesianConfig(difference_type=diff, inverse=inverse,
                                       prior_effect=GaussianPrior(mean=prior[0], variance=prior[1], proper=True))
        y = EffectBayesianABTest(a, b, cfg).compute_result()
        out[diff] = {
            "frequentist": {"estimate": f.expected, "ci": f.ci, "p": f.p_value},
            "sequential": {"estimate": s.expected, "ci": s.ci, "p": s.p_value},
            "bayesian": {"expected": y.expected, "ci": y.ci, "ctw": y.chance_to_win, "risk": y.risk},
        }
    print(name, json.dumps(out, indent=1))


# The case: binary, 1000 / 100 vs 1000 / 130.
run("binary_100_130", prop(1000, 100), prop(1000, 130))
# The same with a proper prior N(0, 0.3^2) on the relative effect, lower is better.
run("binary_prior_inverse", prop(1000, 100), prop(1000, 130), inverse=True, prior=(0.0, 0.09))
# A mean metric: n, sum, sum of squares.
run("mean_metric", mean(120, 1224.0, 13620.0), mean(130, 1430.0, 17230.0))
# Three arms, ~6,000 units.
for i, (n, x) in enumerate([(2010, 241), (1985, 262)]):
    run(f"three_arm_{i + 1}", prop(2005, 220), prop(n, x))
# Sequential with another tuning parameter.
run("sequential_tuning_1000", prop(5000, 500), prop(5000, 560), tuning=1000)

print("srm", check_srm([5000, 5200], [0.5, 0.5]), check_srm([3300, 3300, 3500], [1, 1, 1]))
ps = [0.01, 0.04, 0.03, 0.005, 0.2]
print("bh", list(false_discovery_control(ps, method="bh")))

q = QuantileStatistic(n=1000, n_star=1000, nu=0.9, quantile_hat=12.5, quantile_lower=11.9, quantile_upper=13.4)
r = QuantileStatistic(n=1100, n_star=1100, nu=0.9, quantile_hat=13.7, quantile_lower=13.0, quantile_upper=14.6)
qf = TwoSidedTTest(q, r, FrequentistConfig()).compute_result()
print("quantile", q.variance, r.variance, json.dumps({"estimate": qf.expected, "ci": qf.ci, "p": qf.p_value}))

# P(best) of three arms from Gaussian posteriors N(p, p(1 - p)/n) of the arms' means (flat prior):
# gbstats' effect test has no P(best); this is an independent numerical integration (SciPy quad).
from scipy import integrate
from scipy.stats import norm
arms = [(2005, 220), (2010, 241), (1985, 262)]
post = [(x / n, np.sqrt((x / n) * (1 - x / n) / n)) for n, x in arms]
best = [integrate.quad(lambda t, i=i: norm.pdf(t, *post[i]) * np.prod([norm.cdf(t, *post[j]) for j in range(3) if j != i]),
                       0, 1, points=[p for p, _ in post], limit=200, epsabs=1e-13)[0] for i in range(3)]
print("prob_best_three_arms", best)

