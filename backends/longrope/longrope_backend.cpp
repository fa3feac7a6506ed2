// "longrope": LongRoPE's per-pair rescaling (Ding et al. 2024, arXiv 2402.13753) as Phi-3
// ships it (HF rope_type "longrope"): inv_j / long_factor_j for sequences longer than L,
// inv_j / short_factor_j otherwise, cos and sin times sqrt(1 + ln s / ln L) at every length
// (docs/methods.md §Baselines). s = g as for every RoPE backend.
//
// A model trained without LongRoPE has no searched factors. Keys:
//   long_factor, short_factor  explicit lists of d/2 divisors (a Phi-3 model's own; fix
//                              `factor` with them, since their s does not follow W);
//   factors                    otherwise, how the long factors follow s (the rescale
//                              factors the LongRoPE paper seeds its search with):
//                              "yarn" (default: 1 for short wavelengths, s for long ones, a
//                              ramp between, with beta_fast / beta_slow), "ntk" (s^(2j/(d-2))),
//                              "linear" (s for every pair: PI); short factors are 1 (plain
//                              RoPE below L).
// No training.
#include <string>
#include <vector>

#include "e2llm/llama/rope_scaling_backend.hpp"
#include "e2llm/plugin.hpp"

namespace {

using e2llm::ConfigError;
using e2llm::formats::RopeConfig;
using e2llm::formats::RopeType;

class LongropeBackend : public e2llm::llama::RopeTypeBackend {
 public:
  LongropeBackend()
      : RopeTypeBackend("longrope",
                        "LongRoPE (Phi-3): per-pair divisors of the frequencies, long beyond L, short below",
                        RopeType::Longrope) {}

 protected:
  void configure_extra(e2llm::ConfigReader& cfg) override {
    shape_ = cfg.get<std::string>("factors", "yarn");
    if (shape_ != "yarn" && shape_ != "ntk" && shape_ != "linear")
      throw ConfigError(
          "factors", "must be \"yarn\", \"ntk\" or \"linear\" (how the long factors follow s), got \"" + shape_ + "\"");
    long_.clear();
    short_.clear();
    if (cfg.has("long_factor")) long_ = cfg.require<std::vector<double>>("long_factor");
    if (cfg.has("short_factor")) short_ = cfg.require<std::vector<double>>("short_factor");
    if (cfg.has("factors") && (!long_.empty() || !short_.empty()))
      throw ConfigError("factors", "give either factors (a shape) or long_factor / short_factor lists, not both");
    if (!short_.empty() && long_.empty())
      throw ConfigError("long_factor", "is required with short_factor (the lists serve different lengths)");
  }

  RopeConfig rope_for_window(int64_t window) const override {
    RopeConfig rope = RopeTypeBackend::rope_for_window(window);  // type longrope, factor s
    const auto pairs = static_cast<size_t>(rope.head_dim / 2);
    if (!long_.empty()) {
      if (long_.size() != pairs || (!short_.empty() && short_.size() != pairs))
        throw ConfigError(long_.size() != pairs ? "long_factor" : "short_factor",
                          "must have head_dim / 2 = " + std::to_string(pairs) + " entries for this model");
      rope.long_factor = long_;
      rope.short_factor = short_.empty() ? std::vector<double>(pairs, 1.0) : short_;
      return rope;
    }
    rope.short_factor.assign(pairs, 1.0);
    if (shape_ == "linear") {
      rope.long_factor.assign(pairs, rope.factor);
    } else {
      RopeConfig shape = rope;  // the same s, base, d, L and betas under the seeding method
      shape.type = shape_ == "yarn" ? RopeType::Yarn : RopeType::Ntk;
      rope.long_factor = e2llm::formats::frequency_divisors(shape);
    }
    return rope;
  }

 private:
  std::string shape_ = "yarn";
  std::vector<double> long_, short_;
};

}  // namespace

E2LLM_PLUGIN("backend", "longrope", "0.1.0", LongropeBackend)
