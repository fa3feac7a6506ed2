// The base of the training backends ("e2llm", "pi-ft", "pose", "pretrain"): reads the training
// keys, trains in prepare() through run_training (cached by content hash under
// ctx.cache_dir: a rerun loads the cached checkpoint), then serves the trained weights
// through RopeScalingBackend. Free of LibTorch types so plugins compile quickly.
//
// Keys (besides RopeScalingBackend's model/threads/factor_rule/factor/...):
//   corpus (path or list), text_field, val_fraction, seq_len (R; default L, or W for pi-ft),
//   retrieval_fraction (share of synthetic retrieval sequences, [0, 1)), retrieval_seed,
//   steps, batch (global), tokens_per_step (instead of batch: batch = tokens_per_step / R for
//   every trained sequence length, so PI-FT at W and E²-LLM at R see equal token budgets),
//   grad_accum, lr, min_lr_ratio, warmup, weight_decay, grad_clip,
//   seed, policy ("plain" | "pi" | "e2llm" | "pose"), gmax, g_sampling ("sample" | "iteration"),
//   g_values, sink, scale_augmentation, offset_augmentation, g_fixed,
//   target_window (PoSE's L_t; default the sweep's largest window), chunks (PoSE's N, 2),
//   init ("base" | "random"), model = {dim, layers, heads, kv_heads, ffn, window, vocab,
//   rope_base, tied_embeddings} (random init), checkpoint_every, keep_last, resume,
//   log_every, eval_every, eval_batches, dist_timeout_s, debug_kill_at_step, record_positions,
//   train_window (pi-ft: one model trained at this window, served at every window with the
//   g it trained at, as a long-context PI model is published; 0 = one model per window).
// A sweep's seed axis (PrepareContext::training_seed) replaces `seed` (and `retrieval_seed`
// unless set): one training, cached apart, per seed.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "e2llm/llama/rope_scaling_backend.hpp"
#include "e2llm/llama/train/trainer.hpp"

namespace e2llm::llama::train {

enum class TrainingMode {
  Once,       // train one model (E²-LLM, pretraining); open(W) rescales it
  PerWindow,  // train one model per window W > L with g = W/L on length-W sequences (PI-FT)
};

class TrainingBackend : public RopeScalingBackend {
 public:
  TrainingBackend(std::string name, std::string description, PolicyKind default_policy, TrainingMode mode,
                  bool default_random_init = false);
  ~TrainingBackend() override;

  void configure(const nlohmann::json& config) override;
  // Returns {"checkpoint_path", "checkpoint_hash", "trained_tokens", "train_wall_s",
  // "policy", "original_window", "trained": [per-model records], ...}.
  nlohmann::json prepare(const PrepareContext& context) override;
  std::unique_ptr<LanguageModel> open(int64_t window) override;

 protected:
  // Plain policy models are served with plain RoPE; PoSE with PI at its trained L_t / L at
  // every window (as its code evaluates); the others with PI-style g = W / L (E²-LLM
  // inference, docs/methods.md §E²-LLM: t = 0, g = W / L with the ceil rule by default).
  formats::RopeConfig rope_for_window(int64_t window) const override;
  // The served checkpoint is this backend's own output (it declares the scale it trained at);
  // prepare() checks the base instead.
  void check_file_rope(const std::string& /*path*/, const PrepareContext& /*context*/) override {}
  void configure_extra(ConfigReader& reader) override;

 private:
  // The base a training starts from: its path ("" for random weights), fingerprint and L.
  struct BaseModel {
    std::string path, hash;
    int64_t L = 0;
  };
  // What prepare() trained: each training's record, the policy and the model to serve.
  struct Trainings {
    nlohmann::json trained = nlohmann::json::array(), policy;
    int64_t tokens = 0;
    double wall = 0;
    std::string serve_path, serve_hash;
  };
  void configure_data(ConfigReader& reader);
  void configure_run(ConfigReader& reader);
  void configure_policy(ConfigReader& reader);
  BaseModel resolve_base(const PrepareContext& ctx);
  void check_budgets(const PrepareContext& ctx, int64_t original_window) const;
  Trainings train_all(const PrepareContext& ctx, const BaseModel& base);
  nlohmann::json serve_trained(const PrepareContext& ctx, int64_t original_window, const Trainings& trainings);
  TrainResult train_one(const PrepareContext& ctx, const std::string& base_path, const std::string& base_hash,
                        int64_t original_window, int64_t seq_len, double g, nlohmann::json* policy_out);

  std::string name_;
  PolicyKind default_policy_;
  TrainingMode mode_;
  int64_t train_window_ = 0;      // pi-ft: > 0 trains one model at this window
  bool seed_configured_ = false;  // `seed` written in the section (refused with a seed axis)
  bool retrieval_seed_configured_ = false;
  uint64_t seed_ = 0;                        // the seed of the current prepare(): the sweep's or `seed`
  int64_t batch_for(int64_t seq_len) const;  // throws ConfigError for a bad tokens_per_step
  int64_t tokens_per_step_ = 0;  // > 0: batch = tokens_per_step_ / seq_len per training
  TrainOptions opts_;  // the configured knobs (policy/seq_len/out completed per job)
  bool random_init_ = false;
  bool has_shape_ = false;
  nlohmann::json train_settings_ = nlohmann::json::object();
  std::string base_model_key_;  // the `model` key when it is a path
  std::map<int64_t, std::string> per_window_paths_;
  std::map<int64_t, std::shared_ptr<LlamaModel>> per_window_models_;
  std::shared_ptr<LlamaModel> served_base_;
  std::string served_hash_;
  double pose_scale_ = 0;  // PoSE: L_t / L, known after prepare()
};

}  // namespace e2llm::llama::train
