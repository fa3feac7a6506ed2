// The shared logic of the RoPE-scaling backends (none, pi, ntk, dynamic-ntk, yarn, and the
// trained ones built on them): configure, load the base model once, open(W) with the
// RoPE the subclass chooses for W. Free of LibTorch types so plugins compile quickly.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "e2llm/backend.hpp"
#include "e2llm/config_reader.hpp"
#include "e2llm/formats/model_config.hpp"
#include "e2llm/formats/rope_scaling.hpp"
#include "e2llm/formats/window_rule.hpp"
#include "e2llm/llama/self_extend.hpp"

namespace e2llm::llama {

class LlamaModel;

class RopeScalingBackend : public Backend {
 public:
  RopeScalingBackend(std::string name, std::string description, bool trains = false);
  ~RopeScalingBackend() override;

  BackendInfo info() const override;
  // Keys: model (path; else the run's base model), threads (0 = the run's cap E2LLM_THREADS, else all cores),
  // factor_rule ("ceil": g = ceil(W/L), default; "exact": g = W/L; "fixed": g = `factor` at
  // every window, W <= L included, and no window beyond factor x L), factor (a fixed s for
  // every W > L instead of g; required by "fixed"), beta_fast, beta_slow, attention_factor (YaRN),
  // block_size (blocked attention query/key block, default 256), check_blas (default true),
  // device ("auto" | "cpu" | "cuda" | "cuda:N"; the run's PrepareContext::device wins),
  // dtype ("float32" | "bfloat16"), attention ("fused" | "blocked"), batch_size (sequences
  // generate_batch decodes together; 0 = chosen from free memory), rope_override (default
  // false: a method refuses a checkpoint that declares its own RoPE scaling, naming both;
  // true: the method replaces the declared scaling, served on the file's unscaled RoPE),
  // weights ("float", default | "int8": per-channel int8 projections and head for inference,
  // CPU and float32 only; int8_linear.hpp).
  // Subclasses add keys in configure_extra().
  void configure(const nlohmann::json& config) override;
  // Loads the base model (once; later calls with the same path reuse it). Returns
  // {"checkpoint_hash", "trained_tokens": 0, "train_wall_s": 0, "original_window", "matmul_gflops"}.
  nlohmann::json prepare(const PrepareContext& context) override;
  // A TorchLanguageModel sharing the loaded weights, with rope_for_window(window).
  std::unique_ptr<LanguageModel> open(int64_t window) override;

  // The scale for a window by the configured rule (formats::scale_for_window).
  double scale_for_window(int64_t window) const;
  // The same rule for a given L (before prepare() knows it).
  double scale_for_window(int64_t window, int64_t original_window) const;
  // The model's own RoPE (Default type) with this backend's beta / attention_factor settings.
  formats::RopeConfig base_rope() const;
  // The RoPE the checkpoint declares (its own scaling: config.json's rope_scaling, the GGUF's
  // rope keys; Default for most files), with head_dim and L filled.
  formats::RopeConfig file_rope() const;
  bool file_declares_scaling() const { return file_rope().type != formats::RopeType::Default; }
  int64_t original_window() const { return original_window_; }
  // The device prepare() resolved ("cpu", "cuda:0", ...) and the configured dtype.
  const std::string& device() const { return resolved_device_; }
  const std::string& dtype() const { return dtype_; }
  const nlohmann::json& settings() const { return settings_; }

 protected:
  // The hook: which RoPE serves `window`.
  virtual formats::RopeConfig rope_for_window(int64_t window) const = 0;
  // Whether this backend serves the checkpoint's declared RoPE (the `none` backend) rather than
  // a method of its own, which replaces a declared scaling only under rope_override.
  virtual bool serves_file_rope() const { return false; }
  // Self-Extend's grouped attention at `window` (off unless a method turns it on).
  virtual SelfExtendOptions self_extend_for_window(int64_t /*window*/) const { return {}; }
  // Extra config keys of a subclass (read them from `reader`; finish() is called after).
  virtual void configure_extra(ConfigReader& /*reader*/) {}
  // For trained subclasses: replace the served weights (e.g. after fine-tuning).
  void set_model(std::shared_ptr<LlamaModel> model, const std::string& checkpoint_hash);
  // Loads `path` (GGUF or HF dir) into a model with this backend's options.
  std::shared_ptr<LlamaModel> load_base_model(const std::string& path) const;
  std::shared_ptr<LlamaModel> model() const { return model_; }
  // The device and attention kernel as configured (before prepare() resolves the device);
  // a run's PrepareContext::device wins over device_setting().
  std::string device_setting(const PrepareContext& context) const { return context.device.empty() ? device_ : context.device; }
  const std::string& attention_setting() const { return attention_; }
  std::shared_ptr<const Tokenizer> tokenizer() const { return tokenizer_; }
  // A subclass's config key holding a path (BackendInfo::path_keys), e.g. "corpus".
  void declare_path_key(std::string key) { info_.path_keys.push_back(std::move(key)); }
  // Serves g at every window from now on (the "fixed" rule), e.g. a model trained at one g.
  void serve_fixed_factor(double g);
  // Called by prepare() with the checkpoint it loaded; trained backends override it to a no-op
  // and call check_declared_rope() on their base instead (their own outputs declare the scale
  // they were trained at).
  virtual void check_file_rope(const std::string& path, const PrepareContext& context);
  // Records the RoPE scaling the user's checkpoint `path` declares and refuses a method that
  // would replace it (unless rope_override), or an original window that contradicts it when
  // the file's RoPE is served: one line naming both.
  void check_declared_rope(const std::string& path, const formats::RopeConfig& declared, const PrepareContext& context);

 private:
  BackendInfo info_;
  std::string model_path_;  // from configure; empty = the run's base model
  int threads_ = 0;
  formats::WindowRule window_rule_;  // factor_rule and factor (formats/window_rule.hpp)
  double beta_fast_ = 32.0, beta_slow_ = 1.0;
  std::optional<double> attention_factor_;
  int64_t block_size_ = 256;
  bool check_blas_ = true;
  std::string device_ = "auto", dtype_ = "float32", attention_ = "fused";
  int64_t batch_size_ = 0;
  bool rope_override_ = false;
  std::string weights_ = "float";
  std::string resolved_device_;  // set by prepare()
  nlohmann::json settings_ = nlohmann::json::object();

  std::shared_ptr<LlamaModel> model_;
  std::string loaded_path_, checkpoint_hash_;
  formats::RopeConfig declared_rope_;  // what the user's checkpoint declares (Default: nothing)
  int64_t original_window_ = 0;
  std::shared_ptr<const Tokenizer> tokenizer_;
  double matmul_gflops_ = 0.0;
};

// A training-free method that serves window W with one RoPE type at s = scale_for_window(W)
// (pi, ntk, dynamic-ntk, yarn; llama3 and longrope add their own fields): the plugins differ
// only in name and type. RopeScalingBackend is the base of every backend; this is the case of
// one RoPE type scaled by the window rule.
class RopeTypeBackend : public RopeScalingBackend {
 public:
  RopeTypeBackend(std::string name, std::string description, formats::RopeType type);

 protected:
  formats::RopeConfig rope_for_window(int64_t window) const override;

 private:
  formats::RopeType type_;
};

}  // namespace e2llm::llama
