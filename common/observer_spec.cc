// Observer specs (see observer_spec.h): PyTorch 1.13's constructor defaults and checks
// (torch/ao/quantization/observer.py, fake_quantize.py, utils.calculate_qmin_qmax), applied to
// arguments as written, plus the textual form `Class(name=value, ...)`.
//
// Canonical form: ToString() prints every effective argument. quant_min / quant_max there are the
// *effective* range (already halved by reduce_range), so re-applying reduce_range on parse would
// halve twice. The canonical text therefore always carries `has_customized_qrange` (PyTorch's
// attribute name); when that argument is present, quant_min / quant_max are taken as effective.
// This makes Parse(ToString(s)) == s, which serialized observer state relies on.
#include "common/observer_spec.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <set>
#include <type_traits>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "common/status_macros.h"

namespace qprep {
namespace {

// Debian's Abseil is built with its own absl::string_view, so absl::StrCat does not take
// std::string_view; this small concatenation helper does.
inline void AppendPiece(std::string& out, std::string_view s) { out.append(s); }
inline void AppendPiece(std::string& out, const char* s) { out.append(s); }
inline void AppendPiece(std::string& out, const std::string& s) { out.append(s); }
template <typename T, typename = std::enable_if_t<std::is_integral_v<T>>>
void AppendPiece(std::string& out, T v) {
  out.append(std::to_string(v));
}
template <typename... Args>
std::string Cat(const Args&... args) {
  std::string out;
  (AppendPiece(out, args), ...);
  return out;
}
template <typename Range>
std::string Join(const Range& parts, std::string_view sep) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out.append(sep);
    out.append(std::string_view(p));
  }
  return out;
}

constexpr double kFloat32Eps = 1.1920928955078125e-07;  // torch.finfo(torch.float32).eps

struct DtypeInfo {
  Dtype d;
  std::string_view name;
};
constexpr DtypeInfo kDtypes[] = {
    {Dtype::kQUInt8, "quint8"},     {Dtype::kQInt8, "qint8"},     {Dtype::kQInt32, "qint32"},
    {Dtype::kQUInt4x2, "quint4x2"}, {Dtype::kFloat16, "float16"}, {Dtype::kFloat32, "float32"},
    {Dtype::kInt8, "int8"},         {Dtype::kUInt8, "uint8"},     {Dtype::kInt32, "int32"},
};

struct QSchemeInfo {
  QScheme q;
  std::string_view name;
};
constexpr QSchemeInfo kQSchemes[] = {
    {QScheme::kPerTensorAffine, "per_tensor_affine"},
    {QScheme::kPerTensorSymmetric, "per_tensor_symmetric"},
    {QScheme::kPerChannelAffine, "per_channel_affine"},
    {QScheme::kPerChannelSymmetric, "per_channel_symmetric"},
    {QScheme::kPerChannelAffineFloatQParams, "per_channel_affine_float_qparams"},
};

std::string_view StripTorchPrefix(std::string_view s) {
  if (s.substr(0, 6) == "torch.") s.remove_prefix(6);
  return s;
}

bool IsPerTensor(QScheme q) {
  return q == QScheme::kPerTensorAffine || q == QScheme::kPerTensorSymmetric;
}
bool IsPerChannel(QScheme q) { return !IsPerTensor(q); }
bool IsSymmetric(QScheme q) {
  return q == QScheme::kPerTensorSymmetric || q == QScheme::kPerChannelSymmetric;
}

// torch.iinfo bounds of the quantized dtypes (FakeQuantize checks quant_min / quant_max there).
std::pair<int64_t, int64_t> IInfo(Dtype d) {
  switch (d) {
    case Dtype::kQInt8:
    case Dtype::kInt8:
      return {-128, 127};
    case Dtype::kQUInt8:
    case Dtype::kUInt8:
      return {0, 255};
    case Dtype::kQInt32:
    case Dtype::kInt32:
      return {std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()};
    case Dtype::kQUInt4x2:
      return {0, 255};  // torch.iinfo(torch.quint4x2) reports 8 bits, 0..255 (1.13)
    default:
      return {0, 0};
  }
}

// How an argument is typed and defaulted.
enum class ArgType : uint8_t {
  kDtype,
  kOptionalDtype,
  kQScheme,
  kOptionalQScheme,
  kBool,
  kInt,
  kOptionalInt,
  kFloat,
  kOptionalFloat,
  kString,
  kNone
};

struct ArgDef {
  std::string_view name;
  ArgType type;
  SpecValue def;  // PyTorch's default (monostate = None)
  bool required = false;
};

enum class Family : uint8_t {
  kUniform,
  kFixed,
  kPlaceholder,
  kNoop,
  kReuse,
  kFakeQuant,
  kEqualization,
  kDerived
};

struct ClassDef {
  std::string_view name;
  Family family;
  std::vector<ArgDef> args;  // positional order = PyTorch's constructor order
  bool per_channel = false;  // default qscheme per-channel (and only per-channel allowed)
  bool per_tensor_only = false;
};

SpecValue V() { return SpecValue{std::monostate{}}; }
SpecValue V(bool b) { return SpecValue{b}; }
SpecValue V(int64_t i) { return SpecValue{i}; }
SpecValue V(int i) { return SpecValue{static_cast<int64_t>(i)}; }
SpecValue V(double d) { return SpecValue{d}; }
SpecValue V(std::string_view s) { return SpecValue{std::string(s)}; }
// Without this, a string literal would pick V(bool).
SpecValue V(const char* s) { return SpecValue{std::string(s)}; }

std::vector<ArgDef> UniformArgs(std::string_view qscheme) {
  return {
      {"dtype", ArgType::kDtype, V("quint8")},    {"qscheme", ArgType::kQScheme, V(qscheme)},
      {"reduce_range", ArgType::kBool, V(false)}, {"quant_min", ArgType::kOptionalInt, V()},
      {"quant_max", ArgType::kOptionalInt, V()},  {"factory_kwargs", ArgType::kNone, V()},
      {"eps", ArgType::kFloat, V(kFloat32Eps)},
  };
}

std::vector<ArgDef> Prepend(std::vector<ArgDef> front, const std::vector<ArgDef>& rest) {
  front.insert(front.end(), rest.begin(), rest.end());
  return front;
}

const std::vector<ClassDef>& Classes() {
  static const auto* classes = new std::vector<ClassDef>{
      {"MinMaxObserver", Family::kUniform, UniformArgs("per_tensor_affine"), false, true},
      {"MovingAverageMinMaxObserver", Family::kUniform,
       Prepend({{"averaging_constant", ArgType::kFloat, V(0.01)}},
               UniformArgs("per_tensor_affine")),
       false, true},
      {"PerChannelMinMaxObserver", Family::kUniform,
       Prepend({{"ch_axis", ArgType::kInt, V(0)}}, UniformArgs("per_channel_affine")), true, false},
      {"MovingAveragePerChannelMinMaxObserver", Family::kUniform,
       Prepend({{"averaging_constant", ArgType::kFloat, V(0.01)}, {"ch_axis", ArgType::kInt, V(0)}},
               UniformArgs("per_channel_affine")),
       true, false},
      {"HistogramObserver", Family::kUniform,
       Prepend({{"bins", ArgType::kInt, V(2048)}, {"upsample_rate", ArgType::kInt, V(128)}},
               UniformArgs("per_tensor_affine")),
       false, true},
      // Calibrators beyond PyTorch (backends/cpu/calibrators_extra.*): per-tensor, built on a
      // histogram of `bins` bins; options as ONNX Runtime / TensorRT name them.
      {"PercentileObserver", Family::kUniform,
       Prepend({{"bins", ArgType::kInt, V(2048)}, {"percentile", ArgType::kFloat, V(99.999)}},
               UniformArgs("per_tensor_affine")),
       false, true},
      {"EntropyObserver", Family::kUniform,
       Prepend({{"bins", ArgType::kInt, V(2048)}, {"num_quantized_bins", ArgType::kInt, V(128)}},
               UniformArgs("per_tensor_affine")),
       false, true},
      {"MSEObserver", Family::kUniform,
       Prepend({{"bins", ArgType::kInt, V(2048)}, {"num_candidates", ArgType::kInt, V(512)}},
               UniformArgs("per_tensor_affine")),
       false, true},
      {"FixedQParamsObserver",
       Family::kFixed,
       {{"scale", ArgType::kFloat, V(), true},
        {"zero_point", ArgType::kInt, V(), true},
        {"dtype", ArgType::kDtype, V("quint8")},
        {"qscheme", ArgType::kQScheme, V("per_tensor_affine")},
        {"quant_min", ArgType::kInt, V(0)},
        {"quant_max", ArgType::kInt, V(255)}}},
      // 1.13's arguments plus 2.x's (quant_min, quant_max, qscheme, eps, is_dynamic).
      {"PlaceholderObserver",
       Family::kPlaceholder,
       {{"dtype", ArgType::kDtype, V("float32")},
        {"custom_op_name", ArgType::kString, V("")},
        {"compute_dtype", ArgType::kOptionalDtype, V()},
        {"quant_min", ArgType::kOptionalInt, V()},
        {"quant_max", ArgType::kOptionalInt, V()},
        {"qscheme", ArgType::kOptionalQScheme, V()},
        {"eps", ArgType::kOptionalFloat, V()},
        {"is_dynamic", ArgType::kBool, V(false)}}},
      {"NoopObserver",
       Family::kNoop,
       {{"dtype", ArgType::kDtype, V("float16")}, {"custom_op_name", ArgType::kString, V("")}}},
      // PyTorch's ReuseInputObserver() takes no arguments; its dtype attribute is quint8. The
      // canonical text prints it, so it is accepted (and only that value is meaningful).
      {"ReuseInputObserver", Family::kReuse, {{"dtype", ArgType::kDtype, V("quint8")}}},
      // fx/_equalize.py (input-weight equalization, prepare_fx's _equalization_config): nn.Modules,
      // not ObserverBase. Each wraps a PerChannelMinMaxObserver(ch_axis=1) over the columns; the
      // instance holds dtype and qscheme. The input one accepts only per-tensor qschemes.
      {"_InputEqualizationObserver",
       Family::kEqualization,
       {{"dtype", ArgType::kDtype, V("quint8")},
        {"qscheme", ArgType::kQScheme, V("per_tensor_affine")},
        {"quant_min", ArgType::kOptionalInt, V()},
        {"quant_max", ArgType::kOptionalInt, V()},
        {"factory_kwargs", ArgType::kNone, V()}},
       false,
       true},
      {"_WeightEqualizationObserver",
       Family::kEqualization,
       {{"dtype", ArgType::kDtype, V("qint8")},
        {"qscheme", ArgType::kQScheme, V("per_tensor_affine")},
        {"quant_min", ArgType::kOptionalInt, V()},
        {"quant_max", ArgType::kOptionalInt, V()},
        {"factory_kwargs", ArgType::kNone, V()}}},
      {"FakeQuantize",
       Family::kFakeQuant,
       {{"observer", ArgType::kString, V("MovingAverageMinMaxObserver")},
        {"quant_min", ArgType::kOptionalInt, V()},
        {"quant_max", ArgType::kOptionalInt, V()}}},
      {"FusedMovingAvgObsFakeQuantize",
       Family::kFakeQuant,
       {{"observer", ArgType::kString, V("MovingAverageMinMaxObserver")},
        {"quant_min", ArgType::kOptionalInt, V(0)},
        {"quant_max", ArgType::kOptionalInt, V(255)}}},
      {"FixedQParamsFakeQuantize",
       Family::kFakeQuant,
       {{"observer", ArgType::kString, V("FixedQParamsObserver"), true}}},
      // PyTorch 2.x PT2E (_create_obs_or_fq_from_qspec): the instance a DerivedQuantizationSpec
      // makes. Its qparams come from other instances (`derived_from`, per instance: the plan
      // builder adds them) through `derive_qparams_fn`, named here.
      {"_DerivedObserverOrFakeQuantize",
       Family::kDerived,
       {{"dtype", ArgType::kDtype, V(), true},
        {"derive_qparams_fn", ArgType::kString, V(), true},
        {"quant_min", ArgType::kOptionalInt, V()},
        {"quant_max", ArgType::kOptionalInt, V()},
        {"qscheme", ArgType::kOptionalQScheme, V()},
        {"ch_axis", ArgType::kOptionalInt, V()}}},
  };
  return *classes;
}

const ClassDef* FindClass(std::string_view name) {
  for (const ClassDef& c : Classes()) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

std::string ValueToString(const SpecValue& v) {
  struct Printer {
    std::string operator()(std::monostate) const { return "None"; }
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(int64_t i) const { return Cat(i); }
    std::string operator()(double d) const {
      if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
      if (std::isnan(d)) return "nan";
      char buf[64];
      auto res = std::to_chars(buf, buf + sizeof(buf), d);  // shortest round-trip form
      std::string s(buf, res.ptr);
      // Keep floats recognizable as floats when read back.
      if (s.find_first_of(".eE") == std::string::npos) s += ".0";
      return s;
    }
    std::string operator()(const std::string& s) const {
      if (s.empty() || s.find_first_of(" ,()=\"") != std::string::npos) {
        if (s.find('(') != std::string::npos) return s;  // a nested spec
        return Cat("\"", s, "\"");
      }
      return s;
    }
  };
  return std::visit(Printer{}, v.v);
}

std::string TypeName(ArgType t) {
  switch (t) {
    case ArgType::kDtype:
      return "a dtype";
    case ArgType::kOptionalDtype:
      return "a dtype or None";
    case ArgType::kQScheme:
      return "a qscheme";
    case ArgType::kOptionalQScheme:
      return "a qscheme or None";
    case ArgType::kBool:
      return "a bool";
    case ArgType::kInt:
      return "an integer";
    case ArgType::kOptionalInt:
      return "an integer or None";
    case ArgType::kFloat:
      return "a float";
    case ArgType::kOptionalFloat:
      return "a float or None";
    case ArgType::kString:
      return "a string";
    case ArgType::kNone:
      return "None";
  }
  return "?";
}

absl::Status ArgError(std::string_view cls, std::string_view arg, std::string_view msg) {
  return absl::InvalidArgumentError(Cat(cls, ": argument '", arg, "': ", msg));
}

// Checks a value against its type and normalizes it (dtype / qscheme short names, ints as floats).
absl::StatusOr<SpecValue> Coerce(std::string_view cls, const ArgDef& def, const SpecValue& v) {
  const bool is_none = std::holds_alternative<std::monostate>(v.v);
  auto bad = [&] {
    return ArgError(cls, def.name,
                    Cat("expected ", TypeName(def.type), ", got '", ValueToString(v), "'"));
  };
  switch (def.type) {
    case ArgType::kOptionalDtype:
      if (is_none) return v;
      [[fallthrough]];
    case ArgType::kDtype: {
      const auto* s = std::get_if<std::string>(&v.v);
      if (s == nullptr) return bad();
      auto d = ParseDtype(*s);
      if (!d) return ArgError(cls, def.name, Cat("unknown dtype '", *s, "'"));
      return V(DtypeName(*d));
    }
    case ArgType::kOptionalQScheme:
      if (is_none) return v;
      [[fallthrough]];
    case ArgType::kQScheme: {
      const auto* s = std::get_if<std::string>(&v.v);
      if (s == nullptr) return bad();
      auto q = ParseQScheme(*s);
      if (!q) return ArgError(cls, def.name, Cat("unknown qscheme '", *s, "'"));
      return V(QSchemeName(*q));
    }
    case ArgType::kBool:
      if (!std::holds_alternative<bool>(v.v)) return bad();
      return v;
    case ArgType::kOptionalInt:
      if (is_none) return v;
      [[fallthrough]];
    case ArgType::kInt:
      if (!std::holds_alternative<int64_t>(v.v)) return bad();
      return v;
    case ArgType::kOptionalFloat:
      if (is_none) return v;
      [[fallthrough]];
    case ArgType::kFloat:
      if (const auto* i = std::get_if<int64_t>(&v.v)) return V(static_cast<double>(*i));
      if (!std::holds_alternative<double>(v.v)) return bad();
      return v;
    case ArgType::kString:
      if (!std::holds_alternative<std::string>(v.v)) return bad();
      return v;
    case ArgType::kNone:
      if (!is_none) return bad();
      return v;
  }
  return bad();
}

// Binds written arguments (named, or positional with an empty name) to a class's parameters.
absl::StatusOr<std::map<std::string, SpecValue>> Bind(
    const ClassDef& c, const std::vector<std::pair<std::string, SpecValue>>& args,
    std::vector<std::pair<std::string, SpecValue>>* extra /* kwargs for an inner observer */) {
  std::map<std::string, SpecValue> bound;
  size_t positional = 0;
  bool seen_keyword = false;
  for (const auto& [name, value] : args) {
    if (name.empty()) {
      if (seen_keyword) {
        return absl::InvalidArgumentError(
            Cat(c.name, ": positional argument follows keyword argument"));
      }
      if (positional >= c.args.size()) {
        return absl::InvalidArgumentError(
            Cat(c.name, ": takes at most ", c.args.size(), " positional arguments"));
      }
      const ArgDef& def = c.args[positional++];
      ASSIGN_OR_RETURN(bound[std::string(def.name)], Coerce(c.name, def, value));
      continue;
    }
    seen_keyword = true;
    auto it = std::find_if(c.args.begin(), c.args.end(),
                           [&, &name = name](const ArgDef& d) { return d.name == name; });
    if (it == c.args.end()) {
      if (extra != nullptr) {
        extra->emplace_back(name, value);
        continue;
      }
      return ArgError(c.name, name, "unknown argument");
    }
    if (bound.count(name)) return ArgError(c.name, name, "given more than once");
    ASSIGN_OR_RETURN(bound[name], Coerce(c.name, *it, value));
  }
  for (const ArgDef& def : c.args) {
    if (bound.count(std::string(def.name))) continue;
    if (def.required) return ArgError(c.name, def.name, "missing required argument");
    bound[std::string(def.name)] = def.def;
  }
  return bound;
}

int64_t GetInt(const std::map<std::string, SpecValue>& a, const std::string& k) {
  return std::get<int64_t>(a.at(k).v);
}
bool IsNone(const std::map<std::string, SpecValue>& a, const std::string& k) {
  auto it = a.find(k);
  return it == a.end() || std::holds_alternative<std::monostate>(it->second.v);
}

// UniformQuantizationObserverBase.__init__ and calculate_qmin_qmax.
absl::Status FinishUniform(const ClassDef& c, std::map<std::string, SpecValue>& a,
                           std::optional<bool> canonical_customized) {
  const Dtype dtype = *ParseDtype(std::get<std::string>(a["dtype"].v));
  const QScheme qscheme = *ParseQScheme(std::get<std::string>(a["qscheme"].v));
  const bool reduce_range = std::get<bool>(a["reduce_range"].v);
  if (c.per_tensor_only && !IsPerTensor(qscheme)) {
    return ArgError(c.name, "qscheme",
                    Cat(c.name,
                        "'s qscheme only support torch.per_tensor_symmetric "
                        "and torch.per_tensor_affine."));
  }
  if (c.per_channel && !IsPerChannel(qscheme)) {
    return ArgError(c.name, "qscheme",
                    Cat(c.name,
                        "'s qscheme only support torch.per_channel_symmetric, "
                        "torch.per_channel_affine and "
                        "torch.per_channel_affine_float_qparams."));
  }
  // 2.x observers also take the plain integer dtypes (torch.int8 / uint8 / int32) that PT2E
  // QuantizationSpecs use; their ranges are those of qint8 / quint8 / qint32.
  if (dtype != Dtype::kQInt8 && dtype != Dtype::kQUInt8 && dtype != Dtype::kQUInt4x2 &&
      dtype != Dtype::kQInt32 && dtype != Dtype::kInt8 && dtype != Dtype::kUInt8 &&
      dtype != Dtype::kInt32) {
    return ArgError(c.name, "dtype",
                    "Default Observer only works for qint8, quint8 and quint4x2 data type");
  }
  const bool customized = canonical_customized.has_value()
                              ? *canonical_customized
                              : !IsNone(a, "quant_min") && !IsNone(a, "quant_max");
  int64_t qmin = 0, qmax = 0;
  if (canonical_customized.has_value()) {
    // Canonical form: the range is already effective.
    if (IsNone(a, "quant_min") || IsNone(a, "quant_max")) {
      return ArgError(c.name, "has_customized_qrange",
                      "canonical form needs both quant_min and quant_max");
    }
    qmin = GetInt(a, "quant_min");
    qmax = GetInt(a, "quant_max");
  } else if (customized) {
    qmin = GetInt(a, "quant_min");
    qmax = GetInt(a, "quant_max");
    if (!(qmin <= 0 && 0 <= qmax)) {
      return ArgError(c.name, "quant_min", "Used-specified quantization range must include 0.");
    }
    if (!(qmin < qmax)) {
      return ArgError(c.name, "quant_max",
                      "qmin must be strictly less than qmax for user-specified quantization "
                      "range.");
    }
    const int64_t len = qmax - qmin + 1;
    if ((dtype == Dtype::kQInt8 || dtype == Dtype::kInt8) && !(0 < len && len <= 256)) {
      return ArgError(c.name, "quant_max",
                      "quantization range should be positive and not exceed the maximum bit "
                      "range (=256).");
    }
    if ((dtype == Dtype::kQInt32 || dtype == Dtype::kInt32) &&
        !(0 < len && len <= (int64_t{1} << 31))) {
      return ArgError(c.name, "quant_max",
                      "quantization range should be positive and not exceed the maximum bit "
                      "range (=4294967296).");
    }
    if (reduce_range) {
      // Python's floor division.
      auto floordiv2 = [](int64_t x) { return x >= 0 ? x / 2 : -((-x + 1) / 2); };
      qmin = floordiv2(qmin);
      qmax = floordiv2(qmax);
    }
  } else {
    switch (dtype) {
      case Dtype::kQInt8:
      case Dtype::kInt8:
        qmin = reduce_range ? -64 : -128;
        qmax = reduce_range ? 63 : 127;
        break;
      case Dtype::kQUInt8:
      case Dtype::kUInt8:
        qmin = 0;
        qmax = reduce_range ? 127 : 255;
        break;
      case Dtype::kQInt32:
      case Dtype::kInt32:
        qmin = -(int64_t{1} << 31);
        qmax = (int64_t{1} << 31) - 1;
        break;
      default:
        qmin = 0;
        qmax = 15;
    }
  }
  a["quant_min"] = V(qmin);
  a["quant_max"] = V(qmax);
  a["has_customized_qrange"] = V(customized);
  a.erase("factory_kwargs");
  if (IsSymmetric(qscheme) && reduce_range && dtype == Dtype::kQUInt8) {
    return ArgError(c.name, "reduce_range",
                    "Cannot reduce range for symmetric quantization for quint8");
  }
  // Sizes. PyTorch accepts any positive value and then allocates `bins` floats (and, in
  // _combine_histograms, bins * upsample_rate of them); past these limits that is gigabytes, so
  // they are errors here rather than an out-of-memory abort or a multi-minute loop.
  constexpr int64_t kMaxBins = int64_t{1} << 24;
  constexpr int64_t kMaxUpsampledBins = int64_t{1} << 31;
  if (a.count("bins")) {
    const int64_t bins = GetInt(a, "bins");
    if (bins <= 0) return ArgError(c.name, "bins", "must be positive");
    if (bins > kMaxBins) {
      return ArgError(c.name, "bins", Cat("must be at most ", kMaxBins));
    }
  }
  if (a.count("upsample_rate")) {
    const int64_t up = GetInt(a, "upsample_rate");
    if (up <= 0) return ArgError(c.name, "upsample_rate", "must be positive");
    const int64_t bins = a.count("bins") ? GetInt(a, "bins") : 2048;
    if (up > kMaxUpsampledBins / bins) {
      return ArgError(c.name, "upsample_rate",
                      Cat("bins * upsample_rate must be at most ", kMaxUpsampledBins,
                          " (PyTorch materializes that many floats when the range grows)"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ObserverSpec> MakeSpecImpl(
    std::string_view class_name, const std::vector<std::pair<std::string, SpecValue>>& written,
    int depth);

// FakeQuantize.__init__: binds its own arguments, builds the inner observer from `observer=`
// and the remaining keyword arguments (quant_min / quant_max forwarded when both are given).
absl::StatusOr<ObserverSpec> MakeFakeQuant(
    const ClassDef& c, const std::vector<std::pair<std::string, SpecValue>>& written, int depth) {
  std::vector<std::pair<std::string, SpecValue>> inner_kwargs;
  ASSIGN_OR_RETURN(auto own, Bind(c, written, &inner_kwargs));
  const std::string inner_text = std::get<std::string>(own["observer"].v);
  ObserverSpec inner;
  const bool canonical = std::any_of(inner_kwargs.begin(), inner_kwargs.end(),
                                     [](auto& kv) { return kv.first == "has_customized_qrange"; });
  // A nested canonical observer (observer=Class(..., has_customized_qrange=...)) already holds
  // its effective range: a class default (Fused's 0..255) must not be re-applied to it.
  const bool nested_canonical = inner_text.find('(') != std::string::npos &&
                                inner_text.find("has_customized_qrange") != std::string::npos;
  const bool range_written = std::count_if(written.begin(), written.end(), [](auto& kv) {
                               return kv.first == "quant_min" || kv.first == "quant_max";
                             }) == 2;
  const bool range_given = !IsNone(own, "quant_min") && !IsNone(own, "quant_max") &&
                           (range_written || !nested_canonical);
  if (range_given && !canonical) {
    const int64_t qmin = GetInt(own, "quant_min"), qmax = GetInt(own, "quant_max");
    if (qmin > qmax) {
      return ArgError(c.name, "quant_min", "quant_min must be less than or equal to quant_max");
    }
    inner_kwargs.emplace_back("quant_min", own["quant_min"]);
    inner_kwargs.emplace_back("quant_max", own["quant_max"]);
  }
  if (inner_text.find('(') != std::string::npos) {
    // observer=Class(...) written as a nested call.
    ASSIGN_OR_RETURN(ObserverSpec nested, ParseObserverSpec(inner_text));
    if (!inner_kwargs.empty()) {
      std::vector<std::pair<std::string, SpecValue>> merged;
      for (const auto& [k, v] : nested.args) {
        if (k == "has_customized_qrange" && range_given) continue;
        bool overridden = std::any_of(inner_kwargs.begin(), inner_kwargs.end(),
                                      [&, &k = k](auto& kv) { return kv.first == k; });
        if (!overridden) merged.emplace_back(k, v);
      }
      merged.insert(merged.end(), inner_kwargs.begin(), inner_kwargs.end());
      ASSIGN_OR_RETURN(inner, MakeSpecImpl(nested.class_name, merged, depth + 1));
    } else {
      inner = std::move(nested);
    }
  } else {
    ASSIGN_OR_RETURN(inner, MakeSpecImpl(StripTorchPrefix(inner_text), inner_kwargs, depth + 1));
  }
  const ClassDef* ic = FindClass(inner.class_name);
  if (ic->family == Family::kFakeQuant) {
    return ArgError(c.name, "observer", "must be an observer class, not a fake-quant class");
  }
  if (ic->family != Family::kUniform && ic->family != Family::kFixed) {
    return ArgError(c.name, "observer", Cat(inner.class_name, " has no quant_min / quant_max"));
  }
  if (range_given && !canonical) {
    auto [lo, hi] = IInfo(inner.dtype());
    if (GetInt(own, "quant_min") < lo)
      return ArgError(c.name, "quant_min", "quant_min out of bound");
    if (GetInt(own, "quant_max") > hi)
      return ArgError(c.name, "quant_max", "quant_max out of bound");
  }
  if (c.name == "FusedMovingAvgObsFakeQuantize" &&
      inner.class_name != "MovingAverageMinMaxObserver" &&
      inner.class_name != "MovingAveragePerChannelMinMaxObserver") {
    return ArgError(c.name, "observer",
                    "Fused observer+fake_quant module only works with MovingAverageMinMaxObserver");
  }
  if (c.name == "FixedQParamsFakeQuantize" && inner.class_name != "FixedQParamsObserver") {
    return ArgError(c.name, "observer",
                    "FixedQParamsFakeQuantize's observer must be a FixedQParamsObserver");
  }
  ObserverSpec spec;
  spec.class_name = std::string(c.name);
  // PyTorch mirrors these attributes of activation_post_process on the fake-quant module.
  spec.args["observer"] = V(std::string_view(inner.ToString()));
  spec.args["dtype"] = inner.args.at("dtype");
  spec.args["qscheme"] = inner.args.at("qscheme");
  spec.args["quant_min"] = inner.args.at("quant_min");
  spec.args["quant_max"] = inner.args.at("quant_max");
  spec.args["ch_axis"] = inner.args.count("ch_axis") ? inner.args.at("ch_axis") : V(-1);
  spec.observer = std::make_shared<const ObserverSpec>(std::move(inner));
  return spec;
}

absl::StatusOr<ObserverSpec> MakeSpecImpl(
    std::string_view class_name, const std::vector<std::pair<std::string, SpecValue>>& written,
    int depth) {
  class_name = StripTorchPrefix(class_name);
  // Accept fully qualified names (torch.ao.quantization.observer.MinMaxObserver).
  if (auto dot = class_name.rfind('.'); dot != std::string_view::npos) {
    class_name = class_name.substr(dot + 1);
  }
  const ClassDef* c = FindClass(class_name);
  if (c == nullptr) {
    return absl::InvalidArgumentError(Cat("unknown observer class '", class_name,
                                          "' (known: ", Join(KnownObserverClasses(), ", "), ")"));
  }
  if (depth > 1) return absl::InvalidArgumentError("observer specs nest at most one level");
  if (c->family == Family::kFakeQuant) return MakeFakeQuant(*c, written, depth);

  // `has_customized_qrange` only appears in canonical text (see the file comment).
  std::optional<bool> canonical_customized;
  std::vector<std::pair<std::string, SpecValue>> args;
  for (const auto& kv : written) {
    if (kv.first == "has_customized_qrange" && c->family == Family::kUniform) {
      const bool* b = std::get_if<bool>(&kv.second.v);
      if (b == nullptr) return ArgError(c->name, kv.first, "expected a bool");
      canonical_customized = *b;
      continue;
    }
    args.push_back(kv);
  }
  ASSIGN_OR_RETURN(auto bound, Bind(*c, args, nullptr));
  ObserverSpec spec;
  spec.class_name = std::string(c->name);
  switch (c->family) {
    case Family::kUniform: {
      RETURN_IF_ERROR(FinishUniform(*c, bound, canonical_customized));
      const double eps = std::get<double>(bound["eps"].v);
      if (!(eps >= 0)) return ArgError(c->name, "eps", "must be non-negative");
      const std::string cls(c->name);
      if (bound.count("averaging_constant")) {
        const double ac = std::get<double>(bound["averaging_constant"].v);
        if (!(ac > 0 && ac <= 1)) {
          return ArgError(c->name, "averaging_constant", "must be in (0, 1]");
        }
      }
      if (cls == "PercentileObserver") {
        const double p = std::get<double>(bound["percentile"].v);
        if (!(p > 0 && p <= 100)) return ArgError(c->name, "percentile", "must be in (0, 100]");
      }
      if (bound.count("num_quantized_bins") && GetInt(bound, "num_quantized_bins") <= 1) {
        return ArgError(c->name, "num_quantized_bins", "must be at least 2");
      }
      if (bound.count("num_candidates") && GetInt(bound, "num_candidates") <= 0) {
        return ArgError(c->name, "num_candidates", "must be positive");
      }
      break;
    }
    case Family::kFixed: {
      const Dtype d = *ParseDtype(std::get<std::string>(bound["dtype"].v));
      (void)d;
      if (!IsPerTensor(*ParseQScheme(std::get<std::string>(bound["qscheme"].v)))) {
        return ArgError(c->name, "qscheme", "only per-tensor quantization is supported");
      }
      if (GetInt(bound, "quant_min") > GetInt(bound, "quant_max")) {
        return ArgError(c->name, "quant_min", "quant_min must not exceed quant_max");
      }
      break;
    }
    case Family::kPlaceholder:
    case Family::kNoop:
      break;
    case Family::kReuse:
      break;
    case Family::kFakeQuant:
      break;
    case Family::kEqualization:
      // _InputEqualizationObserver.__init__ raises TypeError("Input qscheme must be per-tensor").
      if (c->per_tensor_only &&
          !IsPerTensor(*ParseQScheme(std::get<std::string>(bound["qscheme"].v)))) {
        return ArgError(c->name, "qscheme", "Input qscheme must be per-tensor");
      }
      // The wrapped PerChannelMinMaxObserver holds the range; the instance has none of its own.
      if (IsNone(bound, "quant_min")) bound.erase("quant_min");
      if (IsNone(bound, "quant_max")) bound.erase("quant_max");
      bound.erase("factory_kwargs");
      break;
    case Family::kDerived:
      if (std::get<std::string>(bound["derive_qparams_fn"].v).empty()) {
        return ArgError(c->name, "derive_qparams_fn", "must name a function");
      }
      if (!IsNone(bound, "quant_min") && !IsNone(bound, "quant_max") &&
          GetInt(bound, "quant_min") > GetInt(bound, "quant_max")) {
        return ArgError(c->name, "quant_min", "quant_min must not exceed quant_max");
      }
      break;
  }
  spec.args = std::move(bound);
  return spec;
}

// ------------------------------------------------------------------------------------------
// The textual form.

class SpecParser {
 public:
  explicit SpecParser(std::string_view text) : text_(text) {}

  absl::StatusOr<ObserverSpec> Parse() {
    SkipSpace();
    const size_t name_pos = pos_;
    std::string name = DottedIdent();
    if (name.empty()) return Error(pos_, "expected an observer class name");
    SkipSpace();
    std::vector<std::pair<std::string, SpecValue>> args;
    std::vector<size_t> arg_pos;
    if (Peek() == '(') {
      ++pos_;
      SkipSpace();
      while (Peek() != ')') {
        const size_t start = pos_;
        std::string key;
        // name=value or a positional value
        size_t save = pos_;
        std::string ident = Ident();
        SkipSpace();
        if (!ident.empty() && Peek() == '=') {
          ++pos_;
          key = ident;
          SkipSpace();
        } else {
          pos_ = save;
        }
        const size_t value_pos = pos_;
        ASSIGN_OR_RETURN(SpecValue v, Value());
        args.emplace_back(key, std::move(v));
        arg_pos.push_back(key.empty() ? value_pos : start);
        SkipSpace();
        if (Peek() == ',') {
          ++pos_;
          SkipSpace();
          continue;
        }
        if (Peek() != ')') return Error(pos_, "expected ',' or ')'");
      }
      ++pos_;
    }
    SkipSpace();
    if (pos_ != text_.size()) return Error(pos_, "unexpected text after the observer spec");
    auto spec = MakeObserverSpec(name, args);
    if (spec.ok()) return spec;
    // Place the error on the argument it names, else on the class name.
    const std::string msg(spec.status().message());
    size_t at = name_pos;
    for (size_t i = 0; i < args.size(); ++i) {
      if (!args[i].first.empty() &&
          msg.find(Cat("argument '", args[i].first, "'")) != std::string::npos) {
        at = arg_pos[i];
        break;
      }
    }
    return Error(at, msg);
  }

 private:
  char Peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void SkipSpace() {
    while (pos_ < text_.size() && absl::ascii_isspace(static_cast<unsigned char>(text_[pos_]))) {
      ++pos_;
    }
  }
  std::string Ident() {
    size_t start = pos_;
    if (pos_ < text_.size() &&
        (absl::ascii_isalpha(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '_')) {
      ++pos_;
      while (pos_ < text_.size() &&
             (absl::ascii_isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '_')) {
        ++pos_;
      }
    }
    return std::string(text_.substr(start, pos_ - start));
  }
  std::string DottedIdent() {
    std::string s = Ident();
    while (!s.empty() && Peek() == '.') {
      size_t save = pos_;
      ++pos_;
      std::string next = Ident();
      if (next.empty()) {
        pos_ = save;
        break;
      }
      s += "." + next;
    }
    return s;
  }

  absl::StatusOr<SpecValue> Value() {
    const size_t start = pos_;
    const char c = Peek();
    if (c == '"' || c == '\'') {
      ++pos_;
      std::string s;
      while (pos_ < text_.size() && text_[pos_] != c) s += text_[pos_++];
      if (pos_ >= text_.size()) return Error(start, "unterminated string");
      ++pos_;
      return V(std::string_view(s));
    }
    if (c == '-' || c == '+' || c == '.' || absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      return Number();
    }
    std::string id = DottedIdent();
    if (id.empty()) return Error(start, "expected a value");
    if (id == "true" || id == "True") return V(true);
    if (id == "false" || id == "False") return V(false);
    if (id == "None" || id == "none") return V();
    if (id == "inf") return V(std::numeric_limits<double>::infinity());
    SkipSpace();
    if (Peek() == '(') {
      // A nested spec (observer=MinMaxObserver(...)): kept as its source text.
      int depth = 0;
      while (pos_ < text_.size()) {
        if (text_[pos_] == '(') ++depth;
        if (text_[pos_] == ')' && --depth == 0) break;
        ++pos_;
      }
      if (pos_ >= text_.size()) return Error(start, "unbalanced '('");
      ++pos_;
      return V(text_.substr(start, pos_ - start));
    }
    return V(std::string_view(id));
  }

  absl::StatusOr<SpecValue> Number() {
    const size_t start = pos_;
    size_t end = pos_;
    if (end < text_.size() && (text_[end] == '-' || text_[end] == '+')) ++end;
    bool is_float = false;
    while (end < text_.size()) {
      char ch = text_[end];
      if (absl::ascii_isdigit(static_cast<unsigned char>(ch))) {
        ++end;
      } else if (ch == '.' || ch == 'e' || ch == 'E') {
        is_float = true;
        ++end;
        if ((ch == 'e' || ch == 'E') && end < text_.size() &&
            (text_[end] == '-' || text_[end] == '+')) {
          ++end;
        }
      } else {
        break;
      }
    }
    std::string tok(text_.substr(start, end - start));
    if (tok == "-inf" || (tok == "-" && text_.substr(end, 3) == "inf")) {
      pos_ = end + (tok == "-" ? 3 : 0);
      return V(-std::numeric_limits<double>::infinity());
    }
    const char* b = tok.data() + (tok[0] == '+' ? 1 : 0);
    const char* e = tok.data() + tok.size();
    if (!is_float) {
      int64_t i = 0;
      auto r = std::from_chars(b, e, i);
      if (r.ec == std::errc() && r.ptr == e) {
        pos_ = end;
        return V(i);
      }
      return Error(start, Cat("bad integer '", tok, "'"));
    }
    double d = 0;
    auto r = std::from_chars(b, e, d);
    if (r.ec != std::errc() || r.ptr != e) return Error(start, Cat("bad number '", tok, "'"));
    pos_ = end;
    return V(d);
  }

  absl::Status Error(size_t at, std::string_view msg) const {
    return absl::InvalidArgumentError(Cat("column ", at + 1, ": ", msg));
  }

  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

std::string_view DtypeName(Dtype d) {
  for (const auto& i : kDtypes) {
    if (i.d == d) return i.name;
  }
  return "?";
}

std::optional<Dtype> ParseDtype(std::string_view name) {
  name = StripTorchPrefix(name);
  for (const auto& i : kDtypes) {
    if (i.name == name) return i.d;
  }
  if (name == "float" || name == "float32") return Dtype::kFloat32;
  if (name == "half") return Dtype::kFloat16;
  return std::nullopt;
}

bool IsQuantizedDtype(Dtype d) { return d != Dtype::kFloat16 && d != Dtype::kFloat32; }

std::string_view QSchemeName(QScheme q) {
  for (const auto& i : kQSchemes) {
    if (i.q == q) return i.name;
  }
  return "?";
}

std::optional<QScheme> ParseQScheme(std::string_view name) {
  name = StripTorchPrefix(name);
  for (const auto& i : kQSchemes) {
    if (i.name == name) return i.q;
  }
  return std::nullopt;
}

bool ObserverSpec::operator==(const ObserverSpec& o) const {
  if (class_name != o.class_name || args != o.args) return false;
  if ((observer == nullptr) != (o.observer == nullptr)) return false;
  return observer == nullptr || *observer == *o.observer;
}

std::string ObserverSpec::ToString() const {
  std::vector<std::string> parts;
  const bool fake_quant = observer != nullptr;
  for (const auto& [k, v] : args) {
    // A fake-quant spec's mirrored attributes follow from its observer.
    if (fake_quant && k != "observer") continue;
    parts.push_back(Cat(k, "=", ValueToString(v)));
  }
  return Cat(class_name, "(", Join(parts, ", "), ")");
}

Dtype ObserverSpec::dtype() const {
  auto it = args.find("dtype");
  QPREP_CHECK(it != args.end());
  return *ParseDtype(std::get<std::string>(it->second.v));
}

QScheme ObserverSpec::qscheme() const {
  auto it = args.find("qscheme");
  QPREP_CHECK(it != args.end());
  return *ParseQScheme(std::get<std::string>(it->second.v));
}

int64_t ObserverSpec::quant_min() const {
  auto it = args.find("quant_min");
  QPREP_CHECK(it != args.end());
  return std::get<int64_t>(it->second.v);
}

int64_t ObserverSpec::quant_max() const {
  auto it = args.find("quant_max");
  QPREP_CHECK(it != args.end());
  return std::get<int64_t>(it->second.v);
}

absl::StatusOr<ObserverSpec> MakeObserverSpec(
    std::string_view class_name, const std::vector<std::pair<std::string, SpecValue>>& args) {
  return MakeSpecImpl(class_name, args, 0);
}

absl::StatusOr<ObserverSpec> ParseObserverSpec(std::string_view text) {
  return SpecParser(text).Parse();
}

const std::vector<std::string_view>& KnownObserverClasses() {
  static const auto* names = [] {
    auto* v = new std::vector<std::string_view>;
    for (const ClassDef& c : Classes()) v->push_back(c.name);
    return v;
  }();
  return *names;
}

}  // namespace qprep
