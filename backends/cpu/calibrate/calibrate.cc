// The calibration driver; see calibrate.h for the contract and docs/calibration.md for the data
// layout, the state directory and the output format.
#include "backends/cpu/calibrate/calibrate.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <optional>
#include <set>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "backends/cpu/calibrate/calibrators_extra.h"
#include "backends/cpu/calibrate/derived.h"
#include "backends/cpu/calibrate/npy.h"
#include "backends/cpu/equalization.h"
#include "backends/cpu/parallel.h"
#include "common/file_io.h"
#include "common/status_macros.h"

namespace qprep::observers {
namespace {

// nlohmann::json accessors (value(), get<T>(), at()) throw on a field of the wrong type. Plans
// and state manifests are user input: the public entry points below run their parsing through
// this, so such a field is an InvalidArgument naming `what`, never an uncaught exception.
template <typename Fn>
auto GuardJson(std::string_view what, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(what), ": malformed field (", e.what(), ")"));
  }
}

namespace fs = std::filesystem;
using json = nlohmann::json;

absl::Status PlanError(const std::string& where, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("plan: ", where, ": ", what));
}

absl::StatusOr<SpecValue> ToSpecValue(const json& v, const std::string& where) {
  if (v.is_null()) return SpecValue{std::monostate{}};
  if (v.is_boolean()) return SpecValue{v.get<bool>()};
  if (v.is_number_integer()) return SpecValue{v.get<int64_t>()};
  if (v.is_number_float()) return SpecValue{v.get<double>()};
  if (v.is_string()) return SpecValue{v.get<std::string>()};
  return PlanError(where, "argument values must be null, bool, number or string");
}

// PyTorch's default quant range for a dtype (calculate_qmin_qmax without a custom range).
std::pair<int64_t, int64_t> DefaultRange(const std::string& dtype, bool reduce_range) {
  if (dtype == "qint8")
    return reduce_range ? std::pair<int64_t, int64_t>{-64, 63}
                        : std::pair<int64_t, int64_t>{-128, 127};
  if (dtype == "quint8") return {0, reduce_range ? 127 : 255};
  if (dtype == "qint32") return {-(int64_t{1} << 31), (int64_t{1} << 31) - 1};
  return {0, 15};
}

// The classes whose plan args carry an effective quant range (UniformQuantizationObserverBase).
bool HasEffectiveRange(const std::string& cls) {
  static const std::set<std::string> kClasses = {
      "MinMaxObserver",           "MovingAverageMinMaxObserver",
      "PerChannelMinMaxObserver", "MovingAveragePerChannelMinMaxObserver",
      "HistogramObserver",        "PercentileObserver",
      "EntropyObserver",          "MSEObserver"};
  return kClasses.count(cls) > 0;
}

// Written arguments for a class from plan args. The plan holds the *effective* quant range;
// `has_customized_qrange` tells the spec builder not to apply reduce_range again. Plans that do
// not carry it (tools/torch_reference.py's) get it inferred: customized iff the range differs
// from the dtype's default.
absl::StatusOr<std::vector<std::pair<std::string, SpecValue>>> WrittenArgs(
    const std::string& cls, const json& args, const std::string& where) {
  std::vector<std::pair<std::string, SpecValue>> out;
  if (args.is_null()) return out;
  if (!args.is_object()) return PlanError(where, "\"args\" must be an object");
  for (const auto& [k, v] : args.items()) {
    ASSIGN_OR_RETURN(SpecValue sv, ToSpecValue(v, absl::StrCat(where, ".args.", k)));
    out.emplace_back(k, std::move(sv));
  }
  if (HasEffectiveRange(cls) && !args.contains("has_customized_qrange") &&
      args.contains("quant_min") && args.contains("quant_max") &&
      args["quant_min"].is_number_integer() && args["quant_max"].is_number_integer()) {
    const std::string dtype = args.value("dtype", std::string("quint8"));
    const bool rr = args.contains("reduce_range") && args["reduce_range"].is_boolean() &&
                    args["reduce_range"].get<bool>();
    const auto def = DefaultRange(dtype, rr);
    const bool customized = args["quant_min"].get<int64_t>() != def.first ||
                            args["quant_max"].get<int64_t>() != def.second;
    out.emplace_back("has_customized_qrange", SpecValue{customized});
  }
  return out;
}

// A plan name used as a path component: no separators, no dot-dot.
bool SafeName(const std::string& s) {
  return !s.empty() && s != "." && s != ".." && s.find('/') == std::string::npos &&
         s.find('\\') == std::string::npos && s.find('\0') == std::string::npos;
}

std::vector<std::string> NpyFilesIn(const fs::path& dir, std::error_code& ec) {
  std::vector<std::string> files;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() == ".npy" && it->is_regular_file(ec)) {
      files.push_back(it->path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

const char* KindName(ObserverKind k) {
  switch (k) {
    case ObserverKind::kStatistics:
      return "statistics";
    case ObserverKind::kFixed:
      return "fixed";
    case ObserverKind::kMarker:
      return "marker";  // (a derived observer is reported as "derived")
    case ObserverKind::kFakeQuantize:
      return "fake_quantize";
    case ObserverKind::kEqualization:
      return "equalization";
  }
  return "?";
}

bool CollectsData(const Observer& o) {
  return o.kind() == ObserverKind::kStatistics || o.kind() == ObserverKind::kFakeQuantize ||
         o.kind() == ObserverKind::kEqualization;
}

json FloatsJson(const std::vector<float>& v) {
  json a = json::array();
  for (float f : v) a.push_back(FloatToJson(f));
  return a;
}

}  // namespace

namespace {
absl::StatusOr<ObserverSpec> SpecFromPlanEntryImpl(const json& entry) {
  if (!entry.is_object()) return PlanError("observers[]", "must be an object");
  // dump(), not value("id", -1): a floating-point id would be converted to int (undefined
  // behaviour when out of range).
  const std::string where =
      absl::StrCat("observers[", entry.contains("id") ? entry["id"].dump() : "?", "]");
  if (entry.contains("spec") && entry["spec"].is_string()) {
    return ParseObserverSpec(entry["spec"].get<std::string>());
  }
  if (!entry.contains("class") || !entry["class"].is_string()) {
    return PlanError(where, "\"class\" (a string) is required");
  }
  const std::string cls = entry["class"].get<std::string>();
  const json args = entry.contains("args") ? entry["args"] : json::object();
  if (entry.contains("observer") && entry["observer"].is_object()) {
    // A fake-quant: rebuild the inner observer's spec, then pass it as a nested canonical
    // `observer=Class(...)`, which fixes the inner quant range. The outer args are values
    // mirrored from the inner observer (dtype, qscheme, quant range, ch_axis): nothing to pass.
    const json& inner = entry["observer"];
    if (!inner.contains("class") || !inner["class"].is_string()) {
      return PlanError(where, "\"observer\" needs a \"class\"");
    }
    const std::string inner_cls = inner["class"].get<std::string>();
    json inner_args = inner.contains("args") ? inner["args"] : inner;
    if (!inner.contains("args")) inner_args.erase("class");
    ASSIGN_OR_RETURN(auto written, WrittenArgs(inner_cls, inner_args, where + ".observer"));
    absl::StatusOr<ObserverSpec> inner_spec = MakeObserverSpec(inner_cls, written);
    if (!inner_spec.ok()) {
      return PlanError(where + ".observer", std::string(inner_spec.status().message()));
    }
    absl::StatusOr<ObserverSpec> spec =
        MakeObserverSpec(cls, {{"observer", SpecValue{inner_spec->ToString()}}});
    if (!spec.ok()) return PlanError(where, std::string(spec.status().message()));
    return spec;
  }
  ASSIGN_OR_RETURN(auto written, WrittenArgs(cls, args, where));
  absl::StatusOr<ObserverSpec> spec = MakeObserverSpec(cls, written);
  if (!spec.ok()) return PlanError(where, std::string(spec.status().message()));
  return spec;
}

}  // namespace

absl::StatusOr<ObserverSpec> SpecFromPlanEntry(const json& entry) {
  return GuardJson("plan observer", [&] { return SpecFromPlanEntryImpl(entry); });
}

namespace {
absl::StatusOr<CalibrationPlan> ParsePlanImpl(std::string_view json_text) {
  json j = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::InvalidArgumentError("plan: not valid JSON");
  if (!j.is_object()) return absl::InvalidArgumentError("plan: the top level must be an object");
  const std::string format = j.value("format", std::string());
  if (format != "qprep.plan" && format != "qprep.torch_reference") {
    return absl::InvalidArgumentError(
        absl::StrCat("plan: \"format\" is '", format, "', expected \"qprep.plan\""));
  }
  if (!j.contains("version") || !j["version"].is_number_integer() || j["version"].get<int>() != 1) {
    return absl::InvalidArgumentError("plan: only \"version\": 1 is supported");
  }
  CalibrationPlan plan;
  if (j.contains("graph") && j["graph"].is_string()) plan.graph = j["graph"].get<std::string>();
  if (j.contains("backend") && j["backend"].is_string()) {
    plan.backend = j["backend"].get<std::string>();
  }
  if (!j.contains("observers") || !j["observers"].is_array()) {
    return PlanError("observers", "an array is required");
  }
  if (!j.contains("insertions") || !j["insertions"].is_array()) {
    return PlanError("insertions", "an array is required");
  }
  for (size_t i = 0; i < j["observers"].size(); ++i) {
    const json& e = j["observers"][i];
    if (!e.is_object() || !e.contains("id") || !e["id"].is_number_integer() ||
        e["id"].get<int64_t>() != static_cast<int64_t>(i)) {
      return PlanError(absl::StrCat("observers[", i, "]"), "\"id\" must equal its index");
    }
    // A derived instance's "derived_from" (a list of observer ids) is not a spec argument.
    std::vector<int64_t> derived_from;
    json entry = e;
    if (entry.contains("args") && entry["args"].is_object() &&
        entry["args"].contains("derived_from")) {
      const json& ids = entry["args"]["derived_from"];
      const std::string where = absl::StrCat("observers[", i, "].args.derived_from");
      if (!ids.is_array()) return PlanError(where, "must be a list of observer ids");
      for (const json& id : ids) {
        if (!id.is_number_integer() || id.get<int64_t>() < 0 ||
            id.get<int64_t>() >= static_cast<int64_t>(j["observers"].size()) ||
            id.get<int64_t>() == static_cast<int64_t>(i)) {
          return PlanError(where, "must hold ids of other observers of the plan");
        }
        derived_from.push_back(id.get<int64_t>());
      }
      entry["args"].erase("derived_from");
    }
    ASSIGN_OR_RETURN(ObserverSpec spec, SpecFromPlanEntry(entry));
    if ((spec.class_name == kDerivedObserverClass) == derived_from.empty()) {
      return PlanError(absl::StrCat("observers[", i, "]"),
                       "derived_from goes with class _DerivedObserverOrFakeQuantize, and it "
                       "needs it");
    }
    plan.observers.push_back({static_cast<int64_t>(i), std::move(spec), std::move(derived_from)});
  }
  for (const PlanObserver& o : plan.observers) {
    for (int64_t src : o.derived_from) {
      if (!plan.observers[src].derived_from.empty()) {
        return PlanError(absl::StrCat("observers[", o.id, "].args.derived_from"),
                         "a derived observer's sources must not be derived themselves");
      }
    }
  }
  std::set<std::string> names;
  for (size_t i = 0; i < j["insertions"].size(); ++i) {
    const json& e = j["insertions"][i];
    const std::string where = absl::StrCat("insertions[", i, "]");
    if (!e.is_object()) return PlanError(where, "must be an object");
    PlanInsertion ins;
    if (!e.contains("name") || !e["name"].is_string()) return PlanError(where, "\"name\" required");
    ins.name = e["name"].get<std::string>();
    if (!e.contains("observer") || !e["observer"].is_number_integer()) {
      return PlanError(where, "\"observer\" (an id) required");
    }
    ins.observer = e["observer"].get<int64_t>();
    if (ins.observer < 0 || ins.observer >= static_cast<int64_t>(plan.observers.size())) {
      return PlanError(where,
                       absl::StrCat("observer id ", ins.observer, " is not in \"observers\""));
    }
    if (!e.contains("value") || !e["value"].is_string())
      return PlanError(where, "\"value\" required");
    ins.value = e["value"].get<std::string>();
    if (e.contains("consumers") && e["consumers"].is_array()) {
      for (const json& c : e["consumers"]) {
        if (c.is_string()) ins.consumers.push_back(c.get<std::string>());
      }
    }
    if (e.contains("kind") && e["kind"].is_string()) ins.kind = e["kind"].get<std::string>();
    if (!SafeName(ins.name)) return PlanError(where, "name is not usable as a file name");
    if (!names.insert(ins.name).second) {
      return PlanError(where, absl::StrCat("duplicate insertion name '", ins.name, "'"));
    }
    plan.insertions.push_back(std::move(ins));
  }
  return plan;
}
}  // namespace

absl::StatusOr<CalibrationPlan> ParsePlan(std::string_view json_text) {
  return GuardJson("plan", [&] { return ParsePlanImpl(json_text); });
}

json FloatToJson(float f) {
  if (std::isnan(f)) return "nan";
  if (std::isinf(f)) return f > 0 ? "inf" : "-inf";
  return static_cast<double>(f);
}

json QParamsToJson(const Observer& observer, const QParams& qp) {
  json scale = json::array(), zp = json::array(), mins = json::array(), maxs = json::array();
  for (float s : qp.scale) scale.push_back(FloatToJson(s));
  if (qp.float_zero_point) {
    for (float z : qp.zero_point_float) zp.push_back(FloatToJson(z));
  } else {
    for (int64_t z : qp.zero_point) zp.push_back(z);
  }
  for (float v : observer.min_val()) mins.push_back(FloatToJson(v));
  for (float v : observer.max_val()) maxs.push_back(FloatToJson(v));
  return json{{"scale", scale}, {"zero_point", zp}, {"min_val", mins}, {"max_val", maxs}};
}

absl::StatusOr<std::unique_ptr<Calibration>> Calibration::Create(CalibrationPlan plan,
                                                                 CalibrateOptions options) {
  RegisterExtraCalibrators();
  RegisterDerivedObserver();
  std::unique_ptr<Calibration> c(new Calibration(std::move(plan), options));
  ObserverOptions oo;
  oo.num_threads = std::max(1, options.num_threads);
  for (const PlanObserver& po : c->plan_.observers) {
    absl::StatusOr<std::unique_ptr<Observer>> o = MakeObserver(po.spec, oo);
    if (!o.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("observer ", po.id, " (", po.spec.ToString(), "): ", o.status().message()));
    }
    c->observers_.push_back(std::move(*o));
  }
  c->batches_.assign(c->observers_.size(), 0);
  c->elements_.assign(c->observers_.size(), 0);
  c->insertion_files_.assign(c->plan_.insertions.size(), 0);
  return c;
}

absl::StatusOr<std::vector<std::vector<std::string>>> Calibration::FindBatches(
    const std::string& dir) const {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat("data directory '", dir, "' does not exist"));
  }
  std::vector<std::vector<std::string>> out(plan_.insertions.size());
  std::vector<std::string> missing;
  for (size_t i = 0; i < plan_.insertions.size(); ++i) {
    const PlanInsertion& ins = plan_.insertions[i];
    if (!CollectsData(*observers_[ins.observer])) continue;
    std::vector<std::string> names = {ins.name};
    if (SafeName(ins.value)) names.push_back(ins.value);
    for (const std::string& name : names) {
      const fs::path sub = fs::path(dir) / name;
      if (fs::is_directory(sub, ec)) {
        out[i] = NpyFilesIn(sub, ec);
        if (ec)
          return absl::InternalError(
              absl::StrCat("cannot list ", sub.string(), ": ", ec.message()));
        if (!out[i].empty()) break;
      }
      const fs::path file = fs::path(dir) / (name + ".npy");
      if (fs::is_regular_file(file, ec)) {
        out[i] = {file.string()};
        break;
      }
    }
    if (out[i].empty()) missing.push_back(absl::StrCat(ins.name, " (value ", ins.value, ")"));
  }
  if (!missing.empty() && !options_.allow_missing) {
    const size_t shown = std::min<size_t>(missing.size(), 5);
    return absl::NotFoundError(absl::StrCat(
        "no .npy batches in '", dir, "' for ", missing.size(),
        " insertion(s): ", absl::StrJoin(missing.begin(), missing.begin() + shown, ", "),
        missing.size() > shown ? ", ..." : "",
        " (expected DIR/<insertion>/*.npy, DIR/<insertion>.npy, DIR/<value>/*.npy or "
        "DIR/<value>.npy; --allow-missing to skip)"));
  }
  return out;
}

absl::Status Calibration::ObserveDir(
    const std::string& dir, const std::function<void(const CalibrateProgress&)>& progress) {
  ASSIGN_OR_RETURN(auto files, FindBatches(dir));
  size_t passes = 0;
  for (const auto& f : files) passes = std::max(passes, f.size());
  // Each observer instance takes its insertions' batches in plan order (a shared instance sees
  // them as PyTorch's forward does). Instances are independent, so with several threads a pass
  // hands whole instances to the threads, the next free thread taking the next instance (reading
  // its .npy files as well); the tensor-level split of ObserverOptions::num_threads then runs
  // inline on that thread (parallel.h). Every instance sees the same batches in the same order
  // as with one thread, so the results are identical.
  std::vector<std::vector<size_t>> by_instance(observers_.size());
  for (size_t i = 0; i < plan_.insertions.size(); ++i) {
    if (!files[i].empty()) by_instance[plan_.insertions[i].observer].push_back(i);
  }
  std::vector<size_t> instances;
  for (size_t id = 0; id < by_instance.size(); ++id) {
    if (!by_instance[id].empty()) instances.push_back(id);
  }
  const int threads = std::max(1, options_.num_threads);
  CalibrateProgress p;
  p.num_passes = static_cast<int64_t>(passes);
  for (size_t pass = 0; pass < passes; ++pass) {
    // One status per insertion; the first failure in plan order among those seen is reported
    // (after a failure the threads stop taking instances, so which one is seen first may depend
    // on the thread count when several files are bad).
    std::vector<absl::Status> status(plan_.insertions.size());
    std::vector<int64_t> elements(plan_.insertions.size(), 0);
    std::atomic<size_t> next{0};
    std::atomic<bool> failed{false};
    const auto work = [&](size_t, size_t, int) {
      for (size_t k = next++; k < instances.size() && !failed.load(); k = next++) {
        for (size_t i : by_instance[instances[k]]) {
          if (pass >= files[i].size()) continue;
          absl::StatusOr<NpyArray> a = ReadNpy(files[i][pass]);
          absl::Status s =
              a.ok() ? observers_[instances[k]]->Observe(a->data.data(), a->shape) : a.status();
          if (!s.ok()) {
            status[i] = a.ok() ? absl::Status(s.code(), absl::StrCat(files[i][pass], ": insertion ",
                                                                     plan_.insertions[i].name, ": ",
                                                                     s.message()))
                               : s;
            failed = true;
            break;
          }
          elements[i] = a->num_elements();
        }
      }
    };
    ParallelChunks(threads, std::min<size_t>(static_cast<size_t>(threads), instances.size()), work);
    for (const absl::Status& s : status) {
      if (!s.ok()) return s;
    }
    for (size_t i = 0; i < plan_.insertions.size(); ++i) {
      if (pass >= files[i].size()) continue;
      const int64_t id = plan_.insertions[i].observer;
      ++batches_[id];
      elements_[id] += elements[i];
      ++insertion_files_[i];
      ++p.files_done;
      p.bytes_done += elements[i] * static_cast<int64_t>(sizeof(float));
    }
    p.pass = static_cast<int64_t>(pass) + 1;
    if (progress) progress(p);
  }
  return absl::OkStatus();
}

absl::Status Calibration::SaveState(const std::string& dir) const {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create '", dir, "': ", ec.message()));
  json manifest = {{"format", "qprep.calibration_state"},
                   {"version", 1},
                   {"graph", plan_.graph},
                   {"backend", plan_.backend}};
  json obs = json::array();
  for (size_t id = 0; id < observers_.size(); ++id) {
    obs.push_back({{"id", id},
                   {"spec", observers_[id]->spec().ToString()},
                   {"batches", batches_[id]},
                   {"elements", elements_[id]},
                   {"file", absl::StrCat("observer_", id, ".json")}});
    RETURN_IF_ERROR(
        WriteFileAtomically((fs::path(dir) / absl::StrCat("observer_", id, ".json")).string(),
                            observers_[id]->SerializeState()));
  }
  manifest["observers"] = obs;
  manifest["insertion_files"] = insertion_files_;
  // The manifest last: a directory with a manifest is complete.
  return WriteFileAtomically((fs::path(dir) / "manifest.json").string(), manifest.dump(1) + "\n");
}

absl::Status Calibration::MergeState(const std::string& dir) {
  return GuardJson(dir, [&] { return MergeStateImpl(dir); });
}

absl::Status Calibration::MergeStateImpl(const std::string& dir) {
  const std::string mpath = (fs::path(dir) / "manifest.json").string();
  ASSIGN_OR_RETURN(std::string text, ReadFile(mpath));
  json m = json::parse(text, nullptr, false);
  auto bad = [&](const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat(mpath, ": ", what));
  };
  if (m.is_discarded() || !m.is_object()) return bad("not valid JSON");
  if (m.value("format", std::string()) != "qprep.calibration_state" || !m.contains("version") ||
      m["version"] != 1) {
    return bad("not a qprep calibration state (format \"qprep.calibration_state\", version 1)");
  }
  if (!m.contains("observers") || !m["observers"].is_array() ||
      m["observers"].size() != observers_.size()) {
    return bad(absl::StrCat("the state has ", m.contains("observers") ? m["observers"].size() : 0,
                            " observers, the plan ", observers_.size(),
                            " (was it saved for another plan?)"));
  }
  // Validate everything before merging anything, so a bad directory leaves the state unchanged.
  std::vector<std::unique_ptr<Observer>> loaded;
  for (size_t id = 0; id < observers_.size(); ++id) {
    const json& e = m["observers"][id];
    const std::string spec = observers_[id]->spec().ToString();
    if (!e.is_object() || e.value("spec", std::string()) != spec) {
      return bad(absl::StrCat("observer ", id, " has another spec than the plan's ", spec));
    }
    const std::string opath = (fs::path(dir) / absl::StrCat("observer_", id, ".json")).string();
    ASSIGN_OR_RETURN(std::string state, ReadFile(opath));
    ASSIGN_OR_RETURN(std::unique_ptr<Observer> o, MakeObserver(observers_[id]->spec()));
    absl::Status s = o->LoadState(state);
    if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat(opath, ": ", s.message()));
    loaded.push_back(std::move(o));
  }
  for (size_t id = 0; id < observers_.size(); ++id) {
    absl::Status s = observers_[id]->Merge(*loaded[id]);
    if (!s.ok())
      return absl::Status(s.code(),
                          absl::StrCat("merging observer ", id, " from ", dir, ": ", s.message()));
    const json& e = m["observers"][id];
    if (e.contains("batches") && e["batches"].is_number_integer())
      batches_[id] += e["batches"].get<int64_t>();
    if (e.contains("elements") && e["elements"].is_number_integer())
      elements_[id] += e["elements"].get<int64_t>();
  }
  if (m.contains("insertion_files") && m["insertion_files"].is_array() &&
      m["insertion_files"].size() == insertion_files_.size()) {
    for (size_t i = 0; i < insertion_files_.size(); ++i) {
      if (m["insertion_files"][i].is_number_integer()) {
        insertion_files_[i] += m["insertion_files"][i].get<int64_t>();
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<json> Calibration::Result() const {
  json out = {{"format", "qprep.qparams"},
              {"version", 1},
              {"graph", plan_.graph},
              {"backend", plan_.backend}};
  json obs = json::array();
  std::vector<json> per_observer(observers_.size());
  // Sources first: a derived instance's qparams come from theirs (derived.h).
  std::vector<std::optional<QParams>> computed(observers_.size());
  for (size_t id = 0; id < observers_.size(); ++id) {
    const Observer& o = *observers_[id];
    if (o.kind() == ObserverKind::kMarker || o.kind() == ObserverKind::kEqualization ||
        !plan_.observers[id].derived_from.empty()) {
      continue;
    }
    absl::StatusOr<QParams> qp = o.CalculateQParams();
    if (qp.ok()) computed[id] = *std::move(qp);
  }
  for (size_t id = 0; id < observers_.size(); ++id) {
    const Observer& o = *observers_[id];
    const std::vector<int64_t>& sources = plan_.observers[id].derived_from;
    json e = {{"id", id},
              {"class", o.spec().class_name},
              {"spec", o.spec().ToString()},
              {"kind", sources.empty() ? KindName(o.kind()) : "derived"},
              {"batches", batches_[id]},
              {"elements", elements_[id]},
              {"initialized", o.initialized()}};
    if (!sources.empty()) {
      std::vector<QParams> from;
      for (int64_t src : sources) {
        if (!computed[src]) {
          return absl::FailedPreconditionError(absl::StrCat(
              "observer ", id, " derives its qparams from observer ", src, ", which has none"));
        }
        from.push_back(*computed[src]);
      }
      absl::StatusOr<QParams> qp = DeriveQParams(o.spec(), from);
      if (!qp.ok()) {
        return absl::Status(qp.status().code(),
                            absl::StrCat("observer ", id, ": ", qp.status().message()));
      }
      json q = QParamsToJson(o, *qp);
      e["derived_from"] = sources;
      e["dtype"] = std::string(DtypeName(qp->dtype));
      e["qscheme"] = std::string(QSchemeName(qp->qscheme));
      e["quant_min"] = qp->quant_min;
      e["quant_max"] = qp->quant_max;
      if (qp->ch_axis >= 0) e["ch_axis"] = qp->ch_axis;
      e["default"] = qp->is_default;
      for (const char* k : {"scale", "zero_point"}) e[k] = q[k];
      per_observer[id] = json{{"scale", q["scale"]}, {"zero_point", q["zero_point"]}};
    } else if (o.kind() == ObserverKind::kEqualization) {
      // No qparams (PyTorch's equalization observers have no calculate_qparams): the per-column
      // statistics; the scale is in "equalization" below.
      e["columns"] = o.min_val().size();
      e["min_val"] = FloatsJson(o.min_val());
      e["max_val"] = FloatsJson(o.max_val());
    } else if (o.kind() != ObserverKind::kMarker) {
      absl::StatusOr<QParams> qp = o.CalculateQParams();
      if (!qp.ok()) {
        return absl::Status(
            qp.status().code(),
            absl::StrCat("observer ", id, " (", o.spec().ToString(), "): ", qp.status().message()));
      }
      json q = QParamsToJson(o, *qp);
      e["dtype"] = std::string(DtypeName(qp->dtype));
      e["qscheme"] = std::string(QSchemeName(qp->qscheme));
      e["quant_min"] = qp->quant_min;
      e["quant_max"] = qp->quant_max;
      if (qp->ch_axis >= 0) e["ch_axis"] = qp->ch_axis;
      e["default"] = qp->is_default;
      for (const char* k : {"scale", "zero_point", "min_val", "max_val"}) e[k] = q[k];
      per_observer[id] = json{{"scale", q["scale"]}, {"zero_point", q["zero_point"]}};
    }
    obs.push_back(std::move(e));
  }
  json ins = json::array();
  for (size_t i = 0; i < plan_.insertions.size(); ++i) {
    const PlanInsertion& p = plan_.insertions[i];
    json e = {{"name", p.name},
              {"observer", p.observer},
              {"value", p.value},
              {"consumers", p.consumers},
              {"files", insertion_files_[i]}};
    if (!per_observer[p.observer].is_null()) {
      e["scale"] = per_observer[p.observer]["scale"];
      e["zero_point"] = per_observer[p.observer]["zero_point"];
    }
    ins.push_back(std::move(e));
  }
  out["observers"] = std::move(obs);
  out["insertions"] = std::move(ins);
  ASSIGN_OR_RETURN(json eq, EqualizationResult());
  if (!eq.empty()) out["equalization"] = std::move(eq);
  return out;
}

absl::StatusOr<json> Calibration::EqualizationResult() const {
  // Pairs come from the plan: the "equalization" insertions consumed by one node, one holding an
  // _InputEqualizationObserver (on the activation), one a _WeightEqualizationObserver (on the
  // weight value; only functional linear / conv have one in the graph, a module's weight is
  // observed by PyTorch's convert).
  struct Node {
    std::string name;
    std::optional<size_t> input, weight;  // insertion indices
  };
  std::vector<Node> nodes;
  auto node_of = [&nodes](const std::string& n) -> Node& {
    for (Node& x : nodes) {
      if (x.name == n) return x;
    }
    nodes.push_back(Node{n, std::nullopt, std::nullopt});
    return nodes.back();
  };
  for (size_t i = 0; i < plan_.insertions.size(); ++i) {
    const PlanInsertion& p = plan_.insertions[i];
    if (p.kind != "equalization") continue;
    const std::string& cls = observers_[p.observer]->spec().class_name;
    const bool is_input = cls == "_InputEqualizationObserver";
    if (!is_input && cls != "_WeightEqualizationObserver") {
      return absl::InvalidArgumentError(
          absl::StrCat("plan: equalization insertion '", p.name, "' holds a ", cls));
    }
    for (const std::string& c : p.consumers) {
      Node& n = node_of(c);
      std::optional<size_t>& slot = is_input ? n.input : n.weight;
      if (slot && plan_.insertions[*slot].observer != p.observer) {
        return absl::InvalidArgumentError(
            absl::StrCat("plan: node '", c, "' has two ", cls, " insertions ('",
                         plan_.insertions[*slot].name, "' and '", p.name, "')"));
      }
      slot = i;
    }
  }
  json out = json::array();
  for (const Node& n : nodes) {
    json e = {{"node", n.name}};
    auto put = [&](const char* role, const std::optional<size_t>& slot) {
      if (slot) {
        e[absl::StrCat(role, "_insertion")] = plan_.insertions[*slot].name;
        e[absl::StrCat(role, "_observer")] = plan_.insertions[*slot].observer;
      } else {
        e[absl::StrCat(role, "_insertion")] = nullptr;
        e[absl::StrCat(role, "_observer")] = nullptr;
      }
    };
    put("input", n.input);
    put("weight", n.weight);
    if (n.input) {
      // The activation observer convert rescales (scale_input_observer: the observer feeding the
      // input equalization observer, i.e. a non-equalization insertion on the same value).
      const PlanInsertion& in = plan_.insertions[*n.input];
      json act = nullptr;
      for (const PlanInsertion& q : plan_.insertions) {
        if (q.kind.empty() && q.value == in.value &&
            std::find(q.consumers.begin(), q.consumers.end(), n.name) != q.consumers.end()) {
          act = q.observer;
          break;
        }
      }
      e["activation_observer"] = act;
    }
    if (!n.input || !n.weight) {
      e["scale"] = nullptr;
      e["note"] = n.input ? "no weight equalization observer in the plan (a module's weight is "
                            "observed by convert, not prepare)"
                          : "no input equalization observer in the plan";
      out.push_back(std::move(e));
      continue;
    }
    const Observer& xo = *observers_[plan_.insertions[*n.input].observer];
    const Observer& wo = *observers_[plan_.insertions[*n.weight].observer];
    absl::StatusOr<EqualizationScale> sc = CalculateEqualizationScale(xo, wo);
    if (!sc.ok()) {
      return absl::Status(sc.status().code(),
                          absl::StrCat("node ", n.name, ": ", sc.status().message()));
    }
    e["scale"] = FloatsJson(sc->scale);
    e["default"] = sc->is_default;
    ASSIGN_OR_RETURN(auto scaled, CalculateScaledMinMax(xo, *sc));
    if (scaled) {
      e["scaled_min_val"] = FloatToJson(scaled->first);
      e["scaled_max_val"] = FloatToJson(scaled->second);
    } else {
      e["scaled_min_val"] = nullptr;
      e["scaled_max_val"] = nullptr;
    }
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace qprep::observers
