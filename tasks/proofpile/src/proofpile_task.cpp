#include "proofpile_task.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "corpus_builder.hpp"
#include "e2llm/config_reader.hpp"
#include "e2llm/error.hpp"
#include "e2llm/taskkit/sample_loop.hpp"
#include "e2llm/taskkit/uncertainty.hpp"
#include "e2llm/util/sha256.hpp"

namespace e2llm::proofpile {

namespace {
constexpr const char* kVersion = "1.1.0";  // 1.1: intervals (uncertainty)

// The paper's Proof-Pile perplexities (E²-LLM, arXiv 2401.06951, Table 3; docs/methods.md
// §Reference numbers), L = 4k: the report shows them as ratios to Llama2-7B at 4k beside
// ours as ratios to our base at L. The 13B row is left out: its own base is not in the table.
ReferenceColumn paper_table3() {
  ReferenceColumn t{"E²-LLM paper, Table 3 (Proof-Pile, Llama2-7B, L = 4k)",
                    "paper",
                    "E²-LLM (arXiv 2401.06951) Table 3; docs/methods.md §Reference numbers",
                    {},
                    "Llama2-7B (no extension)"};
  const std::vector<std::pair<std::string, std::vector<double>>> rows = {
      {"Llama2-7B (no extension)", {2.92}},
      {"LongChat-v1.5-7B-32k (PI trained at 8L, g = 8)", {3.54, 3.18, 2.91, 2.73}},
      {"E²-LLM-7B-16k (g = 4)", {2.96, 2.71, 2.54}},
      {"E²-LLM-7B-32k (g = 8)", {2.99, 2.74, 2.56, 2.46}},
      {"E²-LLM-7B-64k (g = 16)", {3.06, 2.81, 2.62, 2.51, 2.56}}};
  for (const auto& [row, values] : rows)
    for (std::size_t i = 0; i < values.size(); ++i) t.values.push_back({row, values[i], 2, "", double(1 << i)});
  return t;
}

// Perplexity per backend and window: a log-scale chart, the table, and the backends ranked
// by geometric-mean perplexity over the extended windows.
ReportView perplexity_view() {
  ReportView v;
  v.kind = ViewKind::window_curve;
  v.title = "Perplexity vs window";
  v.metric = "ppl";
  v.higher_is_better = false;
  v.quantity = "perplexity";
  v.note =
      "Proof-Pile-style long-document perplexity (`ppl`, lower is better), rows = backends, columns = window W. "
      "Unless a cell says `truncation: per_window`, every column scores the same text, the first N tokens of each "
      "document (N = the sweep's largest window unless set), with windows of W tokens sliding over it: a method that "
      "uses more context has a falling row.";
  v.note_html =
      "Long-document perplexity (<code>ppl</code>, lower is better). Unless a cell says <code>truncation: "
      "per_window</code>, every column scores the same text (the first N tokens of each document, N = the sweep's "
      "largest window unless set) with windows of W tokens sliding over it: a method that uses more context has a "
      "falling row.";
  v.chart = ChartScale::log;
  v.summary = WindowSummary::geometric_mean;
  // "No worse than the base at its own window": the paper's claim that one training serves
  // every window needs a row at or below the base's W = L perplexity.
  v.relative_threshold = 1.0;
  v.references = {paper_table3()};
  return v;
}
}  // namespace

TaskInfo ProofPileTask::info() const {
  TaskInfo info{"proofpile",
                kVersion,
                "Sliding-window perplexity on long Proof-Pile-style documents (Press et al. 2022; stride 256)",
                {{"ppl", false}, {"ppl_mean_doc", false}, {"documents", true}, {"tokens", true}}};
  info.views = {perplexity_view()};
  info.path_keys = {"data"};
  return info;
}

std::optional<std::int64_t> ProofPileTask::planned_items(std::int64_t /*window*/) const {
  // Documents; fewer when the data holds fewer that pass the min_tokens filter.
  if (config_.max_documents > 0) return config_.max_documents;
  return std::nullopt;
}

void ProofPileTask::configure(const nlohmann::json& config) {
  ConfigReader cfg(config);
  ProofPileConfig c;
  c.data = cfg.require<std::string>("data");
  c.max_documents = cfg.get<std::int64_t>("max_documents", c.max_documents);
  c.min_tokens = cfg.get<std::int64_t>("min_tokens", c.min_tokens);
  const std::string truncation = cfg.get<std::string>("truncation", "fixed");
  if (truncation != "fixed" && truncation != "per_window")
    throw ConfigError("truncation", "must be \"fixed\" (every window scores the same first N tokens) or \"per_window\" "
                                    "(the first W tokens at window W), not \"" + truncation + "\"");
  c.fixed_text = truncation == "fixed";
  c.truncate = cfg.get<std::int64_t>("truncate", c.truncate);
  c.stride = cfg.get<std::int64_t>("stride", c.stride);
  std::string aggregation = cfg.get<std::string>("aggregation", "token_weighted");
  c.add_bos = taskkit::read_bos_rule(cfg);
  cfg.finish();

  if (c.max_documents < 0) throw ConfigError("max_documents", "must be >= 0 (0 = all documents)");
  if (c.min_tokens < 0) throw ConfigError("min_tokens", "must be >= 0 (0 = no filter)");
  if (c.truncate < 0) throw ConfigError("truncate", "must be >= 0 (0 = the sweep's largest window)");
  if (!c.fixed_text && c.truncate > 0)
    throw ConfigError("truncate", "is used with truncation = \"fixed\" only; with \"per_window\" each window W keeps W tokens");
  if (c.truncate == 1) throw ConfigError("truncate", "must be 0 or >= 2 (one token has nothing to score)");
  if (c.stride < 1) throw ConfigError("stride", "must be >= 1");
  try {
    c.aggregation = taskkit::parse_aggregation(aggregation);
  } catch (const Error& e) {
    throw ConfigError("aggregation", e.what());
  }
  try {
    files_ = resolve_data_files(c.data);
  } catch (const Error& e) {
    throw ConfigError("data", e.what());
  }
  data_sha256_ = data_fingerprint(files_);
  config_ = c;
  configured_ = true;
  loaded_ = false;
  documents_.clear();
  tokens_.clear();
  tokenized_.clear();
  tokens_fingerprint_.clear();
}

void ProofPileTask::set_sweep(const SweepInfo& sweep) {
  if (!configured_) throw Error("proofpile: set_sweep() called before configure()");
  config_.sweep_max_window = sweep.windows.empty() ? 0 : *std::max_element(sweep.windows.begin(), sweep.windows.end());
  if (config_.fixed_text && config_.truncate > 0 && config_.truncate < config_.sweep_max_window)
    throw ConfigError("truncate", fmt::format("truncate = {} is smaller than the sweep's largest window {}: every window "
                                              "must score the same text; set truncate >= {} or leave it out",
                                              config_.truncate, config_.sweep_max_window, config_.sweep_max_window));
}

std::int64_t ProofPileTask::text_length(std::int64_t window) const {
  if (!config_.fixed_text) return window;
  if (config_.truncate > 0) return config_.truncate;
  return config_.sweep_max_window > 0 ? config_.sweep_max_window : window;
}

nlohmann::json ProofPileTask::resolved_config() const {
  // No absolute paths: moving the data folder keeps the fingerprint; changing it does not.
  nlohmann::json resolved = {{"task", "proofpile"},
                             {"version", kVersion},
                             {"data_files",
                              [&] {
                                auto names = nlohmann::json::array();
                                for (const auto& f : files_) names.push_back(f.filename().string());
                                return names;
                              }()},
                             {"data_sha256", data_sha256_},
                             {"max_documents", config_.max_documents},
                             {"min_tokens", config_.min_tokens},
                             {"truncation", config_.fixed_text ? "fixed" : "per_window"},
                             {"truncate", config_.fixed_text ? text_length(0) : 0},
                             {"stride", config_.stride},
                             {"aggregation", taskkit::aggregation_name(config_.aggregation)}};
  taskkit::add_framing_fingerprint(resolved, {"none", config_.add_bos});
  return resolved;
}

std::string ProofPileTask::fingerprint() const {
  if (!configured_) throw Error("proofpile: fingerprint() called before configure()");
  return util::sha256_hex(resolved_config().dump());
}

const std::vector<std::int32_t>& ProofPileTask::tokens_of(std::size_t index, const Tokenizer& tokenizer) {
  if (tokens_fingerprint_ != tokenizer.fingerprint()) {
    tokens_fingerprint_ = tokenizer.fingerprint();
    tokens_.assign(documents_.size(), {});
    tokenized_.assign(documents_.size(), false);
  }
  if (!tokenized_[index]) {
    tokens_[index] = taskkit::document_ids(tokenizer, config_.add_bos, documents_[index].text);
    tokenized_[index] = true;
  }
  return tokens_[index];
}

ProofPileTask::Selection ProofPileTask::select_documents(const Tokenizer& tokenizer) {
  // In file order: long enough, up to max_documents.
  const std::int64_t min_tokens = std::max<std::int64_t>(config_.min_tokens, 2);
  Selection s;
  for (std::size_t i = 0; i < documents_.size(); ++i) {
    if (config_.max_documents > 0 && std::int64_t(s.documents.size()) >= config_.max_documents) break;
    if (std::int64_t(tokens_of(i, tokenizer).size()) < min_tokens) {
      ++s.filtered_short;
      continue;
    }
    s.documents.push_back(i);
  }
  if (s.documents.empty())
    throw Error(
        fmt::format("proofpile: none of the {} documents in {} has at least {} tokens (lower min_tokens or "
                    "use longer documents)",
                    documents_.size(), config_.data.string(), min_tokens));
  return s;
}

CellResult ProofPileTask::evaluate(LanguageModel& model, EvalContext& context) {
  if (!configured_) throw Error("proofpile: evaluate() called before configure()");
  if (!loaded_) {
    documents_ = read_documents(files_);
    loaded_ = true;
    tokens_fingerprint_.clear();
  }
  const std::int64_t window = context.window > 0 ? context.window : model.window();
  const std::int64_t truncate = text_length(window);
  if (config_.stride > window)
    throw ConfigError("stride", fmt::format("stride {} is larger than the evaluated window {}; tokens would go "
                                            "unscored (set stride <= the smallest window)",
                                            config_.stride, window));
  const Tokenizer& tokenizer = model.tokenizer();
  const Selection selection = select_documents(tokenizer);

  // One sample per document; progress counts windows, the unit of model work.
  std::vector<taskkit::Sample> samples;
  std::vector<std::int64_t> used;  // the tokens of each document that are evaluated
  for (std::size_t i : selection.documents) {
    used.push_back(std::min<std::int64_t>(std::int64_t(tokens_of(i, tokenizer).size()), truncate));
    samples.push_back({documents_[i].id, taskkit::plan_sliding_windows(used.back(), window, config_.stride).size()});
  }
  auto reuse = [&](std::size_t k, const nlohmann::json& stored) -> std::optional<nlohmann::json> {
    if (stored.value("tokens_used", std::int64_t(-1)) != used[k])
      throw Error(
          fmt::format("proofpile: the stored record of {} scored {} tokens, this run would score {}: the "
                      "sample store belongs to another configuration (delete the cell to redo it)",
                      samples[k].id, stored.value("tokens_used", std::int64_t(-1)), used[k]));
    return stored;
  };
  auto compute = [&](std::size_t k, const std::function<void()>& tick) {
    return score_document(model, selection.documents[k], used[k], window, tick);
  };
  CellResult result;
  result.samples = taskkit::run_samples(context, samples, "windows", reuse, compute);
  summarize(result, selection, window, truncate, tokenizer);
  result.uncertainty = uncertainty(result.samples, context.seed);
  return result;
}

nlohmann::json ProofPileTask::uncertainty(const std::vector<nlohmann::json>& records, std::uint64_t seed) const {
  // Documents are the items: a bootstrap over documents, each weighted by its scored tokens
  // (or windows) exactly as the point estimate (docs/statistics.md).
  taskkit::UncertaintyBuilder u({0.95, 2000, seed});
  taskkit::ItemTable& items = u.items();
  for (const auto& record : records) {
    items.ids.push_back(record.at("id").get<std::string>());
    for (const char* column : {"nll_sum", "tokens_scored", "window_mean_nll_sum", "windows", "ppl"})
      items.columns[column].push_back(record.at(column).get<double>());
  }
  const bool tokens = config_.aggregation == taskkit::Aggregation::TokenWeighted;
  u.add("ppl", {taskkit::Statistic::exp_ratio, tokens ? "nll_sum" : "window_mean_nll_sum",
                tokens ? "tokens_scored" : "windows", "", 1.0, taskkit::PairedTest::bootstrap_ratio, false});
  u.add("ppl_mean_doc", {taskkit::Statistic::ratio, "ppl", "", "", 1.0, taskkit::PairedTest::bootstrap_ratio, false});
  return u.to_json();
}

void ProofPileTask::summarize(CellResult& result, const Selection& selection, std::int64_t window,
                              std::int64_t truncate, const Tokenizer& tokenizer) const {
  double nll_sum = 0.0, window_mean_sum = 0.0, doc_ppl_sum = 0.0;
  std::int64_t tokens_scored = 0, windows = 0;
  std::uint64_t tokens_forwarded = 0;
  for (const auto& record : result.samples) {
    nll_sum += record.at("nll_sum").get<double>();
    window_mean_sum += record.at("window_mean_nll_sum").get<double>();
    tokens_scored += record.at("tokens_scored").get<std::int64_t>();
    windows += record.at("windows").get<std::int64_t>();
    tokens_forwarded += record.at("tokens_forwarded").get<std::uint64_t>();
    doc_ppl_sum += record.at("ppl").get<double>();
  }
  const std::int64_t filtered_short = selection.filtered_short;
  const double ppl = config_.aggregation == taskkit::Aggregation::TokenWeighted
                         ? std::exp(nll_sum / double(tokens_scored))
                         : std::exp(window_mean_sum / double(windows));
  result.metrics = {{"ppl", ppl},
                    {"ppl_mean_doc", doc_ppl_sum / double(selection.documents.size())},
                    {"documents", selection.documents.size()},
                    {"tokens", tokens_scored}};
  result.tokens_processed = tokens_forwarded;
  result.details = {
      {"protocol",
       "sliding window (Press et al. 2022): windows of up to W tokens every S tokens, each starting no later "
       "than one token before the previous one's end (S = W); each token scored once, by the first window "
       "that holds it after its first token; token 0 unscored"},
      {"window", window},
      {"stride", config_.stride},
      {"truncate", truncate},
      {"truncation", config_.fixed_text ? "fixed" : "per_window"},
      {"truncate_rule", config_.fixed_text
                            ? "fixed text: the first N tokens of each document (BOS included) at every window, N = "
                              "truncate or the sweep's largest window"
                            : "per window: the first W tokens of each document (BOS included) at window W"},
      {"aggregation", taskkit::aggregation_name(config_.aggregation)},
      {"ppl_rule", config_.aggregation == taskkit::Aggregation::TokenWeighted
                       ? "exp(sum of NLL / number of scored tokens) over all documents"
                       : "exp(mean over the windows of all documents of each window's mean NLL)"},
      {"ppl_mean_doc_rule", "plain mean of per-document perplexities, each by the same aggregation"},
      {"add_bos", taskkit::bos_rule_json(config_.add_bos)},
      {"bos", taskkit::starts_with_bos(tokenizer, config_.add_bos)},
      {"eos", tokenizer.adds_eos()},
      {"min_tokens", config_.min_tokens},
      {"max_documents", config_.max_documents},
      {"documents_read", documents_.size()},
      {"documents_filtered_short", filtered_short},
      {"windows", windows},
      {"nll_sum", nll_sum},
      {"data", config_.data.string()},
      {"data_sha256", data_sha256_},
      {"tokenizer",
       {{"fingerprint", tokenizer.fingerprint()},
        {"model_path", tokenizer.model_path()},
        {"vocab_size", tokenizer.vocab_size()},
        {"bos_id", tokenizer.bos_id()}}}};
}

nlohmann::json ProofPileTask::score_document(LanguageModel& model, std::size_t index, std::int64_t used,
                                             std::int64_t window, const std::function<void()>& tick) {
  const Document& doc = documents_[index];
  const auto& all = tokens_of(index, model.tokenizer());
  std::vector<std::int32_t> ids(all.begin(), all.begin() + used);
  auto r = taskkit::sliding_window_perplexity(model, ids, window, config_.stride, config_.aggregation,
                                              [&](const taskkit::WindowRecord&) { tick(); });
  double mean_sum = 0.0;
  for (const auto& w : r.per_window) mean_sum += w.mean_nll();
  return {{"id", doc.id},
          {"meta", doc.meta},
          {"tokens_document", all.size()},
          {"tokens_used", used},
          {"tokens_scored", r.tokens_scored},
          {"tokens_forwarded", r.tokens_forwarded},
          {"windows", r.windows},
          {"nll_sum", r.nll_sum},
          {"window_mean_nll_sum", mean_sum},
          {"ppl", r.ppl}};
}

nlohmann::json ProofPileTask::prepare_data(const nlohmann::json& request) {
  return build_corpus(parse_corpus_request(request));
}

}  // namespace e2llm::proofpile
