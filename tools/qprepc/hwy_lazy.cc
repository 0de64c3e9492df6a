// Start-up cost of qprepc: Debian's libhwy.so.1 (Highway 1.0.3) runs a static initialiser that
// measures the timer resolution (hwy::platform::TimerResolution) as soon as the library is
// loaded: about 2.4 ms of CPU on this machine, almost half of a `qprepc version` run, paid by
// every subcommand although only `observe` and `calibrate` run Highway kernels.
//
// qprepc therefore does not link libhwy.so (tools/CMakeLists.txt links it --as-needed, and the
// two functions the kernels' dynamic dispatch calls are defined here): the first dispatch opens
// libhwy.so.1 with dlopen and forwards to the library's own definitions, so the library (and its
// initialiser) is loaded only by the commands that use it. HWY_DYNAMIC_DISPATCH calls nothing
// else out of line (ChosenTarget's members are inline in hwy/targets.h).
#include <dlfcn.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "hwy/targets.h"

namespace {

void* HwySymbol(const char* mangled) {
  static void* const handle = [] {
    void* h = dlopen("libhwy.so.1", RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) {
      std::fprintf(stderr, "qprepc: cannot load Highway (libhwy.so.1): %s\n", dlerror());
      std::abort();
    }
    return h;
  }();
  // The library's symbols carry the version HWY_0; dlvsym finds the library's own definition
  // (not these forwarders, which interpose on the global scope).
  void* sym = dlvsym(handle, mangled, "HWY_0");
  if (sym == nullptr) sym = dlsym(handle, mangled);
  if (sym == nullptr) {
    std::fprintf(stderr, "qprepc: libhwy.so.1 lacks %s\n", mangled);
    std::abort();
  }
  return sym;
}

}  // namespace

namespace hwy {

int64_t SupportedTargets() {
  static auto* const fn = reinterpret_cast<int64_t (*)()>(HwySymbol("_ZN3hwy16SupportedTargetsEv"));
  return fn();
}

ChosenTarget& GetChosenTarget() {
  static auto* const fn =
      reinterpret_cast<ChosenTarget& (*)()>(HwySymbol("_ZN3hwy15GetChosenTargetEv"));
  return fn();
}

}  // namespace hwy
