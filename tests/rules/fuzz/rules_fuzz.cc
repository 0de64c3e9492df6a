// libFuzzer entry point for the rule language front end: parse + check + lower one in-memory
// file against the engine's built-in relations. Includes are refused (no file system access),
// so every input exercises only the parser and checker. Any crash, sanitizer report or
// QPREP_CHECK failure is a bug; diagnostics are the expected outcome for junk.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "engine/facts.h"
#include "rules/compiler.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const qprep::rules::CompileOptions* options = [] {
    auto* o = new qprep::rules::CompileOptions();
    for (const auto& b : qprep::engine::BuiltinRelations()) o->builtin_relations.push_back(b.decl);
    o->read_file = [](const std::string& p) -> absl::StatusOr<std::string> {
      return absl::NotFoundError(p);
    };
    return o;
  }();
  auto file = std::make_shared<qprep::SourceFile>(
      "fuzz.qr", std::string(reinterpret_cast<const char*>(data), size));
  qprep::DiagnosticSink sink;
  auto out = qprep::rules::CompileSources({file}, *options, &sink);
  // Rendering walks every range: catches out-of-bounds positions.
  std::string rendered = sink.Render();
  if (out.ok() != !sink.has_errors()) __builtin_trap();
  return 0;
}
