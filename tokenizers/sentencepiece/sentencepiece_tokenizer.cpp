// The SentencePiece tokenizer plugin: load, encode/decode and train .model files.
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <filesystem>
#include <fstream>
#include <memory>

#include "e2llm/error.hpp"
#include "e2llm/plugin.hpp"
#include "e2llm/tokenizer.hpp"
#include "e2llm/util/files.hpp"
#include "e2llm/util/package_path.hpp"
#include "e2llm/util/sha256.hpp"

// Exported by libsentencepiece but not declared in its public headers (0.1.97).
namespace sentencepiece::logging {
void SetMinLogLevel(int level);
}

namespace e2llm {
namespace {
namespace fs = std::filesystem;

class SentencePieceTokenizer final : public Tokenizer {
 public:
  void load(const std::string& model_path) override {
    std::error_code ec;
    fs::path resolved = util::resolve_user_path(model_path);            // pip:<package>/<file> too
    if (fs::is_directory(resolved, ec)) resolved /= "tokenizer.model";  // a model folder holding one
    if (!fs::is_regular_file(resolved, ec))
      throw Error("tokenizer model " + model_path +
                  " does not exist (pass a SentencePiece .model file or a folder holding tokenizer.model)");
    // Parse from bytes we read ourselves so the fingerprint and the model are the same bytes.
    std::string bytes = util::read_file(resolved);
    auto processor = std::make_unique<sentencepiece::SentencePieceProcessor>();
    auto status = processor->LoadFromSerializedProto(bytes);
    if (!status.ok() || processor->GetPieceSize() <= 0)
      throw Error("tokenizer model " + model_path + " is not a valid SentencePiece model (" + status.ToString() +
                  "); train one with 'e2llm tokenizer train'");
    processor_ = std::move(processor);
    fingerprint_ = util::sha256_hex(bytes);
    path_ = model_path;
  }

  void train(const TokenizerTrainOptions& options) override {
    if (options.inputs.empty()) throw Error("tokenizer train: no --input files given");
    for (const auto& input : options.inputs) {
      std::error_code ec;
      if (!fs::is_regular_file(input, ec)) throw Error("tokenizer train: input " + input + " does not exist");
    }
    if (options.vocab_size < 16) throw Error("tokenizer train: --vocab-size must be at least 16");
    if (options.model_type != "bpe" && options.model_type != "unigram")
      throw Error("tokenizer train: model type '" + options.model_type + "' is not one of bpe, unigram");
    if (options.out_path.empty() || fs::path(options.out_path).extension() != ".model")
      throw Error("tokenizer train: --out must name a PATH.model file");

    // Train into a private folder, then move the result into place atomically.
    fs::path out(options.out_path);
    fs::path work = out;
    work += ".training";
    fs::create_directories(work);
    std::string inputs;
    for (const auto& input : options.inputs) inputs += (inputs.empty() ? "" : ",") + input;
    // bos=1, eos=2, unk=0 as in the Llama tokenizers; byte fallback so no text is unknown.
    std::string args = "--input=" + inputs + " --model_prefix=" + (work / "m").string() +
                       " --vocab_size=" + std::to_string(options.vocab_size) + " --model_type=" + options.model_type +
                       " --character_coverage=1.0 --unk_id=0 --bos_id=1 --eos_id=2 --pad_id=-1" +
                       " --byte_fallback=" + (options.byte_fallback ? "true" : "false") +
                       " --input_sentence_size=2000000 --shuffle_input_sentence=true --max_sentence_length=16384" +
                       " --minloglevel=2 --num_threads=2";
    // SentencePiece logs its progress to std::cerr; keep only errors (the CLI reports ours).
    sentencepiece::logging::SetMinLogLevel(2);
    auto status = sentencepiece::SentencePieceTrainer::Train(args);
    if (!status.ok()) {
      fs::remove_all(work);
      throw Error("tokenizer train failed: " + status.ToString());
    }
    std::string bytes = util::read_file(work / "m.model");
    fs::remove_all(work);
    util::write_file_atomic(out, bytes);
    load(out.string());
  }

  std::vector<std::int32_t> encode(std::string_view text) const override {
    std::vector<int> ids;
    auto status = processor().Encode(text, &ids);
    if (!status.ok()) throw Error("tokenizer encode failed: " + status.ToString());
    return {ids.begin(), ids.end()};
  }

  std::string decode(const std::vector<std::int32_t>& ids) const override {
    std::vector<int> in;
    in.reserve(ids.size());
    const int n = processor().GetPieceSize();
    for (auto id : ids) {
      if (id < 0 || id >= n) throw Error("tokenizer decode: id " + std::to_string(id) + " is outside the vocabulary");
      in.push_back(id);
    }
    std::string text;
    auto status = processor().Decode(in, &text);
    if (!status.ok()) throw Error("tokenizer decode failed: " + status.ToString());
    return text;
  }

  std::int32_t bos_id() const override { return processor().bos_id(); }
  std::int32_t eos_id() const override { return processor().eos_id(); }
  std::int32_t vocab_size() const override { return processor().GetPieceSize(); }
  // A SentencePiece model is read the Llama way: BOS first (when the model has one), no EOS.
  bool adds_bos() const override { return processor().bos_id() >= 0; }
  bool adds_eos() const override { return false; }
  std::optional<std::int32_t> token_id(std::string_view token) const override {
    const int id = processor().PieceToId(token);
    if (id < 0 || processor().IdToPiece(id) != token) return std::nullopt;  // unknown pieces map to unk
    return id;
  }
  std::string chat_template() const override { return ""; }
  std::string fingerprint() const override { return fingerprint_; }
  std::string model_path() const override { return path_; }

 private:
  const sentencepiece::SentencePieceProcessor& processor() const {
    if (!processor_) throw Error("tokenizer used before a model was loaded");
    return *processor_;
  }

  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;
  std::string fingerprint_;
  std::string path_;
};

}  // namespace
}  // namespace e2llm

E2LLM_PLUGIN("tokenizer", "sentencepiece", "1.0.0", e2llm::SentencePieceTokenizer)
