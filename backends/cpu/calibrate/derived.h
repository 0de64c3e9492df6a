// PT2E derived observers in calibration: `_DerivedObserverOrFakeQuantize` (a
// DerivedQuantizationSpec's instance, rules/prelude/pt2e.qr) collects no statistics; its qparams
// are computed from other instances' qparams by `derive_qparams_fn`. The plan names the function
// (a string) and the source instances ("derived_from" ids); the calibration driver
// (calibrate.cc) computes the sources first, then calls DeriveQParams.
//
// PyTorch runs arbitrary Python for derive_qparams_fn; qprep knows these by name:
//   derive_bias_qparams   scale = the product of the sources' scales (a per-tensor scale
//                         broadcast over a per-channel one: act_scale * weight_scale[c], in
//                         float32), zero_point 0 — the bias rule of PyTorch's PT2E tests and
//                         quantizers (bias scale = input scale x weight scale).
#ifndef QPREP_BACKENDS_CPU_CALIBRATE_DERIVED_H_
#define QPREP_BACKENDS_CPU_CALIBRATE_DERIVED_H_

#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "backends/cpu/observer.h"

namespace qprep::observers {

inline constexpr std::string_view kDerivedObserverClass = "_DerivedObserverOrFakeQuantize";

// Registers the `_DerivedObserverOrFakeQuantize` factory with MakeObserver (idempotent). The
// observer is a marker: no data, no state beyond its spec, CalculateQParams FailedPrecondition.
void RegisterDerivedObserver();

// OK if qprep knows the spec's derive_qparams_fn; InvalidArgument naming the known ones if not.
absl::Status CheckDeriveFunction(const ObserverSpec& derived);

// The derived instance's qparams from its sources' (in derived_from order). Dtype, qscheme,
// quant range and ch_axis come from the derived spec (qscheme default: per-channel symmetric when
// a source is per-channel, else per-tensor symmetric; range default: the dtype's). Errors:
// unknown function, sources of incompatible channel counts.
absl::StatusOr<QParams> DeriveQParams(const ObserverSpec& derived,
                                      const std::vector<QParams>& sources);

}  // namespace qprep::observers

#endif  // QPREP_BACKENDS_CPU_CALIBRATE_DERIVED_H_
