// The sweep's progress display: a bar with ETA on a terminal, plain lines otherwise.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

#include "e2llm/progress.hpp"

namespace e2llm::harness {

class SweepProgress : public ProgressSink {
 public:
  // `numbered`: prefix lines with "[i/n]" (cells), or not (a single step such as prepare()).
  SweepProgress(std::size_t cells_to_compute, bool numbered = true, std::FILE* out = stderr);
  ~SweepProgress() override;

  // `planned_items`: what the task's planned_items() said (shown until it reports progress).
  void begin_cell(const std::string& label, std::size_t samples_in_journal,
                  std::optional<std::int64_t> planned_items = std::nullopt);
  void end_cell(double wall_s, const std::string& note);
  // Inside a cell (the task's sink).
  void update(std::size_t done, std::size_t total, std::string_view what) override;
  // A line that must not be overwritten by the bar.
  void message(const std::string& line);

 private:
  void draw();
  void clear_bar();
  double elapsed() const;
  std::string counter(std::size_t index) const;

  std::FILE* out_;
  bool tty_;
  std::size_t total_cells_;
  bool numbered_;
  std::size_t finished_ = 0;
  double inner_ = 0;  // fraction of the current cell
  std::string label_, what_;
  std::size_t done_ = 0, total_ = 0;
  bool bar_shown_ = false;
  std::chrono::steady_clock::time_point start_, cell_start_, last_draw_, last_line_;
};

std::string human_duration(double seconds);

}  // namespace e2llm::harness
