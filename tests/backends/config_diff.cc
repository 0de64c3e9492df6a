// Field-by-field comparison of lowered rule files with PyTorch's dumped configs (config_diff.h).
#include "tests/backends/config_diff.h"

#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/observer_spec.h"

namespace qprep::backends::testing {
namespace {

using nlohmann::json;

std::string Exact(double d) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.17g", d);
  return buf;
}

// ---------------------------------------------------------------------------------------------
// Ops and patterns

engine::OpRef OpFromJson(const std::string& s) {
  auto strip = [&](const char* prefix) { return s.substr(std::string(prefix).size()); };
  if (s.rfind("module:", 0) == 0) return engine::OpRef::Module(strip("module:"));
  if (s.rfind("function:", 0) == 0) return engine::OpRef::Function(strip("function:"));
  if (s.rfind("method:", 0) == 0) return engine::OpRef::Method(strip("method:"));
  return engine::OpRef::Any();  // "MatchAllNode"
}

engine::Pattern PatternFromJson(const json& j) {
  if (j.is_string()) return engine::Pattern::Leaf(OpFromJson(j.get<std::string>()));
  std::vector<engine::Pattern> args;
  for (size_t i = 1; i < j.size(); ++i) args.push_back(PatternFromJson(j[i]));
  return engine::Pattern::Tuple(OpFromJson(j[0].get<std::string>()), std::move(args));
}

// PyTorch's default_root_node_getter: the innermost op along the last element of each tuple.
const engine::OpRef& RootOp(const engine::Pattern& p) {
  return p.args.empty() ? p.op : RootOp(p.args.back());
}

// ---------------------------------------------------------------------------------------------
// Dtype configs, as comparable text

std::string OptDtype(const std::optional<Dtype>& d) {
  return d ? std::string(DtypeName(*d)) : "None";
}

std::string ConstrainedText(const engine::DTypeWithConstraints& c) {
  std::string s = OptDtype(c.dtype);
  std::vector<std::string> k;
  if (c.quant_min_lower_bound) k.push_back(absl::StrCat("quant_min>=", *c.quant_min_lower_bound));
  if (c.quant_max_upper_bound) k.push_back(absl::StrCat("quant_max<=", *c.quant_max_upper_bound));
  if (c.scale_min_lower_bound) k.push_back("scale>=" + Exact(*c.scale_min_lower_bound));
  if (c.scale_max_upper_bound) k.push_back("scale<=" + Exact(*c.scale_max_upper_bound));
  if (c.scale_exact_match) k.push_back("scale==" + Exact(*c.scale_exact_match));
  if (c.zero_point_exact_match) k.push_back(absl::StrCat("zp==", *c.zero_point_exact_match));
  if (!k.empty()) absl::StrAppend(&s, "[", absl::StrJoin(k, ","), "]");
  return s;
}

std::string DTypeConfigText(const engine::DTypeConfig& d) {
  return absl::StrCat("{in ", ConstrainedText(d.input_dtype), ", out ",
                      ConstrainedText(d.output_dtype), ", w ", ConstrainedText(d.weight_dtype),
                      ", b ", OptDtype(d.bias_dtype), ", dyn ",
                      d.is_dynamic ? (*d.is_dynamic ? "true" : "false") : "None", "}");
}

std::optional<Dtype> DtypeFromJson(const json& j) {
  if (j.is_null()) return std::nullopt;
  return ParseDtype(j.get<std::string>());
}

engine::DTypeWithConstraints ConstrainedFromJson(const json& j) {
  engine::DTypeWithConstraints c;
  c.dtype = DtypeFromJson(j.at("dtype"));
  if (j.contains("quant_min_lower_bound")) c.quant_min_lower_bound = j["quant_min_lower_bound"];
  if (j.contains("quant_max_upper_bound")) c.quant_max_upper_bound = j["quant_max_upper_bound"];
  if (j.contains("scale_min_lower_bound")) c.scale_min_lower_bound = j["scale_min_lower_bound"];
  if (j.contains("scale_max_upper_bound")) c.scale_max_upper_bound = j["scale_max_upper_bound"];
  if (j.contains("scale_exact_match")) c.scale_exact_match = j["scale_exact_match"];
  if (j.contains("zero_point_exact_match")) c.zero_point_exact_match = j["zero_point_exact_match"];
  return c;
}

engine::DTypeConfig DTypeConfigFromJson(const json& j) {
  engine::DTypeConfig d;
  d.input_dtype = ConstrainedFromJson(j.at("input"));
  d.output_dtype = ConstrainedFromJson(j.at("output"));
  d.weight_dtype = ConstrainedFromJson(j.at("weight"));
  d.bias_dtype = DtypeFromJson(j.at("bias"));
  if (!j.at("is_dynamic").is_null()) d.is_dynamic = j["is_dynamic"].get<bool>();
  return d;
}

std::string DTypeListText(const std::vector<engine::DTypeConfig>& v) {
  std::vector<std::string> parts;
  for (const auto& d : v) parts.push_back(DTypeConfigText(d));
  return absl::StrCat("[", absl::StrJoin(parts, ", "), "]");
}

// ---------------------------------------------------------------------------------------------
// Observers

SpecValue SpecValueFromJson(const json& v) {
  if (v.is_null()) return SpecValue{};
  if (v.is_boolean()) return SpecValue{v.get<bool>()};
  if (v.is_number_integer()) return SpecValue{v.get<int64_t>()};
  if (v.is_number()) return SpecValue{v.get<double>()};
  return SpecValue{v.get<std::string>()};
}

std::string SpecValueText(const SpecValue& v) {
  struct V {
    std::string operator()(std::monostate) const { return "None"; }
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(int64_t i) const { return absl::StrCat(i); }
    std::string operator()(double d) const { return Exact(d); }
    std::string operator()(const std::string& s) const { return s; }
  };
  return std::visit(V{}, v.v);
}

bool SameValue(const SpecValue& a, const json& b) {
  SpecValue bv = SpecValueFromJson(b);
  const double* ad = std::get_if<double>(&a.v);
  const int64_t* ai = std::get_if<int64_t>(&a.v);
  if ((ad || ai) && b.is_number()) {
    double x = ad ? *ad : static_cast<double>(*ai);
    double y = b.get<double>();
    return x == y || std::fabs(x - y) <= 1e-12 * std::max(std::fabs(x), std::fabs(y));
  }
  return a == bv;
}

// Differences of an observer spec with a dumped observer ({"class","written","effective"...}),
// each prefixed with `what`.
void DiffObserver(const std::string& what, const std::optional<ObserverSpec>& actual,
                  const json& expected, std::vector<std::string>* out) {
  if (expected.is_null()) {
    if (actual)
      out->push_back(absl::StrCat(what, ": rules have ", actual->ToString(), ", PyTorch has none"));
    return;
  }
  std::vector<std::pair<std::string, SpecValue>> written;
  for (const auto& [k, v] : expected.at("written").items()) {
    written.emplace_back(k, SpecValueFromJson(v));
  }
  const std::string cls = expected.at("class").get<std::string>();
  absl::StatusOr<ObserverSpec> want = MakeObserverSpec(cls, written);
  if (!want.ok()) {
    out->push_back(absl::StrCat(what, ": PyTorch's ", cls, "(", expected["written"].dump(),
                                ") is rejected by MakeObserverSpec: ", want.status().message()));
    return;
  }
  if (!actual) {
    out->push_back(absl::StrCat(what, ": rules have none, PyTorch has ", want->ToString()));
    return;
  }
  if (!(*actual == *want)) {
    out->push_back(absl::StrCat(what, ": rules have ", actual->ToString(), ", PyTorch has ",
                                want->ToString()));
    return;
  }
  // The spec's effective arguments against what a PyTorch instance of it holds.
  auto effective = [&](const ObserverSpec& spec, const json& args, const std::string& where) {
    for (const auto& [k, v] : args.items()) {
      auto it = spec.args.find(k);
      if (it == spec.args.end()) continue;
      if (!SameValue(it->second, v)) {
        out->push_back(absl::StrCat(what, where, ": effective ", k, " is ",
                                    SpecValueText(it->second), " in the spec, ", v.dump(),
                                    " in a PyTorch instance"));
      }
    }
  };
  effective(*actual, expected.at("effective"), "");
  if (expected.contains("observer") && actual->observer) {
    effective(*actual->observer, expected["observer"].at("args"), " (inner observer)");
  }
}

// ---------------------------------------------------------------------------------------------
// Pattern configs

std::string OptText(const std::optional<std::string>& s) { return s ? *s : "None"; }
std::string OptText(const json& j) { return j.is_null() ? "None" : j.get<std::string>(); }

void DiffField(const std::string& where, const std::string& field, const std::string& actual,
               const std::string& expected, std::vector<std::string>* out) {
  if (actual != expected) {
    out->push_back(
        absl::StrCat(where, ": ", field, ": rules have ", actual, ", PyTorch has ", expected));
  }
}

std::string FuserText(const engine::FuserMethod& f, const engine::Pattern& plain) {
  if (f.kind == engine::FuserMethod::Kind::kNone) return "None";
  std::string eval = f.eval_module_type;
  std::string qat = f.qat_module_type;
  if (f.kind == engine::FuserMethod::Kind::kSequential) {
    if (qat.empty()) qat = eval;
  } else {
    if (eval.empty()) eval = RootOp(plain).name;  // BN folded into the root
    if (qat.empty()) qat = "None";                // no QAT fusion: PyTorch raises
  }
  return absl::StrCat(f.name, "(eval=", eval, ", qat=", qat, ")");
}

std::string FuserText(const json& j) {
  if (j.is_null()) return "None";
  return absl::StrCat(j.at("name").get<std::string>(), "(eval=", OptText(j.at("eval")),
                      ", qat=", OptText(j.at("qat")), ")");
}

std::string ObsTypeText(engine::ObservationType t) {
  return std::string(engine::ObservationTypeName(t));
}

void DiffPatternConfig(const engine::BackendPatternConfig& a, const engine::Pattern& plain,
                       const json& e, std::vector<std::string>* out) {
  const std::string where = plain.ToString();
  DiffField(where, "observation_type", ObsTypeText(a.observation_type),
            e.at("observation_type").get<std::string>(), out);
  std::vector<engine::DTypeConfig> want_dtypes;
  for (const json& d : e.at("dtype_configs")) want_dtypes.push_back(DTypeConfigFromJson(d));
  DiffField(where, "dtype_configs", DTypeListText(a.dtype_configs), DTypeListText(want_dtypes),
            out);
  DiffField(where, "root_module", OptText(a.root_module), OptText(e.at("root_module")), out);
  DiffField(where, "qat_module", OptText(a.qat_module), OptText(e.at("qat_module")), out);
  DiffField(where, "reference_quantized_module", OptText(a.reference_quantized_module),
            OptText(e.at("reference_quantized_module")), out);
  DiffField(where, "fused_module", OptText(a.fused_module), OptText(e.at("fused_module")), out);
  DiffField(where, "fuser_method", FuserText(a.fuser_method, plain),
            FuserText(e.at("fuser_method")), out);
  DiffField(where, "root_node_getter", a.root_node_getter.empty() ? "None" : a.root_node_getter,
            OptText(e.at("root_node_getter")), out);
  DiffField(where, "extra_inputs_getter",
            a.extra_inputs_getter.empty() ? "None" : a.extra_inputs_getter,
            OptText(e.at("extra_inputs_getter")), out);
  {
    std::map<std::string, int> want = e.at("input_type_to_index");
    auto text = [](const std::map<std::string, int>& m) {
      std::vector<std::string> p;
      for (const auto& [k, v] : m) p.push_back(absl::StrCat(k, ":", v));
      return absl::StrCat("{", absl::StrJoin(p, ", "), "}");
    };
    DiffField(where, "input_type_to_index", text(a.input_type_to_index), text(want), out);
  }
  {
    std::vector<std::string> have, want;
    for (const auto& [k, v] : a.num_tensor_args_to_observation_type) {
      have.push_back(absl::StrCat(k, ":", ObsTypeText(v)));
    }
    std::map<int, std::string> w;
    for (const auto& [k, v] : e.at("num_tensor_args_to_observation_type").items()) {
      w[std::stoi(k)] = v.get<std::string>();
    }
    for (const auto& [k, v] : w) want.push_back(absl::StrCat(k, ":", v));
    DiffField(where, "num_tensor_args_to_observation_type",
              absl::StrCat("{", absl::StrJoin(have, ", "), "}"),
              absl::StrCat("{", absl::StrJoin(want, ", "), "}"), out);
  }
  DiffField(where, "input_output_observed",
            a.input_output_observed ? (*a.input_output_observed ? "true" : "false") : "None",
            e.at("input_output_observed").is_null()
                ? "None"
                : (e["input_output_observed"].get<bool>() ? "true" : "false"),
            out);
  DiffObserver(where + ": overwrite_output_observer", a.overwrite_output_observer,
               e.at("overwrite_output_observer"), out);
  DiffObserver(where + ": overwrite_output_fake_quantize", a.overwrite_output_fake_quantize,
               e.at("overwrite_output_fake_quantize"), out);
}

// ---------------------------------------------------------------------------------------------
// QConfigs

void DiffQConfig(const std::string& where, const engine::QConfig& a, const json& e,
                 std::vector<std::string>* out) {
  if (e.is_null()) {
    if (!a.is_none)
      out->push_back(absl::StrCat(where, ": rules have qconfig `", a.name, "`, PyTorch has None"));
    return;
  }
  if (a.is_none) {
    out->push_back(absl::StrCat(where, ": rules have none, PyTorch has a qconfig"));
    return;
  }
  DiffObserver(where + ": activation", a.activation, e.at("activation"), out);
  DiffObserver(where + ": weight", a.weight, e.at("weight"), out);
  for (const auto& [name, spec] :
       {std::pair{"bias", &a.bias}, std::pair{"input", &a.input}, std::pair{"output", &a.output}}) {
    if (*spec) {
      out->push_back(
          absl::StrCat(where, ": rules set `", name, "`, which PyTorch's QConfig does not have"));
    }
  }
}

}  // namespace

std::vector<std::string> DiffBackendConfig(const engine::BackendConfig& actual,
                                           const json& expected) {
  std::vector<std::string> out;
  // The rules' configs by plain pattern text (alternatives expanded).
  std::map<std::string, std::pair<const engine::BackendPatternConfig*, engine::Pattern>> have;
  for (const engine::BackendPatternConfig& c : actual.configs) {
    for (engine::Pattern& p : engine::ExpandAlternatives(c.pattern)) {
      std::string key = p.ToString();
      if (!have.emplace(key, std::make_pair(&c, std::move(p))).second) {
        out.push_back(absl::StrCat(key, ": configured more than once in the rules"));
      }
    }
  }
  std::set<std::string> seen;
  for (const json& e : expected.at("configs")) {
    engine::Pattern want = PatternFromJson(e.at("pattern"));
    std::string key = want.ToString();
    seen.insert(key);
    auto it = have.find(key);
    if (it == have.end()) {
      out.push_back(absl::StrCat(key, ": missing from the rules"));
      continue;
    }
    DiffPatternConfig(*it->second.first, it->second.second, e, &out);
  }
  for (const auto& [key, _] : have) {
    if (!seen.count(key)) out.push_back(absl::StrCat(key, ": in the rules, not in PyTorch"));
  }
  return out;
}

std::vector<std::string> DiffQConfigMapping(const engine::QConfigMapping& actual,
                                            const json& expected) {
  std::vector<std::string> out;
  const json& g = expected.at("global");
  if (!actual.global_qconfig) {
    if (!g.is_null()) out.push_back("global: rules have no global qconfig, PyTorch has one");
  } else {
    DiffQConfig("global", *actual.global_qconfig, g, &out);
  }
  std::map<std::string, const engine::QConfig*> have;
  for (const auto& en : actual.object_type_qconfigs) {
    have[en.object_type.ToString()] = &en.qconfig;
  }
  std::set<std::string> seen;
  for (const json& en : expected.at("object_type")) {
    std::string key = OpFromJson(en.at("object_type").get<std::string>()).ToString();
    seen.insert(key);
    auto it = have.find(key);
    if (it == have.end()) {
      out.push_back(absl::StrCat("object_type ", key, ": missing from the rules"));
      continue;
    }
    DiffQConfig(absl::StrCat("object_type ", key), *it->second, en.at("qconfig"), &out);
  }
  for (const auto& [key, _] : have) {
    if (!seen.count(key)) {
      out.push_back(absl::StrCat("object_type ", key, ": in the rules, not in PyTorch"));
    }
  }
  // The ordered levels: same entries in the same order.
  auto ordered = [&](const char* level, std::vector<std::string> have_keys,
                     std::vector<const engine::QConfig*> have_q, const json& want, auto key_of) {
    if (have_keys.size() != want.size()) {
      out.push_back(absl::StrCat(level, ": rules have ", have_keys.size(), " entries, PyTorch ",
                                 want.size()));
      return;
    }
    for (size_t i = 0; i < have_keys.size(); ++i) {
      std::string k = key_of(want[i]);
      if (k != have_keys[i]) {
        out.push_back(
            absl::StrCat(level, " #", i, ": rules have ", have_keys[i], ", PyTorch has ", k));
        continue;
      }
      DiffQConfig(absl::StrCat(level, " ", k), *have_q[i], want[i].at("qconfig"), &out);
    }
  };
  {
    std::vector<std::string> keys;
    std::vector<const engine::QConfig*> qs;
    for (const auto& en : actual.module_name_regex_qconfigs) {
      keys.push_back(en.regex);
      qs.push_back(&en.qconfig);
    }
    ordered("module_name_regex", keys, qs, expected.at("module_name_regex"),
            [](const json& j) { return j.at("regex").get<std::string>(); });
  }
  {
    std::vector<std::string> keys;
    std::vector<const engine::QConfig*> qs;
    for (const auto& en : actual.module_name_qconfigs) {
      keys.push_back(en.module_name);
      qs.push_back(&en.qconfig);
    }
    ordered("module_name", keys, qs, expected.at("module_name"),
            [](const json& j) { return j.at("module_name").get<std::string>(); });
  }
  {
    std::vector<std::string> keys;
    std::vector<const engine::QConfig*> qs;
    for (const auto& en : actual.module_name_object_type_order_qconfigs) {
      keys.push_back(absl::StrCat(en.module_name, "/", en.object_type.ToString(), "/", en.index));
      qs.push_back(&en.qconfig);
    }
    ordered("module_name_object_type_order", keys, qs, expected.at("module_name_object_type_order"),
            [](const json& j) {
              return absl::StrCat(j.at("module_name").get<std::string>(), "/",
                                  OpFromJson(j.at("object_type").get<std::string>()).ToString(),
                                  "/", j.at("index").get<int>());
            });
  }
  return out;
}

}  // namespace qprep::backends::testing
