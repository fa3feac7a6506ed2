// Position policies (docs/methods.md §E²-LLM): exact positions, bounds, distribution, determinism.
#include <gtest/gtest.h>

#include <algorithm>
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

// ---- PoSE (docs/methods.md §PoSE) ------------------------------------------------------------

namespace {
PolicyOptions pose(int64_t L, int64_t R, int64_t Lt, int64_t N = 2) {
  PolicyOptions o;
  o.kind = PolicyKind::Pose;
  o.original_window = L;
  o.seq_len = R;
  o.target_window = Lt;
  o.chunks = N;
  o.seed = 99;
  return o;
}
}  // namespace

TEST(PositionPolicy, PoseChunksSkipAndStayInRange) {
  for (int64_t N : {1, 2, 3, 5}) {
    const int64_t L = 32, R = 32, Lt = 512;
    PositionPolicy p(pose(L, R, Lt, N));
    EXPECT_DOUBLE_EQ(p.serving_scale(), 16.0);
    int64_t largest_skip = 0;
    for (int64_t s = 0; s < 3000; ++s) {
      const auto d = p.draw(s / 4, s);
      ASSERT_EQ(d.chunk_lengths.size(), static_cast<size_t>(N));
      ASSERT_EQ(d.skips.size(), static_cast<size_t>(N));
      EXPECT_EQ(d.g, 16.0);
      EXPECT_EQ(d.skips[0], 0);
      int64_t total = 0;
      for (size_t i = 0; i < d.skips.size(); ++i) {
        ASSERT_GE(d.chunk_lengths[i], 1);
        if (i > 0) {
          ASSERT_GE(d.skips[i], d.skips[i - 1]);
        }
        ASSERT_LE(d.skips[i], Lt - R);
        total += d.chunk_lengths[i];
      }
      ASSERT_EQ(total, R);
      if (N == 2) {
        ASSERT_LE(d.chunk_lengths[0], (R + 1) / 2);  // the paper's code: first chunk at most half
      }
      largest_skip = std::max(largest_skip, d.skips.back());
      const auto pos = p.positions(d);
      ASSERT_EQ(pos.size(), static_cast<size_t>(R));
      for (size_t m = 0; m < pos.size(); ++m) {
        ASSERT_LT(pos[m] * 16.0, static_cast<double>(Lt));  // raw ids < L_t
        ASSERT_LT(pos[m], static_cast<double>(L));          // scaled ids < L
        if (m > 0) {
          ASSERT_GT(pos[m], pos[m - 1]);  // chunks never overlap
        }
      }
      // Inside a chunk the ids are consecutive.
      for (size_t m = 1; m < static_cast<size_t>(d.chunk_lengths[0]); ++m)
        ASSERT_DOUBLE_EQ((pos[m] - pos[m - 1]) * 16.0, 1.0);
    }
    if (N > 1) {
      EXPECT_GT(largest_skip, (Lt - R) * 9 / 10) << "skips reach towards L_t − R";
    }
    // Deterministic by (seed, sample); the step does not matter.
    EXPECT_EQ(p.draw(0, 41).skips, p.draw(9, 41).skips);
    EXPECT_EQ(p.draw(0, 41).chunk_lengths, p.draw(9, 41).chunk_lengths);
  }
}

TEST(PositionPolicy, PoseRefusesBadSettingsAndDraws) {
  EXPECT_THROW(PositionPolicy(pose(32, 32, 32)), e2llm::ConfigError);       // L_t must exceed L
  EXPECT_THROW(PositionPolicy(pose(32, 32, 512, 0)), e2llm::ConfigError);   // N >= 1
  EXPECT_THROW(PositionPolicy(pose(32, 32, 512, 33)), e2llm::ConfigError);  // N <= R
  EXPECT_THROW(PositionPolicy(pose(32, 64, 512)), e2llm::ConfigError);      // R <= L
  PositionPolicy p(pose(16, 16, 64));
  auto bad = [&](std::vector<int64_t> lengths, std::vector<int64_t> skips) {
    PositionDraw d;
    d.chunk_lengths = std::move(lengths);
    d.skips = std::move(skips);
    EXPECT_THROW(p.positions(d), e2llm::Error);
  };
  bad({8, 8}, {1, 10});       // u_0 must be 0
  bad({8, 8}, {0, 49});       // beyond L_t − R
  bad({8, 7}, {0, 10});       // lengths must sum to R
  bad({16, 0}, {0, 10});      // empty chunk
  bad({4, 4, 8}, {0, 9, 3});  // skips must not decrease
  bad({8, 8}, {0});           // one skip per chunk
  EXPECT_EQ(parse_policy("pose"), PolicyKind::Pose);
  EXPECT_EQ(std::string(policy_name(PolicyKind::Pose)), "pose");
  const auto j = pose(16, 16, 64, 3).to_json();
  EXPECT_EQ(j["policy"], "pose");
  EXPECT_EQ(j["target_window"], 64);
  EXPECT_EQ(j["chunks"], 3);
  EXPECT_EQ(j["scale"], 4.0);
}
