// `qprepc observe --observer SPEC BATCH.npy...`: feeds .npy batches to one observer and prints its
// qparams as one JSON object (PLAN_FORMAT.md). The quickest way to check one observer against
// PyTorch on real tensors, and the building block of sharded calibration (--save-state /
// --merge-state).
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "backends/cpu/calibrate/calibrate.h"
#include "backends/cpu/calibrate/calibrators_extra.h"
#include "backends/cpu/calibrate/npy.h"
#include "backends/cpu/observer.h"
#include "common/file_io.h"
#include "common/observer_spec.h"
#include "tools/qprepc/command.h"

namespace qprep::cli {
namespace {

constexpr char kUsage[] =
    "usage: qprepc observe --observer SPEC [--threads N] [--save-state FILE]\n"
    "                      [--merge-state FILE]... BATCH.npy...\n"
    "\n"
    "Feeds the batches, in order, to one observer and prints one JSON object:\n"
    "  {\"scale\": [...], \"zero_point\": [...], \"min_val\": [...], \"max_val\": [...]}\n"
    "(one entry per tensor, or one per channel for per-channel observers; non-finite values\n"
    "are written as the strings \"inf\", \"-inf\", \"nan\"). The equalization observers\n"
    "(_InputEqualizationObserver, _WeightEqualizationObserver) have no qparams: they print\n"
    "{\"min_val\": [...], \"max_val\": [...]}, one entry per column (dimension 1).\n"
    "\n"
    "  --observer SPEC     an observer in PyTorch's syntax with PyTorch's defaults, e.g.\n"
    "                        'MinMaxObserver(dtype=qint8, qscheme=per_tensor_symmetric)'\n"
    "                        'HistogramObserver(dtype=quint8, reduce_range=true)'\n"
    "                        'PerChannelMinMaxObserver(ch_axis=1, dtype=qint8,\n"
    "                                                  qscheme=per_channel_symmetric)'\n"
    "                        'PercentileObserver(percentile=99.99)', 'EntropyObserver()',\n"
    "                        'MSEObserver()'  (see docs/observers.md, docs/calibration.md)\n"
    "  --threads N         threads per batch for large tensors (same result for any N);\n"
    "                      default: the CPUs available, as PyTorch's torch.get_num_threads()\n"
    "  --save-state FILE   also write the observer's state (JSON), to merge later\n"
    "  --merge-state FILE  merge a state saved by --save-state for the same SPEC (repeatable);\n"
    "                      with only merged states, no batch is needed\n"
    "\n"
    "BATCH.npy: float32 ('<f4'), C order, any shape (numpy.save of a float32 array).\n"
    "Exit status: 0 on success, 1 on bad input (unreadable or invalid .npy, bad SPEC, a\n"
    "failed merge), 2 on a bad command line.\n";

int Usage(const std::string& msg) {
  std::fprintf(stderr, "qprepc observe: %s\n\n%s", msg.c_str(), kUsage);
  return kExitUsage;
}

int Fail(const absl::Status& s) {
  PrintError(s);
  return kExitError;
}

int RunObserve(const std::vector<std::string>& args) {
  std::string spec_text, save_state;
  std::vector<std::string> merge_states, batches;
  int threads = DefaultObserverThreads();
  bool have_spec = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](const std::string& flag, std::string* out) -> bool {
      if (a == flag) {
        if (i + 1 >= args.size()) return false;
        *out = args[++i];
        return true;
      }
      if (a.rfind(flag + "=", 0) == 0) {
        *out = a.substr(flag.size() + 1);
        return true;
      }
      return false;
    };
    std::string v;
    if (a == "--observer" || a.rfind("--observer=", 0) == 0) {
      if (!value("--observer", &spec_text)) return Usage("--observer needs a SPEC");
      have_spec = true;
    } else if (a == "--threads" || a.rfind("--threads=", 0) == 0) {
      if (!value("--threads", &v) || !absl::SimpleAtoi(v, &threads) || threads < 1 ||
          threads > 1024) {
        return Usage("--threads needs a count from 1 to 1024");
      }
    } else if (a == "--save-state" || a.rfind("--save-state=", 0) == 0) {
      if (!value("--save-state", &save_state)) return Usage("--save-state needs a FILE");
    } else if (a == "--merge-state" || a.rfind("--merge-state=", 0) == 0) {
      if (!value("--merge-state", &v)) return Usage("--merge-state needs a FILE");
      merge_states.push_back(v);
    } else if (a.size() > 1 && a[0] == '-') {
      return Usage(absl::StrCat("unknown option '", a, "'"));
    } else {
      batches.push_back(a);
    }
  }
  if (!have_spec) return Usage("--observer SPEC is required");
  if (batches.empty() && merge_states.empty()) return Usage("no BATCH.npy given");

  observers::RegisterExtraCalibrators();
  absl::StatusOr<ObserverSpec> spec = ParseObserverSpec(spec_text);
  if (!spec.ok())
    return Fail(absl::InvalidArgumentError(absl::StrCat("--observer: ", spec.status().message())));
  observers::ObserverOptions options;
  options.num_threads = threads;
  absl::StatusOr<std::unique_ptr<observers::Observer>> obs =
      observers::MakeObserver(*spec, options);
  if (!obs.ok()) return Fail(obs.status());
  observers::Observer& o = **obs;
  if (o.kind() == observers::ObserverKind::kMarker) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        spec->class_name, " is a marker: it collects no statistics and has no qparams")));
  }

  for (const std::string& path : batches) {
    absl::StatusOr<observers::NpyArray> a = observers::ReadNpy(path);
    if (!a.ok()) return Fail(a.status());
    absl::Status s = o.Observe(a->data.data(), a->shape);
    if (!s.ok()) return Fail(absl::Status(s.code(), absl::StrCat(path, ": ", s.message())));
  }
  for (const std::string& path : merge_states) {
    absl::StatusOr<std::string> text = ReadFile(path);
    if (!text.ok()) return Fail(text.status());
    absl::StatusOr<std::unique_ptr<observers::Observer>> other =
        observers::MakeObserver(*spec, options);
    if (!other.ok()) return Fail(other.status());
    absl::Status s = (*other)->LoadState(*text);
    if (s.ok()) s = o.Merge(**other);
    if (!s.ok()) return Fail(absl::Status(s.code(), absl::StrCat(path, ": ", s.message())));
  }
  if (!save_state.empty()) {
    absl::Status s = WriteFileAtomically(save_state, o.SerializeState() + "\n");
    if (!s.ok()) return Fail(s);
  }
  if (o.kind() == observers::ObserverKind::kEqualization) {
    // PyTorch's equalization observers have no calculate_qparams: their result is the per-column
    // min / max (get_input_minmax / get_weight_col_minmax); the scale needs the input and the
    // weight observer of one node (qprepc calibrate pairs them from a plan).
    nlohmann::json mins = nlohmann::json::array(), maxs = nlohmann::json::array();
    for (float f : o.min_val()) mins.push_back(observers::FloatToJson(f));
    for (float f : o.max_val()) maxs.push_back(observers::FloatToJson(f));
    std::puts(nlohmann::json{{"min_val", mins}, {"max_val", maxs}}.dump().c_str());
    return kExitOk;
  }
  absl::StatusOr<observers::QParams> qp = o.CalculateQParams();
  if (!qp.ok()) return Fail(qp.status());
  std::puts(observers::QParamsToJson(o, *qp).dump().c_str());
  return kExitOk;
}

}  // namespace

QPREPC_COMMAND(observe, "observe", "feed .npy batches to one observer, print its qparams", kUsage,
               RunObserve);

}  // namespace qprep::cli
