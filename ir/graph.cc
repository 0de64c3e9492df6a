// The graph IR (ir/graph.h): node storage on Boost.Graph plus the side indexes (by name, kind,
// target) that keep the engine's queries O(1) or O(degree).
#include "ir/graph.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "absl/strings/str_cat.h"

namespace qprep::ir {

namespace {

constexpr std::string_view kKindNames[] = {"placeholder",   "get_attr",    "call_module",
                                           "call_function", "call_method", "output"};

// Debian's Abseil is built with its own string_view type, so heterogeneous lookups need it.
absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Appends one edge per node reference inside `v`, labelled with the path that leads to it.
void CollectRefs(const Value& v, ArgPath& path, std::vector<std::pair<NodeId, ArgPath>>& out) {
  switch (v.kind) {
    case Value::Kind::kNode:
      out.emplace_back(v.node, path);
      return;
    case Value::Kind::kList:
    case Value::Kind::kTuple:
    case Value::Kind::kSlice:
      for (size_t i = 0; i < v.items.size(); ++i) {
        path.steps.push_back({static_cast<int32_t>(i), {}});
        CollectRefs(v.items[i], path, out);
        path.steps.pop_back();
      }
      return;
    case Value::Kind::kDict:
      for (size_t i = 0; i < v.items.size(); ++i) {
        path.steps.push_back({-1, i < v.keys.size() ? v.keys[i] : std::string()});
        CollectRefs(v.items[i], path, out);
        path.steps.pop_back();
      }
      return;
    default:
      return;
  }
}

}  // namespace

std::string_view NodeKindName(NodeKind k) { return kKindNames[static_cast<size_t>(k)]; }

std::optional<NodeKind> ParseNodeKind(std::string_view s) {
  for (size_t i = 0; i < std::size(kKindNames); ++i) {
    if (kKindNames[i] == s) return static_cast<NodeKind>(i);
  }
  return std::nullopt;
}

Value Value::Bool(bool v) {
  Value r;
  r.kind = Kind::kBool;
  r.b = v;
  return r;
}
Value Value::Int(int64_t v) {
  Value r;
  r.kind = Kind::kInt;
  r.i = v;
  return r;
}
Value Value::Float(double v) {
  Value r;
  r.kind = Kind::kFloat;
  r.f = v;
  return r;
}
Value Value::String(std::string v) {
  Value r;
  r.kind = Kind::kString;
  r.text = std::move(v);
  return r;
}
Value Value::Dtype(std::string short_name) {
  Value r;
  r.kind = Kind::kDtype;
  r.text = std::move(short_name);
  return r;
}
Value Value::Node(NodeId id) {
  Value r;
  r.kind = Kind::kNode;
  r.node = id;
  return r;
}
Value Value::List(std::vector<Value> v) {
  Value r;
  r.kind = Kind::kList;
  r.items = std::move(v);
  return r;
}
Value Value::Tuple(std::vector<Value> v) {
  Value r;
  r.kind = Kind::kTuple;
  r.items = std::move(v);
  return r;
}

std::string ArgPath::ToString() const {
  std::string out;
  for (size_t i = 0; i < steps.size(); ++i) {
    const Step& s = steps[i];
    if (i == 0) out += s.key.empty() ? "args" : "kwargs";
    if (s.key.empty()) {
      absl::StrAppend(&out, "[", s.index, "]");
    } else {
      // Keys are printed as JSON-ish quoted strings; escaping matters only for odd dict keys.
      absl::StrAppend(&out, "[\"", s.key, "\"]");
    }
  }
  return out;
}

const Value* Module::attr(std::string_view name) const {
  for (const auto& [k, v] : attrs) {
    if (k == name) return &v;
  }
  return nullptr;
}

Graph::Graph() : g_(std::make_unique<BoostGraph>()) {}
Graph::Graph(std::string name) : name_(std::move(name)), g_(std::make_unique<BoostGraph>()) {}
Graph::~Graph() = default;

Graph::Graph(const Graph& other)
    : name_(other.name_),
      g_(std::make_unique<BoostGraph>(*other.g_)),
      by_name_(other.by_name_),
      modules_(other.modules_),
      module_index_(other.module_index_),
      by_target_(other.by_target_) {
  for (size_t k = 0; k < std::size(by_kind_); ++k) by_kind_[k] = other.by_kind_[k];
}

Graph& Graph::operator=(const Graph& other) {
  if (this != &other) *this = Graph(other);
  return *this;
}

Graph::Graph(Graph&& other) noexcept
    : name_(std::move(other.name_)),
      g_(std::exchange(other.g_, std::make_unique<BoostGraph>())),
      by_name_(std::move(other.by_name_)),
      modules_(std::move(other.modules_)),
      module_index_(std::move(other.module_index_)),
      by_target_(std::move(other.by_target_)) {
  for (size_t k = 0; k < std::size(by_kind_); ++k) by_kind_[k] = std::move(other.by_kind_[k]);
}

Graph& Graph::operator=(Graph&& other) noexcept {
  if (this != &other) {
    name_ = std::move(other.name_);
    g_ = std::exchange(other.g_, std::make_unique<BoostGraph>());
    by_name_ = std::move(other.by_name_);
    modules_ = std::move(other.modules_);
    module_index_ = std::move(other.module_index_);
    by_target_ = std::move(other.by_target_);
    for (size_t k = 0; k < std::size(by_kind_); ++k) by_kind_[k] = std::move(other.by_kind_[k]);
  }
  return *this;
}

absl::StatusOr<NodeId> Graph::AddNode(Node node) {
  if (by_name_.contains(node.name)) {
    return absl::AlreadyExistsError(absl::StrCat("duplicate node name '", node.name, "'"));
  }
  const NodeId id = static_cast<NodeId>(num_vertices(*g_));
  std::vector<std::pair<NodeId, ArgPath>> refs;
  ArgPath path;
  for (size_t i = 0; i < node.args.size(); ++i) {
    path.steps.push_back({static_cast<int32_t>(i), {}});
    CollectRefs(node.args[i], path, refs);
    path.steps.pop_back();
  }
  for (const auto& [key, value] : node.kwargs) {
    path.steps.push_back({-1, key});
    CollectRefs(value, path, refs);
    path.steps.pop_back();
  }
  for (const auto& [producer, p] : refs) {
    if (producer >= id) {
      return absl::InvalidArgumentError(absl::StrCat("node '", node.name, "' refers to node id ",
                                                     producer, " at ", p.ToString(),
                                                     ", which is not an earlier node"));
    }
  }
  by_name_.emplace(node.name, id);
  by_kind_[static_cast<size_t>(node.kind)].push_back(id);
  by_target_[node.target].push_back(id);
  boost::add_vertex(std::move(node), *g_);
  for (auto& [producer, p] : refs) boost::add_edge(producer, id, EdgeData{std::move(p)}, *g_);
  return id;
}

void Graph::AddModule(Module module) {
  auto [it, inserted] = module_index_.emplace(module.path, modules_.size());
  if (inserted) {
    modules_.push_back(std::move(module));
  } else {
    modules_[it->second] = std::move(module);
  }
}

void Graph::Reserve(size_t nodes) {
  g_->m_vertices.reserve(nodes);  // Boost's vecS vertex storage
  by_name_.reserve(nodes);
}

std::optional<NodeId> Graph::FindNode(std::string_view name) const {
  auto it = by_name_.find(AbslView(name));
  if (it == by_name_.end()) return std::nullopt;
  return it->second;
}

const Module* Graph::FindModule(std::string_view path) const {
  auto it = module_index_.find(AbslView(path));
  return it == module_index_.end() ? nullptr : &modules_[it->second];
}

std::vector<NodeId> Graph::Users(NodeId id) const {
  std::vector<NodeId> users;
  if (id >= num_nodes()) return users;
  // Out-edges are stored in insertion order, and consumers are added in graph order, so
  // repeated references from one consumer are adjacent: dropping consecutive repeats suffices.
  for (auto [it, end] = boost::out_edges(id, *g_); it != end; ++it) {
    NodeId user = static_cast<NodeId>(boost::target(*it, *g_));
    if (users.empty() || users.back() != user) users.push_back(user);
  }
  return users;
}

NodeId Graph::ArgNode(NodeId id, const ArgPath& path) const {
  if (id >= num_nodes()) return kNoNode;
  for (auto [it, end] = boost::in_edges(id, *g_); it != end; ++it) {
    if ((*g_)[*it].path == path) return static_cast<NodeId>(boost::source(*it, *g_));
  }
  return kNoNode;
}

const std::vector<NodeId>& Graph::NodesOfKind(NodeKind k) const {
  return by_kind_[static_cast<size_t>(k)];
}

const std::vector<NodeId>& Graph::NodesWithTarget(std::string_view target) const {
  static const std::vector<NodeId> kEmpty;
  auto it = by_target_.find(AbslView(target));
  return it == by_target_.end() ? kEmpty : it->second;
}

}  // namespace qprep::ir
