// Graph IR queries (ir/graph.h): users, arg paths, kind/target indexes, edge labels, and the
// invariants AddNode enforces.
#include "ir/graph.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/qg_reader.h"

namespace qprep::ir {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr char kGraph[] = R"(qgraph 1
graph q
module <root> : m.M
module blk : m.Block
module blk.lin : torch.nn.modules.linear.Linear(in_features=4, out_features=2, bias=True, weight_shape=[2, 4])

%x = placeholder[x]() -> float32[2, 4]
%w = get_attr[blk.lin.weight]() -> float32[2, 4]
%lin = call_module[blk.lin](%x) -> float32[2, 2] @blk.lin
%add = call_function[operator.add](%lin, %lin) @blk
%cat = call_function[torch.cat]([%add, %x], dim=1)
%d = call_function[f]({"a": %w, "b": 1}, weight=%w)
%s = call_method[size](%cat, 0) -> int
%output = output[output]((%cat, %d, %s))
)";

NodeId Id(const Graph& g, const char* name) {
  std::optional<NodeId> id = g.FindNode(name);
  EXPECT_TRUE(id.has_value()) << name;
  return id.value_or(kNoNode);
}

ArgPath Pos(int i) { return ArgPath{{{i, ""}}}; }

class GraphTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<Graph> g = ReadQgString(kGraph, "q.qg");
    ASSERT_TRUE(g.ok()) << g.status();
    g_ = *std::move(g);
  }
  Graph g_;
};

// Node ids are dense, in file order; names and kinds are kept.
TEST_F(GraphTest, NodesInOrder) {
  ASSERT_EQ(g_.num_nodes(), 8u);
  EXPECT_EQ(g_.node(0).name, "x");
  EXPECT_EQ(g_.node(7).name, "output");
  EXPECT_EQ(g_.node(2).kind, NodeKind::kCallModule);
  EXPECT_EQ(g_.name(), "q");
  EXPECT_FALSE(g_.FindNode("nope").has_value());
}

// Users are distinct consumers in graph order, even when one consumer uses a value twice.
TEST_F(GraphTest, UsersAreDistinctAndOrdered) {
  EXPECT_THAT(g_.Users(Id(g_, "lin")), ElementsAre(Id(g_, "add")));
  EXPECT_THAT(g_.Users(Id(g_, "x")), ElementsAre(Id(g_, "lin"), Id(g_, "cat")));
  EXPECT_THAT(g_.Users(Id(g_, "w")), ElementsAre(Id(g_, "d")));
  EXPECT_THAT(g_.Users(Id(g_, "output")), IsEmpty());
  EXPECT_THAT(g_.Users(12345), IsEmpty());
}

// Every reference is an edge, repeats included: lin->add twice, x->lin, x->cat, add->cat,
// w->d twice, cat->s, cat/d/s->output.
TEST_F(GraphTest, EdgesCountEveryReference) { EXPECT_EQ(g_.num_edges(), 11u); }

// ArgNode finds the producer at positional, nested, dict and keyword paths.
TEST_F(GraphTest, ArgNodeByPath) {
  const NodeId add = Id(g_, "add");
  EXPECT_EQ(g_.ArgNode(add, Pos(0)), Id(g_, "lin"));
  EXPECT_EQ(g_.ArgNode(add, Pos(1)), Id(g_, "lin"));
  EXPECT_EQ(g_.ArgNode(add, Pos(2)), kNoNode);
  const NodeId cat = Id(g_, "cat");
  EXPECT_EQ(g_.ArgNode(cat, ArgPath{{{0, ""}, {1, ""}}}), Id(g_, "x"));
  EXPECT_EQ(g_.ArgNode(cat, ArgPath{{{0, ""}, {0, ""}}}), add);
  EXPECT_EQ(g_.ArgNode(cat, Pos(0)), kNoNode);  // the list itself is not a node
  const NodeId d = Id(g_, "d");
  EXPECT_EQ(g_.ArgNode(d, ArgPath{{{0, ""}, {-1, "a"}}}), Id(g_, "w"));
  EXPECT_EQ(g_.ArgNode(d, ArgPath{{{-1, "weight"}}}), Id(g_, "w"));
  EXPECT_EQ(g_.ArgNode(d, ArgPath{{{-1, "bias"}}}), kNoNode);
}

// Edge labels print as FX-style argument paths.
TEST_F(GraphTest, EdgeLabels) {
  std::vector<std::string> labels;
  const auto& bg = g_.boost_graph();
  for (auto [it, end] = boost::in_edges(Id(g_, "d"), bg); it != end; ++it) {
    labels.push_back(bg[*it].path.ToString());
  }
  EXPECT_THAT(labels, UnorderedElementsAre("args[0][\"a\"]", "kwargs[\"weight\"]"));
  ArgPath p{{{-1, "weight"}}};
  EXPECT_TRUE(p.is_kwarg());
  EXPECT_EQ(p.arg_index(), -1);
  EXPECT_EQ(Pos(3).arg_index(), 3);
  EXPECT_EQ((ArgPath{{{1, ""}, {0, ""}}}).ToString(), "args[1][0]");
}

TEST_F(GraphTest, NodesByKindAndTarget) {
  EXPECT_THAT(g_.NodesOfKind(NodeKind::kCallFunction),
              ElementsAre(Id(g_, "add"), Id(g_, "cat"), Id(g_, "d")));
  EXPECT_THAT(g_.NodesOfKind(NodeKind::kGetAttr), ElementsAre(Id(g_, "w")));
  EXPECT_THAT(g_.NodesWithTarget("torch.cat"), ElementsAre(Id(g_, "cat")));
  EXPECT_THAT(g_.NodesWithTarget("blk.lin"), ElementsAre(Id(g_, "lin")));
  EXPECT_THAT(g_.NodesWithTarget("no.such"), IsEmpty());
}

// Scopes resolve through the module table; the root scope is the root module.
TEST_F(GraphTest, ScopesAndModules) {
  const Node& lin = g_.node(Id(g_, "lin"));
  EXPECT_EQ(lin.scope_path, "blk.lin");
  EXPECT_EQ(lin.scope_type, "torch.nn.modules.linear.Linear");
  EXPECT_EQ(g_.node(Id(g_, "add")).scope_type, "m.Block");
  EXPECT_EQ(g_.node(Id(g_, "cat")).scope_path, "");
  EXPECT_EQ(g_.node(Id(g_, "cat")).scope_type, "m.M");
  const Module* m = g_.FindModule("blk.lin");
  ASSERT_NE(m, nullptr);
  ASSERT_NE(m->attr("out_features"), nullptr);
  EXPECT_EQ(*m->attr("out_features"), Value::Int(2));
  EXPECT_EQ(*m->attr("weight_shape"), Value::List({Value::Int(2), Value::Int(4)}));
  EXPECT_EQ(m->attr("nope"), nullptr);
  EXPECT_EQ(g_.FindModule("")->type, "m.M");
}

TEST_F(GraphTest, MetaRecorded) {
  const Meta& m = g_.node(Id(g_, "lin")).meta;
  EXPECT_TRUE(m.is_tensor());
  EXPECT_EQ(m.dtype, "float32");
  EXPECT_THAT(m.shape, ElementsAre(2, 2));
  EXPECT_EQ(g_.node(Id(g_, "s")).meta.kind, Meta::Kind::kScalar);
  EXPECT_EQ(g_.node(Id(g_, "s")).meta.py_type, "int");
  EXPECT_EQ(g_.node(Id(g_, "cat")).meta.kind, Meta::Kind::kUnknown);
}

// AddNode rejects duplicate names and references to nodes that do not precede the new one.
TEST(GraphBuildTest, AddNodeChecks) {
  Graph g("g");
  Node x;
  x.name = "x";
  x.kind = NodeKind::kPlaceholder;
  ASSERT_TRUE(g.AddNode(x).ok());
  EXPECT_EQ(g.AddNode(x).status().code(), absl::StatusCode::kAlreadyExists);
  Node y;
  y.name = "y";
  y.args.push_back(Value::Node(5));
  EXPECT_EQ(g.AddNode(y).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(g.num_nodes(), 1u);
  y.args = {Value::Tuple({Value::Node(0), Value::Int(1)})};
  absl::StatusOr<NodeId> id = g.AddNode(y);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(g.ArgNode(*id, ArgPath{{{0, ""}, {0, ""}}}), 0u);
  EXPECT_THAT(g.Users(0), ElementsAre(1u));
}

// Copies are deep and independent; a move transfers the graph (O(1)) and leaves an empty,
// usable graph behind.
TEST_F(GraphTest, CopyAndMove) {
  Graph copy = g_;
  Node extra;
  extra.name = "extra";
  extra.args = {Value::Node(0)};
  ASSERT_TRUE(copy.AddNode(extra).ok());
  EXPECT_EQ(copy.num_nodes(), 9u);
  EXPECT_EQ(g_.num_nodes(), 8u);
  EXPECT_THAT(g_.Users(0), ElementsAre(Id(g_, "lin"), Id(g_, "cat")));

  const Node* before = &g_.node(2);
  Graph moved = std::move(g_);
  EXPECT_EQ(&moved.node(2), before);  // same storage: nothing was copied
  EXPECT_EQ(moved.num_edges(), 11u);
  EXPECT_EQ(moved.ArgNode(Id(moved, "add"), Pos(0)), Id(moved, "lin"));
  EXPECT_EQ(g_.num_nodes(), 0u);  // NOLINT(bugprone-use-after-move): documented state
  EXPECT_TRUE(g_.AddNode(extra).status().code() == absl::StatusCode::kInvalidArgument);
  g_ = std::move(moved);
  EXPECT_EQ(g_.num_nodes(), 8u);
  EXPECT_EQ(g_.NodesWithTarget("torch.cat").size(), 1u);
}

TEST(NodeKindTest, NamesRoundTrip) {
  for (NodeKind k : {NodeKind::kPlaceholder, NodeKind::kGetAttr, NodeKind::kCallModule,
                     NodeKind::kCallFunction, NodeKind::kCallMethod, NodeKind::kOutput}) {
    EXPECT_EQ(ParseNodeKind(NodeKindName(k)), k);
  }
  EXPECT_EQ(NodeKindName(NodeKind::kCallModule), "call_module");
  EXPECT_FALSE(ParseNodeKind("call_modul").has_value());
}

}  // namespace
}  // namespace qprep::ir
