// Small exact statistics every interval and paired test of docs/statistics.md is built
// from: the normal quantile, the Wilson score interval of a proportion, the exact McNemar
// test on discordant pairs, and percentile intervals of bootstrap draws.
#pragma once

#include <cstdint>
#include <vector>

namespace e2llm::taskkit {

struct Interval {
  double low = 0, high = 0;
};

// Φ⁻¹(p) for 0 < p < 1: the standard normal quantile, to double precision (bisection on
// erfc). Throws e2llm::Error outside (0, 1).
double normal_quantile(double p);

// The Wilson score interval (Wilson 1927) of k successes in n trials at `level` (e.g.
// 0.95), without continuity correction: what scipy.stats.binomtest(k, n)
// .proportion_ci(level, method="wilson") gives. Requires 0 <= k <= n, n >= 1.
Interval wilson_interval(std::int64_t successes, std::int64_t trials, double level);
// The same for an observed proportion p in [0, 1] over n trials (e.g. a mean over seeds of
// accuracies on the same n prompts).
Interval wilson_interval_of_proportion(double proportion, std::int64_t trials, double level);

// The exact McNemar test (McNemar 1947; the binomial form): with b pairs where only the
// first classifier is right and c where only the second is, the two-sided p-value of
// b ~ Binomial(b + c, 1/2), i.e. min(1, 2 P(X <= min(b, c))); 1 when b + c = 0. Equals
// scipy.stats.binomtest(b, b + c, 0.5).pvalue.
double mcnemar_exact_p(std::int64_t b, std::int64_t c);

// The q-quantile (0 <= q <= 1) of `values` by linear interpolation between order
// statistics (numpy.quantile's default "linear" method, Hyndman-Fan type 7).
double quantile(std::vector<double> values, double q);

// The central `level` percentile interval of bootstrap draws: the (1 - level)/2 and
// (1 + level)/2 quantiles.
Interval percentile_interval(const std::vector<double>& draws, double level);

// Checks 0 < level < 1 (throws e2llm::Error naming `what`).
void check_level(double level, const char* what);

}  // namespace e2llm::taskkit
