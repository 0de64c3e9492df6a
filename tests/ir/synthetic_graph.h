// A generated .qg graph of any size, for the reader's scale test and benchmark: a ResNet-style
// residual chain (conv, bn, relu, conv, bn, add, relu per block) with a module table, scopes,
// tensor metadata and keyword arguments, written in canonical form so that
// PrintQg(ReadQg(text)) == text. Blocks cycle through a fixed pool of modules (a module may be
// called many times, as in FX), so the module table stays small and the text grows linearly
// with the node count.
#ifndef QPREP_TESTS_IR_SYNTHETIC_GRAPH_H_
#define QPREP_TESTS_IR_SYNTHETIC_GRAPH_H_

#include <cstddef>
#include <string>

#include "absl/strings/str_cat.h"

namespace qprep::ir::testing {

inline std::string SyntheticQg(size_t num_nodes, size_t module_blocks = 64) {
  std::string out = "qgraph 1\ngraph synthetic\nmodule <root> : synthetic.Net\n";
  for (size_t b = 0; b < module_blocks; ++b) {
    std::string p = absl::StrCat("layer.", b);
    absl::StrAppend(&out, "module ", p, " : synthetic.Block\n");
    for (const char* conv : {"conv1", "conv2"}) {
      absl::StrAppend(&out, "module ", p, ".", conv,
                      " : torch.nn.modules.conv.Conv2d(in_channels=64, out_channels=64, "
                      "kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), dilation=(1, 1), "
                      "groups=1, bias=False, weight_shape=[64, 64, 3, 3])\n");
    }
    for (const char* bn : {"bn1", "bn2"}) {
      absl::StrAppend(&out, "module ", p, ".", bn,
                      " : torch.nn.modules.batchnorm.BatchNorm2d(num_features=64, affine=True, "
                      "track_running_stats=True, eps=1e-05, weight_shape=[64])\n");
    }
    absl::StrAppend(&out, "module ", p, ".relu : torch.nn.modules.activation.ReLU(inplace=True)\n");
  }
  out += "\n";
  if (num_nodes == 0) return out;
  const char* kMeta = " -> float32[1, 64, 56, 56]";
  out += "%x = placeholder[x]() -> float32[1, 64, 56, 56]\n";
  std::string prev = "x";      // last node's name
  std::string block_in = "x";  // the current block's input, for the residual add
  size_t made = 1;
  for (size_t i = 0; made + 1 < num_nodes; ++i) {
    const size_t step = i % 7;
    const size_t block = i / 7;
    const std::string scope = absl::StrCat("layer.", block % module_blocks);
    std::string name;
    switch (step) {
      case 0:
      case 3: {
        const char* m = step == 0 ? "conv1" : "conv2";
        name = absl::StrCat(m, "_", block);
        absl::StrAppend(&out, "%", name, " = call_module[", scope, ".", m, "](%", prev, ")", kMeta,
                        " @", scope, ".", m, "\n");
        break;
      }
      case 1:
      case 4: {
        const char* m = step == 1 ? "bn1" : "bn2";
        name = absl::StrCat(m, "_", block);
        absl::StrAppend(&out, "%", name, " = call_module[", scope, ".", m, "](%", prev, ")", kMeta,
                        " @", scope, ".", m, "\n");
        break;
      }
      case 2:
      case 6:
        name = absl::StrCat(step == 2 ? "relu_" : "relu_out_", block);
        absl::StrAppend(&out, "%", name, " = call_module[", scope, ".relu](%", prev, ")", kMeta,
                        " @", scope, ".relu\n");
        if (step == 6) block_in = name;
        break;
      case 5:
        name = absl::StrCat("add_", block);
        absl::StrAppend(&out, "%", name, " = call_function[torch.add](%", prev, ", %", block_in,
                        ", alpha=1.0)", kMeta, " @", scope, "\n");
        break;
    }
    prev = std::move(name);
    ++made;
  }
  absl::StrAppend(&out, "%output = output[output](%", prev, ")\n");
  return out;
}

}  // namespace qprep::ir::testing

#endif  // QPREP_TESTS_IR_SYNTHETIC_GRAPH_H_
