// Test support: builds engine::BackendConfig / QConfigMapping / PrepareCustomConfig from the
// JSON dumps tools/gen_stage_goldens.py writes of PyTorch's own objects
// (tests/prepare/data/backend.<name>.json and the "qconfig_mapping" / "prepare_custom_config"
// members of <case>.stages.json). This lets the stage tests run on PyTorch's exact pattern set
// and mappings, independent of the rule files that normally produce these structures.
#ifndef QPREP_TESTS_PREPARE_CONFIG_JSON_H_
#define QPREP_TESTS_PREPARE_CONFIG_JSON_H_

#include <string>

#include "absl/status/statusor.h"
#include "engine/prepare_config.h"
#include "nlohmann/json.hpp"

namespace qprep::engine::testing {

absl::StatusOr<nlohmann::json> ReadJsonFile(const std::string& path);
absl::StatusOr<BackendConfig> BackendConfigFromJson(const nlohmann::json& j);
absl::StatusOr<QConfigMapping> QConfigMappingFromJson(const nlohmann::json& j);
PrepareCustomConfig PrepareCustomConfigFromJson(const nlohmann::json& j);
// An observer as torch_reference.describe_observer writes it: {"class", "args", "observer"?}.
ObserverSpec ObserverSpecFromJson(const nlohmann::json& j);

}  // namespace qprep::engine::testing

#endif  // QPREP_TESTS_PREPARE_CONFIG_JSON_H_
