// Position policies (docs/methods.md §E²-LLM): exact positions, bounds, distribution, determinism.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "e2llm/error.hpp"
#include "e2llm/llama/train/position_policy.hpp"

using namespace e2llm::llama::train;

namespace {
PolicyOptions e2(int64_t L, int64_t R, int64_t gmax = 20) {
  PolicyOptions o;
  o.kind = PolicyKind::E2;
  o.original_window = L;
  o.seq_len = R;
  o.gmax = gmax;
  o.seed = 1234;
  return o;
}
}  // namespace

TEST(PositionPolicy, PlainIsTokenIndex) {
  PolicyOptions o;
  o.kind = PolicyKind::Plain;
  o.seq_len = 6;
  PositionPolicy p(o);
  const auto d = p.draw(3, 17);
  EXPECT_EQ(d.g, 1.0);
  EXPECT_EQ(d.t, 0);
  EXPECT_EQ(p.positions(d), (std::vector<double>{0, 1, 2, 3, 4, 5}));
}

TEST(PositionPolicy, PiDividesByFixedScale) {
  PolicyOptions o;
  o.kind = PolicyKind::Pi;
  o.original_window = 4;
  o.seq_len = 8;
  o.g_fixed = 2;
  PositionPolicy p(o);
  const auto d = p.draw(0, 0);
  EXPECT_EQ(d.g, 2.0);
  EXPECT_EQ(d.t, 0);
  EXPECT_EQ(p.positions(d), (std::vector<double>{0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5}));
}

TEST(PositionPolicy, E2ExactPositionsWithSink) {
  // [0, 1, 2, 3, 4 + t, ..., R − 1 + t] / g.
  PositionPolicy p(e2(16, 8));
  const auto pos = p.positions({4.0, 10});
  EXPECT_EQ(pos, (std::vector<double>{0, 0.25, 0.5, 0.75, 14 / 4.0, 15 / 4.0, 16 / 4.0, 17 / 4.0}));
  PolicyOptions o = e2(16, 8);
  o.sink = 2;
  PositionPolicy q(o);
  EXPECT_EQ(q.positions({2.0, 3}), (std::vector<double>{0, 0.5, 2.5, 3, 3.5, 4, 4.5, 5}));
}

TEST(PositionPolicy, MaxOffsetIsGLMinusR) {
  PositionPolicy p(e2(16, 8));
  EXPECT_EQ(p.max_offset(1), 8);
  EXPECT_EQ(p.max_offset(3), 40);
  PositionPolicy q(e2(16, 16));
  EXPECT_EQ(q.max_offset(1), 0);  // R = L: no room at g = 1
}

TEST(PositionPolicy, AllScaledPositionsBelowL) {
  for (int64_t R : {4, 8, 16}) {
    PositionPolicy p(e2(16, R, 6));
    for (int64_t s = 0; s < 2000; ++s) {
      const auto d = p.draw(s / 8, s);
      ASSERT_GE(d.t, 0);
      ASSERT_LE(d.t, p.max_offset(d.g));
      for (double x : p.positions(d)) ASSERT_LT(x, 16.0) << "R " << R << " g " << d.g << " t " << d.t;
    }
  }
}

TEST(PositionPolicy, DistributionCoversScalesAndOffsets) {
  PositionPolicy p(e2(16, 8, 5));
  std::map<double, int> g_count;
  std::map<double, std::set<int64_t>> offsets;
  for (int64_t s = 0; s < 5000; ++s) {
    const auto d = p.draw(0, s);
    ++g_count[d.g];
    offsets[d.g].insert(d.t);
  }
  ASSERT_EQ(g_count.size(), 5u);  // every g in 1..Gmax appears
  for (int g = 1; g <= 5; ++g) {
    EXPECT_NEAR(g_count[g], 1000, 150) << "g " << g;  // uniform
    EXPECT_EQ(offsets[g].size(), static_cast<size_t>(p.max_offset(g) + 1)) << "t covers 0..gL−R at g " << g;
    EXPECT_EQ(*offsets[g].begin(), 0);
    EXPECT_EQ(*offsets[g].rbegin(), p.max_offset(g));
  }
}

TEST(PositionPolicy, PerIterationSharesOneScale) {
  PolicyOptions o = e2(16, 8, 10);
  o.per_iteration = true;
  PositionPolicy p(o);
  std::set<double> per_step_scales;
  for (int64_t step = 0; step < 200; ++step) {
    const double g = p.draw(step, step * 4).g;
    for (int64_t i = 1; i < 4; ++i) EXPECT_EQ(p.draw(step, step * 4 + i).g, g);
    per_step_scales.insert(g);
  }
  EXPECT_EQ(per_step_scales.size(), 10u);
}

TEST(PositionPolicy, ExplicitScaleList) {
  PolicyOptions o = e2(16, 8);
  o.g_values = {2, 8};
  PositionPolicy p(o);
  std::set<double> seen;
  for (int64_t s = 0; s < 200; ++s) seen.insert(p.draw(0, s).g);
  EXPECT_EQ(seen, (std::set<double>{2, 8}));
}

TEST(PositionPolicy, AblationsTurnAugmentationsOff) {
  PolicyOptions o = e2(16, 8);
  o.scale_augmentation = false;  // paper ablation: g fixed at 2
  o.offset_augmentation = false;
  PositionPolicy p(o);
  for (int64_t s = 0; s < 100; ++s) {
    const auto d = p.draw(0, s);
    EXPECT_EQ(d.g, 2.0);
    EXPECT_EQ(d.t, 0);
  }
  PolicyOptions q = e2(16, 8, 4);
  q.offset_augmentation = false;
  PositionPolicy pq(q);
  for (int64_t s = 0; s < 100; ++s) EXPECT_EQ(pq.draw(0, s).t, 0);
}

TEST(PositionPolicy, DeterministicBySeedAndCounter) {
  PositionPolicy a(e2(16, 8)), b(e2(16, 8));
  PolicyOptions o = e2(16, 8);
  o.seed = 99;
  PositionPolicy c(o);
  int differ = 0;
  for (int64_t s = 0; s < 100; ++s) {
    EXPECT_EQ(a.draw(1, s).g, b.draw(1, s).g);
    EXPECT_EQ(a.draw(1, s).t, b.draw(1, s).t);
    differ += a.draw(1, s).g != c.draw(1, s).g;
  }
  EXPECT_GT(differ, 50);
  std::vector<double> rows(3 * 8);
  a.fill(1, 10, 3, rows.data());
  EXPECT_EQ(std::vector<double>(rows.begin() + 8, rows.begin() + 16), a.positions(a.draw(1, 11)));
}

TEST(PositionPolicy, RejectsSequencesBeyondTheWindow) {
  EXPECT_THROW(PositionPolicy(e2(16, 32)), e2llm::ConfigError);
  PolicyOptions o = e2(16, 8);
  o.gmax = 0;
  EXPECT_THROW(PositionPolicy{o}, e2llm::ConfigError);
  EXPECT_THROW(parse_policy("yarn"), e2llm::Error);
}
