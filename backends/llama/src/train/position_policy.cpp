#include "e2llm/llama/train/position_policy.hpp"

#include <cmath>

#include "e2llm/error.hpp"
#include "e2llm/util/counter_stream.hpp"

namespace e2llm::llama::train {

namespace {
using Stream = util::CounterStream;  // the same numbers on every platform

constexpr uint64_t kScaleDomain = 0x5ca1e;
constexpr uint64_t kOffsetDomain = 0x0ff5e7;
constexpr uint64_t kPoseDomain = 0x905e;
uint64_t key(uint64_t seed, uint64_t domain, uint64_t a, uint64_t b) {
  return mix64(mix64(mix64(seed ^ domain) + a) + b);
}
}  // namespace

const char* policy_name(PolicyKind kind) {
  switch (kind) {
    case PolicyKind::Plain: return "plain";
    case PolicyKind::Pi: return "pi";
    case PolicyKind::E2: return "e2llm";
    case PolicyKind::Pose:
      return "pose";
  }
  return "?";
}

PolicyKind parse_policy(const std::string& name) {
  if (name == "plain" || name == "none") return PolicyKind::Plain;
  if (name == "pi" || name == "linear") return PolicyKind::Pi;
  if (name == "e2llm" || name == "e2" || name == "e2-llm") return PolicyKind::E2;
  if (name == "pose") return PolicyKind::Pose;
  throw Error("unknown position policy \"" + name + "\" (known: plain, pi, e2llm, pose)");
}

nlohmann::json PolicyOptions::to_json() const {
  nlohmann::json j = {{"policy", policy_name(kind)}, {"original_window", original_window}, {"seq_len", seq_len}};
  if (kind == PolicyKind::Pi) j["g"] = g_fixed;
  if (kind == PolicyKind::E2) {
    j["scale_augmentation"] = scale_augmentation;
    j["offset_augmentation"] = offset_augmentation;
    j["sink"] = sink;
    j["g_sampling"] = per_iteration ? "iteration" : "sample";
    if (!scale_augmentation)
      j["g_fixed"] = g_fixed;
    else if (!g_values.empty())
      j["g_values"] = g_values;
    else
      j["gmax"] = gmax;
    j["seed"] = seed;
  }
  if (kind == PolicyKind::Pose) {
    j["target_window"] = target_window;
    j["chunks"] = chunks;
    j["scale"] = static_cast<double>(target_window) / static_cast<double>(original_window);
    j["interpolation"] = "linear";
    j["seed"] = seed;
  }
  return j;
}

PositionPolicy::PositionPolicy(PolicyOptions options) : options_(std::move(options)) {
  const auto& o = options_;
  if (o.seq_len < 1) throw ConfigError("seq_len", "must be >= 1");
  if (o.kind == PolicyKind::Plain) return;
  if (o.original_window < 1) throw Error("position policy: the original window L is unknown (< 1)");
  if (o.kind == PolicyKind::Pose) {
    if (o.chunks < 1 || o.chunks > o.seq_len)
      throw ConfigError("chunks", "must be between 1 and the training length R = " + std::to_string(o.seq_len));
    if (o.target_window < o.seq_len || o.target_window <= o.original_window)
      throw ConfigError("target_window",
                        "L_t = " + std::to_string(o.target_window) +
                            " must exceed the original window L = " + std::to_string(o.original_window) +
                            " and the training length R = " + std::to_string(o.seq_len));
    if (o.seq_len > o.original_window)
      throw ConfigError("seq_len", "PoSE trains within the original window: R = " + std::to_string(o.seq_len) +
                                       " exceeds L = " + std::to_string(o.original_window));
    g_set_ = {static_cast<double>(o.target_window) / static_cast<double>(o.original_window)};
    return;
  }
  if (o.kind == PolicyKind::Pi || !o.scale_augmentation) {
    if (!(o.g_fixed >= 1.0)) throw ConfigError("g_fixed", "must be >= 1");
    g_set_ = {o.g_fixed};
  } else if (!o.g_values.empty()) {
    for (double g : o.g_values)
      if (!(g >= 1.0)) throw ConfigError("g_values", "every scale must be >= 1");
    g_set_ = o.g_values;
  } else {
    if (o.gmax < 1) throw ConfigError("gmax", "must be >= 1");
    for (int64_t g = 1; g <= o.gmax; ++g) g_set_.push_back(static_cast<double>(g));
  }
  if (o.sink < 0) throw ConfigError("sink", "must be >= 0");
  // All scaled positions < L needs R - 1 < g·L for the smallest g (docs/methods.md §E²-LLM, the range).
  double gmin = g_set_[0];
  for (double g : g_set_) gmin = std::min(gmin, g);
  if (static_cast<double>(o.seq_len) > gmin * static_cast<double>(o.original_window))
    throw ConfigError("seq_len", "R = " + std::to_string(o.seq_len) + " exceeds g·L = " +
                                     std::to_string(gmin * o.original_window) +
                                     " for the smallest g: positions would leave the trained range; lower seq_len");
}

int64_t PositionPolicy::max_offset(double g) const {
  // t ≤ g·L − R keeps (R − 1 + t) / g < L.
  const double room = std::floor(g * static_cast<double>(options_.original_window)) - static_cast<double>(options_.seq_len);
  return room > 0 ? static_cast<int64_t>(room) : 0;
}

double PositionPolicy::serving_scale() const {
  if (options_.kind == PolicyKind::Pi || options_.kind == PolicyKind::Pose) return g_set_[0];
  return 1.0;
}

PositionDraw PositionPolicy::draw(int64_t step, int64_t sample) const {
  const auto& o = options_;
  PositionDraw d;
  if (o.kind == PolicyKind::Plain) return d;
  if (o.kind == PolicyKind::Pose) {
    // Chunk lengths as the paper's code draws them: for N = 2 the first chunk is
    // U{1..ceil(R/2)} (train_pose.py); for N >= 3 each but the last is U{1..rest − chunks
    // still to come} (the paper's appendix B). Skips u_i ~ U{u_{i-1}..L_t − R}, u_0 = 0.
    Stream s(key(o.seed, kPoseDomain, 0, static_cast<uint64_t>(sample)));
    d.g = g_set_[0];
    const int64_t N = o.chunks, R = o.seq_len;
    int64_t used = 0;
    for (int64_t i = 0; i + 1 < N; ++i) {
      const int64_t most = N == 2 ? (R + 1) / 2 : R - used - (N - 1 - i);
      const int64_t l = 1 + static_cast<int64_t>(s.below(static_cast<uint64_t>(most)));
      d.chunk_lengths.push_back(l);
      used += l;
    }
    d.chunk_lengths.push_back(R - used);
    const int64_t room = o.target_window - R;
    d.skips.push_back(0);
    for (int64_t i = 1; i < N; ++i) {
      const int64_t prev = d.skips.back();
      d.skips.push_back(prev + static_cast<int64_t>(s.below(static_cast<uint64_t>(room - prev + 1))));
    }
    return d;
  }
  if (g_set_.size() == 1) {
    d.g = g_set_[0];
  } else {
    Stream s(o.per_iteration ? key(o.seed, kScaleDomain, 1, static_cast<uint64_t>(step))
                             : key(o.seed, kScaleDomain, 0, static_cast<uint64_t>(sample)));
    d.g = g_set_[s.below(g_set_.size())];
  }
  if (o.kind == PolicyKind::E2 && o.offset_augmentation) {
    Stream s(key(o.seed, kOffsetDomain, 0, static_cast<uint64_t>(sample)));
    d.t = static_cast<int64_t>(s.below(static_cast<uint64_t>(max_offset(d.g)) + 1));
  }
  return d;
}

std::vector<double> PositionPolicy::positions(const PositionDraw& d) const {
  if (options_.kind == PolicyKind::Pose) return pose_positions(d);
  std::vector<double> out(static_cast<size_t>(options_.seq_len));
  const int64_t sink = options_.kind == PolicyKind::E2 ? options_.sink : 0;
  for (int64_t m = 0; m < options_.seq_len; ++m)
    out[static_cast<size_t>(m)] = static_cast<double>(m < sink ? m : m + d.t) / d.g;
  return out;
}

std::vector<double> PositionPolicy::pose_positions(const PositionDraw& d) const {
  const auto& o = options_;
  const int64_t room = o.target_window - o.seq_len;
  if (d.chunk_lengths.empty() || d.chunk_lengths.size() != d.skips.size())
    throw Error("PoSE draw: give one skip per chunk (" + std::to_string(d.chunk_lengths.size()) + " lengths, " +
                std::to_string(d.skips.size()) + " skips)");
  if (d.skips[0] != 0) throw Error("PoSE draw: the first skip u_0 must be 0");
  int64_t total = 0;
  for (size_t i = 0; i < d.skips.size(); ++i) {
    if (d.chunk_lengths[i] < 1) throw Error("PoSE draw: chunk lengths must be >= 1");
    if (i > 0 && d.skips[i] < d.skips[i - 1]) throw Error("PoSE draw: skips must be non-decreasing");
    if (d.skips[i] > room)
      throw Error("PoSE draw: skip " + std::to_string(d.skips[i]) + " exceeds L_t − R = " + std::to_string(room));
    total += d.chunk_lengths[i];
  }
  if (total != o.seq_len)
    throw Error("PoSE draw: chunk lengths sum to " + std::to_string(total) + ", not R = " + std::to_string(o.seq_len));
  std::vector<double> out;
  out.reserve(static_cast<size_t>(o.seq_len));
  int64_t start = 0;  // st_i
  for (size_t i = 0; i < d.skips.size(); ++i) {
    for (int64_t k = 0; k < d.chunk_lengths[i]; ++k)
      out.push_back(static_cast<double>(start + d.skips[i] + k) / g_set_[0]);
    start += d.chunk_lengths[i];
  }
  return out;
}

void PositionPolicy::fill(int64_t step, int64_t first_sample, int64_t count, double* out,
                          std::vector<PositionDraw>* draws) const {
  if (draws) draws->clear();
  for (int64_t i = 0; i < count; ++i) {
    const PositionDraw d = draw(step, first_sample + i);
    const auto p = positions(d);
    std::copy(p.begin(), p.end(), out + i * options_.seq_len);
    if (draws) draws->push_back(d);
  }
}

}  // namespace e2llm::llama::train
