#include "e2llm/llama/train/token_data.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "e2llm/error.hpp"
#include "e2llm/util/files.hpp"
#include "e2llm/util/sha256.hpp"
#include "retrieval_mix.hpp"

namespace e2llm::llama::train {

namespace fs = std::filesystem;

// A read-only mapping of a token file.
class MappedTokens {
 public:
  MappedTokens(const fs::path& path, int width) : width_(width) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw Error("cannot open " + path.string() + ": " + std::strerror(errno));
    struct stat st {};
    ::fstat(fd_, &st);
    size_ = static_cast<size_t>(st.st_size);
    if (size_ > 0) {
      data_ = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd_, 0);
      if (data_ == MAP_FAILED) throw Error("cannot map " + path.string() + ": " + std::strerror(errno));
    }
  }
  ~MappedTokens() {
    if (data_ && data_ != MAP_FAILED) ::munmap(data_, size_);
    if (fd_ >= 0) ::close(fd_);
  }
  MappedTokens(const MappedTokens&) = delete;
  MappedTokens& operator=(const MappedTokens&) = delete;
  size_t tokens() const { return size_ / static_cast<size_t>(width_); }
  int64_t at(size_t i) const {
    if (width_ == 2) {
      uint16_t v;
      std::memcpy(&v, static_cast<const char*>(data_) + 2 * i, 2);
      return v;
    }
    uint32_t v;
    std::memcpy(&v, static_cast<const char*>(data_) + 4 * i, 4);
    return v;
  }

 private:
  int fd_ = -1;
  void* data_ = nullptr;
  size_t size_ = 0;
  int width_;
};

TokenSplit::TokenSplit(std::shared_ptr<const MappedTokens> file, int64_t count, int64_t row_len, int64_t synthetic,
                       Maker make)
    : file_(std::move(file)), count_(count), row_len_(row_len), synthetic_(synthetic), make_(std::move(make)) {}

void TokenSplit::read(int64_t index, int64_t* out) const {
  if (index < 0 || index >= count_ + synthetic_) throw Error("token split: sequence index out of range");
  if (index >= count_) return make_(index - count_, out);
  const size_t base = static_cast<size_t>(index) * static_cast<size_t>(row_len_);
  for (int64_t i = 0; i < row_len_; ++i) out[i] = file_->at(base + static_cast<size_t>(i));
}

std::vector<fs::path> expand_corpus(const std::vector<fs::path>& corpus) {
  std::vector<fs::path> files;
  for (const auto& p : corpus) {
    if (fs::is_directory(p)) {
      std::vector<fs::path> found;
      for (const auto& e : fs::recursive_directory_iterator(p)) {
        const auto ext = e.path().extension().string();
        if (e.is_regular_file() && (ext == ".txt" || ext == ".jsonl" || ext == ".md" || ext == ".tex"))
          found.push_back(e.path());
      }
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::is_regular_file(p)) {
      files.push_back(p);
    } else {
      throw Error("corpus: " + p.string() + " does not exist (set `corpus` to a text/JSONL file or folder)");
    }
  }
  if (files.empty()) throw Error("corpus: no .txt/.jsonl/.md/.tex files found");
  return files;
}

std::string dataset_hash(const DataOptions& options, const Tokenizer& tokenizer) {
  util::Sha256 h;
  h.update("e2llm-token-data-v1\n");
  h.update(tokenizer.fingerprint() + "\n");
  for (const auto& f : expand_corpus(options.corpus)) h.update(util::sha256_file(f) + "\n");
  h.update(options.text_field + "\n" + std::to_string(options.seq_len) + "\n");
  char frac[64];
  std::snprintf(frac, sizeof frac, "%.9g", options.val_fraction);
  h.update(frac);
  if (options.retrieval_fraction > 0) {
    std::snprintf(frac, sizeof frac, "\nretrieval %.9g %llu", options.retrieval_fraction,
                  static_cast<unsigned long long>(options.retrieval_seed));
    h.update(frac);
  }
  return h.hex_digest();
}

namespace {
// Document i goes to validation when floor((i+1)·f) > floor(i·f): evenly spaced, exact share.
bool is_validation(size_t i, double f) {
  return f > 0 && std::floor((i + 1) * f) > std::floor(i * f);
}

void append_token(std::string& buf, int width, int32_t id) {
  if (width == 2) {
    const uint16_t v = static_cast<uint16_t>(id);
    buf.append(reinterpret_cast<const char*>(&v), 2);
  } else {
    const uint32_t v = static_cast<uint32_t>(id);
    buf.append(reinterpret_cast<const char*>(&v), 4);
  }
}
}  // namespace

TokenDataset load_or_build_dataset(const DataOptions& options, const Tokenizer& tokenizer) {
  if (options.seq_len < 1) throw ConfigError("seq_len", "must be >= 1");
  if (options.val_fraction < 0 || options.val_fraction >= 1) throw ConfigError("val_fraction", "must be in [0, 1)");
  if (!(options.retrieval_fraction >= 0 && options.retrieval_fraction < 1))
    throw ConfigError("retrieval_fraction", "must be in [0, 1)");
  TokenDataset ds;
  ds.hash = dataset_hash(options, tokenizer);
  ds.dir = options.cache_dir / ("data-" + ds.hash.substr(0, 16));
  const int width = tokenizer.vocab_size() <= 65536 ? 2 : 4;
  const int64_t row = options.seq_len + 1;

  if (!fs::exists(ds.dir / "meta.json")) {
    const auto files = expand_corpus(options.corpus);
    std::vector<std::vector<int32_t>> docs;
    nlohmann::json sources = nlohmann::json::array();
    for (const auto& f : files) {
      sources.push_back({{"path", f.string()}, {"sha256", util::sha256_file(f)}});
      if (f.extension() == ".jsonl") {
        util::for_each_jsonl(f, [&](const nlohmann::json& r, size_t line) {
          if (!r.contains(options.text_field) || !r[options.text_field].is_string())
            throw Error(f.string() + ":" + std::to_string(line) + ": no string field \"" + options.text_field +
                        "\" (set text_field)");
          docs.push_back(tokenizer.encode(r[options.text_field].get<std::string>()));
        });
      } else {
        docs.push_back(tokenizer.encode(util::read_file(f)));
      }
    }
    // Documents joined with BOS, then cut into rows of R + 1; a remainder is dropped.
    std::string train_buf, val_buf;
    int64_t train_tokens = 0, val_tokens = 0;
    std::vector<size_t> val_docs;
    for (size_t i = 0; i < docs.size(); ++i) {
      const bool val = is_validation(i, options.val_fraction);
      std::string& buf = val ? val_buf : train_buf;
      int64_t& n = val ? val_tokens : train_tokens;
      if (val) val_docs.push_back(i);
      append_token(buf, width, tokenizer.bos_id());
      ++n;
      for (int32_t id : docs[i]) append_token(buf, width, id), ++n;
    }
    int64_t n_train = train_tokens / row;
    const int64_t n_val = val_tokens / row;
    if (n_train < 1)
      throw Error("corpus: " + std::to_string(train_tokens) + " training tokens do not fill one sequence of R + 1 = " +
                  std::to_string(row) + " tokens; add text or lower seq_len");
    train_buf.resize(static_cast<size_t>(n_train * row * width));
    nlohmann::json retrieval = nlohmann::json::object();
    if (options.retrieval_fraction > 0)
      retrieval = {{"fraction", options.retrieval_fraction},
                   {"seed", options.retrieval_seed},
                   {"rows", retrieval_rows_for(options.retrieval_fraction, n_train)},
                   {"made", "on demand when read (retrieval_mix.hpp)"}};
    val_buf.resize(static_cast<size_t>(n_val * row * width));
    util::write_file_atomic(ds.dir / "train.bin", train_buf);
    util::write_file_atomic(ds.dir / "val.bin", val_buf);
    nlohmann::json meta = {{"format", "e2llm-token-data-v1"},
                           {"hash", ds.hash},
                           {"dtype", width == 2 ? "uint16" : "uint32"},
                           {"seq_len", options.seq_len},
                           {"row_len", row},
                           {"tokenizer", tokenizer.fingerprint()},
                           {"bos", tokenizer.bos_id()},
                           {"documents", docs.size()},
                           {"val_fraction", options.val_fraction},
                           {"val_documents", val_docs},
                           {"train_tokens", train_tokens},
                           {"val_tokens", val_tokens},
                           {"train_sequences", n_train},
                           {"val_sequences", n_val},
                           {"retrieval", retrieval},
                           {"sources", sources}};
    util::write_file_atomic(ds.dir / "meta.json", meta.dump(2) + "\n");  // last: marks completion
  }
  ds.meta = nlohmann::json::parse(util::read_file(ds.dir / "meta.json"));
  const int w = ds.meta.at("dtype") == "uint16" ? 2 : 4;
  auto train_file = std::make_shared<MappedTokens>(ds.dir / "train.bin", w);
  const int64_t corpus_rows = ds.meta.at("train_sequences");
  const int64_t synthetic = ds.meta.value("retrieval", nlohmann::json::object()).value("rows", int64_t(0));
  TokenSplit::Maker make;
  if (synthetic > 0) {
    const uint64_t seed = options.retrieval_seed, corpus_size = train_file->tokens();
    make = [&tokenizer, train_file, row, seed, corpus_size](int64_t index, int64_t* out) {
      const auto r = retrieval_row(
          tokenizer, row, seed, index, [&](uint64_t i) { return static_cast<int32_t>(train_file->at(i)); }, corpus_size);
      std::copy(r.tokens.begin(), r.tokens.end(), out);
    };
  }
  ds.train = TokenSplit(train_file, corpus_rows, row, synthetic, std::move(make));
  if (ds.meta.at("val_sequences").get<int64_t>() > 0)
    ds.val = TokenSplit(std::make_shared<MappedTokens>(ds.dir / "val.bin", w), ds.meta.at("val_sequences"), row);
  return ds;
}

}  // namespace e2llm::llama::train
