#include "tools/qprepc/bundled.h"

#include <unistd.h>

#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace qprep::cli {
namespace fs = std::filesystem;

absl::StatusOr<BundledRules> FindBundledRules() {
  std::vector<fs::path> roots;
  if (const char* env = std::getenv("QPREP_RULES_DIR")) roots.emplace_back(env);
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) roots.push_back(exe.parent_path().parent_path() / QPREP_INSTALL_RULESDIR);
  for (const fs::path& root : roots) {
    if (fs::exists(root / "prelude" / "prepare.qr")) {
      return BundledRules{(root / "prelude" / "prepare.qr").string(), (root / "backends").string()};
    }
  }
  fs::path src = QPREP_SOURCE_DIR;
  if (fs::exists(src / "rules" / "prelude" / "prepare.qr")) {
    return BundledRules{(src / "rules" / "prelude" / "prepare.qr").string(),
                        (src / "backends").string()};
  }
  return absl::NotFoundError(
      "cannot find qprep's bundled rules (prelude/prepare.qr): set QPREP_RULES_DIR");
}

absl::StatusOr<RuleSelection> SelectRules(const std::string& backend, const std::string& qconfig,
                                          const std::string& mapping_name, bool qat) {
  auto bundled = FindBundledRules();
  if (!bundled.ok()) return bundled.status();
  RuleSelection sel;
  sel.files.push_back(bundled->prelude);
  sel.search_paths.push_back(fs::path(bundled->prelude).parent_path().parent_path().string());
  sel.search_paths.push_back(bundled->backends_dir);
  std::string name = backend.empty() ? "fbgemm" : backend;
  if (absl::EndsWith(name, ".qr")) {
    if (!fs::exists(name)) return absl::NotFoundError(absl::StrCat(name, ": no such file"));
    sel.files.push_back(name);
  } else {
    fs::path f = fs::path(bundled->backends_dir) / (name + ".qr");
    if (!fs::exists(f)) {
      return absl::NotFoundError(absl::StrCat(
          "unknown backend '", name, "' (bundled: fbgemm, x86, qnnpack, onednn, native; or a .qr file)"));
    }
    sel.files.push_back(f.string());
    sel.backend = name;
  }
  if (!qconfig.empty()) {
    if (!fs::exists(qconfig)) return absl::NotFoundError(absl::StrCat(qconfig, ": no such file"));
    sel.files.push_back(qconfig);
    sel.qconfig_mapping = mapping_name;
  } else {
    fs::path f = fs::path(bundled->backends_dir) / "qconfig" / (qat ? "default_qat.qr" : "default.qr");
    if (fs::exists(f)) sel.files.push_back(f.string());
    // The bundled default mappings are default_<backend> and default_qat_<backend>.
    sel.qconfig_mapping = !mapping_name.empty() ? mapping_name
                          : sel.backend.empty()  ? ""
                                                 : absl::StrCat(qat ? "default_qat_" : "default_", sel.backend);
  }
  return sel;
}

absl::StatusOr<RuleSelection> SelectQuantizer(const std::string& quantizer) {
  auto bundled = FindBundledRules();
  if (!bundled.ok()) return bundled.status();
  RuleSelection sel;
  sel.files.push_back((fs::path(bundled->prelude).parent_path() / "pt2e.qr").string());
  sel.search_paths.push_back(fs::path(bundled->prelude).parent_path().parent_path().string());
  sel.search_paths.push_back(bundled->backends_dir);
  if (absl::EndsWith(quantizer, ".qr")) {
    if (!fs::exists(quantizer)) return absl::NotFoundError(absl::StrCat(quantizer, ": no such file"));
    sel.files.push_back(quantizer);
  } else {
    fs::path f = fs::path(bundled->backends_dir) / "pt2e" / (quantizer + ".qr");
    if (!fs::exists(f)) {
      return absl::NotFoundError(absl::StrCat("unknown quantizer '", quantizer,
                                              "' (bundled: xnnpack; or a .qr file)"));
    }
    sel.files.push_back(f.string());
  }
  return sel;
}

}  // namespace qprep::cli
