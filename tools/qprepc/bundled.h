// Where qprepc finds its bundled rule files (the prelude, backends/, backends/qconfig/): next to
// an installed binary (<prefix>/share/qprep), else the source tree it was built from. And how
// `--backend NAME|FILE.qr` / `--qconfig FILE.qr` turn into the rule files of a prepare run.
#ifndef QPREP_TOOLS_QPREPC_BUNDLED_H_
#define QPREP_TOOLS_QPREPC_BUNDLED_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace qprep::cli {

struct BundledRules {
  std::string prelude;       // .../prelude/prepare.qr
  std::string backends_dir;  // .../backends
};
absl::StatusOr<BundledRules> FindBundledRules();

struct RuleSelection {
  std::vector<std::string> files;
  std::vector<std::string> search_paths;
  std::string backend;          // block name to use ("" = the only one)
  std::string qconfig_mapping;  // block name to use ("" = the only one)
};
// backend: a bundled name (fbgemm, x86, qnnpack, onednn, native) or a .qr path; qconfig: a .qr
// path or empty (the backend's default mapping, QAT if `qat`); mapping_name: explicit block.
absl::StatusOr<RuleSelection> SelectRules(const std::string& backend, const std::string& qconfig,
                                          const std::string& mapping_name, bool qat);

// The PT2E flow (`--quantizer NAME|FILE.qr`): the prelude pt2e.qr and a quantizer's rule file, a
// bundled one (backends/pt2e/NAME.qr: xnnpack) or a .qr path.
absl::StatusOr<RuleSelection> SelectQuantizer(const std::string& quantizer);

}  // namespace qprep::cli

#endif  // QPREP_TOOLS_QPREPC_BUNDLED_H_
