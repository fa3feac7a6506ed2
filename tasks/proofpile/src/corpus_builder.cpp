#include "corpus_builder.hpp"

#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>

#include "debian_copyright.hpp"
#include "e2llm/config_reader.hpp"
#include "e2llm/error.hpp"
#include "e2llm/util/files.hpp"
#include "e2llm/util/sha256.hpp"

namespace e2llm::proofpile {
namespace fs = std::filesystem;

const std::vector<SourcePackage>& known_source_packages() {
  static const std::vector<SourcePackage> packages = {
      {"pari-doc",
       "usr/share/pari/doc",
       {".tex"},
       "",
       "LaTeX manuals of PARI/GP (number theory)",
       // debian/copyright of pari-doc is free text: "GNU General Public License ... either version 2 ... or
       // (at your option) any later version".
       "GPL-2+",
       {"GNU General Public License", "version 2", "any later", "version"}},
      {"hol-light",
       "usr/share/hol-light",
       {".ml", ".hl"},
       "usr/share/hol-light",
       "HOL Light formal proofs (OCaml); a Proof-Pile source",
       "",
       {}},
      {"libcoq-stdlib",
       "usr/lib/ocaml/coq",
       {".v"},
       "usr/lib/ocaml/coq",
       "Coq standard library (Gallina .v); a Proof-Pile source",
       "",
       {}},
  };
  return packages;
}

CorpusRequest parse_corpus_request(const nlohmann::json& request) {
  ConfigReader cfg(request);
  CorpusRequest r;
  r.out = cfg.require<std::string>("out");
  const auto max_bytes = cfg.get<std::int64_t>("max_bytes", std::int64_t(r.max_bytes));
  const auto seed = cfg.get<std::int64_t>("seed", 0);
  if (max_bytes <= 0) throw ConfigError("max_bytes", "must be > 0");
  if (seed < 0) throw ConfigError("seed", "must be >= 0");
  r.max_bytes = std::uint64_t(max_bytes);
  r.seed = std::uint64_t(seed);
  r.eval_fraction = cfg.get<double>("eval_fraction", r.eval_fraction);
  if (cfg.has("packages")) {
    const auto& list = request.at("packages");
    if (!list.is_array() || list.empty()) throw ConfigError("packages", "expected a non-empty list of package names");
    for (const auto& p : list) {
      if (!p.is_string()) throw ConfigError("packages", "expected package names, found " + p.dump());
      r.packages.push_back(p.get<std::string>());
    }
  } else {
    for (const auto& p : known_source_packages()) r.packages.push_back(p.name);
  }
  cfg.finish();
  if (r.out.empty()) throw ConfigError("out", "must name a folder");
  if (!(r.eval_fraction > 0.0 && r.eval_fraction < 1.0)) throw ConfigError("eval_fraction", "must be in (0, 1)");
  std::vector<std::string> known;
  for (const auto& p : known_source_packages()) known.push_back(p.name);
  for (const auto& name : r.packages) {
    if (std::find(known.begin(), known.end(), name) != known.end()) continue;
    std::string hint = closest_match(name, known);
    throw ConfigError("packages", "unknown source package '" + name + "'" +
                                      (hint.empty() ? "" : "; did you mean '" + hint + "'?") +
                                      " (known: pari-doc, hol-light, libcoq-stdlib)");
  }
  return r;
}

std::string selection_key(std::uint64_t seed, const std::string& package, const std::string& path) {
  return util::sha256_hex(std::to_string(seed) + "|" + package + "|" + path);
}

std::string split_key(const std::string& package, const std::string& path) {
  return util::sha256_hex(package + "|" + path);
}

bool is_eval_document(const std::string& split_key, double eval_fraction) {
  const double bucket = double(std::stoull(split_key.substr(0, 8), nullptr, 16));
  return bucket < eval_fraction * 4294967296.0;
}

namespace {

struct CommandResult {
  int exit_code = 0;
  std::string output;  // stdout and stderr together
};

CommandResult run_command(const std::string& command) {
  CommandResult r;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) throw Error("cannot run '" + command + "': popen failed");
  char buffer[4096];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) r.output.append(buffer, n);
  int status = ::pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  return r;
}

std::string last_line(const std::string& text) {
  std::string t = text;
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
  auto nl = t.rfind('\n');
  return nl == std::string::npos ? t : t.substr(nl + 1);
}

std::string quote(const fs::path& p) {
  std::string s = "'";
  for (char c : p.string()) s += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return s + "'";
}

// Scratch folder removed on every exit path.
struct ScratchDir {
  fs::path path;
  ScratchDir() {
    path = fs::temp_directory_path() / fmt::format("e2llm-proofpile-{}", ::getpid());
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

struct FetchedPackage {
  const SourcePackage* spec = nullptr;
  std::string version;
  std::string deb_sha256;
  fs::path root;  // extracted tree
  DebianCopyright copyright;
  std::string copyright_path;
};

FetchedPackage fetch_package(const SourcePackage& spec, const fs::path& scratch) {
  fs::path dir = scratch / spec.name;
  fs::create_directories(dir);
  auto dl = run_command("cd " + quote(dir) + " && apt-get download " + spec.name);
  if (dl.exit_code != 0)
    throw Error(fmt::format("apt-get download {} failed (exit {}): {}; is the network reachable? run scripts/setup.sh",
                            spec.name, dl.exit_code, last_line(dl.output)));
  fs::path deb;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".deb") deb = e.path();
  if (deb.empty())
    throw Error("apt-get download " + spec.name + " reported success but left no .deb in " + dir.string());

  FetchedPackage f;
  f.spec = &spec;
  auto version = run_command("dpkg-deb -f " + quote(deb) + " Version");
  if (version.exit_code != 0)
    throw Error(fmt::format("dpkg-deb -f {} Version failed (exit {}): {}", deb.string(), version.exit_code,
                            last_line(version.output)));
  f.version = last_line(version.output);
  f.deb_sha256 = util::sha256_file(deb);
  f.root = dir / "tree";
  auto extract = run_command("dpkg-deb -x " + quote(deb) + " " + quote(f.root));
  if (extract.exit_code != 0)
    throw Error(
        fmt::format("dpkg-deb -x {} failed (exit {}): {}", deb.string(), extract.exit_code, last_line(extract.output)));

  fs::path copyright = f.root / "usr/share/doc" / spec.name / "copyright";
  f.copyright_path = "/usr/share/doc/" + spec.name + "/copyright";
  std::error_code ec;
  if (!fs::is_regular_file(copyright, ec))
    throw Error("package " + spec.name + " has no " + f.copyright_path + ": cannot establish its licence");
  std::string text = util::read_file(copyright);
  f.copyright = parse_debian_copyright(text);
  if (!f.copyright.machine_readable) {
    if (spec.declared_license.empty())
      throw Error("the copyright file of " + spec.name +
                  " is not machine-readable (DEP-5) and no licence is declared "
                  "for it in tasks/proofpile/src/corpus_builder.cpp: review it and add one");
    for (const auto& phrase : spec.license_evidence)
      if (text.find(phrase) == std::string::npos)
        throw Error("the copyright file of " + spec.name + " " + f.version + " no longer says \"" + phrase +
                    "\": its licence may have changed from " + spec.declared_license +
                    "; review it and update tasks/proofpile/src/corpus_builder.cpp");
  }
  return f;
}

std::string license_of(const FetchedPackage& f, const std::string& installed_path) {
  if (!f.copyright.machine_readable) return f.spec->declared_license;
  std::string rel = installed_path;
  const std::string& root = f.spec->source_root;
  if (!root.empty() && rel.compare(0, root.size() + 1, root + "/") == 0) rel = rel.substr(root.size() + 1);
  std::string license = f.copyright.license_of(rel);
  if (license.empty())
    throw Error("no Files: paragraph of " + f.copyright_path + " (" + f.spec->name + ") covers " + rel +
                ": cannot establish its licence");
  return license;
}

struct Candidate {
  std::string key;
  const FetchedPackage* package;
  std::string path;  // installed path, relative to /, e.g. usr/share/hol-light/lib.ml
  fs::path file;
  std::uintmax_t bytes;
};

bool valid_utf8(const std::string& s) {
  std::size_t i = 0, n = s.size();
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (len == 0 || i + len > n) return false;
    for (std::size_t k = 1; k < len; ++k)
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return false;
    i += len;
  }
  return true;
}

std::vector<FetchedPackage> fetch_packages(const std::vector<std::string>& names, const fs::path& scratch) {
  std::vector<FetchedPackage> fetched;
  for (const auto& name : names) {
    const auto& known = known_source_packages();
    auto spec = std::find_if(known.begin(), known.end(), [&](const SourcePackage& p) { return p.name == name; });
    fetched.push_back(fetch_package(*spec, scratch));
  }
  return fetched;
}

struct Candidates {
  std::vector<Candidate> files;                     // in selection order
  std::map<std::string, std::int64_t> files_total;  // package -> candidate files
};

// Candidates: every non-empty file with a listed extension under the package's root.
// `fetched` must outlive the result (candidates point into it).
Candidates list_candidates(const std::vector<FetchedPackage>& fetched, std::uint64_t seed) {
  Candidates out;
  for (const auto& f : fetched) {
    fs::path root = f.root / f.spec->files_root;
    std::error_code ec;
    if (!fs::is_directory(root, ec))
      throw Error("package " + f.spec->name + " " + f.version + " has no /" + f.spec->files_root +
                  ": its layout changed; update tasks/proofpile/src/corpus_builder.cpp");
    for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
      if (!it->is_regular_file() || it->is_symlink()) continue;
      const auto& exts = f.spec->extensions;
      if (std::find(exts.begin(), exts.end(), it->path().extension().string()) == exts.end()) continue;
      if (it->file_size() == 0) continue;
      std::string path = fs::relative(it->path(), f.root).generic_string();
      out.files.push_back({selection_key(seed, f.spec->name, path), &f, path, it->path(), it->file_size()});
      ++out.files_total[f.spec->name];
    }
  }
  // Hash order is a seeded shuffle that does not depend on directory iteration order.
  std::sort(out.files.begin(), out.files.end(), [](const Candidate& a, const Candidate& b) { return a.key < b.key; });
  return out;
}

// A build that stops (disk full, a licence it cannot establish) leaves no half-written folder.
struct RemoveUnlessPublished {
  fs::path dir;
  bool published = false;
  ~RemoveUnlessPublished() {
    std::error_code ec;
    if (!published) fs::remove_all(dir, ec);
  }
};

struct Tally {
  std::int64_t train_docs = 0, eval_docs = 0, skipped_not_utf8 = 0;
  std::uint64_t bytes = 0;
  std::map<std::string, std::int64_t> licenses;
};

struct WrittenRows {
  std::map<std::string, Tally> tally;  // per package
  std::uint64_t total_bytes = 0;
  std::int64_t train_rows = 0, eval_rows = 0;
};

// Writes the selected documents to tmp/train.jsonl and tmp/eval.jsonl; refuses a split
// that leaves either file empty.
WrittenRows write_rows(const std::vector<Candidate>& candidates, const CorpusRequest& request, const fs::path& tmp) {
  std::ofstream train(tmp / "train.jsonl", std::ios::binary), eval(tmp / "eval.jsonl", std::ios::binary);
  if (!train || !eval) throw Error("cannot write " + tmp.string() + ": check permissions and free space");
  WrittenRows w;
  for (const auto& c : candidates) {
    if (w.total_bytes + c.bytes > request.max_bytes) continue;  // first fit in hash order
    std::string text = util::read_file(c.file);
    Tally& t = w.tally[c.package->spec->name];
    if (!valid_utf8(text)) {  // JSON needs UTF-8; keep the corpus byte-exact rather than repair it
      ++t.skipped_not_utf8;
      continue;
    }
    std::string license = license_of(*c.package, c.path);
    bool held_out = is_eval_document(split_key(c.package->spec->name, c.path), request.eval_fraction);
    nlohmann::json row = {{"text", text},
                          {"meta",
                           {{"source_package", c.package->spec->name},
                            {"package_version", c.package->version},
                            {"path", "/" + c.path},
                            {"license", license},
                            {"split", held_out ? "eval" : "train"}}}};
    (held_out ? eval : train) << row.dump() << '\n';
    (held_out ? t.eval_docs : t.train_docs) += 1;
    (held_out ? w.eval_rows : w.train_rows) += 1;
    t.bytes += c.bytes;
    t.licenses[license] += 1;
    w.total_bytes += c.bytes;
  }
  train.close();
  eval.close();
  if (!train || !eval)
    throw Error("cannot write " + (tmp / (!train ? "train.jsonl" : "eval.jsonl")).string() +
                ": check free space and the file-size limit; nothing was written to " + request.out.string());
  if (w.eval_rows == 0 || w.train_rows == 0)
    throw Error(
        fmt::format("proofpile corpus: the split left {} train and {} eval documents; raise max_bytes (now {}) "
                    "or eval_fraction",
                    w.train_rows, w.eval_rows, request.max_bytes));
  return w;
}

// MANIFEST.json of the corpus written to tmp: its rules, packages and files.
nlohmann::json corpus_manifest(const CorpusRequest& request, const std::vector<FetchedPackage>& fetched,
                               const std::map<std::string, std::int64_t>& files_total, const WrittenRows& w,
                               const fs::path& tmp) {
  nlohmann::json manifest = {
      {"format", "e2llm-proofpile-corpus-1"},
      {"built_by", "e2llm task proofpile 1.0.0 (prepare_data)"},
      {"seed", request.seed},
      {"max_bytes", request.max_bytes},
      {"eval_fraction", request.eval_fraction},
      {"selection_rule",
       "candidate files sorted by sha256(\"<seed>|<package>|<installed path>\") (hex); taken "
       "first-fit while the total text bytes stay <= max_bytes; files that are not UTF-8 skipped"},
      {"split_rule",
       "a document is held out (eval.jsonl) iff int(sha256(\"<package>|<installed path>\")[0:8], 16) < "
       "eval_fraction * 2^32, else train.jsonl; whole documents; independent of seed and max_bytes"},
      {"license_rule",
       "per file from /usr/share/doc/PKG/copyright: DEP-5 Files: patterns matched against the path "
       "below the package's source root, last match wins; free-text copyright files: the licence "
       "read by hand and checked by phrases (tasks/proofpile/src/corpus_builder.cpp)"},
      {"packages", nlohmann::json::array()},
      {"files", nlohmann::json::object()},
      {"documents", w.train_rows + w.eval_rows},
      {"bytes", w.total_bytes}};
  for (const auto& f : fetched) {
    const auto tally = w.tally.find(f.spec->name);
    const Tally t = tally == w.tally.end() ? Tally{} : tally->second;
    const auto available = files_total.find(f.spec->name);
    manifest["packages"].push_back(
        {{"name", f.spec->name},
         {"version", f.version},
         {"deb_sha256", f.deb_sha256},
         {"kind", f.spec->kind},
         {"files_root", "/" + f.spec->files_root},
         {"extensions", f.spec->extensions},
         {"copyright", f.copyright_path},
         {"copyright_machine_readable", f.copyright.machine_readable},
         {"licenses_in_copyright", f.copyright.machine_readable ? nlohmann::json(f.copyright.licenses())
                                                                : nlohmann::json::array({f.spec->declared_license})},
         {"licenses_of_documents", t.licenses},
         {"files_available", available == files_total.end() ? std::int64_t(0) : available->second},
         {"train_documents", t.train_docs},
         {"eval_documents", t.eval_docs},
         {"skipped_not_utf8", t.skipped_not_utf8},
         {"bytes", t.bytes}});
  }
  for (const char* name : {"train.jsonl", "eval.jsonl"})
    manifest["files"][name] = {{"rows", std::string(name) == "train.jsonl" ? w.train_rows : w.eval_rows},
                               {"bytes", fs::file_size(tmp / name)},
                               {"sha256", util::sha256_file(tmp / name)}};
  return manifest;
}

// Swaps the finished folder in: readers see the old corpus or the new one, never half of one.
void publish(RemoveUnlessPublished& tmp, const fs::path& out) {
  std::error_code ec;
  fs::path old = out;
  old += ".old";
  fs::remove_all(old, ec);
  if (fs::exists(out)) fs::rename(out, old);
  fs::rename(tmp.dir, out);
  tmp.published = true;
  fs::remove_all(old, ec);
}

}  // namespace

nlohmann::json build_corpus(const CorpusRequest& request) {
  auto which = run_command("command -v apt-get && command -v dpkg-deb");
  if (which.exit_code != 0)
    throw Error(
        "apt-get and dpkg-deb are needed to build the proofpile corpus (a Debian system); run scripts/setup.sh");

  ScratchDir scratch;
  const std::vector<FetchedPackage> fetched = fetch_packages(request.packages, scratch.path);
  const Candidates candidates = list_candidates(fetched, request.seed);

  fs::path out = request.out;
  fs::path tmp = out;
  tmp += ".tmp";
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  RemoveUnlessPublished tmp_guard{tmp};
  const WrittenRows written = write_rows(candidates.files, request, tmp);
  nlohmann::json manifest = corpus_manifest(request, fetched, candidates.files_total, written, tmp);
  util::write_file_atomic(tmp / "MANIFEST.json", manifest.dump(2) + "\n");
  publish(tmp_guard, out);
  manifest["out"] = out.string();
  return manifest;
}

}  // namespace e2llm::proofpile
