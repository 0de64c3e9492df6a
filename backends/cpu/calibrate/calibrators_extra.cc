// Percentile, Entropy (KL) and MSE calibrators over a canonical power-of-two histogram; see
// calibrators_extra.h for the contract and docs/calibration.md for the algorithms and how they
// relate to ONNX Runtime's and TensorRT's. tools/gen_calibrator_goldens.py is an independent
// numpy implementation of the same definitions; tests/calibrate/calibrators_extra_test.cc
// compares the two.
#include "backends/cpu/calibrate/calibrators_extra.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <mutex>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace qprep::observers {
namespace {

constexpr double kTwo53 = 9007199254740992.0;

uint32_t Bits(float f) { return std::bit_cast<uint32_t>(f); }
float FromBits(uint32_t u) { return std::bit_cast<float>(u); }

// Floor division of a bin index by 2^d (d >= 0), exact for negative indices.
int64_t ShiftDown(int64_t g, int d) {
  if (d >= 63) return g >= 0 ? 0 : -1;
  return g >> d;  // arithmetic shift: floor division (C++20)
}

}  // namespace

// ------------------------------------------------------------------------------------------
// Pow2Histogram

double Pow2Histogram::Edge(int64_t i) const {
  return std::ldexp(static_cast<double>(lo_ + i), exp_);
}

int Pow2Histogram::FitExp(double lo, double hi, int from) const {
  int e = std::max(from, kMinExp);
  // Lower bounds on the answer (see the comments in docs/calibration.md): a fitting e has
  // (hi - lo) / 2^e < num_bins and max(|lo|, |hi|) / 2^e < 2^53.
  if (hi > lo) e = std::max(e, std::ilogb((hi - lo) / static_cast<double>(num_bins_)));
  const double m = std::max(std::fabs(lo), std::fabs(hi));
  if (m > 0) e = std::max(e, std::ilogb(m) - 53);
  for (;; ++e) {
    const double a = std::floor(std::ldexp(hi, -e));
    const double b = std::floor(std::ldexp(lo, -e));
    if (a - b < static_cast<double>(num_bins_) && std::fabs(a) < kTwo53 && std::fabs(b) < kTwo53) {
      return e;
    }
  }
}

void Pow2Histogram::Rebin(int e, float hmin, float hmax) {
  const int64_t new_lo =
      abs_ ? 0 : static_cast<int64_t>(std::floor(std::ldexp(static_cast<double>(hmin), -e)));
  const int64_t new_hi =
      static_cast<int64_t>(std::floor(std::ldexp(static_cast<double>(hmax), -e)));
  std::vector<int64_t> counts(static_cast<size_t>(new_hi - new_lo + 1), 0);
  const int d = e - exp_;
  for (size_t i = 0; i < counts_.size(); ++i) {
    if (counts_[i] == 0) continue;
    counts[static_cast<size_t>(ShiftDown(lo_ + static_cast<int64_t>(i), d) - new_lo)] += counts_[i];
  }
  counts_ = std::move(counts);
  exp_ = e;
  lo_ = new_lo;
}

void Pow2Histogram::Add(std::span<const float> values) {
  float bmin = std::numeric_limits<float>::infinity(), bmax = -bmin;
  float vmin = bmin, vmax = -bmin;
  int64_t finite = 0;
  for (float x : values) {
    if (!std::isfinite(x)) continue;
    ++finite;
    bmin = std::min(bmin, x);
    bmax = std::max(bmax, x);
    const float v = abs_ ? std::fabs(x) : x;
    vmin = std::min(vmin, v);
    vmax = std::max(vmax, v);
  }
  nonfinite_ += static_cast<int64_t>(values.size()) - finite;
  if (finite == 0) return;
  xmin_ = std::min(xmin_, bmin);
  xmax_ = std::max(xmax_, bmax);
  const float hmin = std::min(hmin_, vmin), hmax = std::max(hmax_, vmax);
  const int from = counts_.empty() ? kMinExp : exp_;
  const int e = FitExp(abs_ ? 0.0 : hmin, hmax, from);
  if (counts_.empty()) exp_ = e;
  Rebin(e, hmin, hmax);
  hmin_ = hmin;
  hmax_ = hmax;
  const double scale = std::ldexp(1.0, -e);
  int64_t* counts = counts_.data();
  const int64_t lo = lo_;
  for (float x : values) {
    if (!std::isfinite(x)) continue;
    const double v = abs_ ? std::fabs(static_cast<double>(x)) : static_cast<double>(x);
    ++counts[static_cast<int64_t>(std::floor(v * scale)) - lo];
  }
  total_ += finite;
}

absl::Status Pow2Histogram::Merge(const Pow2Histogram& other) {
  if (other.num_bins_ != num_bins_ || other.abs_ != abs_) {
    return absl::InvalidArgumentError("cannot merge histograms with different bins or modes");
  }
  nonfinite_ += other.nonfinite_;
  if (other.counts_.empty()) return absl::OkStatus();
  const float hmin = std::min(hmin_, other.hmin_), hmax = std::max(hmax_, other.hmax_);
  const int from = counts_.empty() ? other.exp_ : std::max(exp_, other.exp_);
  const int e = FitExp(abs_ ? 0.0 : hmin, hmax, from);
  if (counts_.empty()) exp_ = e;
  Rebin(e, hmin, hmax);
  const int d = e - other.exp_;
  for (size_t i = 0; i < other.counts_.size(); ++i) {
    if (other.counts_[i] == 0) continue;
    counts_[static_cast<size_t>(ShiftDown(other.lo_ + static_cast<int64_t>(i), d) - lo_)] +=
        other.counts_[i];
  }
  hmin_ = hmin;
  hmax_ = hmax;
  xmin_ = std::min(xmin_, other.xmin_);
  xmax_ = std::max(xmax_, other.xmax_);
  total_ += other.total_;
  return absl::OkStatus();
}

nlohmann::json Pow2Histogram::ToJson() const {
  return nlohmann::json{{"bins", num_bins_},
                        {"abs", abs_},
                        {"exp", exp_},
                        {"lo", lo_},
                        {"counts", counts_},
                        {"total", total_},
                        {"nonfinite", nonfinite_},
                        {"hmin_bits", Bits(hmin_)},
                        {"hmax_bits", Bits(hmax_)},
                        {"xmin_bits", Bits(xmin_)},
                        {"xmax_bits", Bits(xmax_)}};
}

absl::Status Pow2Histogram::FromJson(const nlohmann::json& j) {
  auto bad = [](const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat("bad histogram state: ", what));
  };
  try {
    if (!j.is_object()) return bad("not an object");
    if (j.at("bins").get<int64_t>() != num_bins_) return bad("'bins' differs from the spec");
    if (j.at("abs").get<bool>() != abs_) return bad("'abs' differs from the spec");
    const int e = j.at("exp").get<int>();
    const int64_t lo = j.at("lo").get<int64_t>();
    std::vector<int64_t> counts = j.at("counts").get<std::vector<int64_t>>();
    const int64_t total = j.at("total").get<int64_t>();
    const int64_t nonfinite = j.at("nonfinite").get<int64_t>();
    const float hmin = FromBits(j.at("hmin_bits").get<uint32_t>());
    const float hmax = FromBits(j.at("hmax_bits").get<uint32_t>());
    const float xmin = FromBits(j.at("xmin_bits").get<uint32_t>());
    const float xmax = FromBits(j.at("xmax_bits").get<uint32_t>());
    if (static_cast<int64_t>(counts.size()) > num_bins_) return bad("more counts than bins");
    if (e < kMinExp || e > 200) return bad("'exp' out of range");
    if (std::fabs(static_cast<double>(lo)) >= kTwo53) return bad("'lo' out of range");
    if (abs_ && lo != 0) return bad("'lo' must be 0 in abs mode");
    int64_t sum = 0;
    for (int64_t c : counts) {
      if (c < 0) return bad("negative count");
      sum += c;
    }
    if (sum != total || total < 0 || nonfinite < 0) return bad("counts do not add up to 'total'");
    if (counts.empty() != (total == 0)) return bad("empty counts with a nonzero total");
    if (!counts.empty()) {
      if (!(std::isfinite(hmin) && std::isfinite(hmax) && hmin <= hmax && xmin <= xmax)) {
        return bad("range is not finite");
      }
      // The window must be exactly the one Add() would have built.
      if (FitExp(abs_ ? 0.0 : hmin, hmax, kMinExp) != e) return bad("'exp' is not canonical");
      const int64_t want_lo =
          abs_ ? 0 : static_cast<int64_t>(std::floor(std::ldexp(static_cast<double>(hmin), -e)));
      const int64_t want_hi =
          static_cast<int64_t>(std::floor(std::ldexp(static_cast<double>(hmax), -e)));
      if (lo != want_lo || want_hi - want_lo + 1 != static_cast<int64_t>(counts.size())) {
        return bad("bin window does not match the range");
      }
    }
    exp_ = counts.empty() ? kMinExp : e;
    lo_ = lo;
    counts_ = std::move(counts);
    total_ = total;
    nonfinite_ = nonfinite;
    hmin_ = hmin;
    hmax_ = hmax;
    xmin_ = xmin;
    xmax_ = xmax;
  } catch (const nlohmann::json::exception& ex) {
    return bad(ex.what());
  }
  return absl::OkStatus();
}

// ------------------------------------------------------------------------------------------
// Range selection

namespace {

absl::Status CheckData(const Pow2Histogram& h) {
  if (h.total() == 0) {
    return absl::FailedPreconditionError("the calibrator has seen no finite values");
  }
  return absl::OkStatus();
}

int64_t IntArg(const ObserverSpec& spec, const std::string& name, int64_t def) {
  auto it = spec.args.find(name);
  if (it == spec.args.end()) return def;
  if (const int64_t* v = std::get_if<int64_t>(&it->second.v)) return *v;
  return def;
}

double FloatArg(const ObserverSpec& spec, const std::string& name, double def) {
  auto it = spec.args.find(name);
  if (it == spec.args.end()) return def;
  if (const double* v = std::get_if<double>(&it->second.v)) return *v;
  if (const int64_t* v = std::get_if<int64_t>(&it->second.v)) return static_cast<double>(*v);
  return def;
}

// A symmetric threshold t on |x| becomes the range (max(xmin, -t), min(xmax, t)): for a symmetric
// qscheme _calculate_qparams then sees max(-min, max) == t; for an affine one, the side of the
// data that does not reach t keeps its own extent.
std::pair<float, float> FromThreshold(const Pow2Histogram& h, double t) {
  const float tf = static_cast<float>(std::min(t, static_cast<double>(h.hmax())));
  return {std::max(h.xmin(), -tf), std::min(h.xmax(), tf)};
}

// Smooths a distribution as MXNet / TVM's _smooth_distribution does (eps moved from nonzero
// entries onto zero ones); false if it cannot (all zero, or an entry would go non-positive).
bool Smooth(std::vector<double>& p) {
  constexpr double kEps = 0.0001;
  int64_t zeros = 0;
  for (double v : p) zeros += v == 0;
  const int64_t nonzeros = static_cast<int64_t>(p.size()) - zeros;
  if (nonzeros == 0) return false;
  const double eps1 = kEps * static_cast<double>(zeros) / static_cast<double>(nonzeros);
  for (double& v : p) {
    if (v == 0) {
      v = kEps;
    } else {
      v -= eps1;
      if (v <= 0) return false;
    }
  }
  return true;
}

// scipy.stats.entropy(p, q): both normalized, sum of p log(p / q), in index order.
double Kl(const std::vector<double>& p, const std::vector<double>& q) {
  double sp = 0, sq = 0;
  for (double v : p) sp += v;
  for (double v : q) sq += v;
  double kl = 0;
  for (size_t k = 0; k < p.size(); ++k) {
    const double pk = p[k] / sp, qk = q[k] / sq;
    kl += pk * std::log(pk / qk);
  }
  return kl;
}

}  // namespace

absl::StatusOr<std::pair<float, float>> PercentileRange(const ObserverSpec& spec,
                                                        const Pow2Histogram& h) {
  RETURN_IF_ERROR(CheckData(h));
  const double percentile = FloatArg(spec, "percentile", 99.999);
  const std::vector<int64_t>& c = h.counts();
  const double total = static_cast<double>(h.total());
  const int64_t n = static_cast<int64_t>(c.size());
  // First bin whose cumulative count reaches `target`.
  auto first_reaching = [&](double target) {
    int64_t cum = 0;
    for (int64_t i = 0; i < n; ++i) {
      cum += c[i];
      if (static_cast<double>(cum) >= target) return i;
    }
    return n - 1;
  };
  if (h.abs()) {
    const int64_t i = first_reaching(total * (percentile / 100.0));
    return FromThreshold(h, h.Edge(i + 1));
  }
  const double cut = (100.0 - percentile) / 200.0;
  const int64_t i = first_reaching(total * cut);
  const int64_t j = first_reaching(total * (1.0 - cut));
  const float lo = static_cast<float>(std::max(h.Edge(i), static_cast<double>(h.hmin())));
  const float hi = static_cast<float>(std::min(h.Edge(j + 1), static_cast<double>(h.hmax())));
  return std::pair<float, float>{lo, hi};
}

absl::StatusOr<std::pair<float, float>> EntropyRange(const ObserverSpec& spec,
                                                     const Pow2Histogram& h) {
  RETURN_IF_ERROR(CheckData(h));
  if (!h.abs()) return absl::InternalError("EntropyRange needs a histogram of |x|");
  const int64_t nq = IntArg(spec, "num_quantized_bins", 128);
  const std::vector<int64_t>& hist = h.counts();  // bins from 0 (abs mode)
  const int64_t nbins = static_cast<int64_t>(hist.size());
  if (nbins <= nq) return FromThreshold(h, h.hmax());
  double best = std::numeric_limits<double>::infinity();
  int64_t best_i = nbins;
  std::vector<double> p, q;
  std::vector<double> quantized(static_cast<size_t>(nq));
  for (int64_t i = nq; i <= nbins; ++i) {
    p.assign(hist.begin(), hist.begin() + i);
    int64_t outliers = 0;
    for (int64_t k = i; k < nbins; ++k) outliers += hist[k];
    p[i - 1] += static_cast<double>(outliers);
    // q: the first i bins (without the folded tail) merged into nq levels (the last level takes
    // the remainder), each level's mass spread evenly over the bins where p is nonzero.
    const int64_t merged = i / nq;
    for (int64_t j = 0; j < nq; ++j) {
      const int64_t start = j * merged, stop = j == nq - 1 ? i : start + merged;
      double sum = 0;
      for (int64_t k = start; k < stop; ++k) sum += static_cast<double>(hist[k]);
      quantized[j] = sum;
    }
    q.assign(static_cast<size_t>(i), 0.0);
    for (int64_t j = 0; j < nq; ++j) {
      const int64_t start = j * merged, stop = j == nq - 1 ? i : start + merged;
      int64_t norm = 0;
      for (int64_t k = start; k < stop; ++k) norm += p[k] != 0;
      if (norm == 0) continue;
      const double v = quantized[j] / static_cast<double>(norm);
      for (int64_t k = start; k < stop; ++k) q[k] = p[k] != 0 ? v : 0.0;
    }
    if (!Smooth(p) || !Smooth(q)) continue;
    const double kl = Kl(p, q);
    if (kl < best) {
      best = kl;
      best_i = i;
    }
  }
  return FromThreshold(h, h.Edge(best_i));
}

absl::StatusOr<std::pair<float, float>> MseRange(const ObserverSpec& spec, const Pow2Histogram& h) {
  RETURN_IF_ERROR(CheckData(h));
  const int64_t num_candidates = IntArg(spec, "num_candidates", 512);
  const std::vector<int64_t>& c = h.counts();
  const double half = std::ldexp(1.0, h.exp() - 1);
  const double qmin = static_cast<double>(spec.quant_min());
  const double qmax = static_cast<double>(spec.quant_max());
  const double lo_full = std::min(static_cast<double>(h.hmin()), 0.0);
  const double hi_full = std::max(static_cast<double>(h.hmax()), 0.0);
  double best = std::numeric_limits<double>::infinity();
  std::pair<float, float> best_range;
  // Largest candidate first, so that ties keep the wider range.
  for (int64_t j = num_candidates; j >= 1; --j) {
    const double alpha = static_cast<double>(j) / static_cast<double>(num_candidates);
    std::pair<float, float> range;
    if (h.abs()) {
      range = FromThreshold(h, hi_full * alpha);
    } else {
      range = {static_cast<float>(lo_full * alpha), static_cast<float>(hi_full * alpha)};
    }
    const QParams qp = CalculateQParamsFromMinMax(spec, {range.first}, {range.second});
    const double s = static_cast<double>(qp.scale[0]);
    const double z = qp.float_zero_point ? static_cast<double>(qp.zero_point_float[0])
                                         : static_cast<double>(qp.zero_point[0]);
    double err = 0;
    for (size_t k = 0; k < c.size(); ++k) {
      if (c[k] == 0) continue;
      const double centre = h.Edge(static_cast<int64_t>(k)) + half;
      const double qv = std::clamp(std::nearbyint(centre / s) + z, qmin, qmax);
      const double d = (qv - z) * s - centre;
      err += static_cast<double>(c[k]) * d * d;
    }
    if (err < best) {
      best = err;
      best_range = range;
    }
  }
  return best_range;
}

// ------------------------------------------------------------------------------------------
// The observers

namespace {

enum class Method : uint8_t { kPercentile, kEntropy, kMse };

bool IsSymmetricScheme(QScheme q) {
  return q == QScheme::kPerTensorSymmetric || q == QScheme::kPerChannelSymmetric;
}

class HistogramCalibrator final : public Observer {
 public:
  HistogramCalibrator(ObserverSpec spec, ObserverOptions options, Method method, bool abs)
      : Observer(std::move(spec), options),
        method_(method),
        hist_(IntArg(this->spec(), "bins", 2048), abs) {}

  ObserverKind kind() const override { return ObserverKind::kStatistics; }

  absl::Status Observe(const float* data, const std::vector<int64_t>& shape) override {
    int64_t n = 1;
    for (int64_t d : shape) {
      if (d < 0) return absl::InvalidArgumentError("negative dimension in shape");
      n *= d;
    }
    if (n == 0) return absl::OkStatus();
    hist_.Add(std::span<const float>(data, static_cast<size_t>(n)));
    seen_ = true;
    return absl::OkStatus();
  }

  absl::StatusOr<std::pair<float, float>> Range() const {
    switch (method_) {
      case Method::kPercentile:
        return PercentileRange(spec(), hist_);
      case Method::kEntropy:
        return EntropyRange(spec(), hist_);
      case Method::kMse:
        return MseRange(spec(), hist_);
    }
    return absl::InternalError("unknown method");
  }

  absl::StatusOr<QParams> CalculateQParams() const override {
    if (hist_.total() == 0) {
      // No finite data: PyTorch's default (scale 1, zero point 0), as for an unobserved MinMax.
      return CalculateQParamsFromMinMax(spec(), {std::numeric_limits<float>::infinity()},
                                        {-std::numeric_limits<float>::infinity()});
    }
    ASSIGN_OR_RETURN(auto range, Range());
    return CalculateQParamsFromMinMax(spec(), {range.first}, {range.second});
  }

  std::vector<float> min_val() const override { return {hist_.xmin()}; }
  std::vector<float> max_val() const override { return {hist_.xmax()}; }
  bool initialized() const override { return seen_; }

  nlohmann::json StateToJson() const override {
    nlohmann::json j = StateHeader();
    j["seen"] = seen_;
    j["histogram"] = hist_.ToJson();
    return j;
  }

  absl::Status LoadStateJsonImpl(const nlohmann::json& state) override {
    RETURN_IF_ERROR(CheckStateHeader(state));
    if (!state.contains("histogram") || !state.contains("seen") || !state["seen"].is_boolean()) {
      return absl::InvalidArgumentError("observer state lacks 'histogram' or 'seen'");
    }
    Pow2Histogram h(hist_.num_bins(), hist_.abs());
    RETURN_IF_ERROR(h.FromJson(state["histogram"]));
    hist_ = std::move(h);
    seen_ = state["seen"].get<bool>();
    return absl::OkStatus();
  }

  absl::Status Merge(const Observer& other) override {
    RETURN_IF_ERROR(CheckSameSpec(other));
    const auto* o = dynamic_cast<const HistogramCalibrator*>(&other);
    if (o == nullptr) return absl::InvalidArgumentError("merge with a different observer class");
    RETURN_IF_ERROR(hist_.Merge(o->hist_));
    seen_ = seen_ || o->seen_;
    return absl::OkStatus();
  }

  const Pow2Histogram& histogram() const { return hist_; }

 private:
  Method method_;
  Pow2Histogram hist_;
  bool seen_ = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Observer>> MakeExtraCalibrator(const ObserverSpec& spec,
                                                              const ObserverOptions& options) {
  Method method;
  if (spec.class_name == "PercentileObserver") {
    method = Method::kPercentile;
  } else if (spec.class_name == "EntropyObserver") {
    method = Method::kEntropy;
  } else if (spec.class_name == "MSEObserver") {
    method = Method::kMse;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("'", spec.class_name, "' is not a calibrator of calibrators_extra"));
  }
  const QScheme qs = spec.qscheme();
  if (qs != QScheme::kPerTensorAffine && qs != QScheme::kPerTensorSymmetric) {
    return absl::InvalidArgumentError(
        absl::StrCat(spec.class_name,
                     " is per-tensor only (qscheme per_tensor_affine or "
                     "per_tensor_symmetric)"));
  }
  const int64_t bins = IntArg(spec, "bins", 2048);
  if (bins < 2 || bins > (int64_t{1} << 24)) {
    return absl::InvalidArgumentError(absl::StrCat(spec.class_name, ": bins must be in [2, 2^24]"));
  }
  if (method == Method::kEntropy) {
    const int64_t nq = IntArg(spec, "num_quantized_bins", 128);
    if (nq < 2 || nq > bins) {
      return absl::InvalidArgumentError("EntropyObserver: num_quantized_bins must be in [2, bins]");
    }
  }
  if (method == Method::kMse && IntArg(spec, "num_candidates", 512) > 100000) {
    return absl::InvalidArgumentError("MSEObserver: num_candidates must be at most 100000");
  }
  // Entropy is TensorRT's symmetric calibration: always a histogram of |x|. Percentile and MSE
  // follow the qscheme.
  const bool abs = method == Method::kEntropy || IsSymmetricScheme(qs);
  return std::unique_ptr<Observer>(new HistogramCalibrator(spec, options, method, abs));
}

absl::StatusOr<std::pair<float, float>> ChosenRange(const Observer& calibrator) {
  const auto* c = dynamic_cast<const HistogramCalibrator*>(&calibrator);
  if (c == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", calibrator.spec().class_name, "' is not a histogram calibrator"));
  }
  return c->Range();
}

void RegisterExtraCalibrators() {
  static std::once_flag once;
  std::call_once(once, [] {
    for (const char* name : {"PercentileObserver", "EntropyObserver", "MSEObserver"}) {
      RegisterObserverFactory(name, MakeExtraCalibrator);
    }
  });
}

}  // namespace qprep::observers
