// Built-in stage: PyTorch's greedy pattern matching (fx/match_utils.py `_find_matches`, and the
// pattern table order of fx/pattern_utils.py `sorted_patterns_dict`). Runs on the *fused* graph
// (fusion.h) after qconfig resolution; its per-node results become facts (facts.h) that the
// prelude's placement rules read (root node gets input observers, last node the output observer).
//
// This is a built-in stage rather than rules because it is order dependent and not monotone:
// a node claimed by an earlier (longer, or earlier declared) pattern is skipped by later ones.
//
// Semantics, each exactly as PyTorch 1.13 / 2.x:
//  - the pattern table is the backend's pattern configs deduplicated by pattern (BackendConfig
//    keeps a dict: the first position, the last config), alternatives expanded in order, then
//    stably sorted with key `-len(pattern)` for tuple patterns and `1` for single ops;
//  - nodes are visited in reverse graph order; a node already recorded is skipped; the first
//    pattern in table order that matches wins;
//  - is_match: MatchAllNode matches anything; modules match by exact type, functions by
//    identity (canonical name), methods by name; a tuple pattern needs exactly as many
//    positional args as sub-patterns; nodes below the last one must have at most one user;
//  - every node of the match records (root node, last node, pattern); the root is found with
//    the default root-node getter (follow the last element of the matched node tuple until a
//    node: the first-executed op of a chain);
//  - afterwards custom module classes, then standalone modules (by name or class) are recorded
//    as single-node matches, replacing any pattern match of that node.
#ifndef QPREP_ENGINE_MATCHER_H_
#define QPREP_ENGINE_MATCHER_H_

#include <cstddef>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "engine/prepare_config.h"
#include "ir/graph.h"

namespace qprep::engine {

// One row of the sorted pattern table: a plain pattern (no alternatives) and the index of the
// BackendPatternConfig it came from in BackendConfig::configs.
struct PatternEntry {
  Pattern pattern;
  int config_index = -1;
};

// PyTorch's pattern table for the backend: deduplicated, alternatives expanded, sorted as
// sorted_patterns_dict does. With `fusion_only`, only configs with a fuser method (what fx/fuse.py
// uses).
std::vector<PatternEntry> SortedPatterns(const BackendConfig& backend, bool fusion_only);

// The module type of a call_module node (graph module table, else the node's scope type); empty
// for other kinds.
std::string_view ModuleTypeOf(const ir::Graph& g, ir::NodeId id);

// fx/match_utils.py is_match for one node.
bool IsMatch(const ir::Graph& g, ir::NodeId node, const Pattern& pattern,
             size_t max_uses = std::numeric_limits<size_t>::max());

// The nodes a successful match covers, in PyTorch's nested "matched node pattern" form flattened
// to a list in record order (last node first), plus the root by the default root-node getter.
// MatchAllNode positions are included when they hold a node (PyTorch records them too).
struct MatchedNodes {
  std::vector<ir::NodeId> nodes;
  ir::NodeId root = ir::kNoNode;
};
// Precondition: IsMatch(g, last, pattern).
MatchedNodes CollectMatch(const ir::Graph& g, ir::NodeId last, const Pattern& pattern);

// The pattern table indexed by head op, so matching a node only tries the patterns whose last
// op can match it (in table order): matching stays linear in the graph for large backends.
class HeadIndex {
 public:
  HeadIndex(const ir::Graph& g, const std::vector<PatternEntry>& patterns);
  // Indices into `patterns` that may match node `id`, ascending.
  void Candidates(const ir::Graph& g, ir::NodeId id, std::vector<size_t>& out) const;

 private:
  static std::string Key(OpRef::Kind kind, std::string_view name);
  absl::flat_hash_map<std::string, std::vector<size_t>> by_head_;
  std::vector<size_t> any_;  // MatchAllNode-headed patterns
};

struct NodeMatch {
  enum class Kind : uint8_t {
    kNone,              // no pattern matched this node
    kPattern,           // part of a backend pattern match
    kCustomModule,      // a custom module class (PrepareCustomConfig float_to_observed_mapping)
    kStandaloneModule,  // a standalone module (by name or by class)
  };
  Kind kind = Kind::kNone;
  ir::NodeId root = ir::kNoNode;  // root (first-executed) node of the match
  ir::NodeId last = ir::kNoNode;  // last node of the match (the one the pattern's head matched)
  int config_index = -1;          // BackendConfig::configs index (kPattern only)
  int pattern_index = -1;         // MatchResult::patterns index (kPattern only)
};

struct MatchResult {
  std::vector<PatternEntry> patterns;  // the sorted table that was used
  std::vector<NodeMatch> per_node;     // indexed by node id of the matched graph
};

// Runs the matcher over `g` (normally the fused graph). Errors: a pattern config index out of
// range is a programmer error (CHECK); no user errors are possible here.
absl::StatusOr<MatchResult> FindMatches(const ir::Graph& g, const PrepareConfig& config);

}  // namespace qprep::engine

#endif  // QPREP_ENGINE_MATCHER_H_
