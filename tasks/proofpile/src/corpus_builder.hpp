// Builds a Proof-Pile-style corpus from Debian packages (see docs/data-proofpile.md):
// `apt-get download PKG` + `dpkg-deb -x` into a scratch folder (nothing is installed), one
// document per source file, a deterministic document-level train/eval split, MANIFEST.json.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace e2llm::proofpile {

// Where a package keeps the documents, and how its copyright file is read.
struct SourcePackage {
  std::string name;
  std::string files_root;               // folder inside the package, e.g. "usr/share/hol-light"
  std::vector<std::string> extensions;  // e.g. {".ml", ".hl"}
  std::string source_root;              // installed folder matching the upstream tree (DEP-5 paths)
  std::string kind;                     // what the documents are, for the docs and the manifest
  // For a copyright file that is not machine-readable: the licence we read in it by hand,
  // and phrases that must still be in it (so a changed licence is noticed, not assumed).
  std::string declared_license;
  std::vector<std::string> license_evidence;
};

// pari-doc (LaTeX), hol-light (HOL Light proofs), libcoq-stdlib (Coq standard library).
const std::vector<SourcePackage>& known_source_packages();

struct CorpusRequest {
  std::filesystem::path out;
  std::uint64_t max_bytes = 64ull << 20;  // total text bytes over both splits
  std::uint64_t seed = 0;
  double eval_fraction = 0.1;
  std::vector<std::string> packages;  // default: every known package
};

// Reads {"out", "max_bytes", "seed", "eval_fraction", "packages"}; throws ConfigError.
CorpusRequest parse_corpus_request(const nlohmann::json& request);

// Order in which files are taken until max_bytes: sha256("<seed>|<package>|<path>") as hex
// (a seeded shuffle).
std::string selection_key(std::uint64_t seed, const std::string& package, const std::string& path);
// The split key: sha256("<package>|<path>") as hex. Independent of the seed and of the
// selection, so a file is in the same split in every corpus built from the package.
std::string split_key(const std::string& package, const std::string& path);
// Held out iff the first 8 hex digits of the split key, as an integer, are < eval_fraction * 2^32.
bool is_eval_document(const std::string& split_key, double eval_fraction);

// Writes OUT/train.jsonl, OUT/eval.jsonl, OUT/MANIFEST.json (into OUT.tmp, then renamed over
// OUT). Returns the manifest. Throws e2llm::Error with the failing command and a hint.
nlohmann::json build_corpus(const CorpusRequest& request);

}  // namespace e2llm::proofpile
