// Fuzz target for the .qg reader (ir/qg_reader.h). Any bytes must give either a graph or
// located errors, without crashing, hanging or leaking; and a graph that reads must print
// canonically (print(read(print(x))) == print(x)), so the fuzzer checks the printer too.
// Built as a libFuzzer binary with -DQPREP_FUZZ=ON and clang, and with g++ as a corpus replay
// test (replay_main.cc). See docs/fuzzing.md.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "common/diagnostics.h"
#include "ir/qg_printer.h"
#include "ir/qg_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  qprep::DiagnosticSink sink;
  absl::StatusOr<qprep::ir::Graph> graph =
      qprep::ir::ReadQg(std::make_shared<const qprep::SourceFile>("fuzz.qg", text), &sink);
  if (!graph.ok()) {
    // Errors must be reported, and rendering them (carets over arbitrary bytes) must be safe.
    if (sink.error_count() == 0) std::abort();
    std::string rendered = sink.Render();
    if (rendered.empty()) std::abort();
    return 0;
  }
  const std::string printed = qprep::ir::PrintQg(*graph);
  absl::StatusOr<qprep::ir::Graph> again = qprep::ir::ReadQgString(printed, "printed.qg");
  if (!again.ok()) std::abort();
  if (qprep::ir::PrintQg(*again) != printed) std::abort();
  return 0;
}
