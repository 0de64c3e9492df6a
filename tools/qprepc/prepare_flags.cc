#include "tools/qprepc/prepare_flags.h"

#include <cstdio>
#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "ir/qg_reader.h"
#include "tools/qprepc/bundled.h"
#include "tools/qprepc/command.h"

namespace qprep::cli {

const char kPrepareFlagsHelp[] =
    "  --backend NAME|FILE.qr   bundled backend (fbgemm [default], x86, qnnpack, onednn, native)\n"
    "                           or a team's backend rule file\n"
    "  --quantizer NAME|FILE.qr PT2E flow (prepare_pt2e): a quantizer's annotation rules\n"
    "                           (bundled: xnnpack; docs/backend-guide.md) with\n"
    "                           rules/prelude/pt2e.qr instead of --backend / --qconfig\n"
    "  --qconfig FILE.qr        qconfig mapping file (default: the backend's default mapping,\n"
    "                           get_default_qconfig_mapping / get_default_qat_qconfig_mapping)\n"
    "  --qconfig-mapping NAME   which qconfig_mapping block to use when a file declares several\n"
    "  --rules FILE.qr          extra rules compiled with the prelude (repeatable)\n"
    "  -I DIR                   search DIR for included rule files\n"
    "  --qat                    prepare for QAT (prepare_qat_fx): QAT fusion, fake-quant "
    "observers\n"
    "  --input-quantized-idxs 0,1   PrepareCustomConfig.set_input_quantized_indexes\n"
    "  --output-quantized-idxs 0    PrepareCustomConfig.set_output_quantized_indexes\n"
    "  --standalone-module NAME[:IN[:OUT]]  set_standalone_module_name(NAME) (repeatable); the\n"
    "                           child's input / output_quantized_indexes, e.g. standalone:0:0\n"
    "  --standalone-module-class TYPE[:IN[:OUT]]  set_standalone_module_class (repeatable;\n"
    "                           fully qualified type); a --standalone-module entry wins over it\n"
    "  --global-qconfig NAME    the mapping is QConfigMapping().set_global(NAME) (or none): how\n"
    "                           1.13 prepares a standalone module's own graph when its entry has\n"
    "                           no mapping (NAME: the parent's qconfig at that node)\n"
    "  --custom-module TYPE=OBSERVED  set_float_to_observed_mapping (fully qualified types)\n"
    "  --equalization NAME|FILE.qr[:NAME]  input-weight equalization (prepare_fx's\n"
    "                           _equalization_config): `default` is QConfigMapping().set_global(\n"
    "                           default_equalization_qconfig); else a qconfig_mapping of equalization\n"
    "                           qconfigs ({input_activation: ..., weight: ...}) by name, or a file\n"
    "                           declaring one\n";

namespace {
bool ParseIdxs(const std::string& s, std::vector<int>* out) {
  for (absl::string_view part : absl::StrSplit(s, ',', absl::SkipEmpty())) {
    int v;
    if (!absl::SimpleAtoi(part, &v)) return false;
    out->push_back(v);
  }
  return true;
}
// The PT2E flow has no BackendConfig or QConfigMapping: flags that name one are an error.
bool CheckQuantizerFlags(const PrepareFlags& f, const char* command) {
  if (f.quantizer.empty()) return true;
  const char* conflict = f.backend_given               ? "--backend"
                         : !f.qconfig.empty()          ? "--qconfig"
                         : !f.qconfig_mapping.empty()  ? "--qconfig-mapping"
                         : !f.standalone_modules.empty() ? "--standalone-module"
                         : !f.custom_modules.empty()   ? "--custom-module"
                         : !f.standalone_module_classes.empty() ? "--standalone-module-class"
                         : !f.global_qconfig.empty()   ? "--global-qconfig"
                         : !f.equalization.empty()     ? "--equalization"
                                                       : nullptr;
  if (conflict == nullptr) return true;
  std::fprintf(stderr,
               "qprepc %s: --quantizer (the PT2E flow: a quantizer annotates the graph) cannot be "
               "combined with %s (the FX flow's configuration)\n",
               command, conflict);
  return false;
}
}  // namespace

bool ParsePrepareFlags(const std::vector<std::string>& args, PrepareFlags* f,
                       std::vector<std::string>* rest, const char* command) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= args.size()) {
        std::fprintf(stderr, "qprepc %s: %s needs a value\n", command, a.c_str());
        return false;
      }
      *out = args[++i];
      return true;
    };
    std::string v;
    if (a == "--backend") {
      if (!value(&f->backend)) return false;
      f->backend_given = true;
    } else if (a == "--quantizer") {
      if (!value(&f->quantizer)) return false;
    } else if (a == "--qconfig") {
      if (!value(&f->qconfig)) return false;
    } else if (a == "--qconfig-mapping") {
      if (!value(&f->qconfig_mapping)) return false;
    } else if (a == "--rules") {
      if (!value(&v)) return false;
      f->extra_rules.push_back(v);
    } else if (a == "-I") {
      if (!value(&v)) return false;
      f->search_paths.push_back(v);
    } else if (a == "--qat") {
      f->qat = true;
    } else if (a == "--input-quantized-idxs" || a == "--output-quantized-idxs") {
      if (!value(&v)) return false;
      auto* out = a[2] == 'i' ? &f->input_quantized_idxs : &f->output_quantized_idxs;
      if (!ParseIdxs(v, out)) {
        std::fprintf(stderr, "qprepc %s: %s takes integers like 0,1 (got '%s')\n", command,
                     a.c_str(), v.c_str());
        return false;
      }
    } else if (a == "--global-qconfig") {
      if (!value(&f->global_qconfig)) return false;
    } else if (a == "--standalone-module" || a == "--standalone-module-class") {
      if (!value(&v)) return false;
      std::vector<std::string> parts = absl::StrSplit(v, ':');
      PrepareFlags::Standalone sm;
      sm.name = parts[0];
      if (sm.name.empty() || parts.size() > 3 ||
          (parts.size() > 1 && !ParseIdxs(parts[1], &sm.input_quantized_idxs)) ||
          (parts.size() > 2 && !ParseIdxs(parts[2], &sm.output_quantized_idxs))) {
        std::fprintf(stderr,
                     "qprepc %s: %s takes NAME[:IN[:OUT]] like standalone:0:0 "
                     "(got '%s')\n",
                     command, a.c_str(), v.c_str());
        return false;
      }
      (a == "--standalone-module" ? f->standalone_modules : f->standalone_module_classes)
          .push_back(std::move(sm));
    } else if (a == "--equalization") {
      if (!value(&f->equalization)) return false;
    } else if (a == "--custom-module") {
      if (!value(&v)) return false;
      std::vector<std::string> parts = absl::StrSplit(v, '=');
      if (parts.size() != 2 || parts[0].empty() || parts[1].empty()) {
        std::fprintf(stderr, "qprepc %s: --custom-module takes TYPE=OBSERVED_TYPE (got '%s')\n",
                     command, v.c_str());
        return false;
      }
      f->custom_modules.emplace_back(parts[0], parts[1]);
    } else if (f->model.empty() && !a.empty() && a[0] != '-') {
      f->model = a;
    } else {
      rest->push_back(a);
    }
  }
  return CheckQuantizerFlags(*f, command);
}

std::unique_ptr<PrepareRun> RunPrepare(const PrepareFlags& flags) {
  auto run = std::make_unique<PrepareRun>();
  DiagnosticSink sink;
  auto graph = ir::ReadQgFile(flags.model, &sink);
  if (!graph.ok()) {
    PrintError(graph.status());
    return nullptr;
  }
  run->graph = *std::move(graph);
  auto sel = flags.quantizer.empty()
                 ? SelectRules(flags.backend, flags.qconfig, flags.qconfig_mapping, flags.qat)
                 : SelectQuantizer(flags.quantizer);
  if (!sel.ok()) {
    PrintError(sel.status());
    return nullptr;
  }
  prepare::PrepareOptions options;
  options.rule_files = sel->files;
  for (const auto& r : flags.extra_rules) options.rule_files.push_back(r);
  options.search_paths = sel->search_paths;
  for (const auto& p : flags.search_paths) options.search_paths.push_back(p);
  options.backend = sel->backend;
  options.qconfig_mapping = sel->qconfig_mapping;
  options.qat = flags.qat;
  options.provenance = flags.provenance;
  if (!flags.quantizer.empty()) {
    options.pt2e = true;
    // The plan's "backend" field names the quantizer: its file name without .qr.
    options.quantizer = std::filesystem::path(flags.quantizer).stem().string();
  }
  options.custom.input_quantized_idxs = flags.input_quantized_idxs;
  options.custom.output_quantized_idxs = flags.output_quantized_idxs;
  for (const auto& sm : flags.standalone_modules) {
    auto child = std::make_shared<engine::PrepareConfig>();
    child->prepare_custom_config.input_quantized_idxs = sm.input_quantized_idxs;
    child->prepare_custom_config.output_quantized_idxs = sm.output_quantized_idxs;
    // qconfig_mapping stays null: the child uses the parent's (PyTorch's None).
    options.custom.standalone_module_names.push_back({sm.name, nullptr, std::move(child)});
  }
  for (const auto& sm : flags.standalone_module_classes) {
    auto child = std::make_shared<engine::PrepareConfig>();
    child->prepare_custom_config.input_quantized_idxs = sm.input_quantized_idxs;
    child->prepare_custom_config.output_quantized_idxs = sm.output_quantized_idxs;
    options.custom.standalone_module_classes.push_back({sm.name, nullptr, std::move(child)});
  }
  options.global_qconfig = flags.global_qconfig;
  options.custom.float_to_observed_mapping = flags.custom_modules;
  if (!flags.equalization.empty() && flags.qat) {
    // prepare_qat_fx takes no _equalization_config (and QAT-swapped modules are not equalizable).
    std::fprintf(stderr, "qprepc: --equalization is prepare_fx's; prepare_qat_fx (--qat) has none\n");
    return nullptr;
  }
  if (!flags.equalization.empty()) {
    const std::string& eq = flags.equalization;
    if (eq == "default" || eq == "default_equalization") {
      auto bundled = FindBundledRules();
      if (!bundled.ok()) {
        PrintError(bundled.status());
        return nullptr;
      }
      options.rule_files.push_back(
          (std::filesystem::path(bundled->backends_dir) / "qconfig" / "equalization.qr").string());
      options.equalization_mapping = "default_equalization";
    } else if (size_t dot = eq.find(".qr"); dot != std::string::npos) {
      // FILE.qr or FILE.qr:NAME
      std::string file = eq.substr(0, dot + 3);
      if (dot + 3 < eq.size()) {
        if (eq[dot + 3] != ':') {
          std::fprintf(stderr, "qprepc: --equalization takes NAME, FILE.qr or FILE.qr:NAME (got '%s')\n",
                       eq.c_str());
          return nullptr;
        }
        options.equalization_mapping = eq.substr(dot + 4);
      }
      if (!std::filesystem::exists(file)) {
        std::fprintf(stderr, "qprepc: %s: no such file\n", file.c_str());
        return nullptr;
      }
      options.rule_files.push_back(file);
      if (options.equalization_mapping.empty()) options.equalization_file = file;
    } else {
      options.equalization_mapping = eq;  // declared by --qconfig / --rules files
    }
  }
  DiagnosticSink rule_sink;
  auto result = prepare::Prepare(run->graph, options, &rule_sink);
  if (rule_sink.warning_count() > 0 && result.ok()) std::fputs(rule_sink.Render().c_str(), stderr);
  if (!result.ok()) {
    PrintError(result.status());
    return nullptr;
  }
  run->result = *std::move(result);
  return run;
}

}  // namespace qprep::cli
