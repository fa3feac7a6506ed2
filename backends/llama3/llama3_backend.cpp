// "llama3": Llama 3.1's RoPE scaling (Meta 2024, arXiv 2407.21783; HF rope_type "llama3") with
// s = g: pairs whose wavelength is shorter than L / high_freq_factor keep their frequency,
// those longer than L / low_freq_factor are divided by s, and the band between blends the
// two (docs/methods.md §Baselines). Keys low_freq_factor (1) and high_freq_factor (4), the
// values of Llama 3.1 and 3.2, besides the scale keys every RoPE backend reads. No training.
#include "e2llm/llama/rope_scaling_backend.hpp"
#include "e2llm/plugin.hpp"

namespace {

using e2llm::ConfigError;
using e2llm::formats::RopeConfig;

class Llama3Backend : public e2llm::llama::RopeTypeBackend {
 public:
  Llama3Backend()
      : RopeTypeBackend("llama3",
                        "Llama 3.1 scaling: short wavelengths kept, long ones divided by s = g, blended between",
                        e2llm::formats::RopeType::Llama3) {}

 protected:
  void configure_extra(e2llm::ConfigReader& cfg) override {
    low_ = cfg.get<double>("low_freq_factor", 1.0);
    high_ = cfg.get<double>("high_freq_factor", 4.0);
    if (!(low_ > 0.0)) throw ConfigError("low_freq_factor", "must be > 0");
    if (!(high_ > low_)) throw ConfigError("high_freq_factor", "must be greater than low_freq_factor");
  }
  RopeConfig rope_for_window(int64_t window) const override {
    RopeConfig rope = RopeTypeBackend::rope_for_window(window);
    rope.low_freq_factor = low_;
    rope.high_freq_factor = high_;
    return rope;
  }

 private:
  double low_ = 1.0, high_ = 4.0;
};

}  // namespace

E2LLM_PLUGIN("backend", "llama3", "0.1.0", Llama3Backend)
