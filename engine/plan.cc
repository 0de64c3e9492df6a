// Plan JSON I/O and the PLAN_FORMAT.md comparison; see plan.h.
#include "engine/plan.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <map>
#include <set>
#include <string_view>
#include <utility>
#include <variant>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/file_io.h"
#include "common/status_macros.h"

namespace qprep::engine {
namespace {

using json = nlohmann::json;

json SpecArgsToJson(const ObserverSpec& spec) {
  json args = json::object();
  for (const auto& [k, v] : spec.args) {
    if (k == "observer") continue;  // the inner observer is written as an object
    std::visit(
        [&, &k = k](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, std::monostate>) {
            args[k] = nullptr;
          } else {
            args[k] = x;
          }
        },
        v.v);
  }
  return args;
}

absl::Status FieldError(const std::string& where, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("plan: ", where, ": ", what));
}

bool NumbersClose(double a, double b) {
  if (a == b) return true;
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::fabs(a - b) <= 1e-6 * std::max(std::fabs(a), std::fabs(b));
}

// Equal JSON values with numbers compared to a relative 1e-6.
bool ValuesClose(const json& a, const json& b) {
  if (a.is_number() && b.is_number()) {
    return NumbersClose(a.get<double>(), b.get<double>());
  }
  if (a.is_array() && b.is_array()) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (!ValuesClose(a[i], b[i])) return false;
    }
    return true;
  }
  if (a.is_object() && b.is_object()) {
    if (a.size() != b.size()) return false;
    for (auto it = a.begin(); it != a.end(); ++it) {
      if (!b.contains(it.key()) || !ValuesClose(it.value(), b[it.key()])) return false;
    }
    return true;
  }
  return a == b;
}

// Differences in the args both name, as "key: a != b" items.
void CompareArgs(const json& expected, const json& actual, const std::string& prefix,
                 std::vector<std::string>& out) {
  for (auto it = expected.begin(); it != expected.end(); ++it) {
    if (!actual.contains(it.key())) continue;
    const json& a = actual[it.key()];
    if (!ValuesClose(it.value(), a)) {
      out.push_back(absl::StrCat(prefix, it.key(), " ", it.value().dump(), " != ", a.dump()));
    }
  }
}

std::string PointKey(const PlanInsertion& ins) {
  std::vector<std::string> c = ins.consumers;
  std::sort(c.begin(), c.end());
  if (ins.kind.empty()) return absl::StrCat(ins.value, " -> [", absl::StrJoin(c, ", "), "]");
  return absl::StrCat(ins.value, " -> [", absl::StrJoin(c, ", "), "] (", ins.kind, ")");
}

// The plan writer streams text straight into one string instead of building a JSON tree first:
// on a 2,000-node chain the tree plus nlohmann's pretty-printer was about a third of a whole
// `qprepc prepare` run. The output is byte for byte what `PlanToJson(plan).dump(2) + "\n"`
// gives (tests/prepare/plan_facts_test.cc checks that): nlohmann's default object is a std::map,
// so keys come out sorted, and every key list below is written in that sorted order.
// Bytes a JSON string holds as they are: printable ASCII except '"' and '\\'.
constexpr std::array<bool, 256> kPlain = [] {
  std::array<bool, 256> t{};
  for (int c = 0x20; c < 0x80; ++c) t[c] = c != '"' && c != '\\';
  return t;
}();

class PlanWriter {
 public:
  explicit PlanWriter(std::string* out) : out_(*out) {}

  void Indent(int level) { out_.append(static_cast<size_t>(level) * 2, ' '); }

  // A JSON string as nlohmann's serializer writes it (ensure_ascii off). Non-ASCII text goes
  // through nlohmann itself so that its UTF-8 validation (and error) stays exactly the same.
  void String(std::string_view s) {
    const size_t start = out_.size();
    out_ += '"';
    // Copy runs of plain characters in one append; names almost never need escaping.
    size_t run = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      const unsigned char c = static_cast<unsigned char>(s[i]);
      if (kPlain[c]) continue;
      if (c >= 0x80) {
        out_.resize(start);
        out_ += json(std::string(s)).dump();
        return;
      }
      out_.append(s.data() + run, i - run);
      run = i + 1;
      switch (c) {
        case '"': out_ += "\\\""; break;
        case '\\': out_ += "\\\\"; break;
        case '\b': out_ += "\\b"; break;
        case '\f': out_ += "\\f"; break;
        case '\n': out_ += "\\n"; break;
        case '\r': out_ += "\\r"; break;
        case '\t': out_ += "\\t"; break;
        default: {
          static constexpr char kHex[] = "0123456789abcdef";
          const char esc[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
          out_.append(esc, sizeof(esc));
        }
      }
    }
    out_.append(s.data() + run, s.size() - run);
    out_ += '"';
  }

  // `"key": ` at `level`, after a comma-newline unless it is the first member.
  void Key(int level, std::string_view key, bool first) {
    if (!first) out_.append(",\n", 2);
    Indent(level);
    String(key);
    out_.append(": ", 2);
  }

  void Int(long long v) { absl::StrAppend(&out_, v); }

  // Any JSON value (observer args), nested containers opening at `level`. Scalars are left to
  // nlohmann so that numbers are formatted exactly as dump() formats them.
  void Value(const json& v, int level) {
    if (v.is_object()) {
      if (v.empty()) {
        out_ += "{}";
        return;
      }
      out_ += "{\n";
      bool first = true;
      for (auto it = v.begin(); it != v.end(); ++it) {
        Key(level + 1, it.key(), first);
        first = false;
        Value(it.value(), level + 1);
      }
      out_ += '\n';
      Indent(level);
      out_ += '}';
    } else if (v.is_array()) {
      Array(v, level, [&](const json& e, int element_level) { Value(e, element_level); });
    } else if (v.is_string()) {
      String(v.get_ref<const std::string&>());
    } else if (v.is_number_integer()) {
      if (v.is_number_unsigned()) {
        absl::StrAppend(&out_, v.get<uint64_t>());
      } else {
        absl::StrAppend(&out_, v.get<int64_t>());
      }
    } else if (v.is_boolean()) {
      out_ += v.get<bool>() ? "true" : "false";
    } else if (v.is_null()) {
      out_ += "null";
    } else {  // floats: nlohmann's shortest round-trip formatting
      out_ += v.dump();
    }
  }

  // `[ element, element ]` at `level` as json::dump(2) lays it out: `[]` when empty, else one
  // element per line at level + 1, each written by `write(element, level + 1)` after its indent.
  template <typename Container, typename F>
  void Array(const Container& items, int level, F write) {
    if (items.empty()) {
      out_ += "[]";
      return;
    }
    out_ += "[\n";
    bool first = true;
    for (const auto& item : items) {
      if (!first) out_ += ",\n";
      first = false;
      Indent(level + 1);
      write(item, level + 1);
    }
    out_ += '\n';
    Indent(level);
    out_ += ']';
  }

  void StringArray(const std::vector<std::string>& items, int level) {
    Array(items, level, [&](const std::string& item, int) { String(item); });
  }

  // `[ item, item ]` of objects at `level`, each written by `write(item, object_level)`.
  template <typename T, typename F>
  void ObjectArray(const std::vector<T>& items, int level, F write) {
    Array(items, level, [&](const T& item, int element_level) {
      out_ += "{\n";
      write(item, element_level + 1);
      out_ += '\n';
      Indent(element_level);
      out_ += '}';
    });
  }

  std::string& out() { return out_; }

 private:
  std::string& out_;
};

}  // namespace

PlanObserver PlanObserverFromSpec(int id, const ObserverSpec& spec) {
  PlanObserver o;
  o.id = id;
  o.class_name = spec.class_name;
  o.args = SpecArgsToJson(spec);
  if (spec.observer != nullptr) {
    o.inner_class = spec.observer->class_name;
    o.inner_args = SpecArgsToJson(*spec.observer);
  }
  return o;
}

json PlanToJson(const Plan& plan) {
  json j = json::object();
  j["format"] = plan.format;
  j["version"] = plan.version;
  j["graph"] = plan.graph;
  j["backend"] = plan.backend;
  json obs = json::array();
  for (const PlanObserver& o : plan.observers) {
    json e = {{"id", o.id}, {"class", o.class_name}, {"args", o.args}};
    if (o.inner_class) e["observer"] = {{"class", *o.inner_class}, {"args", o.inner_args}};
    obs.push_back(std::move(e));
  }
  j["observers"] = std::move(obs);
  json ins = json::array();
  for (const PlanInsertion& i : plan.insertions) {
    json e = {{"name", i.name},
              {"observer", i.observer},
              {"value", i.value},
              {"consumers", i.consumers}};
    if (!i.kind.empty()) e["kind"] = i.kind;
    ins.push_back(std::move(e));
  }
  j["insertions"] = std::move(ins);
  json nodes = json::array();
  for (const PlanNode& n : plan.nodes) {
    nodes.push_back({{"name", n.name},
                     {"pattern", n.pattern},
                     {"qconfig", n.qconfig},
                     {"quantized", n.quantized},
                     {"reason", n.reason}});
  }
  j["nodes"] = std::move(nodes);
  return j;
}

std::string PlanToString(const Plan& plan) {
  std::string out;
  // About 250-400 bytes per insertion, node and observer on the exports (chain400: 1.3 MB).
  out.reserve(512 + 400 * (plan.observers.size() + plan.insertions.size() + plan.nodes.size()));
  PlanWriter w(&out);
  out += "{\n";
  w.Key(1, "backend", true);
  w.String(plan.backend);
  w.Key(1, "format", false);
  w.String(plan.format);
  w.Key(1, "graph", false);
  w.String(plan.graph);
  w.Key(1, "insertions", false);
  w.ObjectArray(plan.insertions, 1, [&](const PlanInsertion& i, int level) {
    w.Key(level, "consumers", true);
    w.StringArray(i.consumers, level);
    if (!i.kind.empty()) {
      w.Key(level, "kind", false);
      w.String(i.kind);
    }
    w.Key(level, "name", false);
    w.String(i.name);
    w.Key(level, "observer", false);
    w.Int(i.observer);
    w.Key(level, "value", false);
    w.String(i.value);
  });
  w.Key(1, "nodes", false);
  w.ObjectArray(plan.nodes, 1, [&](const PlanNode& n, int level) {
    w.Key(level, "name", true);
    w.String(n.name);
    w.Key(level, "pattern", false);
    w.String(n.pattern);
    w.Key(level, "qconfig", false);
    w.String(n.qconfig);
    w.Key(level, "quantized", false);
    out += n.quantized ? "true" : "false";
    w.Key(level, "reason", false);
    w.String(n.reason);
  });
  w.Key(1, "observers", false);
  w.ObjectArray(plan.observers, 1, [&](const PlanObserver& o, int level) {
    w.Key(level, "args", true);
    w.Value(o.args, level);
    w.Key(level, "class", false);
    w.String(o.class_name);
    w.Key(level, "id", false);
    w.Int(o.id);
    if (o.inner_class) {
      w.Key(level, "observer", false);
      out += "{\n";
      w.Key(level + 1, "args", true);
      w.Value(o.inner_args, level + 1);
      w.Key(level + 1, "class", false);
      w.String(*o.inner_class);
      out += '\n';
      w.Indent(level);
      out += '}';
    }
  });
  w.Key(1, "version", false);
  w.Int(plan.version);
  out += "\n}\n";
  return out;
}

absl::StatusOr<Plan> PlanFromJson(const json& j) {
  if (!j.is_object()) return FieldError("top level", "expected an object");
  Plan p;
  auto str = [&](const json& o, const char* key, const std::string& where,
                 bool required) -> absl::StatusOr<std::string> {
    if (!o.contains(key)) {
      if (required) return FieldError(where, absl::StrCat("missing \"", key, "\""));
      return std::string();
    }
    if (!o[key].is_string())
      return FieldError(where, absl::StrCat("\"", key, "\" must be a string"));
    return o[key].get<std::string>();
  };
  ASSIGN_OR_RETURN(p.format, str(j, "format", "top level", true));
  if (p.format != "qprep.plan" && p.format != "qprep.torch_reference") {
    return FieldError("format", absl::StrCat("unknown format '", p.format, "'"));
  }
  if (!j.contains("version") || !j["version"].is_number_integer() || j["version"] != 1) {
    return FieldError("version", "expected 1");
  }
  ASSIGN_OR_RETURN(p.graph, str(j, "graph", "top level", false));
  ASSIGN_OR_RETURN(p.backend, str(j, "backend", "top level", false));
  if (!j.contains("observers") || !j["observers"].is_array()) {
    return FieldError("observers", "missing or not an array");
  }
  std::set<int> ids;
  for (size_t i = 0; i < j["observers"].size(); ++i) {
    const json& o = j["observers"][i];
    const std::string where = absl::StrCat("observers[", i, "]");
    if (!o.is_object()) return FieldError(where, "expected an object");
    PlanObserver po;
    if (!o.contains("id") || !o["id"].is_number_integer())
      return FieldError(where, "missing integer \"id\"");
    po.id = o["id"].get<int>();
    if (!ids.insert(po.id).second) return FieldError(where, absl::StrCat("duplicate id ", po.id));
    ASSIGN_OR_RETURN(po.class_name, str(o, "class", where, true));
    if (o.contains("args")) {
      if (!o["args"].is_object()) return FieldError(where, "\"args\" must be an object");
      po.args = o["args"];
    }
    if (o.contains("observer")) {
      const json& inner = o["observer"];
      if (!inner.is_object()) return FieldError(where, "\"observer\" must be an object");
      ASSIGN_OR_RETURN(std::string cls, str(inner, "class", where + ".observer", true));
      po.inner_class = cls;
      if (inner.contains("args")) {
        po.inner_args = inner["args"];
      } else {  // flat form {"class": ..., arg: value, ...}
        po.inner_args = inner;
        po.inner_args.erase("class");
      }
    }
    p.observers.push_back(std::move(po));
  }
  if (!j.contains("insertions") || !j["insertions"].is_array()) {
    return FieldError("insertions", "missing or not an array");
  }
  for (size_t i = 0; i < j["insertions"].size(); ++i) {
    const json& o = j["insertions"][i];
    const std::string where = absl::StrCat("insertions[", i, "]");
    if (!o.is_object()) return FieldError(where, "expected an object");
    PlanInsertion pi;
    ASSIGN_OR_RETURN(pi.name, str(o, "name", where, false));
    if (!o.contains("observer") || !o["observer"].is_number_integer()) {
      return FieldError(where, "missing integer \"observer\"");
    }
    pi.observer = o["observer"].get<int>();
    if (!ids.contains(pi.observer)) {
      return FieldError(where, absl::StrCat("observer ", pi.observer, " is not in observers"));
    }
    ASSIGN_OR_RETURN(pi.value, str(o, "value", where, true));
    if (!o.contains("consumers") || !o["consumers"].is_array()) {
      return FieldError(where, "missing \"consumers\" array");
    }
    for (const json& c : o["consumers"]) {
      if (!c.is_string()) return FieldError(where, "consumers must be strings");
      pi.consumers.push_back(c.get<std::string>());
    }
    if (o.contains("kind")) {
      if (!o["kind"].is_string()) return FieldError(where, "\"kind\" must be a string");
      pi.kind = o["kind"].get<std::string>();
    }
    p.insertions.push_back(std::move(pi));
  }
  if (j.contains("nodes")) {
    if (!j["nodes"].is_array()) return FieldError("nodes", "not an array");
    for (size_t i = 0; i < j["nodes"].size(); ++i) {
      const json& o = j["nodes"][i];
      const std::string where = absl::StrCat("nodes[", i, "]");
      if (!o.is_object()) return FieldError(where, "expected an object");
      PlanNode pn;
      ASSIGN_OR_RETURN(pn.name, str(o, "name", where, true));
      ASSIGN_OR_RETURN(pn.pattern, str(o, "pattern", where, false));
      ASSIGN_OR_RETURN(pn.qconfig, str(o, "qconfig", where, false));
      ASSIGN_OR_RETURN(pn.reason, str(o, "reason", where, false));
      pn.quantized =
          o.contains("quantized") && o["quantized"].is_boolean() && o["quantized"].get<bool>();
      p.nodes.push_back(std::move(pn));
    }
  }
  return p;
}

absl::StatusOr<Plan> ParsePlan(std::string_view text) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::InvalidArgumentError("plan: not valid JSON");
  return PlanFromJson(j);
}

absl::StatusOr<Plan> ReadPlanFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  absl::StatusOr<Plan> p = ParsePlan(text);
  if (!p.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", p.status().message()));
  return p;
}

std::vector<std::string> ComparePlans(const Plan& expected, const Plan& actual) {
  std::vector<std::string> diffs;
  // Index both plans by insertion point; a point observed twice in one plan is itself a
  // difference worth reporting (PyTorch never does that).
  auto index = [&](const Plan& p, const std::string& which) {
    std::map<std::string, const PlanInsertion*> points;
    for (const PlanInsertion& i : p.insertions) {
      auto [it, inserted] = points.emplace(PointKey(i), &i);
      if (!inserted) {
        diffs.push_back(absl::StrCat(which, " observes ", it->first, " more than once"));
      }
    }
    return points;
  };
  const auto exp_points = index(expected, "expected plan");
  const auto act_points = index(actual, "actual plan");
  auto observer_of = [](const Plan& p, int id) -> const PlanObserver* {
    for (const PlanObserver& o : p.observers) {
      if (o.id == id) return &o;
    }
    return nullptr;
  };

  // 1. the sets of insertion points.
  for (const auto& [key, ins] : exp_points) {
    if (!act_points.contains(key)) diffs.push_back(absl::StrCat("missing insertion point ", key));
  }
  for (const auto& [key, ins] : act_points) {
    if (!exp_points.contains(key)) diffs.push_back(absl::StrCat("extra insertion point ", key));
  }

  // 2. the observer at each common point.
  for (const auto& [key, e_ins] : exp_points) {
    auto it = act_points.find(key);
    if (it == act_points.end()) continue;
    const PlanObserver* e = observer_of(expected, e_ins->observer);
    const PlanObserver* a = observer_of(actual, it->second->observer);
    if (e == nullptr || a == nullptr) {
      diffs.push_back(absl::StrCat("at ", key, ": dangling observer id"));
      continue;
    }
    if (e->class_name != a->class_name) {
      diffs.push_back(absl::StrCat("at ", key, ": class ", e->class_name, " != ", a->class_name));
      continue;
    }
    std::vector<std::string> arg_diffs;
    CompareArgs(e->args, a->args, "", arg_diffs);
    if (e->inner_class.has_value() != a->inner_class.has_value()) {
      arg_diffs.push_back("inner observer present in only one plan");
    } else if (e->inner_class) {
      if (*e->inner_class != *a->inner_class) {
        arg_diffs.push_back(
            absl::StrCat("observer.class ", *e->inner_class, " != ", *a->inner_class));
      } else {
        CompareArgs(e->inner_args, a->inner_args, "observer.", arg_diffs);
      }
    }
    for (const std::string& d : arg_diffs) diffs.push_back(absl::StrCat("at ", key, ": ", d));
  }

  // 3. the partition of (common) points by observer instance.
  auto groups = [](const std::map<std::string, const PlanInsertion*>& points,
                   const std::map<std::string, const PlanInsertion*>& other) {
    std::map<int, std::set<std::string>> by_id;
    for (const auto& [key, ins] : points) {
      if (other.contains(key)) by_id[ins->observer].insert(key);
    }
    std::map<std::string, std::set<std::string>> of_point;
    for (const auto& [id, members] : by_id) {
      for (const std::string& k : members) of_point[k] = members;
    }
    return of_point;
  };
  const auto exp_groups = groups(exp_points, act_points);
  const auto act_groups = groups(act_points, exp_points);
  std::set<std::set<std::string>> reported;
  for (const auto& [key, e_group] : exp_groups) {
    const std::set<std::string>& a_group = act_groups.at(key);
    if (e_group == a_group || reported.contains(e_group)) continue;
    reported.insert(e_group);
    auto fmt = [&, &key = key](const std::set<std::string>& g) {
      std::vector<std::string> others;
      for (const std::string& k : g) {
        if (k != key) others.push_back(k);
      }
      return others.empty() ? std::string("nothing") : absl::StrJoin(others, "; ");
    };
    diffs.push_back(absl::StrCat("sharing at ", key, ": expected shared with {", fmt(e_group),
                                 "}, actual shared with {", fmt(a_group), "}"));
  }
  return diffs;
}

}  // namespace qprep::engine
