// Sharing: the storage of an equivalence relation ("these points share one observer"), used by
// engine/database.h for RelationDecl::Kind::kEquivalence and read by the plan stage to group
// observation points into shared observer instances.
//
// Contract:
// - A union-find over arbitrary Datum values (a value joins the domain when first mentioned),
//   with path compression and union by size: Find is near O(1).
// - The relation it represents is the reflexive-symmetric-transitive closure of the unions, so
//   x ~ x holds for every value in the domain.
// - Each class is also a circular list, so the members of x's class are enumerated in
//   O(class size) — this is how a rule body reading eq(x, Y) with x bound is evaluated.
// - A proof forest (egg-style explanations): every union that actually merged two classes keeps
//   the edge (a, b) it was asked for and a justification id supplied by the caller (the
//   evaluator stores a Derivation index there). Explain(x, y) returns the chain of edges linking
//   x to y, which is the provenance of an equivalence fact.
#ifndef QPREP_ENGINE_SHARING_H_
#define QPREP_ENGINE_SHARING_H_

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace qprep::engine {

class UnionFind {
 public:
  using Value = int64_t;  // == engine::Datum
  static constexpr uint32_t kNoJustification = static_cast<uint32_t>(-1);

  // Adds `v` to the domain (as a singleton) if new. Returns true if it was new.
  bool Add(Value v);
  bool Contains(Value v) const { return Slot(v) != kNone; }

  // Merges the classes of a and b (adding them first). Returns true if they were distinct.
  bool Union(Value a, Value b, uint32_t justification = kNoJustification);
  // Same class? False if either is not in the domain, except Same(x, x) for x in the domain.
  bool Same(Value a, Value b) const;
  // The class representative (nullopt if not in the domain). Stable only between unions.
  std::optional<Value> Find(Value v) const;

  // Calls f(member) for every member of v's class (v included); nothing if v is unknown.
  template <typename F>
  void ForEachInClass(Value v, F&& f) const {
    const uint32_t start = Slot(v);
    if (start == kNone) return;
    uint32_t i = start;
    do {
      f(values_[i]);
      i = next_[i];
    } while (i != start);
  }
  size_t ClassSize(Value v) const;

  size_t domain_size() const { return values_.size(); }
  size_t class_count() const { return classes_; }
  // Number of ordered pairs (x, y) with x ~ y: the size of the relation.
  size_t PairCount() const { return pair_count_; }
  // All classes with more than one member (members in insertion order, classes ordered by
  // their first member's insertion) — what the plan stage needs.
  std::vector<std::vector<Value>> NontrivialClasses() const;
  // Domain values in insertion order.
  const std::vector<Value>& values() const { return values_; }

  struct Step {
    Value from, to;          // the union was requested as Union(from, to) (or to, from)
    uint32_t justification;  // as passed to Union
  };
  // The chain of unions linking a to b (empty if a == b; nullopt if not equivalent).
  std::optional<std::vector<Step>> Explain(Value a, Value b) const;

  size_t MemoryBytes() const;

 private:
  static constexpr uint32_t kNone = static_cast<uint32_t>(-1);
  uint32_t Root(uint32_t i) const;
  uint32_t Index(Value v);
  // The dense index of `v`, or kNone.
  uint32_t Slot(Value v) const {
    uint64_t u = static_cast<uint64_t>(v);
    // A value may sit in sparse_ even below direct_.size() if it arrived before direct_ grew.
    if (u < direct_.size() && direct_[u] != kNone) return direct_[u];
    if (sparse_.empty()) return kNone;
    auto it = sparse_.find(v);
    return it == sparse_.end() ? kNone : it->second;
  }

  // Value -> dense index. Small non-negative values (node ids) use a direct table, which keeps
  // lookups cache-friendly for ids that are close together; others a hash map.
  std::vector<uint32_t> direct_;
  absl::flat_hash_map<Value, uint32_t> sparse_;
  std::vector<Value> values_;
  mutable std::vector<uint32_t> parent_;  // path compression in const Find
  std::vector<uint32_t> size_;
  std::vector<uint32_t> next_;  // circular list of each class
  // Proof forest: undirected edges of the unions that merged classes (a spanning forest of
  // each class), as intrusive adjacency lists so a union allocates nothing per value: half-edge
  // 2e + s of edge e leaves endpoint (s == 0 ? a : b); adj_head_[i] is i's first half-edge and
  // adj_next_[h] the next half-edge of the same endpoint.
  struct Edge {
    uint32_t a, b;
    uint32_t justification;
  };
  std::vector<Edge> edges_;
  std::vector<uint32_t> adj_head_;
  std::vector<uint32_t> adj_next_;
  size_t classes_ = 0;
  size_t pair_count_ = 0;
};

}  // namespace qprep::engine

#endif  // QPREP_ENGINE_SHARING_H_
