// The fact store the fixpoint evaluator (engine/evaluator.h) reads and writes, and that the
// prepare stages (facts, fusion, qconfig resolution, matcher) load their output facts into.
//
// Contract:
// - One Relation per RelationDecl of the Program, in the same order (RelationId indexes both).
// - A Relation is a set of fixed-arity tuples of Datum, stored row-major and append-only: a
//   tuple's TupleId (its insertion position) never changes, so provenance and semi-naive deltas
//   can refer to tuples by id, and a delta is a contiguous id range.
// - Indexes on any subset of columns (a bit mask): direct tables for single-column indexes over
//   dense ids (and, keyed by column 0 with a chain cap, for the all-columns index of wider
//   relations), hash chains otherwise. The all-columns index always exists
//   (set semantics); the evaluator adds one index per (relation, bound-columns) pair a rule
//   needs, chosen when the rule is compiled, so every join step along an edge or by node id is
//   an O(1) probe plus the matching tuples. Indexes are maintained on every append.
// - Equivalence relations (RelationDecl::Kind::kEquivalence) are not stored as tuples: they are
//   a union-find (engine/sharing.h); AddFact on one unions the two values.
// - Every tuple carries the Derivation that first produced it (engine/provenance.h), unless
//   provenance is disabled.
#ifndef QPREP_ENGINE_DATABASE_H_
#define QPREP_ENGINE_DATABASE_H_

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/types/span.h"
#include "engine/program.h"
#include "engine/sharing.h"

namespace qprep::engine {

using TupleId = uint32_t;
inline constexpr TupleId kNoTuple = static_cast<TupleId>(-1);
// A set of column positions, bit i = column i. Relations have at most 32 columns.
using ColumnMask = uint32_t;

// How a fact came to be: an input fact, or a rule applied to premise facts.
struct PremiseRef {
  RelationId relation = 0;
  // For tuple relations: the premise's TupleId. For equivalence relations: index of the pair in
  // Database::equivalence_premises() (the pair is not a stored tuple).
  uint32_t id = 0;
};
struct Derivation {
  static constexpr uint32_t kInput = static_cast<uint32_t>(-1);
  uint32_t rule = kInput;      // index into Program::rules, or kInput
  uint32_t premise_begin = 0;  // into Database::premise_pool()
  uint32_t premise_count = 0;  // one per positive body literal, in body order
  uint32_t iteration = 0;      // evaluator iteration (within its stratum) that derived it
};

class Relation {
 public:
  explicit Relation(size_t arity);
  Relation(Relation&&) = default;
  Relation& operator=(Relation&&) = default;

  size_t arity() const { return arity_; }
  size_t size() const { return size_; }
  // The i-th tuple's columns.
  absl::Span<const Datum> tuple(TupleId id) const {
    return absl::MakeConstSpan(data_.data() + static_cast<size_t>(id) * arity_, arity_);
  }
  Datum at(TupleId id, size_t column) const {
    return data_[static_cast<size_t>(id) * arity_ + column];
  }

  // Appends `t` unless present. Returns the new tuple's id, or kNoTuple if it was present.
  TupleId Insert(absl::Span<const Datum> t);
  // Appends `t`, which the caller knows is absent (the evaluator checked it when it entered
  // `new`); saves the duplicate probe. Returns its id.
  TupleId InsertNew(absl::Span<const Datum> t);
  // The id of `t`, or kNoTuple.
  TupleId Find(absl::Span<const Datum> t) const;
  bool Contains(absl::Span<const Datum> t) const { return Find(t) != kNoTuple; }

  // Returns the index on exactly the columns in `mask` (creating and filling it if needed).
  // Index ids are stable. mask == 0 is not an index (scan instead).
  int EnsureIndex(ColumnMask mask);
  // -1 if there is no index on `mask`.
  int FindIndex(ColumnMask mask) const;
  ColumnMask index_mask(int index) const { return indexes_[index].mask; }

  // Probing an index: the chain of tuples that may match `key` (key holds the
  // masked columns' values in column order). The chain may hold non-matching tuples; use
  // Matches() to filter, or ForEachMatch which does.
  TupleId ChainHead(int index, absl::Span<const Datum> key) const {
    const Index& ix = indexes_[index];
    if (ix.dense) {
      uint64_t v = static_cast<uint64_t>(key[0]);
      return v < ix.dense_head.size() ? ix.dense_head[v] : kNoTuple;
    }
    return HashedChainHead(ix, key);
  }
  TupleId ChainNext(int index, TupleId id) const { return indexes_[index].next[id]; }
  bool Matches(int index, TupleId id, absl::Span<const Datum> key) const;

  template <typename F>  // F(TupleId) -> void
  void ForEachMatch(int index, absl::Span<const Datum> key, F&& f) const {
    for (TupleId id = ChainHead(index, key); id != kNoTuple; id = ChainNext(index, id)) {
      if (Matches(index, id, key)) f(id);
    }
  }

  // Provenance of each tuple (empty when provenance is off).
  std::vector<Derivation>& derivations() { return derivations_; }
  const std::vector<Derivation>& derivations() const { return derivations_; }

  void Clear();  // keeps the index definitions
  size_t MemoryBytes() const;

 private:
  struct Index {
    ColumnMask mask = 0;
    // Single-column indexes over dense non-negative ids (node ids, edge ids) use a direct
    // table: value -> most recent tuple, with locality for ids loaded in order. The first value
    // that is negative or far beyond the relation's size switches the index to hashing.
    // The all-columns index of a wider relation is also a direct table, keyed by column 0 (a
    // node id in most graph relations); its chains then hold tuples that differ in later
    // columns, so chain lengths are counted and the first chain longer than max_chain (e.g. a
    // relation whose first column is a constant) switches the index to hashing.
    bool dense = false;
    int column = -1;         // dense: the keyed column, always the first column of the mask
    uint32_t max_chain = 0;  // 0: unlimited (single-column indexes: every chain entry matches)
    std::vector<TupleId> dense_head;
    std::vector<uint32_t> chain_len;  // only with max_chain
    // hash of the masked columns -> most recently inserted tuple with that hash; `next` chains
    // to the previous one. Chaining by hash keeps an index at one map entry per distinct key
    // plus 4 bytes per tuple.
    absl::flat_hash_map<uint64_t, TupleId> head;
    std::vector<TupleId> next;
  };
  TupleId HashedChainHead(const Index& ix, absl::Span<const Datum> key) const;
  uint64_t HashMasked(ColumnMask mask, absl::Span<const Datum> key_in_mask_order) const;
  uint64_t HashTupleMasked(ColumnMask mask, TupleId id) const;
  void AddToIndex(Index& index, TupleId id);
  void MakeHashed(Index& index);

  size_t arity_;
  size_t size_ = 0;
  std::vector<Datum> data_;
  std::vector<Index> indexes_;  // indexes_[0] is the all-columns index
  std::vector<Derivation> derivations_;
};

class Database {
 public:
  // The program must outlive the database.
  explicit Database(const Program& program, bool provenance = true);

  const Program& program() const { return *program_; }
  bool provenance_enabled() const { return provenance_; }

  // Adds an input fact (any relation kind; on an equivalence relation it unions the two
  // values). Returns true if the fact is new. CHECK-fails on an arity mismatch.
  bool AddFact(RelationId relation, absl::Span<const Datum> tuple);
  bool AddFact(RelationId relation, std::initializer_list<Datum> tuple) {
    return AddFact(relation, absl::MakeConstSpan(tuple.begin(), tuple.size()));
  }
  // Name-based convenience for tests and stage code; CHECK-fails on an unknown name.
  bool AddFact(std::string_view relation, std::initializer_list<Datum> tuple);

  bool Contains(RelationId relation, absl::Span<const Datum> tuple) const;
  bool Contains(RelationId relation, std::initializer_list<Datum> tuple) const {
    return Contains(relation, absl::MakeConstSpan(tuple.begin(), tuple.size()));
  }
  // Facts in the relation: tuples stored, or for an equivalence relation the number of ordered
  // pairs (x, y) with x ~ y (reflexive pairs included).
  size_t Size(RelationId relation) const;

  bool is_equivalence(RelationId relation) const { return sharing_[relation] != nullptr; }
  // CHECK-fails unless is_equivalence(relation) / !is_equivalence(relation).
  Relation& relation(RelationId relation);
  const Relation& relation(RelationId relation) const;
  UnionFind& equivalence(RelationId relation);
  const UnionFind& equivalence(RelationId relation) const;

  // All tuples of a relation, sorted (for tests and printing; equivalence relations enumerate
  // their ordered pairs).
  std::vector<std::vector<Datum>> SortedTuples(RelationId relation) const;

  // Provenance storage shared by all relations.
  std::vector<PremiseRef>& premise_pool() { return premise_pool_; }
  const std::vector<PremiseRef>& premise_pool() const { return premise_pool_; }
  // Equivalence pairs used as premises (the pair itself, since it has no TupleId).
  std::vector<std::pair<Datum, Datum>>& equivalence_premises() { return eq_premises_; }
  const std::vector<std::pair<Datum, Datum>>& equivalence_premises() const { return eq_premises_; }
  // Derivations of the unions of an equivalence relation; a UnionFind justification is an index
  // into this vector.
  std::vector<Derivation>& union_derivations(RelationId relation) {
    return union_derivs_[relation];
  }
  const std::vector<Derivation>& union_derivations(RelationId relation) const {
    return union_derivs_[relation];
  }

  size_t TotalFacts() const;
  size_t MemoryBytes() const;

 private:
  const Program* program_;
  bool provenance_;
  std::vector<Relation> relations_;                  // arity 0 placeholder for equivalences
  std::vector<std::unique_ptr<UnionFind>> sharing_;  // non-null for equivalence relations
  std::vector<PremiseRef> premise_pool_;
  std::vector<std::pair<Datum, Datum>> eq_premises_;
  std::vector<std::vector<Derivation>> union_derivs_;  // by RelationId; empty for tuple relations
};

}  // namespace qprep::engine

#endif  // QPREP_ENGINE_DATABASE_H_
