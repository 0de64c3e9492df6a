// Implements engine/sharing.h: union-find with class lists and a proof forest.
#include "engine/sharing.h"

#include <algorithm>
#include <deque>

#include "common/status_macros.h"

namespace qprep::engine {

uint32_t UnionFind::Index(Value v) {
  uint32_t existing = Slot(v);
  if (existing != kNone) return existing;
  const uint32_t i = static_cast<uint32_t>(values_.size());
  const uint64_t u = static_cast<uint64_t>(v);
  const uint64_t limit = std::max<uint64_t>(uint64_t{1} << 16, 8 * (values_.size() + 1));
  if (u < limit) {
    if (u >= direct_.size()) direct_.resize(std::max<uint64_t>(u + 1, 2 * direct_.size()), kNone);
    direct_[u] = i;
  } else {
    sparse_.emplace(v, i);
  }
  {
    values_.push_back(v);
    parent_.push_back(i);
    size_.push_back(1);
    next_.push_back(i);
    adj_head_.push_back(kNone);
    ++classes_;
    ++pair_count_;  // (v, v)
  }
  return i;
}

bool UnionFind::Add(Value v) {
  size_t before = values_.size();
  Index(v);
  return values_.size() != before;
}

uint32_t UnionFind::Root(uint32_t i) const {
  uint32_t r = i;
  while (parent_[r] != r) r = parent_[r];
  while (parent_[i] != r) {  // path compression
    uint32_t p = parent_[i];
    parent_[i] = r;
    i = p;
  }
  return r;
}

bool UnionFind::Union(Value a, Value b, uint32_t justification) {
  uint32_t ia = Index(a), ib = Index(b);
  uint32_t ra = Root(ia), rb = Root(ib);
  if (ra == rb) return false;
  pair_count_ += 2 * static_cast<size_t>(size_[ra]) * size_[rb];
  if (size_[ra] < size_[rb]) std::swap(ra, rb);
  parent_[rb] = ra;
  size_[ra] += size_[rb];
  std::swap(next_[ra], next_[rb]);  // splices the two circular lists
  --classes_;
  uint32_t e = static_cast<uint32_t>(edges_.size());
  edges_.push_back({ia, ib, justification});
  adj_next_.push_back(adj_head_[ia]);  // half-edge 2e, leaving ia
  adj_head_[ia] = 2 * e;
  adj_next_.push_back(adj_head_[ib]);  // half-edge 2e + 1, leaving ib
  adj_head_[ib] = 2 * e + 1;
  return true;
}

bool UnionFind::Same(Value a, Value b) const {
  uint32_t ia = Slot(a), ib = Slot(b);
  if (ia == kNone || ib == kNone) return false;
  return Root(ia) == Root(ib);
}

std::optional<UnionFind::Value> UnionFind::Find(Value v) const {
  uint32_t i = Slot(v);
  if (i == kNone) return std::nullopt;
  return values_[Root(i)];
}

size_t UnionFind::ClassSize(Value v) const {
  uint32_t i = Slot(v);
  return i == kNone ? 0 : size_[Root(i)];
}

std::vector<std::vector<UnionFind::Value>> UnionFind::NontrivialClasses() const {
  std::vector<std::vector<Value>> out;
  absl::flat_hash_map<uint32_t, size_t> slot;  // root -> index in out
  for (uint32_t i = 0; i < values_.size(); ++i) {
    uint32_t r = Root(i);
    if (size_[r] < 2) continue;
    auto [it, inserted] = slot.try_emplace(r, out.size());
    if (inserted) out.emplace_back();
    out[it->second].push_back(values_[i]);
  }
  return out;
}

std::optional<std::vector<UnionFind::Step>> UnionFind::Explain(Value a, Value b) const {
  if (!Same(a, b)) return std::nullopt;
  uint32_t ia = Slot(a), ib = Slot(b);
  std::vector<Step> steps;
  if (ia == ib) return steps;
  // BFS in the proof forest from a; the forest is a tree per class, so the path is unique.
  absl::flat_hash_map<uint32_t, std::pair<uint32_t, uint32_t>> came_from;  // node -> (prev, edge)
  std::deque<uint32_t> queue{ia};
  came_from[ia] = {ia, static_cast<uint32_t>(-1)};
  while (!queue.empty() && !came_from.contains(ib)) {
    uint32_t n = queue.front();
    queue.pop_front();
    for (uint32_t h = adj_head_[n]; h != kNone; h = adj_next_[h]) {
      const uint32_t e = h / 2;
      const uint32_t m = (h % 2 == 0) ? edges_[e].b : edges_[e].a;
      if (came_from.try_emplace(m, n, e).second) queue.push_back(m);
    }
  }
  QPREP_CHECK(came_from.contains(ib));
  for (uint32_t n = ib; n != ia;) {
    auto [prev, e] = came_from.at(n);
    const Edge& edge = edges_[e];
    steps.push_back({values_[edge.a], values_[edge.b], edge.justification});
    n = prev;
  }
  std::reverse(steps.begin(), steps.end());
  return steps;
}

size_t UnionFind::MemoryBytes() const {
  const size_t adj = (adj_head_.capacity() + adj_next_.capacity()) * sizeof(uint32_t);
  return sparse_.capacity() * (sizeof(Value) + sizeof(uint32_t) + 1) +
         direct_.capacity() * sizeof(uint32_t) + values_.capacity() * sizeof(Value) +
         (parent_.capacity() + size_.capacity() + next_.capacity()) * sizeof(uint32_t) +
         edges_.capacity() * sizeof(Edge) + adj;
}

}  // namespace qprep::engine
