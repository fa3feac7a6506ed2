#include "e2llm/longbench/datasets.hpp"

#include "e2llm/config_reader.hpp"
#include "e2llm/error.hpp"

namespace e2llm::longbench {

namespace {

// Verbatim from LongBench's config/dataset2prompt.json (docs/protocols.md §LongBench), typos included
// ("asconcisely"; the space before "Answer" in qasper and before "\n\nNews" in multi_news).
const char* const kMultiHopPrompt =
    "Answer the question based on the given passages. Only give me the answer and do not output any "
    "other words.\n\nThe following are given passages.\n{context}\n\nAnswer the question based on the "
    "given passages. Only give me the answer and do not output any other words.\n\nQuestion: "
    "{input}\nAnswer:";

std::vector<DatasetSpec> make_table() {
  return {
      {"narrativeqa",
       "You are given a story, which can be either a novel or a movie script, and a question. Answer the "
       "question asconcisely as you can, using a single phrase if possible. Do not provide any "
       "explanation.\n\nStory: {context}\n\nNow, answer the question based on the story asconcisely as you "
       "can, using a single phrase if possible. Do not provide any explanation.\n\nQuestion: "
       "{input}\n\nAnswer:",
       128, Metric::qa_f1, true},
      {"qasper",
       "You are given a scientific article and a question. Answer the question as concisely as you can, "
       "using a single phrase or sentence if possible. If the question cannot be answered based on the "
       "information in the article, write \"unanswerable\". If the question is a yes/no question, answer "
       "\"yes\", \"no\", or \"unanswerable\". Do not provide any explanation.\n\nArticle: {context}\n\n "
       "Answer the question based on the above article as concisely as you can, using a single phrase or "
       "sentence if possible. If the question cannot be answered based on the information in the article, "
       "write \"unanswerable\". If the question is a yes/no question, answer \"yes\", \"no\", or "
       "\"unanswerable\". Do not provide any explanation.\n\nQuestion: {input}\n\nAnswer:",
       128, Metric::qa_f1, true},
      {"multifieldqa_en",
       "Read the following text and answer briefly.\n\n{context}\n\nNow, answer the following question "
       "based on the above text, only give me the answer and do not output any other words.\n\nQuestion: "
       "{input}\nAnswer:",
       64, Metric::qa_f1, true},
      {"hotpotqa", kMultiHopPrompt, 32, Metric::qa_f1, true},
      {"2wikimqa", kMultiHopPrompt, 32, Metric::qa_f1, true},
      {"musique", kMultiHopPrompt, 32, Metric::qa_f1, true},
      {"gov_report",
       "You are given a report by a government agency. Write a one-page summary of the report.\n\nReport:\n"
       "{context}\n\nNow, write a one-page summary of the report.\n\nSummary:",
       512, Metric::rouge, true},
      {"qmsum",
       "You are given a meeting transcript and a query containing a question or instruction. Answer the "
       "query in one or more sentences.\n\nTranscript:\n{context}\n\nNow, answer the query based on the "
       "above meeting transcript in one or more sentences.\n\nQuery: {input}\nAnswer:",
       512, Metric::rouge, true},
      {"multi_news",
       "You are given several news passages. Write a one-page summary of all news. \n\nNews:\n{context}\n\n"
       "Now, write a one-page summary of all the news.\n\nSummary:",
       512, Metric::rouge, true},
  };
}

}  // namespace

const std::vector<DatasetSpec>& datasets() {
  static const std::vector<DatasetSpec> table = make_table();
  return table;
}

std::vector<std::string> dataset_names() {
  std::vector<std::string> names;
  for (const auto& d : datasets()) names.push_back(d.name);
  return names;
}

const DatasetSpec& dataset(std::string_view name) {
  for (const auto& d : datasets())
    if (d.name == name) return d;
  std::vector<std::string> names = dataset_names();
  std::string known;
  for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
  std::string hint = closest_match(std::string(name), names);
  throw Error("unknown LongBench dataset '" + std::string(name) + "'" +
              (hint.empty() ? "" : "; did you mean '" + hint + "'?") + " (known: " + known + ")");
}

std::string build_prompt(const DatasetSpec& spec, std::string_view context, std::string_view input) {
  std::string out;
  out.reserve(spec.prompt.size() + context.size() + input.size());
  std::string_view rest = spec.prompt;
  while (!rest.empty()) {
    std::size_t open = rest.find('{');
    if (open == std::string_view::npos) {
      out.append(rest);
      break;
    }
    out.append(rest.substr(0, open));
    rest.remove_prefix(open);
    if (rest.substr(0, 9) == "{context}") {
      out.append(context);
      rest.remove_prefix(9);
    } else if (rest.substr(0, 7) == "{input}") {
      out.append(input);
      rest.remove_prefix(7);
    } else {
      throw Error("LongBench prompt of '" + spec.name + "' has an unknown placeholder");
    }
  }
  return out;
}

}  // namespace e2llm::longbench
