// Generated .qg graphs for the prepare benchmark (bench/prepare/prepare_bench.cc): the two
// shapes of issue 6, written exactly as tools/export_fx.py writes the PyTorch models
// tests/models/residual_chain.py and tests/models/wide_branching.py (module table, node names
// as FX numbers them, scopes, tensor metadata), so that a 1M-node graph is the same kind of
// input as an exported 400-block chain, only larger. Generating them in C++ avoids tracing a
// million-node model in PyTorch (which would take hours). generated_graphs_test.cc checks the
// text against real exports committed in bench/prepare/data/.
#ifndef QPREP_BENCH_PREPARE_GENERATED_GRAPHS_H_
#define QPREP_BENCH_PREPARE_GENERATED_GRAPHS_H_

#include <cstddef>
#include <string>

#include "absl/strings/str_cat.h"

namespace qprep::bench {

// FX's node naming: the first node for a base name is `base`, later ones `base_1`, `base_2`...
inline std::string FxName(const char* base, size_t count) {
  return count == 0 ? std::string(base) : absl::StrCat(base, "_", count);
}

// tests/models/residual_chain.py: `blocks` blocks of Linear -> ReLU -> Linear -> sigmoid -> add
// with the block input. 5 nodes per block plus placeholder and output.
inline std::string ResidualChainQg(size_t blocks, size_t width = 64) {
  const std::string meta = absl::StrCat(" -> float32[1, ", width, "]");
  const std::string linear =
      absl::StrCat(" : torch.nn.modules.linear.Linear(in_features=", width, ", out_features=",
                   width, ", bias=True, weight_shape=[", width, ", ", width, "])\n");
  std::string out = absl::StrCat("qgraph 1\ngraph residual_chain_", blocks,
                                 "\nmodule <root> : residual_chain.ResidualChain\n");
  out.reserve(blocks * 900);
  for (size_t b = 0; b < blocks; ++b) {
    absl::StrAppend(&out, "module blocks.", b, " : residual_chain.Block\n");
    absl::StrAppend(&out, "module blocks.", b, ".fc1", linear);
    absl::StrAppend(&out, "module blocks.", b,
                    ".relu : torch.nn.modules.activation.ReLU(inplace=False)\n");
    absl::StrAppend(&out, "module blocks.", b, ".fc2", linear);
  }
  absl::StrAppend(&out, "\n%x = placeholder[x]()", meta, "\n");
  std::string in = "x";
  for (size_t b = 0; b < blocks; ++b) {
    const std::string p = absl::StrCat("blocks_", b, "_");
    const std::string s = absl::StrCat("blocks.", b);
    absl::StrAppend(&out, "%", p, "fc1 = call_module[", s, ".fc1](%", in, ")", meta, " @", s,
                    ".fc1\n");
    absl::StrAppend(&out, "%", p, "relu = call_module[", s, ".relu](%", p, "fc1)", meta, " @", s,
                    ".relu\n");
    absl::StrAppend(&out, "%", p, "fc2 = call_module[", s, ".fc2](%", p, "relu)", meta, " @", s,
                    ".fc2\n");
    const std::string sig = FxName("sigmoid", b), add = FxName("add", b);
    absl::StrAppend(&out, "%", sig, " = call_function[torch.sigmoid](%", p, "fc2)", meta, " @", s,
                    "\n");
    absl::StrAppend(&out, "%", add, " = call_function[operator.add](%", sig, ", %", in, ")", meta,
                    " @", s, "\n");
    in = add;
  }
  absl::StrAppend(&out, "%output = output[output](%", in, ")\n");
  return out;
}
inline size_t ResidualChainNodes(size_t blocks) { return 5 * blocks + 2; }

// tests/models/wide_branching.py: a stem Linear, then `stages` stages of `branches` parallel
// Linear -> ReLU branches; each branch output feeds the stage's cat and two neighbour adds
// (shared values); the cat goes through a projection Linear, the adds through stack + sum, and
// the two are added. 3 * branches + 5 nodes per stage plus placeholder, stem and output.
inline std::string WideBranchingQg(size_t branches, size_t stages, size_t width = 32) {
  const std::string meta = absl::StrCat(" -> float32[1, ", width, "]");
  const std::string linear =
      absl::StrCat(" : torch.nn.modules.linear.Linear(in_features=", width, ", out_features=",
                   width, ", bias=True, weight_shape=[", width, ", ", width, "])\n");
  std::string out = absl::StrCat("qgraph 1\ngraph wide_branching_", branches, "x", stages,
                                 "\nmodule <root> : wide_branching.WideBranching\n");
  out.reserve(stages * branches * 700);
  absl::StrAppend(&out, "module stem", linear);
  for (size_t s = 0; s < stages; ++s) {
    absl::StrAppend(&out, "module stages.", s, " : wide_branching.Stage\n");
    for (size_t i = 0; i < branches; ++i) {
      absl::StrAppend(&out, "module stages.", s, ".branches.", i, ".0", linear);
      absl::StrAppend(&out, "module stages.", s, ".branches.", i,
                      ".1 : torch.nn.modules.activation.ReLU(inplace=False)\n");
    }
    absl::StrAppend(&out, "module stages.", s,
                    ".proj : torch.nn.modules.linear.Linear(in_features=", width * branches,
                    ", out_features=", width, ", bias=True, weight_shape=[", width, ", ",
                    width * branches, "])\n");
  }
  absl::StrAppend(&out, "\n%x = placeholder[x]()", meta, "\n");
  absl::StrAppend(&out, "%stem = call_module[stem](%x)", meta, " @stem\n");
  std::string in = "stem";
  size_t adds = 0;
  for (size_t s = 0; s < stages; ++s) {
    const std::string scope = absl::StrCat("stages.", s);
    auto branch = [&](size_t i) { return absl::StrCat("stages_", s, "_branches_", i, "_1"); };
    for (size_t i = 0; i < branches; ++i) {
      const std::string lin = absl::StrCat("stages_", s, "_branches_", i, "_0");
      const std::string mod = absl::StrCat(scope, ".branches.", i);
      absl::StrAppend(&out, "%", lin, " = call_module[", mod, ".0](%", in, ")", meta, " @", mod,
                      ".0\n");
      absl::StrAppend(&out, "%", branch(i), " = call_module[", mod, ".1](%", lin, ")", meta, " @",
                      mod, ".1\n");
    }
    std::string mixed;
    for (size_t i = 0; i < branches; ++i) {
      const std::string add = FxName("add", adds++);
      absl::StrAppend(&out, "%", add, " = call_function[operator.add](%", branch(i), ", %",
                      branch((i + 1) % branches), ")", meta, " @", scope, "\n");
      absl::StrAppend(&mixed, i ? ", %" : "%", add);
    }
    std::string cat_args;
    for (size_t i = 0; i < branches; ++i) absl::StrAppend(&cat_args, i ? ", %" : "%", branch(i));
    const std::string cat = FxName("cat", s), stack = FxName("stack", s);
    const std::string sum = FxName("sum", s + 1);  // `sum` is a Python builtin: FX starts at _1
    const std::string proj = absl::StrCat("stages_", s, "_proj");
    absl::StrAppend(&out, "%", cat, " = call_function[torch.cat]([", cat_args, "], dim=1)",
                    " -> float32[1, ", width * branches, "] @", scope, "\n");
    absl::StrAppend(&out, "%", proj, " = call_module[", scope, ".proj](%", cat, ")", meta, " @",
                    scope, ".proj\n");
    absl::StrAppend(&out, "%", stack, " = call_function[torch.stack]([", mixed,
                    "], dim=0) -> float32[", branches, ", 1, ", width, "] @", scope, "\n");
    absl::StrAppend(&out, "%", sum, " = call_method[sum](%", stack, ", dim=0)", meta, " @", scope,
                    "\n");
    const std::string add = FxName("add", adds++);
    absl::StrAppend(&out, "%", add, " = call_function[operator.add](%", proj, ", %", sum, ")",
                    meta, " @", scope, "\n");
    in = add;
  }
  absl::StrAppend(&out, "%output = output[output](%", in, ")\n");
  return out;
}
inline size_t WideBranchingNodes(size_t branches, size_t stages) {
  return (3 * branches + 5) * stages + 3;
}

}  // namespace qprep::bench

#endif  // QPREP_BENCH_PREPARE_GENERATED_GRAPHS_H_
