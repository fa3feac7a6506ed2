#include "e2llm/llama/train/training_backend.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "e2llm/error.hpp"
#include "e2llm/formats/checkpoint.hpp"
#include "e2llm/llama/device.hpp"
#include "e2llm/llama/model.hpp"
#include "e2llm/util/device_name.hpp"
#include "e2llm/util/sha256.hpp"

namespace e2llm::llama::train {

namespace fs = std::filesystem;

TrainingBackend::TrainingBackend(std::string name, std::string description, PolicyKind default_policy, TrainingMode mode,
                                 bool default_random_init)
    : RopeScalingBackend(name, std::move(description), /*trains=*/true),
      name_(name),
      default_policy_(default_policy),
      mode_(mode),
      random_init_(default_random_init) {
  declare_path_key("corpus");
}

TrainingBackend::~TrainingBackend() = default;

void TrainingBackend::configure(const nlohmann::json& config) {
  nlohmann::json rest = config.is_null() ? nlohmann::json::object() : config;
  // `model` is either the base checkpoint path (RopeScalingBackend's key) or, for
  // pretraining, the architecture table; the base class only understands the former.
  has_shape_ = false;
  opts_ = TrainOptions{};
  if (rest.contains("model") && rest["model"].is_object()) {
    ConfigReader m(rest["model"], "model");
    auto& s = opts_.shape;
    s.dim = m.get<int64_t>("dim", s.dim);
    s.layers = m.get<int64_t>("layers", s.layers);
    s.heads = m.get<int64_t>("heads", s.heads);
    s.kv_heads = m.get<int64_t>("kv_heads", 0);
    s.ffn = m.get<int64_t>("ffn", 0);
    s.vocab = m.get<int64_t>("vocab", 0);
    s.window = m.require<int64_t>("window");
    s.rope_base = m.get<double>("rope_base", s.rope_base);
    s.tied_embeddings = m.get<bool>("tied_embeddings", false);
    m.finish();
    has_shape_ = true;
    rest.erase("model");
  }
  base_model_key_ = rest.contains("model") && rest["model"].is_string() ? rest["model"].get<std::string>() : "";
  opts_.threads = rest.value("threads", 0);
  RopeScalingBackend::configure(rest);  // calls configure_extra, then rejects unknown keys
}

// The corpus and how it is cut into sequences.
void TrainingBackend::configure_data(ConfigReader& cfg) {
  auto& o = opts_;
  if (cfg.has("corpus")) {
    const auto& c = cfg.raw().at("corpus");
    if (c.is_string()) {
      o.data.corpus = {c.get<std::string>()};
    } else if (c.is_array()) {
      for (const auto& x : c) {
        if (!x.is_string()) throw ConfigError("corpus", "must be a path or a list of paths");
        o.data.corpus.emplace_back(x.get<std::string>());
      }
    } else {
      throw ConfigError("corpus", "must be a path or a list of paths");
    }
  }
  o.data.text_field = cfg.get<std::string>("text_field", o.data.text_field);
  o.data.val_fraction = cfg.get<double>("val_fraction", o.data.val_fraction);
  o.data.seq_len = cfg.get<int64_t>("seq_len", o.data.seq_len);
  o.data.retrieval_fraction = cfg.get<double>("retrieval_fraction", o.data.retrieval_fraction);
  if (!(o.data.retrieval_fraction >= 0.0 && o.data.retrieval_fraction < 1.0))
    throw ConfigError("retrieval_fraction", "must be in [0, 1) (the share of training sequences that are synthetic "
                                            "retrieval documents), got " + std::to_string(o.data.retrieval_fraction));
}

// Steps, batch, optimizer, seeds, the pi-ft window, checkpoints, logging and precision.
void TrainingBackend::configure_run(ConfigReader& cfg) {
  auto& o = opts_;
  o.steps = cfg.get<int64_t>("steps", o.steps);
  o.batch = cfg.get<int64_t>("batch", o.batch);
  tokens_per_step_ = cfg.get<int64_t>("tokens_per_step", 0);
  if (tokens_per_step_ < 0) throw ConfigError("tokens_per_step", "must be > 0 (or left out to use batch)");
  if (tokens_per_step_ > 0 && cfg.has("batch"))
    throw ConfigError("tokens_per_step", "set either batch (sequences per step) or tokens_per_step, not both");
  o.grad_accum = cfg.get<int64_t>("grad_accum", o.grad_accum);
  o.lr = cfg.get<double>("lr", o.lr);
  o.min_lr_ratio = cfg.get<double>("min_lr_ratio", o.min_lr_ratio);
  o.warmup = cfg.get<int64_t>("warmup", o.warmup);
  o.weight_decay = cfg.get<double>("weight_decay", o.weight_decay);
  o.grad_clip = cfg.get<double>("grad_clip", o.grad_clip);
  seed_configured_ = cfg.has("seed");
  retrieval_seed_configured_ = cfg.has("retrieval_seed");
  o.seed = cfg.get<uint64_t>("seed", o.seed);
  o.data.retrieval_seed = cfg.get<uint64_t>("retrieval_seed", o.seed);
  train_window_ = cfg.get<int64_t>("train_window", 0);
  if (train_window_ < 0)
    throw ConfigError("train_window", "must be > 0 (a window to train at) or 0 (one model per window)");
  if (train_window_ > 0 && mode_ != TrainingMode::PerWindow)
    throw ConfigError("train_window",
                      "is a pi-ft key (one PI model trained at that window); " + name_ + " trains at seq_len");
  if (mode_ == TrainingMode::PerWindow && train_window_ == 0 && cfg.get<std::string>("factor_rule", "ceil") == "fixed")
    throw ConfigError("factor_rule",
                      "\"fixed\" would train every window's model at the same g; use it with "
                      "train_window (one model) or use \"ceil\" / \"exact\"");
  // A training's folder is named by the hash of everything that shapes it, so its checkpoints
  // can only belong to this very run: a training killed mid-way (e.g. inside a sweep) resumes
  // from its newest checkpoint by default, written every ~10% of the steps unless set.
  o.checkpoint_every = cfg.get<int64_t>("checkpoint_every", std::max<int64_t>(1, (o.steps + 9) / 10));
  if (o.checkpoint_every < 0) throw ConfigError("checkpoint_every", "must be >= 0 (0: only the final model)");
  o.keep_last = cfg.get<int64_t>("keep_last", o.keep_last);
  o.resume = cfg.get<bool>("resume", true);
  o.log_every = cfg.get<int64_t>("log_every", o.log_every);
  o.eval_every = cfg.get<int64_t>("eval_every", o.eval_every);
  o.eval_batches = cfg.get<int64_t>("eval_batches", o.eval_batches);
  o.dist_timeout_s = cfg.get<double>("dist_timeout_s", o.dist_timeout_s);
  o.debug_kill_at_step = cfg.get<int64_t>("debug_kill_at_step", o.debug_kill_at_step);
  o.debug_kill_rank = cfg.get<int>("debug_kill_rank", o.debug_kill_rank);
  o.record_positions = cfg.get<bool>("record_positions", o.record_positions);
  o.block_size = cfg.get<int64_t>("block_size", o.block_size);
  o.precision = cfg.get<std::string>("precision", o.precision);
  check_precision_name(o.precision, "precision");
  if (o.steps < 1) throw ConfigError("steps", "must be >= 1");
  if (o.batch < 1) throw ConfigError("batch", "must be >= 1");
  if (!(o.lr > 0)) throw ConfigError("lr", "must be > 0");
}

// The position policy and its keys (after configure_run: it takes the seed).
void TrainingBackend::configure_policy(ConfigReader& cfg) {
  const auto& o = opts_;
  auto& p = opts_.policy;
  p.kind = default_policy_;
  if (cfg.has("policy")) {
    try {
      p.kind = parse_policy(cfg.require<std::string>("policy"));
    } catch (const ConfigError&) {
      throw;
    } catch (const Error& e) {
      throw ConfigError("policy", e.what());
    }
  }
  if (mode_ == TrainingMode::PerWindow && p.kind != PolicyKind::Pi)
    throw ConfigError("policy", "pi-ft trains with the PI policy only (g = W/L per window)");
  if (p.kind == PolicyKind::Pose) {  // other policies leave these keys unknown (an error)
    p.target_window = cfg.get<int64_t>("target_window", 0);
    p.chunks = cfg.get<int64_t>("chunks", 2);
    if (p.target_window < 0) throw ConfigError("target_window", "must be > L (or left out for the largest window)");
    if (p.chunks < 1) throw ConfigError("chunks", "must be >= 1");
  }
  p.gmax = cfg.get<int64_t>("gmax", p.gmax);
  const auto sampling = cfg.get<std::string>("g_sampling", "sample");
  if (sampling != "sample" && sampling != "iteration")
    throw ConfigError("g_sampling", "must be \"sample\" (a g per sequence) or \"iteration\" (a g per step)");
  p.per_iteration = sampling == "iteration";
  if (cfg.has("g_values")) p.g_values = cfg.require<std::vector<double>>("g_values");
  p.sink = cfg.get<int64_t>("sink", p.sink);
  p.scale_augmentation = cfg.get<bool>("scale_augmentation", p.scale_augmentation);
  p.offset_augmentation = cfg.get<bool>("offset_augmentation", p.offset_augmentation);
  p.g_fixed = cfg.get<double>("g_fixed", p.g_fixed);
  p.seed = o.seed;
}

void TrainingBackend::configure_extra(ConfigReader& cfg) {
  configure_data(cfg);
  configure_run(cfg);
  configure_policy(cfg);
  const auto& o = opts_;
  const auto init = cfg.get<std::string>("init", random_init_ ? "random" : "base");
  if (init != "base" && init != "random") throw ConfigError("init", "must be \"base\" (fine-tune) or \"random\" (pretrain)");
  random_init_ = init == "random";
  if (random_init_ && !has_shape_) throw ConfigError("model", "init = \"random\" needs a model table {dim, layers, heads, window, ...}");

  // What identifies the training (the cache key): every knob except logging/resume/threads.
  train_settings_ = {{"backend", name_},      {"text_field", o.data.text_field}, {"val_fraction", o.data.val_fraction},
                     {"seq_len", o.data.seq_len}, {"steps", o.steps},   {"batch", o.batch},
                     {"grad_accum", o.grad_accum}, {"lr", o.lr},        {"min_lr_ratio", o.min_lr_ratio},
                     {"warmup", o.warmup},    {"weight_decay", o.weight_decay}, {"grad_clip", o.grad_clip},
                     {"seed", o.seed},        {"init", init},           {"block_size", o.block_size}};
  if (random_init_) train_settings_["model"] = o.shape.to_json();
}

int64_t TrainingBackend::batch_for(int64_t seq_len) const {
  if (tokens_per_step_ <= 0) return opts_.batch;
  if (tokens_per_step_ % seq_len != 0)
    throw ConfigError("tokens_per_step", "(" + std::to_string(tokens_per_step_) + ") must be a multiple of the sequence length " +
                                             std::to_string(seq_len) + " of every training (R, or each window W for pi-ft)");
  return tokens_per_step_ / seq_len;
}

TrainResult TrainingBackend::train_one(const PrepareContext& ctx, const std::string& base_path, const std::string& base_hash,
                                       int64_t L, int64_t seq_len, double g, nlohmann::json* policy_out) {
  TrainOptions o = opts_;
  o.seed = o.policy.seed = seed_;
  if (!retrieval_seed_configured_) o.data.retrieval_seed = seed_;
  o.base_checkpoint = random_init_ ? "" : base_path;
  o.data.seq_len = seq_len;
  o.data.cache_dir = ctx.cache_dir;
  o.batch = batch_for(seq_len);
  o.device = device_setting(ctx);
  o.attention = attention_setting();
  o.policy.original_window = L;
  o.policy.seq_len = seq_len;
  if (o.policy.kind == PolicyKind::Pi) o.policy.g_fixed = g;
  if (o.policy.kind == PolicyKind::Pose && o.policy.target_window == 0) {
    // PoSE trains for one target window: by default the largest the sweep evaluates.
    for (int64_t W : ctx.windows) o.policy.target_window = std::max(o.policy.target_window, W);
    if (o.policy.target_window <= L)
      throw ConfigError("target_window", "PoSE needs a target window L_t > L = " + std::to_string(L) +
                                             ": set target_window or list a window > L in [sweep] windows");
  }
  if (o.data.corpus.empty()) throw ConfigError("corpus", "is required: a text/JSONL file or folder to train on");
  PositionPolicy check(o.policy);  // validate before hashing gigabytes
  *policy_out = o.policy.to_json();

  util::Sha256 h;
  h.update("e2llm-train-v1\n");
  h.update(base_hash + "\n");
  nlohmann::json key = train_settings_;
  key["seed"] = seed_;  // the synthetic rows' seed is in dataset_hash below
  key["seq_len"] = seq_len;
  key["batch"] = o.batch;
  key["policy"] = *policy_out;
  // Where and how the numbers were computed changes the weights: device kind (not the
  // index: rank r of a multi-GPU run uses cuda:r), precision and attention kernel.
  const std::string device = resolve_device_name(o.device);
  key["device"] = util::is_cuda_device(device) ? "cuda" : "cpu";
  key["precision"] = effective_precision(o.precision, device);
  key["attention"] = o.attention;
  h.update(key.dump() + "\n");
  h.update(dataset_hash(o.data, *ctx.tokenizer));
  const std::string hash = h.hex_digest();
  o.out_dir = ctx.cache_dir / (name_ + "-" + hash.substr(0, 16));
  o.method = {{"method", name_}, {"policy", *policy_out}, {"base", base_hash}, {"run_hash", hash},
              {"original_window", L}, {"seq_len", seq_len}};
  return run_training(o, *ctx.tokenizer, ctx.progress);
}

// The base checkpoint (or random weights) and its window L, as [base] and the section give them.
TrainingBackend::BaseModel TrainingBackend::resolve_base(const PrepareContext& ctx) {
  BaseModel base;
  base.path = base_model_key_;
  if (base.path.empty() && ctx.base_model.is_object() && ctx.base_model.contains("path"))
    base.path = ctx.base_model["path"].get<std::string>();
  if (random_init_) {
    base.L = opts_.shape.window;
    base.hash = "random:" + opts_.shape.to_json().dump();
  } else {
    if (base.path.empty())
      throw ConfigError("model", "no base checkpoint: set [base] path, or pretrain with init = \"random\" and a model table");
    const formats::Checkpoint loaded = formats::load_checkpoint(base.path);
    base.L = loaded.config.rope.original_max_position > 0 ? loaded.config.rope.original_max_position
                                                          : loaded.config.max_position;
    base.hash = loaded.fingerprint;
    // Training rotates with the base's plain RoPE: a base that declares its own scaling is
    // refused unless rope_override says to replace it.
    check_declared_rope(base.path, loaded.config.rope, ctx);
  }
  if (ctx.base_model.is_object() && ctx.base_model.contains("original_window"))
    base.L = ctx.base_model["original_window"].get<int64_t>();
  if (base.L < 1) throw Error(name_ + ": unknown original window L; set [base] window");
  return base;
}

// Every training's batch is known before the first one starts: a bad budget fails now.
void TrainingBackend::check_budgets(const PrepareContext& ctx, int64_t L) const {
  if (train_window_ > 0 && train_window_ <= L)
    throw ConfigError("train_window", "(" + std::to_string(train_window_) + ") must be larger than L = " +
                                          std::to_string(L) + ": PI trains beyond the base's window");
  if (mode_ == TrainingMode::Once) {
    batch_for(opts_.data.seq_len > 0 ? opts_.data.seq_len : L);
  } else if (train_window_ > 0) {
    batch_for(train_window_);
    // Served with the g it trains at, the model reaches g x L tokens: refuse longer windows now.
    const double g = scale_for_window(train_window_, L);
    for (int64_t W : ctx.windows)
      if (double(W) > g * double(L)) {
        std::ostringstream msg;  // no fmt in LibTorch code (docs/pitfalls.md, "LibTorch from the pinned wheel")
        msg << "trains at " << train_window_ << " and serves g = " << g << " at every window, so windows up to "
            << g * double(L) << " tokens; the sweep has W = " << W << ": raise train_window or drop that window";
        throw ConfigError("train_window", msg.str());
      }
  } else {
    for (int64_t W : ctx.windows)
      if (W > L) batch_for(W);
  }
}

// Runs (or finds cached) every training the mode asks for.
TrainingBackend::Trainings TrainingBackend::train_all(const PrepareContext& ctx, const BaseModel& base) {
  const int64_t L = base.L;
  Trainings t;
  t.serve_path = base.path;
  per_window_paths_.clear();
  // One PI training at window W and scale g, recorded in t.
  auto train_pi = [&](int64_t W, double g) {
    nlohmann::json p;
    const auto r = train_one(ctx, base.path, base.hash, L, W, g, &p);
    auto rec = r.to_json();
    rec["window"] = W, rec["g"] = g, rec["cached"] = r.cached, rec["policy"] = p;
    t.trained.push_back(rec);
    t.tokens += r.tokens, t.wall += r.wall_s;
    return r;
  };
  if (mode_ == TrainingMode::Once) {
    const int64_t R = opts_.data.seq_len > 0 ? opts_.data.seq_len : L;
    const auto r = train_one(ctx, base.path, base.hash, L, R, opts_.policy.g_fixed, &t.policy);
    if (opts_.policy.kind == PolicyKind::Pose) pose_scale_ = t.policy.at("scale").get<double>();
    t.trained.push_back(r.to_json());
    t.trained.back()["cached"] = r.cached;
    t.tokens += r.tokens, t.wall += r.wall_s;
    t.serve_path = r.checkpoint_dir.string();
    t.serve_hash = r.checkpoint_hash;
  } else if (train_window_ > 0) {
    // One PI model trained at train_window (Chen et al. 2023; the paper's PI baseline), served
    // at every window with the g it trained at, as its published config declares.
    const double g = scale_for_window(train_window_, L);
    const auto r = train_pi(train_window_, g);
    t.serve_path = r.checkpoint_dir.string();
    t.serve_hash = r.checkpoint_hash;
    t.policy = {{"policy", "pi"}, {"train_window", train_window_}, {"served_g", g}};
    serve_fixed_factor(g);
  } else {
    for (int64_t W : ctx.windows) {
      if (W <= L || per_window_paths_.count(W)) continue;
      // PI fine-tuning (Chen et al. 2023): sequences of length W at g = W/L fixed.
      per_window_paths_[W] = train_pi(W, scale_for_window(W, L)).checkpoint_dir.string();
    }
    t.policy = {{"policy", "pi"}, {"per_window", true}};
  }
  return t;
}

// Loads what open() serves and records the trainings in the backend's record.
nlohmann::json TrainingBackend::serve_trained(const PrepareContext& ctx, int64_t L, const Trainings& t) {
  std::string serve_path = t.serve_path;
  // pi-ft from random weights has no base: the first per-window model stands in for loading
  // (open() refuses windows <= L for it).
  if (serve_path.empty() && !per_window_paths_.empty()) serve_path = per_window_paths_.begin()->second;
  PrepareContext inner = ctx;
  inner.base_model = {{"path", serve_path}, {"original_window", L}};
  nlohmann::json record = RopeScalingBackend::prepare(inner);
  served_base_ = model();
  served_hash_ = record.value("checkpoint_hash", std::string());
  per_window_models_.clear();
  for (const auto& [W, path] : per_window_paths_) per_window_models_[W] = load_base_model(path);
  record["trained_tokens"] = t.tokens;
  record["train_wall_s"] = t.wall;
  record["policy"] = t.policy;
  record["trained"] = t.trained;
  if (mode_ == TrainingMode::Once || train_window_ > 0) {
    record["checkpoint_path"] = serve_path;
    record["checkpoint_hash"] = t.serve_hash;
  } else {
    // One hash for the set of per-window models (each is listed in "trained").
    std::string all;
    for (const auto& r : t.trained) all += r.at("checkpoint_hash").get<std::string>() + "\n";
    record["checkpoint_hash"] = util::sha256_hex(all);
  }
  return record;
}

nlohmann::json TrainingBackend::prepare(const PrepareContext& ctx) {
  if (!ctx.tokenizer) throw Error(name_ + ": training needs the run's tokenizer ([tokenizer] model)");
  if (ctx.cache_dir.empty()) throw Error(name_ + ": no cache folder for the trained checkpoint");
  const BaseModel base = resolve_base(ctx);
  if (ctx.training_seed && seed_configured_)
    throw ConfigError("seed",
                      "is set per training by the sweep's seed axis ([sweep] seeds); remove it from this "
                      "section, or remove [sweep] seeds to train with it");
  seed_ = ctx.training_seed.value_or(opts_.seed);
  check_budgets(ctx, base.L);
  return serve_trained(ctx, base.L, train_all(ctx, base));
}

formats::RopeConfig TrainingBackend::rope_for_window(int64_t window) const {
  formats::RopeConfig rope = base_rope();
  const double g = opts_.policy.kind == PolicyKind::Plain  ? 1.0
                   : opts_.policy.kind == PolicyKind::Pose ? pose_scale_
                                                           : scale_for_window(window);
  if (g > 1.0) {
    rope.type = formats::RopeType::Linear;  // angle = (m / g) · θ_j, t = 0 (docs/methods.md §E²-LLM)
    rope.factor = g;
  }
  return rope;
}

std::unique_ptr<LanguageModel> TrainingBackend::open(int64_t window) {
  if (mode_ == TrainingMode::PerWindow && train_window_ == 0) {
    if (window > original_window()) {
      auto it = per_window_models_.find(window);
      if (it == per_window_models_.end())
        throw Error(name_ + ": no model was fine-tuned for window " + std::to_string(window) +
                    "; list it in [sweep] windows so that prepare() trains it");
      set_model(it->second, it->second->fingerprint);
    } else if (random_init_) {
      throw Error(name_ + ": trained from random weights (init = \"random\"), it has no model for window " +
                  std::to_string(window) + " <= L = " + std::to_string(original_window()) +
                  "; fine-tune a base (init = \"base\") to serve short windows");
    } else if (served_base_) {
      set_model(served_base_, served_hash_);
    }
  }
  return RopeScalingBackend::open(window);
}

}  // namespace e2llm::llama::train
