// Fuzz targets for what the observer commands (`qprepc observe`, `qprepc calibrate`) read from
// users: .npy batches, observer specs, saved observer states and plan JSON. One source, four
// targets: QPREP_FUZZ_INPUT selects the parser (1 npy, 2 spec, 3 state, 4 plan). Any bytes must
// give a value or an error status with a message, never a crash, a hang or a leak; and what
// parses must survive its own writer:
//   npy    EncodeNpy(ParseNpy(x)) parses to the same shape and the same float bits;
//   spec   the canonical text (ToString) parses to an equal spec; the observer it builds
//          observes two small batches, computes qparams, and its state round-trips;
//   state  LoadObserver(x) serializes to a state that loads and serializes identically; the
//          observer then merges a copy of itself, computes qparams and observes a batch;
//   plan   ParsePlan(x) gives observers whose specs build (or fail cleanly).
// Built with g++ as corpus replay tests (tests/fuzz/replay_main.cc) and with clang as libFuzzer
// binaries (-DQPREP_FUZZ=ON); see docs/fuzzing.md.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "backends/cpu/calibrate/calibrate.h"
#include "backends/cpu/calibrate/calibrators_extra.h"
#include "backends/cpu/calibrate/npy.h"
#include "backends/cpu/observer.h"
#include "common/observer_spec.h"

#ifndef QPREP_FUZZ_INPUT
#error "define QPREP_FUZZ_INPUT: 1 npy, 2 spec, 3 state, 4 plan"
#endif

namespace {

namespace obs = qprep::observers;

void Check(bool ok) {
  if (!ok) std::abort();
}

// A failed status must say what failed.
void CheckError(const absl::Status& s) { Check(!s.ok() && !s.message().empty()); }

// The histogram-based searches cost O(bins^2) per calculate_qparams (PyTorch's algorithms);
// beyond this the fuzzer would report slow inputs that are slow by definition.
constexpr int64_t kMaxSearchBins = 4096;

[[maybe_unused]] bool SearchIsCheap(const qprep::ObserverSpec& spec) {
  for (const char* name : {"bins", "num_candidates", "num_quantized_bins"}) {
    auto it = spec.args.find(name);
    if (it == spec.args.end()) continue;
    const int64_t* v = std::get_if<int64_t>(&it->second.v);
    if (v != nullptr && *v > kMaxSearchBins) return false;
  }
  // A fake-quant class runs its inner observer's search on every forward.
  return spec.observer == nullptr || SearchIsCheap(*spec.observer);
}

// Two small batches that widen the range (the histogram's combine path), shape [2, 3, 4].
[[maybe_unused]] const std::vector<float>& Batch(int k) {
  static const std::vector<float> a = [] {
    std::vector<float> v(24);
    for (size_t i = 0; i < v.size(); ++i) v[i] = std::sin(static_cast<float>(i)) * 3.0f;
    return v;
  }();
  static const std::vector<float> b = [] {
    std::vector<float> v(24);
    for (size_t i = 0; i < v.size(); ++i) v[i] = std::cos(static_cast<float>(i)) * 7.0f - 1.0f;
    return v;
  }();
  return k == 0 ? a : b;
}
const std::vector<int64_t> kShape = {2, 3, 4};

// Exercises an observer: observe (and fake-quant forward, for fake-quant classes), qparams, a
// state round trip. Statuses may be errors; crashes and mismatched round trips are bugs.
[[maybe_unused]] void Exercise(obs::Observer& o, bool observe) {
  const bool cheap = SearchIsCheap(o.spec());
  if (observe) {
    for (int k = 0; k < 2; ++k) {
      absl::Status s = o.Observe(Batch(k).data(), kShape);
      if (!s.ok()) CheckError(s);
    }
    std::vector<float> out(24);
    absl::Status s = o.Forward(Batch(0).data(), kShape, out.data());
    if (!s.ok()) CheckError(s);
  }
  if (cheap) {
    auto qp = o.CalculateQParams();
    if (!qp.ok()) CheckError(qp.status());
  }
  const std::string state = o.SerializeState();
  auto again = obs::LoadObserver(state);
  Check(again.ok());
  Check((*again)->SerializeState() == state);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool registered = (obs::RegisterExtraCalibrators(), true);
  (void)registered;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);

#if QPREP_FUZZ_INPUT == 1
  auto arr = obs::ParseNpy(bytes);
  if (!arr.ok()) {
    CheckError(arr.status());
    return 0;
  }
  int64_t n = 1;
  for (int64_t d : arr->shape) {
    Check(d >= 0);
    n *= d;
  }
  Check(n == arr->num_elements());
  const std::string encoded = obs::EncodeNpy(arr->shape, arr->data);
  auto back = obs::ParseNpy(encoded);
  Check(back.ok());
  Check(back->shape == arr->shape);
  Check(back->data.size() == arr->data.size());
  Check(arr->data.empty() ||
        std::memcmp(back->data.data(), arr->data.data(), arr->data.size() * sizeof(float)) == 0);

#elif QPREP_FUZZ_INPUT == 2
  auto spec = qprep::ParseObserverSpec(bytes);
  if (!spec.ok()) {
    CheckError(spec.status());
    return 0;
  }
  auto reparsed = qprep::ParseObserverSpec(spec->ToString());
  Check(reparsed.ok());
  Check(*reparsed == *spec);
  auto o = obs::MakeObserver(*spec);
  if (!o.ok()) {
    CheckError(o.status());
    return 0;
  }
  // Past kMaxSearchBins the work is linear or quadratic in the size the spec asked for (a 16M-bin
  // state is 160 MB of JSON): construction is checked, the rest would only be slow.
  if (!SearchIsCheap(*spec)) return 0;
  Exercise(**o, /*observe=*/true);

#elif QPREP_FUZZ_INPUT == 3
  auto o = obs::LoadObserver(bytes);
  if (!o.ok()) {
    CheckError(o.status());
    return 0;
  }
  auto copy = obs::LoadObserver((*o)->SerializeState());
  Check(copy.ok());
  absl::Status merged = (*o)->Merge(**copy);
  if (!merged.ok()) CheckError(merged);
  Exercise(**o, /*observe=*/true);

#elif QPREP_FUZZ_INPUT == 4
  auto plan = obs::ParsePlan(bytes);
  if (!plan.ok()) {
    CheckError(plan.status());
    return 0;
  }
  for (const obs::PlanObserver& po : plan->observers) {
    auto o = obs::MakeObserver(po.spec);
    if (!o.ok()) CheckError(o.status());
  }
#endif
  return 0;
}
