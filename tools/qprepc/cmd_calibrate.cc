// `qprepc calibrate PLAN.json --data DIR -o QPARAMS.json`: runs every observer instance of a plan
// over recorded .npy batches and writes scale / zero point per observer and per insertion
// (docs/calibration.md). --save-state / --merge-state shard the work across processes.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "backends/cpu/calibrate/calibrate.h"
#include "common/file_io.h"
#include "tools/qprepc/command.h"

namespace qprep::cli {
namespace {

constexpr char kUsage[] =
    "usage: qprepc calibrate PLAN.json [--data DIR] [-o QPARAMS.json] [--threads N]\n"
    "                        [--save-state DIR] [--merge-state DIR]... [--allow-missing] "
    "[--quiet]\n"
    "\n"
    "Runs each observer instance of PLAN.json (written by `qprepc prepare --plan`, or\n"
    "tools/torch_reference.py) over .npy batches and writes scale / zero point per observer\n"
    "and per insertion.\n"
    "\n"
    "  --data DIR          batches per insertion point, float32 .npy, C order:\n"
    "                        DIR/<insertion name>/*.npy   (sorted by file name; file k of every\n"
    "                                                      insertion is forward pass k)\n"
    "                        DIR/<insertion name>.npy     (one batch)\n"
    "                        DIR/<value name>/*.npy, DIR/<value name>.npy   (fallbacks)\n"
    "                      a shared observer instance sees the batches of all its insertions\n"
    "  -o, --output FILE   write the qparams JSON here (atomically); default: stdout\n"
    "  --threads N         threads per batch for large tensors (same result for any N);\n"
    "                      default: the CPUs available, as PyTorch's torch.get_num_threads()\n"
    "  --save-state DIR    write every observer's state to DIR (manifest.json, "
    "observer_<id>.json)\n"
    "  --merge-state DIR   merge a state directory saved for the same plan (repeatable)\n"
    "  --allow-missing     an insertion without batches keeps its observer's defaults\n"
    "  --quiet             no progress on stderr\n"
    "\n"
    "Sharded calibration: run `qprepc calibrate PLAN --data SHARD_i --save-state S_i` per shard,\n"
    "then `qprepc calibrate PLAN --merge-state S_1 ... --merge-state S_n -o QPARAMS.json`:\n"
    "exactly the one-pass result for min/max and per-channel observers and for the Percentile /\n"
    "Entropy / MSE calibrators (docs/observers.md bounds it for moving averages and histograms).\n"
    "\n"
    "Exit status: 0 on success, 1 on bad input, 2 on a bad command line.\n";

int Usage(const std::string& msg) {
  std::fprintf(stderr, "qprepc calibrate: %s\n\n%s", msg.c_str(), kUsage);
  return kExitUsage;
}

int Fail(const absl::Status& s) {
  PrintError(s);
  return kExitError;
}

int RunCalibrate(const std::vector<std::string>& args) {
  std::string plan_path, data_dir, output, save_state;
  std::vector<std::string> merge_states;
  int threads = DefaultObserverThreads();
  bool allow_missing = false, quiet = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::initializer_list<const char*> flags, std::string* out) -> int {
      for (const char* f : flags) {
        const std::string flag(f);
        if (a == flag) {
          if (i + 1 >= args.size()) return -1;
          *out = args[++i];
          return 1;
        }
        if (flag.size() > 2 && a.rfind(flag + "=", 0) == 0) {
          *out = a.substr(flag.size() + 1);
          return 1;
        }
      }
      return 0;
    };
    std::string v;
    int r;
    if ((r = value({"--data"}, &data_dir)) != 0) {
      if (r < 0) return Usage("--data needs a DIR");
    } else if ((r = value({"-o", "--output"}, &output)) != 0) {
      if (r < 0) return Usage("-o needs a FILE");
    } else if ((r = value({"--threads"}, &v)) != 0) {
      if (r < 0 || !absl::SimpleAtoi(v, &threads) || threads < 1 || threads > 1024) {
        return Usage("--threads needs a count from 1 to 1024");
      }
    } else if ((r = value({"--save-state"}, &save_state)) != 0) {
      if (r < 0) return Usage("--save-state needs a DIR");
    } else if ((r = value({"--merge-state"}, &v)) != 0) {
      if (r < 0) return Usage("--merge-state needs a DIR");
      merge_states.push_back(v);
    } else if (a == "--allow-missing") {
      allow_missing = true;
    } else if (a == "--quiet" || a == "-q") {
      quiet = true;
    } else if (a.size() > 1 && a[0] == '-') {
      return Usage(absl::StrCat("unknown option '", a, "'"));
    } else if (plan_path.empty()) {
      plan_path = a;
    } else {
      return Usage(absl::StrCat("unexpected argument '", a, "' (one PLAN.json)"));
    }
  }
  if (plan_path.empty()) return Usage("PLAN.json is required");
  if (data_dir.empty() && merge_states.empty()) {
    return Usage("give --data DIR, or --merge-state DIR to combine saved states");
  }

  absl::StatusOr<std::string> text = ReadFile(plan_path);
  if (!text.ok()) return Fail(text.status());
  absl::StatusOr<observers::CalibrationPlan> plan = observers::ParsePlan(*text);
  if (!plan.ok()) {
    return Fail(
        absl::Status(plan.status().code(), absl::StrCat(plan_path, ": ", plan.status().message())));
  }
  observers::CalibrateOptions options;
  options.num_threads = threads;
  options.allow_missing = allow_missing;
  auto cal = observers::Calibration::Create(std::move(*plan), options);
  if (!cal.ok()) return Fail(cal.status());
  observers::Calibration& c = **cal;
  if (!quiet) {
    std::fprintf(stderr, "calibrate: %zu observer instance(s), %zu insertion(s)\n",
                 c.plan().observers.size(), c.plan().insertions.size());
  }

  if (!data_dir.empty()) {
    absl::Status s = c.ObserveDir(data_dir, [&](const observers::CalibrateProgress& p) {
      if (quiet) return;
      std::fprintf(stderr, "calibrate: pass %lld/%lld, %lld file(s), %.1f MB\n",
                   static_cast<long long>(p.pass), static_cast<long long>(p.num_passes),
                   static_cast<long long>(p.files_done), static_cast<double>(p.bytes_done) / 1e6);
    });
    if (!s.ok()) return Fail(s);
  }
  for (const std::string& dir : merge_states) {
    absl::Status s = c.MergeState(dir);
    if (!s.ok()) return Fail(s);
    if (!quiet) std::fprintf(stderr, "calibrate: merged %s\n", dir.c_str());
  }
  if (!save_state.empty()) {
    absl::Status s = c.SaveState(save_state);
    if (!s.ok()) return Fail(s);
    if (!quiet) std::fprintf(stderr, "calibrate: state saved to %s\n", save_state.c_str());
  }
  absl::StatusOr<nlohmann::json> result = c.Result();
  if (!result.ok()) return Fail(result.status());
  const std::string out = result->dump(1) + "\n";
  if (output.empty() || output == "-") {
    std::fwrite(out.data(), 1, out.size(), stdout);
  } else {
    absl::Status s = WriteFileAtomically(output, out);
    if (!s.ok()) return Fail(s);
    if (!quiet) std::fprintf(stderr, "calibrate: wrote %s\n", output.c_str());
  }
  return kExitOk;
}

}  // namespace

QPREPC_COMMAND(calibrate, "calibrate", "run a plan's observers over .npy batches, write qparams",
               kUsage, RunCalibrate);

}  // namespace qprep::cli
