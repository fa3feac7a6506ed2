#include "e2llm/taskkit/stats.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "e2llm/error.hpp"

namespace e2llm::taskkit {

void check_level(double level, const char* what) {
  if (!(level > 0.0 && level < 1.0))
    throw Error(fmt::format("{}: the confidence level must be in (0, 1), e.g. 0.95, not {}", what, level));
}

double normal_quantile(double p) {
  if (!(p > 0.0 && p < 1.0)) throw Error(fmt::format("normal_quantile: p = {} is not in (0, 1)", p));
  // Bisect on the upper tail Q(x) = erfc(x / √2) / 2 (decreasing) for the smaller of p and
  // 1 - p, which keeps full precision in both tails; Φ⁻¹(p) = ±x by symmetry.
  const double tail = std::min(p, 1.0 - p);
  auto upper = [](double x) { return 0.5 * std::erfc(x / std::sqrt(2.0)); };
  double lo = 0.0, hi = 40.0;
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    if (mid <= lo || mid >= hi) break;
    (upper(mid) > tail ? lo : hi) = mid;
  }
  const double x = 0.5 * (lo + hi);
  return p < 0.5 ? -x : x;
}

Interval wilson_interval(std::int64_t k, std::int64_t n, double level) {
  if (n < 1 || k < 0 || k > n) throw Error(fmt::format("wilson_interval: {} successes in {} trials", k, n));
  return wilson_interval_of_proportion(double(k) / double(n), n, level);
}

Interval wilson_interval_of_proportion(double p, std::int64_t n, double level) {
  check_level(level, "wilson_interval");
  if (n < 1 || !(p >= 0.0 && p <= 1.0)) throw Error(fmt::format("wilson_interval: proportion {} of {} trials", p, n));
  const double z = normal_quantile(0.5 + level / 2);
  const double nn = double(n), z2 = z * z;
  const double denominator = 1 + z2 / nn;
  const double center = (p + z2 / (2 * nn)) / denominator;
  const double half = z / denominator * std::sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn));
  return {std::max(0.0, center - half), std::min(1.0, center + half)};
}

double mcnemar_exact_p(std::int64_t b, std::int64_t c) {
  if (b < 0 || c < 0) throw Error("mcnemar_exact_p: negative counts");
  const std::int64_t n = b + c;
  if (n == 0 || b == c) return 1.0;
  // 2 P(X <= min(b, c)) for X ~ Binomial(n, 1/2), summed in log space (n may be large).
  const std::int64_t k = std::min(b, c);
  const double log_half_n = -double(n) * std::log(2.0);
  double tail = 0;
  for (std::int64_t i = 0; i <= k; ++i)
    tail +=
        std::exp(std::lgamma(double(n) + 1) - std::lgamma(double(i) + 1) - std::lgamma(double(n - i) + 1) + log_half_n);
  return std::min(1.0, 2 * tail);
}

double quantile(std::vector<double> values, double q) {
  if (values.empty()) throw Error("quantile: no values");
  if (!(q >= 0.0 && q <= 1.0)) throw Error(fmt::format("quantile: q = {} is not in [0, 1]", q));
  std::sort(values.begin(), values.end());
  const double h = double(values.size() - 1) * q;
  const auto below = std::size_t(std::floor(h));
  if (below + 1 >= values.size()) return values.back();
  return values[below] + (h - double(below)) * (values[below + 1] - values[below]);
}

Interval percentile_interval(const std::vector<double>& draws, double level) {
  check_level(level, "percentile_interval");
  return {quantile(draws, (1 - level) / 2), quantile(draws, (1 + level) / 2)};
}

}  // namespace e2llm::taskkit
