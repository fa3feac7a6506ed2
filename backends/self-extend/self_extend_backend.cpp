// "self-extend": Self-Extend (Jin et al. 2024, arXiv 2401.01325; docs/methods.md
// §Self-Extend), training-free. Keys within the neighbour window w of a query keep their
// exact relative position; farther keys are seen at the grouped distance
// floor(p/G) − floor(k/G) + w − floor(w/G); both kinds of score enter one softmax. The model's
// own RoPE, unscaled. Keys:
//   neighbor_window  w in tokens (default L/4, as 1024 of a 4k model);
//   group            G (default 0: per window, the smallest G whose grouped positions stay
//                    below L over W tokens; W <= L gives G = 1, plain attention).
// No training.
#include <algorithm>
#include <string>

#include "e2llm/error.hpp"
#include "e2llm/llama/rope_scaling_backend.hpp"
#include "e2llm/plugin.hpp"

namespace {

using e2llm::ConfigError;
using e2llm::llama::SelfExtendOptions;

class SelfExtendBackend : public e2llm::llama::RopeScalingBackend {
 public:
  SelfExtendBackend()
      : RopeScalingBackend("self-extend",
                           "Self-Extend: exact attention within w, grouped positions (G) beyond, no training") {}

 protected:
  void configure_extra(e2llm::ConfigReader& cfg) override {
    window_ = cfg.get<int64_t>("neighbor_window", 0);
    group_ = cfg.get<int64_t>("group", 0);
    if (window_ < 0) throw ConfigError("neighbor_window", "must be >= 1 (or left out for L/4)");
    if (group_ < 0) throw ConfigError("group", "must be >= 1 (or left out to fit each window into L)");
  }
  e2llm::formats::RopeConfig rope_for_window(int64_t /*window*/) const override { return base_rope(); }
  SelfExtendOptions self_extend_for_window(int64_t window) const override {
    const int64_t L = original_window();
    const int64_t w = window_ > 0 ? window_ : std::max<int64_t>(1, L / 4);
    if (w >= L)
      throw ConfigError("neighbor_window", "w = " + std::to_string(w) + " must be below the original window L = " +
                                               std::to_string(L) + " (neighbours keep their exact positions)");
    return {group_ > 0 ? group_ : e2llm::llama::smallest_group_for(window, w, L), w};
  }

 private:
  int64_t window_ = 0, group_ = 0;
};

}  // namespace

E2LLM_PLUGIN("backend", "self-extend", "0.1.0", SelfExtendBackend)
