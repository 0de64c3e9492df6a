// Observer classes (observer.h) on top of the Highway kernels (kernels.h). Each class mirrors
// PyTorch 1.13's Python module of the same name: the statistics update in `forward` and
// `calculate_qparams`, in float32, in PyTorch's order of operations. Comments name the Python
// lines they follow where the arithmetic is subtle.
#include "backends/cpu/observer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <numeric>
#include <utility>

#include "backends/cpu/equalization.h"
#include "backends/cpu/histogram.h"
#include "backends/cpu/kernels.h"
#include "backends/cpu/parallel.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace qprep::observers {
namespace {

using json = nlohmann::json;

constexpr char kStateFormat[] = "qprep-observer-state";
constexpr int kStateVersion = 1;
constexpr float kInf = std::numeric_limits<float>::infinity();

std::string Str(std::string_view s) { return std::string(s); }

// ---- float <-> JSON as bit patterns (exact, and ±inf / NaN survive) -------------------------

uint32_t Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float FromBits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
json FloatsToJson(const std::vector<float>& v) {
  json a = json::array();
  for (float f : v) a.push_back(Bits(f));
  return a;
}
absl::StatusOr<std::vector<float>> FloatsFromJson(const json& state, const char* key) {
  auto it = state.find(key);
  if (it == state.end() || !it->is_array()) {
    return absl::InvalidArgumentError(Str("observer state: missing array '") + key + "'");
  }
  std::vector<float> out;
  out.reserve(it->size());
  for (const json& e : *it) {
    if (!e.is_number_unsigned() || e.get<uint64_t>() > 0xffffffffu) {
      return absl::InvalidArgumentError(Str("observer state: '") + key +
                                        "' must hold float32 bit patterns (uint32)");
    }
    out.push_back(FromBits(e.get<uint32_t>()));
  }
  return out;
}
absl::StatusOr<float> FloatFromJson(const json& state, const char* key) {
  auto it = state.find(key);
  if (it == state.end() || !it->is_number_unsigned() || it->get<uint64_t>() > 0xffffffffu) {
    return absl::InvalidArgumentError(Str("observer state: missing float32 bits '") + key + "'");
  }
  return FromBits(it->get<uint32_t>());
}
template <typename T>
absl::StatusOr<T> ScalarFromJson(const json& state, const char* key) {
  auto it = state.find(key);
  if (it == state.end()) {
    return absl::InvalidArgumentError(Str("observer state: missing '") + key + "'");
  }
  try {
    return it->get<T>();
  } catch (const json::exception&) {
    return absl::InvalidArgumentError(Str("observer state: bad '") + key + "'");
  }
}

// ---- shapes ------------------------------------------------------------------------------------

absl::StatusOr<size_t> NumElements(const std::vector<int64_t>& shape) {
  size_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return absl::InvalidArgumentError("tensor shape has a negative dimension");
    n *= static_cast<size_t>(d);
  }
  return n;
}

// A contiguous tensor seen as [outer, C, inner] around the channel axis.
struct ChannelView {
  size_t outer = 1, channels = 1, inner = 1;
  int64_t axis = 0;
};
absl::StatusOr<ChannelView> ViewAround(const std::vector<int64_t>& shape, int64_t ch_axis) {
  const int64_t rank = static_cast<int64_t>(shape.size());
  if (rank == 0) {
    return absl::InvalidArgumentError("per-channel observation needs a tensor of rank >= 1");
  }
  if (ch_axis < -rank || ch_axis >= rank) {
    return absl::InvalidArgumentError("ch_axis " + std::to_string(ch_axis) +
                                      " is out of range for a tensor of rank " +
                                      std::to_string(rank));
  }
  ChannelView v;
  v.axis = ch_axis < 0 ? ch_axis + rank : ch_axis;
  for (int64_t i = 0; i < rank; ++i) {
    if (i < v.axis) v.outer *= shape[i];
    if (i > v.axis) v.inner *= shape[i];
  }
  v.channels = shape[v.axis];
  return v;
}

// ---- threads -----------------------------------------------------------------------------------

// Per-channel min / max of one batch (torch.aminmax(y, dim=1) after PyTorch's permute+flatten).
void BatchChannelMinMax(const float* p, const ChannelView& v, const ObserverOptions& o,
                        std::vector<float>* mins, std::vector<float>* maxs) {
  mins->assign(v.channels, kInf);
  maxs->assign(v.channels, -kInf);
  const size_t n = v.outer * v.channels * v.inner;
  const int threads = ThreadsFor(o, n);
  if (threads > 1 && v.outer >= static_cast<size_t>(threads)) {
    // Split the outer dimension; each thread reduces into its own channel vectors.
    std::vector<std::vector<float>> tmin(threads, *mins), tmax(threads, *maxs);
    ParallelChunks(threads, v.outer, [&](size_t b, size_t e, int t) {
      kernels::PerChannelMinMax(p + b * v.channels * v.inner, e - b, v.channels, v.inner,
                                tmin[t].data(), tmax[t].data());
    });
    for (int t = 0; t < threads; ++t) {
      for (size_t c = 0; c < v.channels; ++c) {
        (*mins)[c] = NanMin((*mins)[c], tmin[t][c]);
        (*maxs)[c] = NanMax((*maxs)[c], tmax[t][c]);
      }
    }
  } else if (threads > 1 && v.channels >= static_cast<size_t>(threads)) {
    // Split channels: disjoint outputs, rows [c0, c1) of every outer block.
    ParallelChunks(threads, v.channels, [&](size_t b, size_t e, int) {
      for (size_t o2 = 0; o2 < v.outer; ++o2) {
        for (size_t c = b; c < e; ++c) {
          kernels::MinMax(p + (o2 * v.channels + c) * v.inner, v.inner, &(*mins)[c], &(*maxs)[c]);
        }
      }
    });
  } else {
    kernels::PerChannelMinMax(p, v.outer, v.channels, v.inner, mins->data(), maxs->data());
  }
}

// Per-channel fake-quant, threaded over independent rows: whole outer blocks when there are
// enough, else channel ranges of a single outer block. Elementwise, so any split is exact.
void ThreadedFakeQuantPerChannel(const float* in, const ChannelView& v, const float* scale,
                                 const int32_t* zp, int64_t qmin, int64_t qmax,
                                 const ObserverOptions& o, float* out) {
  const size_t n = v.outer * v.channels * v.inner;
  const int threads = ThreadsFor(o, n);
  const size_t block = v.channels * v.inner;
  if (threads > 1 && v.outer >= static_cast<size_t>(threads)) {
    ParallelChunks(threads, v.outer, [&](size_t b, size_t e, int) {
      kernels::FakeQuantizePerChannel(in + b * block, e - b, v.channels, v.inner, scale, zp, qmin,
                                      qmax, out + b * block);
    });
  } else if (threads > 1 && v.outer == 1 && v.channels >= static_cast<size_t>(threads)) {
    ParallelChunks(threads, v.channels, [&](size_t b, size_t e, int) {
      kernels::FakeQuantizePerChannel(in + b * v.inner, 1, e - b, v.inner, scale + b, zp + b, qmin,
                                      qmax, out + b * v.inner);
    });
  } else {
    kernels::FakeQuantizePerChannel(in, v.outer, v.channels, v.inner, scale, zp, qmin, qmax, out);
  }
}

// ---- quantization parameters ---------------------------------------------------------------

struct UniformParams {
  Dtype dtype;
  QScheme qscheme;
  int64_t quant_min, quant_max;
  float eps;
  bool customized;
};

UniformParams ParamsOf(const ObserverSpec& s) {
  UniformParams p;
  p.dtype = s.dtype();
  p.qscheme = s.qscheme();
  p.quant_min = s.quant_min();
  p.quant_max = s.quant_max();
  auto eps = s.args.find("eps");
  p.eps = eps == s.args.end() ? std::numeric_limits<float>::epsilon()
                              : static_cast<float>(std::get<double>(eps->second.v));
  auto c = s.args.find("has_customized_qrange");
  p.customized = c != s.args.end() && std::get<bool>(c->second.v);
  return p;
}

bool IsSymmetric(QScheme q) {
  return q == QScheme::kPerTensorSymmetric || q == QScheme::kPerChannelSymmetric;
}
bool IsPerChannel(QScheme q) {
  return q == QScheme::kPerChannelAffine || q == QScheme::kPerChannelSymmetric ||
         q == QScheme::kPerChannelAffineFloatQParams;
}

// Tensor.to(torch.int) of a float on x86: NaN and out-of-range values become INT32_MIN.
int32_t ToInt32(float f) {
  if (!(f >= -2147483648.0f && f < 2147483648.0f)) return std::numeric_limits<int32_t>::min();
  return static_cast<int32_t>(f);
}

QParams DefaultQParams(const UniformParams& u) {
  QParams q;
  q.scale = {1.0f};
  q.zero_point = {0};
  q.is_default = true;
  q.dtype = u.dtype;
  q.qscheme = u.qscheme;
  q.quant_min = u.quant_min;
  q.quant_max = u.quant_max;
  return q;
}

// UniformQuantizationObserverBase._calculate_qparams for already-validated min / max.
QParams QParamsFromMinMax(const UniformParams& u, const std::vector<float>& min_val,
                          const std::vector<float>& max_val) {
  QParams q;
  q.dtype = u.dtype;
  q.qscheme = u.qscheme;
  q.quant_min = u.quant_min;
  q.quant_max = u.quant_max;
  const size_t n = min_val.size();
  q.scale.resize(n);
  const bool float_qparams = u.qscheme == QScheme::kPerChannelAffineFloatQParams;
  q.float_zero_point = float_qparams;
  if (float_qparams) {
    q.zero_point_float.resize(n);
  } else {
    q.zero_point.resize(n);
  }
  const float qrange = static_cast<float>(u.quant_max - u.quant_min);
  // float(quant_max - quant_min) / 2, a Python float, cast to float32 for the tensor division.
  const float half_range = static_cast<float>(static_cast<double>(u.quant_max - u.quant_min) / 2);
  for (size_t i = 0; i < n; ++i) {
    const float mn = min_val[i], mx = max_val[i];
    const float min_neg = std::min(mn, 0.0f);
    const float max_pos = std::max(mx, 0.0f);
    if (IsSymmetric(u.qscheme)) {
      const float m = std::max(-min_neg, max_pos);
      float scale = m / half_range;
      scale = std::max(scale, u.eps);
      q.scale[i] = scale;
      int64_t zp = 0;
      if (u.dtype == Dtype::kQUInt8) {
        zp = u.customized ? (u.quant_min + u.quant_max) / 2 : 128;  // both >= 0 here
      }
      q.zero_point[i] = zp;
    } else if (float_qparams) {
      float scale = (mx - mn) / qrange;
      scale = scale > u.eps ? scale : 1.0f;
      q.scale[i] = scale;
      q.zero_point_float[i] = (-1.0f * mn) / scale;
    } else {
      float scale = (max_pos - min_neg) / qrange;
      scale = std::max(scale, u.eps);
      q.scale[i] = scale;
      // quant_min - torch.round(min_val_neg / scale).to(torch.int), in int32 (wrapping), then
      // clamped to [quant_min, quant_max].
      const int32_t r = ToInt32(std::nearbyint(min_neg / scale));
      const int32_t zp32 =
          static_cast<int32_t>(static_cast<uint32_t>(u.quant_min) - static_cast<uint32_t>(r));
      q.zero_point[i] = std::clamp<int64_t>(zp32, u.quant_min, u.quant_max);
    }
  }
  return q;
}

// check_min_max_valid: false (defaults) for no data; an error for min > max or NaN.
absl::StatusOr<bool> MinMaxValid(const std::vector<float>& min_val,
                                 const std::vector<float>& max_val, bool per_tensor) {
  if (min_val.empty() || max_val.empty()) return false;
  if (per_tensor && min_val[0] == kInf && max_val[0] == -kInf) return false;
  for (size_t i = 0; i < min_val.size(); ++i) {
    if (!(min_val[i] <= max_val[i])) {
      return absl::FailedPreconditionError(
          "min " + std::to_string(min_val[i]) + " should be less than max " +
          std::to_string(max_val[i]) +
          (std::isnan(min_val[i]) || std::isnan(max_val[i]) ? " (the observed data contained NaN)"
                                                            : ""));
    }
  }
  return true;
}

absl::StatusOr<QParams> CheckedQParams(const ObserverSpec& spec, const std::vector<float>& mn,
                                       const std::vector<float>& mx, bool per_tensor) {
  const UniformParams u = ParamsOf(spec);
  ASSIGN_OR_RETURN(bool valid, MinMaxValid(mn, mx, per_tensor));
  if (!valid) return DefaultQParams(u);
  return QParamsFromMinMax(u, mn, mx);
}

double ArgDouble(const ObserverSpec& s, const char* name) {
  return std::get<double>(s.args.at(name).v);
}
int64_t ArgInt(const ObserverSpec& s, const char* name) {
  return std::get<int64_t>(s.args.at(name).v);
}

// fake_quantize_per_channel_affine with float zero points (per_channel_affine_float_qparams, the
// embedding QAT path): q = nearbyint(x / scale + zp) in float32; std::fmin / std::fmax against
// the int64 bounds promote to double (NaN lands on quant_min), and (q - zp) * scale is evaluated
// in double, then stored as float32 (found by matching PyTorch 1.13 outputs bit for bit).
// Scalar: a niche path.
void FakeQuantizePerChannelFloatZp(const float* in, const ChannelView& v, const float* scale,
                                   const float* zp, int64_t quant_min, int64_t quant_max,
                                   float* out) {
  const double qmin = static_cast<double>(quant_min), qmax = static_cast<double>(quant_max);
  for (size_t o = 0; o < v.outer; ++o) {
    for (size_t c = 0; c < v.channels; ++c) {
      const size_t base = (o * v.channels + c) * v.inner;
      for (size_t i = 0; i < v.inner; ++i) {
        const float q = std::nearbyint(in[base + i] / scale[c] + zp[c]);
        const double cl = std::fmin(std::fmax(static_cast<double>(q), qmin), qmax);
        out[base + i] =
            static_cast<float>((cl - static_cast<double>(zp[c])) * static_cast<double>(scale[c]));
      }
    }
  }
}

// ---- MinMaxObserver / MovingAverageMinMaxObserver ---------------------------------------------

class MinMaxObserver final : public Observer {
 public:
  MinMaxObserver(ObserverSpec spec, ObserverOptions o, bool moving_average)
      : Observer(std::move(spec), o), moving_average_(moving_average) {
    if (moving_average_)
      averaging_constant_ = static_cast<float>(ArgDouble(this->spec(), "averaging_constant"));
  }
  ObserverKind kind() const override { return ObserverKind::kStatistics; }

  absl::Status Observe(const float* data, const std::vector<int64_t>& shape) override {
    ASSIGN_OR_RETURN(size_t n, NumElements(shape));
    if (n == 0) return absl::OkStatus();
    auto [cur_min, cur_max] = TensorMinMax(data, n, options());
    if (!moving_average_) {
      min_ = NanMin(cur_min, min_);
      max_ = NanMax(cur_max, max_);
    } else if (min_ == kInf && max_ == -kInf) {
      min_ = cur_min;
      max_ = cur_max;
    } else {
      // min_val + averaging_constant * (min_val_cur - min_val), float32.
      min_ = min_ + averaging_constant_ * (cur_min - min_);
      max_ = max_ + averaging_constant_ * (cur_max - max_);
    }
    ++batches_;
    return absl::OkStatus();
  }

  absl::StatusOr<QParams> CalculateQParams() const override {
    return CheckedQParams(spec(), {min_}, {max_}, true);
  }
  std::vector<float> min_val() const override { return {min_}; }
  std::vector<float> max_val() const override { return {max_}; }
  bool initialized() const override { return batches_ > 0; }

  json StateToJson() const override {
    json j = StateHeader();
    j["min_val"] = Bits(min_);
    j["max_val"] = Bits(max_);
    j["batches"] = batches_;
    return j;
  }
  absl::Status LoadStateJsonImpl(const json& state) override {
    RETURN_IF_ERROR(CheckStateHeader(state));
    ASSIGN_OR_RETURN(float mn, FloatFromJson(state, "min_val"));
    ASSIGN_OR_RETURN(float mx, FloatFromJson(state, "max_val"));
    ASSIGN_OR_RETURN(int64_t b, ScalarFromJson<int64_t>(state, "batches"));
    min_ = mn;
    max_ = mx;
    batches_ = b;
    return absl::OkStatus();
  }
  // Min / max: the running min / max of both (exactly one pass over all batches). Moving
  // average: the batch-count-weighted mean of the two averages (docs/observers.md); it lies
  // between the smallest and largest per-batch statistic of either shard, as does one pass.
  absl::Status Merge(const Observer& other_base) override {
    RETURN_IF_ERROR(CheckSameSpec(other_base));
    const auto& other = static_cast<const MinMaxObserver&>(other_base);
    if (other.batches_ == 0) return absl::OkStatus();
    if (batches_ == 0) {
      min_ = other.min_;
      max_ = other.max_;
      batches_ = other.batches_;
      return absl::OkStatus();
    }
    if (!moving_average_) {
      min_ = NanMin(min_, other.min_);
      max_ = NanMax(max_, other.max_);
    } else {
      const double wa = static_cast<double>(batches_), wb = static_cast<double>(other.batches_);
      min_ = static_cast<float>((wa * min_ + wb * other.min_) / (wa + wb));
      max_ = static_cast<float>((wa * max_ + wb * other.max_) / (wa + wb));
    }
    batches_ += other.batches_;
    return absl::OkStatus();
  }

 private:
  bool moving_average_;
  float averaging_constant_ = 0.01f;
  float min_ = kInf, max_ = -kInf;
  int64_t batches_ = 0;
};

// ---- PerChannelMinMaxObserver / MovingAveragePerChannelMinMaxObserver --------------------------

class PerChannelObserver final : public Observer {
 public:
  PerChannelObserver(ObserverSpec spec, ObserverOptions o, bool moving_average)
      : Observer(std::move(spec), o), moving_average_(moving_average) {
    ch_axis_ = ArgInt(this->spec(), "ch_axis");
    if (moving_average_)
      averaging_constant_ = static_cast<float>(ArgDouble(this->spec(), "averaging_constant"));
  }
  ObserverKind kind() const override { return ObserverKind::kStatistics; }

  absl::Status Observe(const float* data, const std::vector<int64_t>& shape) override {
    ASSIGN_OR_RETURN(size_t n, NumElements(shape));
    if (n == 0) return absl::OkStatus();
    if (shape.size() < 2) {
      // PyTorch flattens the permuted tensor from dim 1, which a 1-D tensor lacks.
      return absl::InvalidArgumentError(
          "per-channel observers need a tensor of rank >= 2 (PyTorch: Dimension out of range)");
    }
    ASSIGN_OR_RETURN(ChannelView v, ViewAround(shape, ch_axis_));
    std::vector<float> cur_min, cur_max;
    BatchChannelMinMax(data, v, options(), &cur_min, &cur_max);
    if (min_.empty()) {
      min_ = std::move(cur_min);
      max_ = std::move(cur_max);
    } else {
      if (min_.size() != cur_min.size()) {
        return absl::InvalidArgumentError(
            "The size of tensor a (" + std::to_string(cur_min.size()) +
            ") must match the size of tensor b (" + std::to_string(min_.size()) +
            ") at non-singleton dimension 0 (channel count changed between batches)");
      }
      for (size_t c = 0; c < min_.size(); ++c) {
        if (!moving_average_) {
          min_[c] = NanMin(cur_min[c], min_[c]);
          max_[c] = NanMax(cur_max[c], max_[c]);
        } else {
          min_[c] = min_[c] + averaging_constant_ * (cur_min[c] - min_[c]);
          max_[c] = max_[c] + averaging_constant_ * (cur_max[c] - max_[c]);
        }
      }
    }
    ++batches_;
    return absl::OkStatus();
  }

  absl::StatusOr<QParams> CalculateQParams() const override {
    ASSIGN_OR_RETURN(QParams q, CheckedQParams(spec(), min_, max_, false));
    if (!q.is_default) q.ch_axis = ch_axis_;
    return q;
  }
  std::vector<float> min_val() const override { return min_; }
  std::vector<float> max_val() const override { return max_; }
  bool initialized() const override { return batches_ > 0; }

  json StateToJson() const override {
    json j = StateHeader();
    j["min_val"] = FloatsToJson(min_);
    j["max_val"] = FloatsToJson(max_);
    j["batches"] = batches_;
    return j;
  }
  absl::Status LoadStateJsonImpl(const json& state) override {
    RETURN_IF_ERROR(CheckStateHeader(state));
    ASSIGN_OR_RETURN(auto mn, FloatsFromJson(state, "min_val"));
    ASSIGN_OR_RETURN(auto mx, FloatsFromJson(state, "max_val"));
    ASSIGN_OR_RETURN(int64_t b, ScalarFromJson<int64_t>(state, "batches"));
    if (mn.size() != mx.size()) {
      return absl::InvalidArgumentError("observer state: min_val and max_val sizes differ");
    }
    min_ = std::move(mn);
    max_ = std::move(mx);
    batches_ = b;
    return absl::OkStatus();
  }
  absl::Status Merge(const Observer& other_base) override {
    RETURN_IF_ERROR(CheckSameSpec(other_base));
    const auto& other = static_cast<const PerChannelObserver&>(other_base);
    if (other.batches_ == 0) return absl::OkStatus();
    if (batches_ == 0) {
      min_ = other.min_;
      max_ = other.max_;
      batches_ = other.batches_;
      return absl::OkStatus();
    }
    if (other.min_.size() != min_.size()) {
      return absl::InvalidArgumentError("cannot merge per-channel states with " +
                                        std::to_string(min_.size()) + " and " +
                                        std::to_string(other.min_.size()) + " channels");
    }
    const double wa = static_cast<double>(batches_), wb = static_cast<double>(other.batches_);
    for (size_t c = 0; c < min_.size(); ++c) {
      if (!moving_average_) {
        min_[c] = NanMin(min_[c], other.min_[c]);
        max_[c] = NanMax(max_[c], other.max_[c]);
      } else {
        min_[c] = static_cast<float>((wa * min_[c] + wb * other.min_[c]) / (wa + wb));
        max_[c] = static_cast<float>((wa * max_[c] + wb * other.max_[c]) / (wa + wb));
      }
    }
    batches_ += other.batches_;
    return absl::OkStatus();
  }

  // FusedMovingAvgObsFakeQuantize updates the running statistics its own way (see there).
  std::vector<float>& mutable_min() { return min_; }
  std::vector<float>& mutable_max() { return max_; }
  int64_t ch_axis() const { return ch_axis_; }

 private:
  bool moving_average_;
  int64_t ch_axis_ = 0;
  float averaging_constant_ = 0.01f;
  std::vector<float> min_, max_;
  int64_t batches_ = 0;
};

// ---- HistogramObserver -------------------------------------------------------------------------

class HistogramObserverImpl final : public Observer {
 public:
  HistogramObserverImpl(ObserverSpec spec, ObserverOptions o) : Observer(std::move(spec), o) {
    h_.bins = ArgInt(this->spec(), "bins");
    h_.upsample_rate = ArgInt(this->spec(), "upsample_rate");
    h_.histogram.assign(h_.bins, 0.0f);
    const Dtype d = this->spec().dtype();
    // 2 ** torch.iinfo(dtype).bits: 32 bits for qint32, 8 for the others (quint4x2 included).
    dst_nbins_ = d == Dtype::kQInt32 ? (int64_t{1} << 32) : 256;
  }
  ObserverKind kind() const override { return ObserverKind::kStatistics; }

  absl::Status Observe(const float* data, const std::vector<int64_t>& shape) override {
    ASSIGN_OR_RETURN(size_t n, NumElements(shape));
    if (n == 0) return absl::OkStatus();
    return HistogramObserveBatch(&h_, data, n, options());
  }

  absl::StatusOr<QParams> CalculateQParams() const override {
    const UniformParams u = ParamsOf(spec());
    if (h_.min_val == kInf && h_.max_val == -kInf) return DefaultQParams(u);
    auto [new_min, new_max] = NonLinearParamSearch(h_, dst_nbins_);
    return CheckedQParams(spec(), {new_min}, {new_max}, true);
  }
  std::vector<float> min_val() const override { return {h_.min_val}; }
  std::vector<float> max_val() const override { return {h_.max_val}; }
  bool initialized() const override { return !(h_.min_val == kInf && h_.max_val == -kInf); }

  json StateToJson() const override {
    json j = StateHeader();
    j["min_val"] = Bits(h_.min_val);
    j["max_val"] = Bits(h_.max_val);
    j["histogram"] = FloatsToJson(h_.histogram);
    return j;
  }
  absl::Status LoadStateJsonImpl(const json& state) override {
    RETURN_IF_ERROR(CheckStateHeader(state));
    ASSIGN_OR_RETURN(float mn, FloatFromJson(state, "min_val"));
    ASSIGN_OR_RETURN(float mx, FloatFromJson(state, "max_val"));
    ASSIGN_OR_RETURN(auto hist, FloatsFromJson(state, "histogram"));
    if (static_cast<int64_t>(hist.size()) != h_.bins) {
      return absl::InvalidArgumentError("observer state: histogram has " +
                                        std::to_string(hist.size()) + " bins, the spec says " +
                                        std::to_string(h_.bins));
    }
    // What forward can leave: the unobserved (+inf, -inf), or a finite min_val <= max_val (a
    // batch with NaN or inf is an error and changes nothing); finite counts.
    const bool unobserved = mn == kInf && mx == -kInf;
    if (!unobserved && !(std::isfinite(mn) && std::isfinite(mx) && mn <= mx)) {
      return absl::InvalidArgumentError(
          "observer state: min_val / max_val must be finite with min_val <= max_val (or +inf / "
          "-inf before the first batch)");
    }
    // Counts may be slightly negative (_combine_histograms and the merge round, as PyTorch's
    // combining does, and a state written after them must load again: state_fuzz checks that).
    // Their total is bounded (kMaxHistogramMass, far above any element count), which forward
    // and merge also keep, so rebinning loaded states cannot overflow float32 into inf / NaN.
    for (float c : hist) {
      if (!std::isfinite(c)) {
        return absl::InvalidArgumentError("observer state: histogram counts must be finite");
      }
    }
    if (HistogramMass(hist) > kMaxHistogramMass) {
      return absl::InvalidArgumentError("observer state: histogram counts total more than 2^100");
    }
    h_.min_val = mn;
    h_.max_val = mx;
    h_.histogram = std::move(hist);
    return absl::OkStatus();
  }
  absl::Status Merge(const Observer& other_base) override {
    RETURN_IF_ERROR(CheckSameSpec(other_base));
    const auto& other = static_cast<const HistogramObserverImpl&>(other_base);
    return HistogramMerge(&h_, other.h_);
  }

 private:
  HistogramState h_;
  int64_t dst_nbins_ = 256;
};

// ---- FixedQParamsObserver and the markers --------------------------------------------------

class FixedQParamsObserverImpl final : public Observer {
 public:
  FixedQParamsObserverImpl(ObserverSpec spec, ObserverOptions o) : Observer(std::move(spec), o) {}
  ObserverKind kind() const override { return ObserverKind::kFixed; }
  absl::Status Observe(const float*, const std::vector<int64_t>& shape) override {
    return NumElements(shape).status();
  }
  absl::StatusOr<QParams> CalculateQParams() const override {
    QParams q;
    q.scale = {static_cast<float>(ArgDouble(spec(), "scale"))};
    // zero_point is an int32 buffer in PyTorch.
    q.zero_point = {static_cast<int32_t>(ArgInt(spec(), "zero_point"))};
    q.dtype = spec().dtype();
    q.qscheme = spec().qscheme();
    q.quant_min = spec().quant_min();
    q.quant_max = spec().quant_max();
    return q;
  }
  json StateToJson() const override { return StateHeader(); }
  absl::Status LoadStateJsonImpl(const json& state) override { return CheckStateHeader(state); }
  absl::Status Merge(const Observer& other) override { return CheckSameSpec(other); }
};

class MarkerObserver final : public Observer {
 public:
  MarkerObserver(ObserverSpec spec, ObserverOptions o) : Observer(std::move(spec), o) {}
  ObserverKind kind() const override { return ObserverKind::kMarker; }
  absl::Status Observe(const float*, const std::vector<int64_t>& shape) override {
    return NumElements(shape).status();
  }
  absl::StatusOr<QParams> CalculateQParams() const override {
    return absl::FailedPreconditionError("calculate_qparams should not be called for " +
                                         spec().class_name);
  }
  json StateToJson() const override { return StateHeader(); }
  absl::Status LoadStateJsonImpl(const json& state) override { return CheckStateHeader(state); }
  absl::Status Merge(const Observer& other) override { return CheckSameSpec(other); }
};

// ---- FakeQuantize / FusedMovingAvgObsFakeQuantize / FixedQParamsFakeQuantize ------------------

// fbgemm / ATen quant_utils::ChooseQuantizationParams, which the fused op uses (not the Python
// observer formula): double intermediates, a nudged integer zero point.
std::pair<float, int32_t> ChooseQuantizationParams(float min, float max, int32_t qmin, int32_t qmax,
                                                   bool preserve_sparsity) {
  constexpr float kSmallScaleThreshold = 6.1e-5f;
  if (min < 0 && max > 0 && preserve_sparsity) {
    const int symmetric_qmin = -((qmax - qmin) / 2 + 1);
    const int symmetric_qmax = (qmax - qmin) / 2;
    const double max_scale = std::max(std::fabs(min / static_cast<float>(symmetric_qmin)),
                                      std::fabs(max / static_cast<float>(symmetric_qmax)));
    min = static_cast<float>(max_scale * symmetric_qmin);
    max = static_cast<float>(max_scale * symmetric_qmax);
  }
  min = std::min(min, 0.f);
  max = std::max(max, 0.f);
  double scale = (static_cast<double>(max) - min) / (qmax - qmin);
  if (static_cast<float>(scale) == 0.0f || std::isinf(1.0f / static_cast<float>(scale))) {
    scale = 0.1;
  }
  if (scale < kSmallScaleThreshold) {
    const float org_scale = static_cast<float>(scale);
    scale = kSmallScaleThreshold;
    if (min == 0.0f) {
      max = kSmallScaleThreshold * (qmax - qmin);
    } else if (max == 0.0f) {
      min = -kSmallScaleThreshold * (qmax - qmin);
    } else {
      const float amplifier = kSmallScaleThreshold / org_scale;
      min *= amplifier;
      max *= amplifier;
    }
  }
  const double zp_from_min = qmin - min / scale;
  const double zp_from_max = qmax - max / scale;
  const double zp_from_min_error = std::abs(qmin) - std::abs(min / scale);
  const double zp_from_max_error = std::abs(qmax) - std::abs(max / scale);
  double initial_zp = zp_from_min_error < zp_from_max_error ? zp_from_min : zp_from_max;
  if (min < 0 && max > 0 && preserve_sparsity) {
    initial_zp = static_cast<double>(qmin + qmax) / 2;
  }
  int32_t nudged;
  if (initial_zp < qmin) {
    nudged = qmin;
  } else if (initial_zp > qmax) {
    nudged = qmax;
  } else {
    nudged = static_cast<int32_t>(std::nearbyint(initial_zp));
  }
  return {static_cast<float>(scale), nudged};
}

class FakeQuantizeImpl final : public Observer {
 public:
  FakeQuantizeImpl(ObserverSpec spec, ObserverOptions o, std::unique_ptr<Observer> inner)
      : Observer(std::move(spec), o), inner_(std::move(inner)) {
    fused_ = this->spec().class_name == "FusedMovingAvgObsFakeQuantize";
    fixed_ = this->spec().class_name == "FixedQParamsFakeQuantize";
    per_channel_ = IsPerChannel(this->spec().qscheme());
    ch_axis_ = std::get<int64_t>(this->spec().args.at("ch_axis").v);
    symmetric_ = IsSymmetric(this->spec().qscheme());
    if (fused_) {
      averaging_constant_ =
          static_cast<float>(ArgDouble(*this->spec().observer, "averaging_constant"));
    }
    if (fixed_) {
      // FixedQParamsFakeQuantize copies the observer's fixed qparams at construction.
      auto q = inner_->CalculateQParams();
      scale_ = q->scale;
      zero_point_ = {static_cast<int32_t>(q->zero_point[0])};
    }
  }
  ObserverKind kind() const override { return ObserverKind::kFakeQuantize; }

  absl::Status Observe(const float* data, const std::vector<int64_t>& shape) override {
    return Run(data, shape, nullptr);
  }
  absl::Status Forward(const float* in, const std::vector<int64_t>& shape, float* out) override {
    return Run(in, shape, out);
  }
  void EnableObserver(bool on) override { observer_enabled_ = on; }
  void EnableFakeQuant(bool on) override { fake_quant_enabled_ = on; }

  absl::StatusOr<QParams> CalculateQParams() const override { return inner_->CalculateQParams(); }
  std::vector<float> min_val() const override { return inner_->min_val(); }
  std::vector<float> max_val() const override { return inner_->max_val(); }
  bool initialized() const override { return inner_->initialized(); }

  json StateToJson() const override {
    json j = StateHeader();
    j["observer_state"] = inner_->StateToJson();
    j["scale"] = FloatsToJson(scale_);
    j["zero_point"] = zero_point_;
    j["zero_point_float"] = FloatsToJson(zero_point_float_);
    j["observer_enabled"] = observer_enabled_;
    j["fake_quant_enabled"] = fake_quant_enabled_;
    return j;
  }
  absl::Status LoadStateJsonImpl(const json& state) override {
    RETURN_IF_ERROR(CheckStateHeader(state));
    auto it = state.find("observer_state");
    if (it == state.end()) return absl::InvalidArgumentError("observer state: no observer_state");
    RETURN_IF_ERROR(inner_->LoadStateJson(*it));
    ASSIGN_OR_RETURN(scale_, FloatsFromJson(state, "scale"));
    ASSIGN_OR_RETURN(zero_point_, ScalarFromJson<std::vector<int32_t>>(state, "zero_point"));
    ASSIGN_OR_RETURN(zero_point_float_, FloatsFromJson(state, "zero_point_float"));
    ASSIGN_OR_RETURN(observer_enabled_, ScalarFromJson<bool>(state, "observer_enabled"));
    ASSIGN_OR_RETURN(fake_quant_enabled_, ScalarFromJson<bool>(state, "fake_quant_enabled"));
    return absl::OkStatus();
  }
  // Merges the observers' statistics; scale / zero point are refreshed on the next Forward (or
  // read through CalculateQParams), as PyTorch's buffers would be.
  absl::Status Merge(const Observer& other) override {
    RETURN_IF_ERROR(CheckSameSpec(other));
    return inner_->Merge(*static_cast<const FakeQuantizeImpl&>(other).inner_);
  }

 private:
  absl::Status Run(const float* in, const std::vector<int64_t>& shape, float* out) {
    ASSIGN_OR_RETURN(size_t n, NumElements(shape));
    if (fused_) return RunFused(in, shape, n, out);
    if (observer_enabled_ && !fixed_) {
      // FakeQuantize.forward: observe, then copy calculate_qparams() into the buffers.
      RETURN_IF_ERROR(inner_->Observe(in, shape));
      ASSIGN_OR_RETURN(QParams q, inner_->CalculateQParams());
      scale_ = q.scale;
      zero_point_.clear();
      for (int64_t z : q.zero_point) zero_point_.push_back(static_cast<int32_t>(z));
      zero_point_float_ = q.zero_point_float;
    }
    if (out == nullptr) return absl::OkStatus();
    if (!fake_quant_enabled_) {
      if (out != in) std::copy(in, in + n, out);
      return absl::OkStatus();
    }
    return FakeQuant(in, shape, n, out);
  }

  absl::Status FakeQuant(const float* in, const std::vector<int64_t>& shape, size_t n, float* out) {
    const int64_t qmin = spec().quant_min(), qmax = spec().quant_max();
    if (!per_channel_) {
      const float s = scale_.at(0);
      const int64_t z = zero_point_.at(0);
      const int threads = ThreadsFor(options(), n);
      ParallelChunks(threads, n, [&](size_t b, size_t e, int) {
        kernels::FakeQuantizePerTensor(in + b, e - b, s, z, qmin, qmax, out + b);
      });
      return absl::OkStatus();
    }
    ASSIGN_OR_RETURN(ChannelView v, ViewAround(shape, ch_axis_));
    if (spec().qscheme() == QScheme::kPerChannelAffineFloatQParams) {
      if (scale_.size() != v.channels || zero_point_float_.size() != v.channels) {
        return absl::InvalidArgumentError("fake-quantize: qparams do not match the channels");
      }
      FakeQuantizePerChannelFloatZp(in, v, scale_.data(), zero_point_float_.data(), qmin, qmax,
                                    out);
      return absl::OkStatus();
    }
    if (scale_.size() != v.channels || zero_point_.size() != v.channels) {
      return absl::InvalidArgumentError("fake-quantize: " + std::to_string(scale_.size()) +
                                        " scales for " + std::to_string(v.channels) + " channels");
    }
    ThreadedFakeQuantPerChannel(in, v, scale_.data(), zero_point_.data(), qmin, qmax, options(),
                                out);
    return absl::OkStatus();
  }

  // torch.fused_moving_avg_obs_fake_quant (ATen FusedObsFakeQuant.cpp): the running min / max
  // move by the averaging constant (the first batch, detected by an infinite running value,
  // sets them); scale / zero point come from ChooseQuantizationParams and are refreshed only
  // while fake-quant is enabled.
  absl::Status RunFused(const float* in, const std::vector<int64_t>& shape, size_t n, float* out) {
    const int32_t qmin = static_cast<int32_t>(spec().quant_min());
    const int32_t qmax = static_cast<int32_t>(spec().quant_max());
    std::vector<float> cur_min, cur_max;
    ChannelView v;
    if (per_channel_) {
      if (ch_axis_ >= static_cast<int64_t>(shape.size())) {
        return absl::InvalidArgumentError(
            "Error in fused_moving_avg_obs_fake_quant_cpu: ch_axis must be < self.dim()");
      }
      if (observer_enabled_ && ch_axis_ != 0) {
        return absl::InvalidArgumentError(
            "Per-channel FakeQuant in fused_moving_avg_obs_fake_quant is only supported on "
            "axis == 0");
      }
      if (shape.size() < 2) {
        return absl::InvalidArgumentError(
            "per-channel fake-quantize needs a tensor of rank >= 2 (PyTorch: Dimension out of "
            "range)");
      }
      ASSIGN_OR_RETURN(v, ViewAround(shape, ch_axis_));
    }
    if (observer_enabled_ && n > 0) {
      if (per_channel_) {
        BatchChannelMinMax(in, v, options(), &cur_min, &cur_max);
      } else {
        auto [a, b] = TensorMinMax(in, n, options());
        cur_min = {a};
        cur_max = {b};
      }
      RETURN_IF_ERROR(UpdateRunning(cur_min, cur_max));
    }
    if (!fake_quant_enabled_) {
      if (out != nullptr && out != in) std::copy(in, in + n, out);
      return absl::OkStatus();
    }
    const std::vector<float> run_min = inner_->min_val(), run_max = inner_->max_val();
    if (run_min.empty()) {
      return absl::FailedPreconditionError(
          "FusedMovingAvgObsFakeQuantize: fake-quant before any observation");
    }
    scale_.resize(run_min.size());
    zero_point_.resize(run_min.size());
    for (size_t i = 0; i < run_min.size(); ++i) {
      if (!(run_min[i] <= run_max[i])) {
        return absl::FailedPreconditionError(
            "In ChooseQuantizationParams, min should be less than or equal to max");
      }
      auto [s, z] = ChooseQuantizationParams(run_min[i], run_max[i], qmin, qmax, symmetric_);
      scale_[i] = s;
      zero_point_[i] = z;
    }
    if (out == nullptr) return absl::OkStatus();
    return FakeQuant(in, shape, n, out);
  }

  // Applies the fused op's moving-average update to the inner observer's state (through its
  // serialized form, so the inner observer stays the single owner of its statistics).
  absl::Status UpdateRunning(const std::vector<float>& cur_min, const std::vector<float>& cur_max) {
    json st = inner_->StateToJson();
    std::vector<float> mn, mx;
    if (st["min_val"].is_array()) {
      ASSIGN_OR_RETURN(mn, FloatsFromJson(st, "min_val"));
      ASSIGN_OR_RETURN(mx, FloatsFromJson(st, "max_val"));
    } else {
      ASSIGN_OR_RETURN(float a, FloatFromJson(st, "min_val"));
      ASSIGN_OR_RETURN(float b, FloatFromJson(st, "max_val"));
      mn = {a};
      mx = {b};
    }
    if (mn.empty()) {
      mn.assign(cur_min.size(), kInf);
      mx.assign(cur_max.size(), -kInf);
    }
    if (mn.size() != cur_min.size()) {
      return absl::InvalidArgumentError("channel count changed between batches");
    }
    for (size_t i = 0; i < mn.size(); ++i) {
      mn[i] = std::isinf(mn[i]) ? cur_min[i] : mn[i] + averaging_constant_ * (cur_min[i] - mn[i]);
      mx[i] = std::isinf(mx[i]) ? cur_max[i] : mx[i] + averaging_constant_ * (cur_max[i] - mx[i]);
    }
    if (st["min_val"].is_array()) {
      st["min_val"] = FloatsToJson(mn);
      st["max_val"] = FloatsToJson(mx);
    } else {
      st["min_val"] = Bits(mn[0]);
      st["max_val"] = Bits(mx[0]);
    }
    st["batches"] = st.value("batches", int64_t{0}) + 1;
    return inner_->LoadStateJson(st);
  }

  std::unique_ptr<Observer> inner_;
  bool fused_ = false, fixed_ = false, per_channel_ = false, symmetric_ = false;
  int64_t ch_axis_ = -1;
  float averaging_constant_ = 0.01f;
  std::vector<float> scale_{1.0f};
  std::vector<int32_t> zero_point_{0};
  std::vector<float> zero_point_float_;  // per_channel_affine_float_qparams
  bool observer_enabled_ = true, fake_quant_enabled_ = true;
};

// ---- registry ----------------------------------------------------------------------------------

std::map<std::string, ObserverFactory, std::less<>>& Registry() {
  static auto* r = new std::map<std::string, ObserverFactory, std::less<>>;
  return *r;
}
std::mutex& RegistryMutex() {
  static auto* m = new std::mutex;
  return *m;
}

}  // namespace

// ---- Observer base -----------------------------------------------------------------------------

std::string Observer::SerializeState() const { return StateToJson().dump(); }

namespace {
// States hold integers (floats as their uint32 bit patterns), booleans and strings only. A JSON
// floating-point number where a loader reads an integer would be converted by nlohmann with a
// static_cast (undefined behaviour when out of range: state_fuzz, "5.55556e+27 is outside the
// range of representable values of type 'long'"), so states with one are refused up front.
bool HoldsFloatingNumber(const json& j, int depth = 0) {
  if (depth > 64) return true;  // no state nests this deep; refuse rather than recurse on
  if (j.is_number_float()) return true;
  if (j.is_array() || j.is_object()) {
    for (const json& e : j) {
      if (HoldsFloatingNumber(e, depth + 1)) return true;
    }
  }
  return false;
}
}  // namespace

absl::Status Observer::LoadStateJson(const json& state) {
  if (HoldsFloatingNumber(state)) {
    return absl::InvalidArgumentError(
        "observer state: unexpected floating-point number (states store floats as uint32 bits)");
  }
  try {
    return LoadStateJsonImpl(state);
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(std::string("observer state: malformed field (") + e.what() +
                                      ")");
  }
}

absl::Status Observer::LoadState(std::string_view text) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::InvalidArgumentError("observer state: not valid JSON");
  return LoadStateJson(j);
}

absl::Status Observer::Forward(const float*, const std::vector<int64_t>&, float*) {
  return absl::UnimplementedError(spec_.class_name + " is not a fake-quantize class");
}

absl::Status Observer::CheckSameSpec(const Observer& other) const {
  if (!(other.spec() == spec_)) {
    return absl::InvalidArgumentError("cannot merge observer states of different specs: " +
                                      spec_.ToString() + " vs " + other.spec().ToString());
  }
  return absl::OkStatus();
}

json Observer::StateHeader() const {
  json j;
  j["format"] = kStateFormat;
  j["version"] = kStateVersion;
  j["spec"] = spec_.ToString();
  j["class"] = spec_.class_name;
  return j;
}

absl::Status Observer::CheckStateHeader(const json& state) const {
  if (!state.is_object() || state.value("format", "") != kStateFormat) {
    return absl::InvalidArgumentError("observer state: not a qprep-observer-state object");
  }
  if (state.value("version", -1) != kStateVersion) {
    return absl::InvalidArgumentError("observer state: unsupported version " +
                                      state.value("version", json(-1)).dump() + " (expected " +
                                      std::to_string(kStateVersion) + ")");
  }
  const std::string spec_text = state.value("spec", "");
  auto spec = ParseObserverSpec(spec_text);
  if (!spec.ok()) {
    return absl::InvalidArgumentError("observer state: bad spec '" + spec_text +
                                      "': " + std::string(spec.status().message()));
  }
  if (!(*spec == spec_)) {
    return absl::InvalidArgumentError("observer state is for " + spec_text + ", not " +
                                      spec_.ToString());
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Observer>> MakeObserver(const ObserverSpec& spec,
                                                       const ObserverOptions& options) {
  ObserverFactory factory;
  {
    std::lock_guard<std::mutex> lock(RegistryMutex());
    auto it = Registry().find(spec.class_name);
    if (it != Registry().end()) factory = it->second;
  }
  // Called unlocked: a factory may build inner observers through MakeObserver.
  if (factory) return factory(spec, options);
  const std::string& c = spec.class_name;
  std::unique_ptr<Observer> o;
  if (c == "MinMaxObserver" || c == "MovingAverageMinMaxObserver") {
    o = std::make_unique<MinMaxObserver>(spec, options, c != "MinMaxObserver");
  } else if (c == "PerChannelMinMaxObserver" || c == "MovingAveragePerChannelMinMaxObserver") {
    o = std::make_unique<PerChannelObserver>(spec, options, c != "PerChannelMinMaxObserver");
  } else if (c == "HistogramObserver") {
    o = std::make_unique<HistogramObserverImpl>(spec, options);
  } else if (c == "FixedQParamsObserver") {
    o = std::make_unique<FixedQParamsObserverImpl>(spec, options);
  } else if (IsEqualizationClass(c)) {
    return MakeEqualizationObserver(spec, options);
  } else if (c == "PlaceholderObserver" || c == "NoopObserver" || c == "ReuseInputObserver") {
    o = std::make_unique<MarkerObserver>(spec, options);
  } else if (spec.observer != nullptr) {
    ASSIGN_OR_RETURN(auto inner, MakeObserver(*spec.observer, options));
    o = std::make_unique<FakeQuantizeImpl>(spec, options, std::move(inner));
  } else {
    return absl::InvalidArgumentError("observer class " + c + " has no CPU implementation");
  }
  return o;
}

absl::StatusOr<std::unique_ptr<Observer>> LoadObserver(const json& state,
                                                       const ObserverOptions& options) {
  if (!state.is_object() || !state.contains("spec") || !state.at("spec").is_string()) {
    return absl::InvalidArgumentError("observer state: no 'spec'");
  }
  ASSIGN_OR_RETURN(ObserverSpec spec, ParseObserverSpec(state["spec"].get<std::string>()));
  ASSIGN_OR_RETURN(auto o, MakeObserver(spec, options));
  RETURN_IF_ERROR(o->LoadStateJson(state));
  return o;
}

absl::StatusOr<std::unique_ptr<Observer>> LoadObserver(std::string_view text,
                                                       const ObserverOptions& options) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::InvalidArgumentError("observer state: not valid JSON");
  return LoadObserver(j, options);
}

absl::StatusOr<std::unique_ptr<Observer>> LoadObserver(const std::string& text,
                                                       const ObserverOptions& options) {
  return LoadObserver(std::string_view(text), options);
}

absl::StatusOr<std::unique_ptr<Observer>> LoadObserver(const char* text,
                                                       const ObserverOptions& options) {
  return LoadObserver(std::string_view(text), options);
}

bool RegisterObserverFactory(std::string_view class_name, ObserverFactory factory) {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  Registry()[std::string(class_name)] = std::move(factory);
  return true;
}

QParams CalculateQParamsFromMinMax(const ObserverSpec& spec, const std::vector<float>& min_val,
                                   const std::vector<float>& max_val) {
  const UniformParams u = ParamsOf(spec);
  auto valid = MinMaxValid(min_val, max_val, min_val.size() == 1);
  if (!valid.ok() || !*valid) return DefaultQParams(u);
  return QParamsFromMinMax(u, min_val, max_val);
}

absl::Status FakeQuantizeTensor(const float* in, const std::vector<int64_t>& shape,
                                const QParams& qparams, float* out) {
  ASSIGN_OR_RETURN(size_t n, NumElements(shape));
  if (qparams.float_zero_point) {
    ASSIGN_OR_RETURN(ChannelView v, ViewAround(shape, qparams.ch_axis));
    if (qparams.scale.size() != v.channels || qparams.zero_point_float.size() != v.channels) {
      return absl::InvalidArgumentError("fake-quantize: qparams do not match the channel count");
    }
    FakeQuantizePerChannelFloatZp(in, v, qparams.scale.data(), qparams.zero_point_float.data(),
                                  qparams.quant_min, qparams.quant_max, out);
    return absl::OkStatus();
  }
  if (qparams.scale.size() == 1 && qparams.ch_axis < 0) {
    kernels::FakeQuantizePerTensor(in, n, qparams.scale[0], qparams.zero_point.at(0),
                                   qparams.quant_min, qparams.quant_max, out);
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(ChannelView v, ViewAround(shape, qparams.ch_axis));
  if (qparams.scale.size() != v.channels || qparams.zero_point.size() != v.channels) {
    return absl::InvalidArgumentError("fake-quantize: qparams do not match the channel count");
  }
  std::vector<int32_t> zp(qparams.zero_point.begin(), qparams.zero_point.end());
  kernels::FakeQuantizePerChannel(in, v.outer, v.channels, v.inner, qparams.scale.data(), zp.data(),
                                  qparams.quant_min, qparams.quant_max, out);
  return absl::OkStatus();
}

}  // namespace qprep::observers
