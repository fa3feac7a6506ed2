#include "e2llm/llama/rope_scaling_backend.hpp"

#include <cmath>
#include <sstream>

#include "e2llm/error.hpp"
#include "e2llm/formats/checkpoint.hpp"
#include "e2llm/llama/device_torch.hpp"
#include "e2llm/llama/model.hpp"
#include "e2llm/llama/torch_language_model.hpp"

namespace e2llm::llama {

RopeScalingBackend::RopeScalingBackend(std::string name, std::string description, bool trains) {
  info_.name = std::move(name);
  info_.version = "0.1.0";
  info_.description = std::move(description);
  info_.trains = trains;
  info_.path_keys = {"model"};  // resolved against the config file's folder before configure()
}

RopeScalingBackend::~RopeScalingBackend() = default;

BackendInfo RopeScalingBackend::info() const { return info_; }

void RopeScalingBackend::configure(const nlohmann::json& config) {
  ConfigReader cfg(config);
  model_path_ = cfg.get<std::string>("model", "");
  threads_ = cfg.get<int>("threads", 0);
  std::optional<double> factor;
  if (cfg.has("factor")) factor = cfg.require<double>("factor");
  const auto rule = cfg.get<std::string>("factor_rule", "ceil");
  window_rule_ = formats::window_rule(rule, factor);
  beta_fast_ = cfg.get<double>("beta_fast", 32.0);
  beta_slow_ = cfg.get<double>("beta_slow", 1.0);
  if (cfg.has("attention_factor")) attention_factor_ = cfg.require<double>("attention_factor");
  block_size_ = cfg.get<int64_t>("block_size", 256);
  if (block_size_ < 1) throw ConfigError("block_size", "must be >= 1");
  device_ = cfg.get<std::string>("device", "auto");
  check_device_name(device_, "device");
  dtype_ = cfg.get<std::string>("dtype", "float32");
  check_dtype_name(dtype_, "dtype");
  attention_ = cfg.get<std::string>("attention", "fused");
  parse_attention_kernel(attention_, "attention");
  check_blas_ = cfg.get<bool>("check_blas", true);
  batch_size_ = cfg.get<int64_t>("batch_size", 0);
  if (batch_size_ < 0) throw ConfigError("batch_size", "must be >= 0 (0 = chosen from free memory)");
  rope_override_ = cfg.get<bool>("rope_override", false);
  weights_ = cfg.get<std::string>("weights", "float");
  parse_weight_storage(weights_, "weights");
  configure_extra(cfg);
  cfg.finish();
  settings_ = config.is_null() ? nlohmann::json::object() : config;
  settings_["factor_rule"] = rule;
}

std::shared_ptr<LlamaModel> RopeScalingBackend::load_base_model(const std::string& path) const {
  ModelOptions options;
  options.device = torch::Device(resolved_device_.empty() ? resolve_device_name(device_) : resolved_device_);
  options.dtype = to_torch_dtype(dtype_);
  options.attention.kernel = parse_attention_kernel(attention_, "attention");
  options.attention.query_block = options.attention.key_block = block_size_;
  options.weights = parse_weight_storage(weights_, "weights");
  return load_model(formats::load_checkpoint(path), options);
}

void RopeScalingBackend::set_model(std::shared_ptr<LlamaModel> model, const std::string& checkpoint_hash) {
  model_ = std::move(model);
  checkpoint_hash_ = checkpoint_hash;
}

nlohmann::json RopeScalingBackend::prepare(const PrepareContext& context) {
  set_threads(threads_);
  if (!context.device.empty()) {  // the run's device (a sweep's [run] device or --device) wins
    check_device_name(context.device, "device");
    device_ = context.device;
  }
  if (!context.dtype.empty()) {
    check_dtype_name(context.dtype, "dtype");
    dtype_ = context.dtype;
  }
  resolved_device_ = resolve_device_name(device_);
  if (weights_ == "int8" && (resolved_device_ != "cpu" || dtype_ != "float32"))
    throw ConfigError("weights", "int8 weights run on the CPU with dtype float32, and this run uses " +
                                     resolved_device_ + " with " + dtype_ + "; set weights = \"float\" there");
  if (check_blas_ && matmul_gflops_ == 0.0) {
    require_fast_blas();
    matmul_gflops_ = measure_matmul_gflops();
  }
  std::string path = model_path_;
  if (path.empty()) {
    if (!context.base_model.is_object() || !context.base_model.contains("path"))
      throw ConfigError("model", "no model path: set it in the backend section or give the run a base model");
    path = context.base_model.at("path").get<std::string>();
  }
  if (!model_ || path != loaded_path_) {
    set_model(load_base_model(path), "");
    checkpoint_hash_ = model_->fingerprint;
    loaded_path_ = path;
  }
  const auto& mc = model_->config();
  original_window_ = mc.rope.original_max_position > 0 ? mc.rope.original_max_position : mc.max_position;
  if (context.base_model.is_object() && context.base_model.contains("original_window"))
    original_window_ = context.base_model.at("original_window").get<int64_t>();
  if (original_window_ < 1) throw Error(path + ": unknown original window; set base_model.original_window");
  check_file_rope(path, context);
  tokenizer_ = context.tokenizer;
  if (window_rule_.kind == formats::WindowRule::Kind::fixed)  // a fixed g serves windows up to g x L: beyond, positions
                                                              // leave the trained range
    for (int64_t w : context.windows)
      if (double(w) > *window_rule_.factor * double(original_window_)) {
        // no fmt in LibTorch code (docs/pitfalls.md, "LibTorch from the pinned wheel")
        std::ostringstream msg;
        msg << "serves g = " << *window_rule_.factor << " at every window, so windows up to "
            << *window_rule_.factor * double(original_window_) << " tokens (g x L); the sweep has W = " << w
            << ": raise factor or drop that window";
        throw ConfigError("factor", msg.str());
      }
  return {{"checkpoint_hash", checkpoint_hash_},
          {"trained_tokens", 0},
          {"train_wall_s", 0},
          {"original_window", original_window_},
          {"matmul_gflops", matmul_gflops_},
          {"device", describe_device(resolved_device_)},
          {"dtype", dtype_}};
}

double RopeScalingBackend::scale_for_window(int64_t window) const {
  if (original_window_ < 1) throw Error(info_.name + ": call prepare() before open()");
  return scale_for_window(window, original_window_);
}

double RopeScalingBackend::scale_for_window(int64_t window, int64_t original_window) const {
  return formats::scale_for_window(window_rule_, window, original_window);
}

void RopeScalingBackend::serve_fixed_factor(double g) {
  window_rule_ = formats::window_rule("fixed", g);
  settings_["served_factor"] = g;
}

void RopeScalingBackend::check_file_rope(const std::string& path, const PrepareContext& context) {
  check_declared_rope(path, model_->config().rope, context);
}

void RopeScalingBackend::check_declared_rope(const std::string& path, const formats::RopeConfig& declared,
                                             const PrepareContext& context) {
  declared_rope_ = declared;
  if (declared.type == formats::RopeType::Default) return;
  std::ostringstream what;
  what << path << " declares RoPE scaling " << formats::rope_type_name(declared.type) << " (s = " << declared.factor
       << ", L = " << declared.original_max_position << ")";
  if (serves_file_rope()) {
    if (context.base_model.is_object() && context.base_model.contains("original_window") &&
        context.base_model.at("original_window").get<int64_t>() != declared.original_max_position) {
      std::ostringstream msg;
      msg << what.str() << " and the run sets its original window to " << context.base_model.at("original_window")
          << ": they conflict; drop the original window (--original-window, [base] original_window) to serve the "
             "file's scaling, or replace the scaling with rope_override = true (--rope-override)";
      throw ConfigError("original_window", msg.str());
    }
    return;
  }
  if (rope_override_) return;
  throw ConfigError("rope_override",
                    what.str() + " and backend `" + info_.name + "` would serve its own RoPE in its place: " +
                        "they conflict; serve the file's scaling with backend `none` (CLI: no --rope-type), or " +
                        "set rope_override = true (CLI: --rope-override) to serve `" + info_.name +
                        "` on the file's unscaled RoPE");
}

formats::RopeConfig RopeScalingBackend::file_rope() const {
  if (!model_) throw Error(info_.name + ": call prepare() before open()");
  formats::RopeConfig rope = model_->config().rope;
  rope.head_dim = model_->config().head_dim();
  if (rope.type == formats::RopeType::Default) rope.original_max_position = original_window_;
  return rope;
}

formats::RopeConfig RopeScalingBackend::base_rope() const {
  if (!model_) throw Error(info_.name + ": call prepare() before open()");
  formats::RopeConfig rope = model_->config().rope;
  rope.type = formats::RopeType::Default;
  rope.factor = 1.0;
  rope.head_dim = model_->config().head_dim();
  rope.original_max_position = original_window_;
  rope.beta_fast = beta_fast_;
  rope.beta_slow = beta_slow_;
  rope.attention_factor = attention_factor_;
  return rope;
}

std::unique_ptr<LanguageModel> RopeScalingBackend::open(int64_t window) {
  if (!model_) throw Error(info_.name + ": call prepare() before open()");
  const formats::RopeConfig rope = rope_for_window(window);
  // The model describes its served scale ("g") from the RoPE it runs with.
  nlohmann::json extra = {{"backend", info_.name}, {"original_window", original_window_}, {"settings", settings_}};
  // Where the served RoPE comes from: the file ("file"), this backend's method on a file
  // without declared scaling ("method"), or a method replacing a declared one ("override").
  const bool declared = declared_rope_.type != formats::RopeType::Default;
  extra["rope_source"] = serves_file_rope() ? "file" : declared ? "override" : "method";
  if (declared) extra["file_rope"] = declared_rope_.to_json();
  // A trained subclass's model (set_model) gets its int8 copies here.
  const WeightStorage storage = parse_weight_storage(weights_, "weights");
  if (model_->weight_storage() != storage) model_->set_weight_storage(storage);
  extra["weights"] = weights_;
  auto lm =
      std::make_unique<TorchLanguageModel>(model_, rope, window, tokenizer_, extra, self_extend_for_window(window));
  lm->set_batch_size(batch_size_);
  return lm;
}

RopeTypeBackend::RopeTypeBackend(std::string name, std::string description, formats::RopeType type)
    : RopeScalingBackend(std::move(name), std::move(description)), type_(type) {}

formats::RopeConfig RopeTypeBackend::rope_for_window(int64_t window) const {
  formats::RopeConfig rope = base_rope();
  rope.type = type_;
  rope.factor = scale_for_window(window);
  return rope;
}

}  // namespace e2llm::llama
