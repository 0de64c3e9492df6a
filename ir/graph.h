// The dataflow graph IR: what a torch.fx Graph traced by PyTorch's QuantizationTracer holds,
// on Boost.Graph. First stage of the pipeline: the .qg reader (ir/qg_reader.h) and the PyTorch
// exporter (tools/export_fx.py) produce it; the engine reads facts from it.
//
// Invariants:
//  - node ids are dense, 0..num_nodes()-1, in graph (execution) order; a node's args refer
//    only to earlier nodes;
//  - one Boost.Graph edge per node reference inside a node's args / kwargs, from the referenced
//    (producer) node to the consumer, labelled with the argument path where the reference sits;
//  - node names are unique.
#ifndef QPREP_IR_GRAPH_H_
#define QPREP_IR_GRAPH_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "boost/graph/adjacency_list.hpp"

namespace qprep::ir {

using NodeId = uint32_t;
inline constexpr NodeId kNoNode = static_cast<NodeId>(-1);

enum class NodeKind : uint8_t {
  kPlaceholder,
  kGetAttr,
  kCallModule,
  kCallFunction,
  kCallMethod,
  kOutput,
};
std::string_view NodeKindName(NodeKind k);  // "placeholder", "get_attr", ... as FX spells them
std::optional<NodeKind> ParseNodeKind(std::string_view s);

// A value inside a node's args / kwargs, or a module attribute: FX argument structure.
struct Value {
  enum class Kind : uint8_t {
    kNone,
    kBool,
    kInt,
    kFloat,
    kString,
    kDtype,     // torch.float32 etc.; `text` holds the short name ("float32")
    kNode,      // a reference to an earlier node; `node` holds its id
    kList,      // [a, b]
    kTuple,     // (a, b)
    kDict,      // {"k": v}; `keys` parallel to `items`
    kSlice,     // slice(start, stop, step): `items` has 3 entries
    kEllipsis,  // ...
    kOpaque,    // any other Python object, kept as its repr in `text` (e.g. torch.device)
  };
  Kind kind = Kind::kNone;
  bool b = false;
  int64_t i = 0;
  double f = 0.0;
  NodeId node = kNoNode;
  std::string text;
  std::vector<Value> items;
  std::vector<std::string> keys;

  static Value None() { return Value{}; }
  static Value Bool(bool v);
  static Value Int(int64_t v);
  static Value Float(double v);
  static Value String(std::string v);
  static Value Dtype(std::string short_name);
  static Value Node(NodeId id);
  static Value List(std::vector<Value> v);
  static Value Tuple(std::vector<Value> v);
  bool is_node() const { return kind == Kind::kNode; }
  bool operator==(const Value&) const = default;
};

// Where a node reference sits inside a consumer's arguments: args[1][0], kwargs["weight"].
struct ArgPath {
  // First step: positional index (kwarg empty) or keyword name; then element indices / dict
  // keys into nested containers.
  struct Step {
    int32_t index = -1;  // list/tuple position, or positional arg index for the first step
    std::string key;     // keyword (first step) or dict key (later steps); empty if index used
    bool operator==(const Step&) const = default;
  };
  std::vector<Step> steps;
  bool is_kwarg() const { return !steps.empty() && !steps[0].key.empty(); }
  // Positional index of the top-level arg, or -1 for kwargs.
  int32_t arg_index() const { return steps.empty() || is_kwarg() ? -1 : steps[0].index; }
  std::string ToString() const;  // args[1][0] / kwargs["weight"]
  bool operator==(const ArgPath&) const = default;
};

// Tensor metadata from shape propagation, where known.
struct Meta {
  enum class Kind : uint8_t {
    kUnknown,  // not recorded
    kTensor,   // dtype + shape
    kTuple,    // items (a tuple / list of results, e.g. from split or an LSTM)
    kScalar,   // a non-tensor Python value; `py_type` = "int", "float", "bool", "Size", ...
  };
  Kind kind = Kind::kUnknown;
  std::string dtype;           // tensor dtype short name: "float32", "int64", "bool", ...
  std::vector<int64_t> shape;  // tensor shape
  std::vector<Meta> items;
  std::string py_type;
  bool is_tensor() const { return kind == Kind::kTensor; }
  bool operator==(const Meta&) const = default;
};

struct Node {
  std::string name;
  NodeKind kind = NodeKind::kCallFunction;
  // placeholder: input name; get_attr: attribute path; call_module: module path;
  // call_function: canonical qualified name (operator.add, torch.nn.functional.relu, torch.cat);
  // call_method: method name; output: "output".
  std::string target;
  std::vector<Value> args;
  std::vector<std::pair<std::string, Value>> kwargs;
  Meta meta;
  // Enclosing module as QuantizationTracer records it: path ("" for the root) and its fully
  // qualified type. For call_module nodes, the module itself.
  std::string scope_path;
  std::string scope_type;
};

// A submodule of the traced model (call_module targets and their parents), with the attributes
// rules need: in_channels, out_channels, kernel_size, weight_shape, ...
struct Module {
  std::string path;  // "" for the root
  std::string type;  // fully qualified: torch.nn.modules.conv.Conv2d
  std::vector<std::pair<std::string, Value>> attrs;
  const Value* attr(std::string_view name) const;
};

struct EdgeData {
  ArgPath path;
};

class Graph {
 public:
  using BoostGraph =
      boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS, Node, EdgeData>;
  using EdgeDescriptor = BoostGraph::edge_descriptor;

  Graph();
  explicit Graph(std::string name);
  // Boost 1.74's adjacency_list has a copy constructor but no move constructor (and its swap
  // copies), so the Boost graph is held by pointer: moving a Graph (returning it in a StatusOr)
  // is O(1) instead of a deep copy of every node and edge. Copies are deep.
  Graph(const Graph& other);
  Graph& operator=(const Graph& other);
  Graph(Graph&& other) noexcept;
  Graph& operator=(Graph&& other) noexcept;
  ~Graph();

  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }

  // Appends a node. Its args / kwargs may reference only existing nodes; one edge is added per
  // reference. Errors: duplicate name (AlreadyExists), reference to a missing node
  // (InvalidArgument).
  absl::StatusOr<NodeId> AddNode(Node node);
  // Adds or replaces a module table entry.
  void AddModule(Module module);
  // Pre-sizes node storage for about `nodes` nodes, so that reading a large file does not
  // reallocate (and transiently double) the vertex array as it grows.
  void Reserve(size_t nodes);

  size_t num_nodes() const { return boost::num_vertices(*g_); }
  size_t num_edges() const { return boost::num_edges(*g_); }
  const Node& node(NodeId id) const { return (*g_)[id]; }
  std::optional<NodeId> FindNode(std::string_view name) const;
  const Module* FindModule(std::string_view path) const;
  const std::vector<Module>& modules() const { return modules_; }

  // Distinct consumer nodes of `id`, in graph order (FX's node.users). O(out-degree).
  std::vector<NodeId> Users(NodeId id) const;
  // Producer referenced at `path` in `id`'s arguments, or kNoNode. O(in-degree).
  NodeId ArgNode(NodeId id, const ArgPath& path) const;
  // Nodes of one kind / with one target, in graph order. O(result) after the first call.
  const std::vector<NodeId>& NodesOfKind(NodeKind k) const;
  const std::vector<NodeId>& NodesWithTarget(std::string_view target) const;

  const BoostGraph& boost_graph() const { return *g_; }

 private:
  std::string name_;
  std::unique_ptr<BoostGraph> g_;  // never null, also after a move
  absl::flat_hash_map<std::string, NodeId> by_name_;
  std::vector<Module> modules_;
  absl::flat_hash_map<std::string, size_t> module_index_;
  std::vector<NodeId> by_kind_[6];
  absl::flat_hash_map<std::string, std::vector<NodeId>> by_target_;
};

}  // namespace qprep::ir

#endif  // QPREP_IR_GRAPH_H_
