// JSON dumps of PyTorch's configs -> engine structures; see config_json.h.
#include "tests/prepare/config_json.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/file_io.h"
#include "common/status_macros.h"

namespace qprep::engine::testing {
namespace {

using json = nlohmann::json;

absl::StatusOr<OpRef> OpFromJson(const json& j) {
  const std::string kind = j.at("kind").get<std::string>();
  if (kind == "any") return OpRef::Any();
  const std::string name = j.at("name").get<std::string>();
  if (kind == "module") return OpRef::Module(name);
  if (kind == "function") return OpRef::Function(name);
  if (kind == "method") return OpRef::Method(name);
  return absl::InvalidArgumentError(absl::StrCat("unknown op kind ", kind));
}

absl::StatusOr<Pattern> PatternFromJson(const json& j) {
  Pattern p;
  ASSIGN_OR_RETURN(p.op, OpFromJson(j.at("op")));
  if (j.contains("args")) {
    for (const json& a : j["args"]) {
      ASSIGN_OR_RETURN(Pattern sub, PatternFromJson(a));
      p.args.push_back(std::move(sub));
    }
  }
  return p;
}

absl::StatusOr<DTypeWithConstraints> ConstraintsFromJson(const json& j) {
  DTypeWithConstraints c;
  if (!j.at("dtype").is_null()) {
    std::optional<Dtype> d = ParseDtype(j["dtype"].get<std::string>());
    if (!d) return absl::InvalidArgumentError(absl::StrCat("unknown dtype ", j["dtype"].dump()));
    c.dtype = d;
  }
  if (j.contains("quant_min_lower_bound"))
    c.quant_min_lower_bound = j["quant_min_lower_bound"].get<int64_t>();
  if (j.contains("quant_max_upper_bound"))
    c.quant_max_upper_bound = j["quant_max_upper_bound"].get<int64_t>();
  if (j.contains("scale_min_lower_bound"))
    c.scale_min_lower_bound = j["scale_min_lower_bound"].get<double>();
  if (j.contains("scale_max_upper_bound"))
    c.scale_max_upper_bound = j["scale_max_upper_bound"].get<double>();
  if (j.contains("scale_exact_match")) c.scale_exact_match = j["scale_exact_match"].get<double>();
  if (j.contains("zero_point_exact_match"))
    c.zero_point_exact_match = j["zero_point_exact_match"].get<int64_t>();
  return c;
}

absl::StatusOr<ObservationType> ObsTypeFromJson(const json& j) {
  std::optional<ObservationType> t = ParseObservationType(j.get<std::string>());
  if (!t) return absl::InvalidArgumentError(absl::StrCat("unknown observation type ", j.dump()));
  return *t;
}

QConfig QConfigFromJson(const json& j) {
  if (j.value("none", false)) return QConfig::None();
  QConfig q;
  q.name = j.at("name").get<std::string>();
  if (!j.at("activation").is_null()) q.activation = ObserverSpecFromJson(j["activation"]);
  if (!j.at("weight").is_null()) q.weight = ObserverSpecFromJson(j["weight"]);
  return q;
}

}  // namespace

absl::StatusOr<json> ReadJsonFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::InvalidArgumentError(absl::StrCat(path, ": invalid JSON"));
  return j;
}

ObserverSpec ObserverSpecFromJson(const json& j) {
  ObserverSpec s;
  s.class_name = j.at("class").get<std::string>();
  for (auto it = j.at("args").begin(); it != j["args"].end(); ++it) {
    const json& v = it.value();
    SpecValue sv;
    if (v.is_boolean()) {
      sv.v = v.get<bool>();
    } else if (v.is_number_integer()) {
      sv.v = v.get<int64_t>();
    } else if (v.is_number()) {
      sv.v = v.get<double>();
    } else if (v.is_string()) {
      sv.v = v.get<std::string>();
    }
    s.args[it.key()] = sv;
  }
  if (j.contains("observer")) {
    s.observer = std::make_shared<const ObserverSpec>(ObserverSpecFromJson(j["observer"]));
  }
  return s;
}

absl::StatusOr<BackendConfig> BackendConfigFromJson(const json& j) {
  BackendConfig b;
  b.name = j.at("name").get<std::string>();
  for (const json& c : j.at("configs")) {
    BackendPatternConfig cfg;
    ASSIGN_OR_RETURN(cfg.pattern, PatternFromJson(c.at("pattern")));
    ASSIGN_OR_RETURN(cfg.observation_type, ObsTypeFromJson(c.at("observation_type")));
    for (const json& d : c.at("dtype_configs")) {
      DTypeConfig dc;
      ASSIGN_OR_RETURN(dc.input_dtype, ConstraintsFromJson(d.at("input")));
      ASSIGN_OR_RETURN(dc.output_dtype, ConstraintsFromJson(d.at("output")));
      ASSIGN_OR_RETURN(dc.weight_dtype, ConstraintsFromJson(d.at("weight")));
      if (!d.at("bias").is_null()) dc.bias_dtype = ParseDtype(d["bias"].get<std::string>());
      dc.is_dynamic = d.at("is_dynamic").get<bool>();
      cfg.dtype_configs.push_back(std::move(dc));
    }
    auto opt_str = [&](const char* key) -> std::optional<std::string> {
      if (!c.contains(key) || c[key].is_null()) return std::nullopt;
      return c[key].get<std::string>();
    };
    cfg.root_module = opt_str("root_module");
    cfg.qat_module = opt_str("qat_module");
    cfg.fused_module = opt_str("fused_module");
    const json& fm = c.at("fuser_method");
    const std::string kind = fm.at("kind").get<std::string>();
    if (kind == "sequential" || kind == "fold_bn") {
      cfg.fuser_method.kind =
          kind == "sequential" ? FuserMethod::Kind::kSequential : FuserMethod::Kind::kFoldBn;
      cfg.fuser_method.name = fm.at("name").get<std::string>();
      if (!fm.at("eval").is_null())
        cfg.fuser_method.eval_module_type = fm["eval"].get<std::string>();
      if (!fm.at("qat").is_null()) cfg.fuser_method.qat_module_type = fm["qat"].get<std::string>();
    }
    if (!c.at("root_node_getter").is_null())
      cfg.root_node_getter = c["root_node_getter"].get<std::string>();
    for (auto it = c.at("input_type_to_index").begin(); it != c["input_type_to_index"].end();
         ++it) {
      cfg.input_type_to_index[it.key()] = it.value().get<int>();
    }
    const json& nta = c.at("num_tensor_args_to_observation_type");
    for (auto it = nta.begin(); it != nta.end(); ++it) {
      ASSIGN_OR_RETURN(ObservationType t, ObsTypeFromJson(it.value()));
      cfg.num_tensor_args_to_observation_type[std::stoi(it.key())] = t;
    }
    if (!c.at("input_output_observed").is_null()) {
      cfg.input_output_observed = c["input_output_observed"].get<bool>();
    }
    if (!c.at("overwrite_output_observer").is_null()) {
      cfg.overwrite_output_observer = ObserverSpecFromJson(c["overwrite_output_observer"]);
    }
    if (!c.at("overwrite_output_fake_quantize").is_null()) {
      cfg.overwrite_output_fake_quantize =
          ObserverSpecFromJson(c["overwrite_output_fake_quantize"]);
    }
    b.configs.push_back(std::move(cfg));
  }
  return b;
}

absl::StatusOr<QConfigMapping> QConfigMappingFromJson(const json& j) {
  QConfigMapping m;
  if (!j.at("global").is_null()) m.global_qconfig = QConfigFromJson(j["global"]);
  for (const json& e : j.at("object_type")) {
    ASSIGN_OR_RETURN(OpRef op, OpFromJson(e.at("op")));
    m.object_type_qconfigs.push_back({std::move(op), QConfigFromJson(e.at("qconfig"))});
  }
  for (const json& e : j.at("module_name_regex")) {
    m.module_name_regex_qconfigs.push_back(
        {e.at("regex").get<std::string>(), QConfigFromJson(e.at("qconfig"))});
  }
  for (const json& e : j.at("module_name")) {
    m.module_name_qconfigs.push_back(
        {e.at("module_name").get<std::string>(), QConfigFromJson(e.at("qconfig"))});
  }
  for (const json& e : j.at("module_name_object_type_order")) {
    ASSIGN_OR_RETURN(OpRef op, OpFromJson(e.at("op")));
    m.module_name_object_type_order_qconfigs.push_back({e.at("module_name").get<std::string>(),
                                                        std::move(op), e.at("index").get<int>(),
                                                        QConfigFromJson(e.at("qconfig"))});
  }
  return m;
}

PrepareCustomConfig PrepareCustomConfigFromJson(const json& j) {
  PrepareCustomConfig c;
  c.input_quantized_idxs = j.at("input_quantized_idxs").get<std::vector<int>>();
  c.output_quantized_idxs = j.at("output_quantized_idxs").get<std::vector<int>>();
  for (const json& n : j.at("standalone_module_names")) {
    c.standalone_module_names.push_back({n.get<std::string>(), nullptr, nullptr});
  }
  for (const json& n : j.at("standalone_module_classes")) {
    c.standalone_module_classes.push_back({n.get<std::string>(), nullptr, nullptr});
  }
  for (const json& n : j.at("custom_module_classes")) {
    c.float_to_observed_mapping.push_back({n.get<std::string>(), ""});
  }
  return c;
}

}  // namespace qprep::engine::testing
