// Test support for the bundled rule files (backends/*.qr, backends/qconfig/*.qr): compares the
// engine::BackendConfig / engine::QConfigMapping the rule compiler lowers them into with PyTorch's
// own configs as tools/dump_backend_config.py dumps them
// (tests/backends/data/pytorch_backend_configs.json).
//
// Contract: each function returns the list of differences as readable one-line texts, empty
// when the two are equal. Patterns with alternatives are expanded (engine::ExpandAlternatives)
// and compared as plain PyTorch patterns; every field of a BackendPatternConfig is compared;
// observers are compared as the spec common/observer_spec.h builds from PyTorch's `with_args`
// keywords (and, additionally, the spec's effective arguments with what a PyTorch instance holds).
#ifndef QPREP_TESTS_BACKENDS_CONFIG_DIFF_H_
#define QPREP_TESTS_BACKENDS_CONFIG_DIFF_H_

#include <string>
#include <vector>

#include "engine/prepare_config.h"
#include "nlohmann/json.hpp"

namespace qprep::backends::testing {

// `expected` is one entry of the dump's "backends" object: {"name", "configs": [...]}.
std::vector<std::string> DiffBackendConfig(const engine::BackendConfig& actual,
                                           const nlohmann::json& expected);

// `expected` is one entry of "qconfig_mappings" / "qat_qconfig_mappings".
std::vector<std::string> DiffQConfigMapping(const engine::QConfigMapping& actual,
                                            const nlohmann::json& expected);

}  // namespace qprep::backends::testing

#endif  // QPREP_TESTS_BACKENDS_CONFIG_DIFF_H_
