// e2llm rope: the inv_freq and attention factor a RoPE configuration produces (JSON).
#include <fmt/core.h>

#include <optional>
#include <vector>

#include "e2llm/error.hpp"
#include "e2llm/harness/app.hpp"
#include "e2llm/formats/rope_scaling.hpp"
#include "model_args.hpp"

namespace e2llm::harness {
namespace {

void install(CLI::App& app, AppContext&) {
  struct Args {
    std::string type = "default";
    double factor = 1.0, base = 10000.0;
    std::int64_t head_dim = 128, original = 4096, seq_len = 0;
    std::optional<double> beta_fast, beta_slow, attention_factor, low_freq_factor, high_freq_factor;
    std::vector<double> long_factor, short_factor;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("rope", "Print the RoPE frequencies of a scaling method as JSON");
  cmd->add_option("--type", a->type, formats::rope_type_names())->capture_default_str()->check(rope_type_validator());
  cmd->add_option("--factor", a->factor, "Scale factor s")->capture_default_str();
  cmd->add_option("--head-dim", a->head_dim, "Head dimension d")->capture_default_str();
  cmd->add_option("--base", a->base, "RoPE base b")->capture_default_str();
  cmd->add_option("--original-max-position", a->original, "The model's original window L")->capture_default_str();
  cmd->add_option("--seq-len", a->seq_len, "Current length n (dynamic NTK; longrope: long factors when n > L)");
  cmd->add_option("--beta-fast", a->beta_fast, "YaRN beta_fast (default 32)");
  cmd->add_option("--beta-slow", a->beta_slow, "YaRN beta_slow (default 1)");
  cmd->add_option("--attention-factor", a->attention_factor,
                  "YaRN / longrope attention factor (default 0.1 ln s + 1 / sqrt(1 + ln s / ln L))");
  cmd->add_option("--low-freq-factor", a->low_freq_factor, "llama3 low_freq_factor (default 1)");
  cmd->add_option("--high-freq-factor", a->high_freq_factor, "llama3 high_freq_factor (default 4)");
  cmd->add_option("--long-factor", a->long_factor, "longrope long factors, d/2 comma-separated numbers")
      ->delimiter(',');
  cmd->add_option("--short-factor", a->short_factor, "longrope short factors, d/2 comma-separated numbers")
      ->delimiter(',');
  cmd->callback([a] {
    formats::RopeConfig c;
    c.type = formats::parse_rope_type(a->type);
    c.factor = a->factor;
    c.head_dim = a->head_dim;
    c.base = a->base;
    c.original_max_position = a->original;
    if (a->beta_fast) c.beta_fast = *a->beta_fast;
    if (a->beta_slow) c.beta_slow = *a->beta_slow;
    c.attention_factor = a->attention_factor;
    if (a->low_freq_factor) c.low_freq_factor = *a->low_freq_factor;
    if (a->high_freq_factor) c.high_freq_factor = *a->high_freq_factor;
    c.long_factor = a->long_factor;
    c.short_factor = a->short_factor;
    nlohmann::json out;
    try {
      out = formats::rope_cli(c, a->seq_len);
    } catch (const Error& e) {  // every input is an option: a bad value is a usage error
      throw CLI::ValidationError("rope", e.what());
    }
    fmt::print("{}\n", out.dump());
  });
}

const RegisterCommand registered(install);

}  // namespace
}  // namespace e2llm::harness
