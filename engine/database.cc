// Implements engine/database.h: append-only row-major relations with hash-chained indexes.
#include "engine/database.h"

#include <algorithm>
#include <bit>

#include "common/status_macros.h"

namespace qprep::engine {
namespace {

// A strong 64-bit mixer (splitmix64's finalizer): node ids are small dense integers, and the
// chain map needs their hashes spread over all bits.
inline uint64_t Mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}
inline uint64_t Combine(uint64_t h, Datum d) {
  return Mix(h ^ (static_cast<uint64_t>(d) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2)));
}

}  // namespace

Relation::Relation(size_t arity) : arity_(arity) {
  QPREP_CHECK(arity <= 32);
  Index all;
  all.mask = arity == 32 ? ~ColumnMask{0} : ((ColumnMask{1} << arity) - 1);
  if (arity >= 1) {
    all.dense = true;
    all.column = 0;
    all.max_chain = arity == 1 ? 0 : 16;
  }
  indexes_.push_back(std::move(all));
}

uint64_t Relation::HashMasked(ColumnMask mask, absl::Span<const Datum> key) const {
  uint64_t h = mask;
  for (Datum d : key) h = Combine(h, d);
  return h;
}

uint64_t Relation::HashTupleMasked(ColumnMask mask, TupleId id) const {
  uint64_t h = mask;
  const Datum* row = data_.data() + static_cast<size_t>(id) * arity_;
  for (ColumnMask m = mask; m != 0; m &= m - 1) h = Combine(h, row[std::countr_zero(m)]);
  return h;
}

void Relation::AddToIndex(Index& index, TupleId id) {
  if (index.dense) {
    Datum v = data_[static_cast<size_t>(id) * arity_ + index.column];
    // Up to 2^20 slots (4 MiB) regardless of size: a delta relation holds few tuples with ids
    // spread over the whole graph, and must not fall back to hashing for that.
    const Datum limit = std::max<Datum>(Datum{1} << 20, 8 * static_cast<Datum>(size_ + 1));
    if (v >= 0 && v < limit) {
      size_t slot = static_cast<size_t>(v);
      if (slot >= index.dense_head.size()) {
        const size_t size = std::max(slot + 1, 2 * index.dense_head.size());
        index.dense_head.resize(size, kNoTuple);
        if (index.max_chain != 0) index.chain_len.resize(size, 0);
      }
      if (index.max_chain == 0 || ++index.chain_len[slot] <= index.max_chain) {
        index.next.push_back(index.dense_head[slot]);
        index.dense_head[slot] = id;
        return;
      }
    }
    MakeHashed(index);  // re-adds tuples < id; `id` itself is added below
  }
  uint64_t h = HashTupleMasked(index.mask, id);
  auto [it, inserted] = index.head.try_emplace(h, id);
  index.next.push_back(inserted ? kNoTuple : it->second);
  if (!inserted) it->second = id;
}

void Relation::MakeHashed(Index& index) {
  index.dense = false;
  index.dense_head.clear();
  index.dense_head.shrink_to_fit();
  index.chain_len.clear();
  index.chain_len.shrink_to_fit();
  const TupleId count = static_cast<TupleId>(index.next.size());
  index.next.clear();
  index.head.reserve(count);
  for (TupleId t = 0; t < count; ++t) AddToIndex(index, t);
}

TupleId Relation::Find(absl::Span<const Datum> t) const {
  QPREP_CHECK(t.size() == arity_);
  for (TupleId id = ChainHead(0, t); id != kNoTuple; id = ChainNext(0, id)) {
    if (std::equal(t.begin(), t.end(), data_.begin() + static_cast<size_t>(id) * arity_)) {
      return id;
    }
  }
  return kNoTuple;
}

TupleId Relation::Insert(absl::Span<const Datum> t) {
  if (Find(t) != kNoTuple) return kNoTuple;
  return InsertNew(t);
}

TupleId Relation::InsertNew(absl::Span<const Datum> t) {
  QPREP_CHECK(t.size() == arity_);
  QPREP_CHECK(size_ < kNoTuple - 1);
  TupleId id = static_cast<TupleId>(size_);
  data_.insert(data_.end(), t.begin(), t.end());
  ++size_;
  for (Index& index : indexes_) AddToIndex(index, id);
  return id;
}

int Relation::FindIndex(ColumnMask mask) const {
  for (size_t i = 0; i < indexes_.size(); ++i) {
    if (indexes_[i].mask == mask) return static_cast<int>(i);
  }
  return -1;
}

int Relation::EnsureIndex(ColumnMask mask) {
  QPREP_CHECK((mask & ~indexes_[0].mask) == 0);
  int found = FindIndex(mask);
  if (found >= 0) return found;
  Index index;
  index.mask = mask;
  if (std::popcount(mask) == 1) {
    index.dense = true;
    index.column = std::countr_zero(mask);
  }
  index.next.reserve(size_);
  index.head.reserve(size_);
  for (TupleId id = 0; id < size_; ++id) AddToIndex(index, id);
  indexes_.push_back(std::move(index));
  return static_cast<int>(indexes_.size() - 1);
}

TupleId Relation::HashedChainHead(const Index& ix, absl::Span<const Datum> key) const {
  auto it = ix.head.find(HashMasked(ix.mask, key));
  return it == ix.head.end() ? kNoTuple : it->second;
}

bool Relation::Matches(int index, TupleId id, absl::Span<const Datum> key) const {
  const Datum* row = data_.data() + static_cast<size_t>(id) * arity_;
  size_t k = 0;
  for (ColumnMask m = indexes_[index].mask; m != 0; m &= m - 1) {
    if (row[std::countr_zero(m)] != key[k++]) return false;
  }
  return true;
}

void Relation::Clear() {
  // O(size), not O(table): the evaluator clears its small `new` relations every iteration.
  for (Index& index : indexes_) {
    if (index.dense) {
      for (TupleId id = 0; id < size_; ++id) {
        uint64_t v = static_cast<uint64_t>(at(id, index.column));
        if (v < index.dense_head.size()) index.dense_head[v] = kNoTuple;
        if (v < index.chain_len.size()) index.chain_len[v] = 0;
      }
    }
    index.head.clear();
    index.next.clear();
  }
  data_.clear();
  size_ = 0;
  derivations_.clear();
}

size_t Relation::MemoryBytes() const {
  size_t bytes = data_.capacity() * sizeof(Datum) + derivations_.capacity() * sizeof(Derivation);
  for (const Index& index : indexes_) {
    bytes += index.head.capacity() * (sizeof(uint64_t) + sizeof(TupleId) + 1) +
             (index.next.capacity() + index.dense_head.capacity() + index.chain_len.capacity()) *
                 sizeof(TupleId);
  }
  return bytes;
}

Database::Database(const Program& program, bool provenance)
    : program_(&program), provenance_(provenance) {
  relations_.reserve(program.relations.size());
  sharing_.resize(program.relations.size());
  union_derivs_.resize(program.relations.size());
  for (size_t i = 0; i < program.relations.size(); ++i) {
    const RelationDecl& decl = program.relations[i];
    if (decl.kind == RelationDecl::Kind::kEquivalence) {
      relations_.emplace_back(0);
      sharing_[i] = std::make_unique<UnionFind>();
    } else {
      relations_.emplace_back(decl.columns.size());
    }
  }
}

bool Database::AddFact(RelationId rel, absl::Span<const Datum> tuple) {
  QPREP_CHECK(rel < relations_.size());
  QPREP_CHECK(tuple.size() == program_->relations[rel].columns.size());
  if (UnionFind* uf = sharing_[rel].get()) {
    bool fresh = !uf->Contains(tuple[0]) || !uf->Contains(tuple[1]);
    auto& derivs = union_derivs_[rel];
    uint32_t justification = static_cast<uint32_t>(derivs.size());
    if (uf->Union(tuple[0], tuple[1], justification)) {
      derivs.push_back(Derivation{});  // an input union
      return true;
    }
    return fresh;
  }
  Relation& r = relations_[rel];
  if (r.Insert(tuple) == kNoTuple) return false;
  if (provenance_) r.derivations().push_back(Derivation{});
  return true;
}

bool Database::AddFact(std::string_view relation, std::initializer_list<Datum> tuple) {
  RelationId id = program_->Find(relation);
  QPREP_CHECK(id != Program::kInvalid);
  return AddFact(id, tuple);
}

bool Database::Contains(RelationId rel, absl::Span<const Datum> tuple) const {
  QPREP_CHECK(tuple.size() == program_->relations[rel].columns.size());
  if (const UnionFind* uf = sharing_[rel].get()) return uf->Same(tuple[0], tuple[1]);
  return relations_[rel].Contains(tuple);
}

size_t Database::Size(RelationId rel) const {
  if (const UnionFind* uf = sharing_[rel].get()) return uf->PairCount();
  return relations_[rel].size();
}

Relation& Database::relation(RelationId rel) {
  QPREP_CHECK(sharing_[rel] == nullptr);
  return relations_[rel];
}
const Relation& Database::relation(RelationId rel) const {
  QPREP_CHECK(sharing_[rel] == nullptr);
  return relations_[rel];
}
UnionFind& Database::equivalence(RelationId rel) {
  QPREP_CHECK(sharing_[rel] != nullptr);
  return *sharing_[rel];
}
const UnionFind& Database::equivalence(RelationId rel) const {
  QPREP_CHECK(sharing_[rel] != nullptr);
  return *sharing_[rel];
}

std::vector<std::vector<Datum>> Database::SortedTuples(RelationId rel) const {
  std::vector<std::vector<Datum>> out;
  if (const UnionFind* uf = sharing_[rel].get()) {
    for (Datum x : uf->values()) {
      uf->ForEachInClass(x, [&](Datum y) { out.push_back({x, y}); });
    }
  } else {
    const Relation& r = relations_[rel];
    out.reserve(r.size());
    for (TupleId id = 0; id < r.size(); ++id) {
      auto t = r.tuple(id);
      out.emplace_back(t.begin(), t.end());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

size_t Database::TotalFacts() const {
  size_t n = 0;
  for (size_t i = 0; i < relations_.size(); ++i) n += Size(static_cast<RelationId>(i));
  return n;
}

size_t Database::MemoryBytes() const {
  size_t bytes = premise_pool_.capacity() * sizeof(PremiseRef) +
                 eq_premises_.capacity() * sizeof(eq_premises_[0]);
  for (size_t i = 0; i < relations_.size(); ++i) {
    bytes += sharing_[i] ? sharing_[i]->MemoryBytes() : relations_[i].MemoryBytes();
  }
  return bytes;
}

}  // namespace qprep::engine
