// Implements engine/program.h: the symbol table and the relation index of a Program.
#include "engine/program.h"

#include <utility>

#include "absl/strings/string_view.h"
#include "common/status_macros.h"

namespace qprep::engine {

Datum SymbolTable::Intern(std::string_view s) {
  auto it = index_.find(absl::string_view(s.data(), s.size()));
  if (it != index_.end()) return it->second;
  Datum d = kSymbolBase + static_cast<Datum>(names_.size());
  names_.emplace_back(s);
  index_.emplace(std::string(s), d);
  return d;
}

bool SymbolTable::IsSymbol(Datum d) const {
  return d >= kSymbolBase && d - kSymbolBase < static_cast<Datum>(names_.size());
}

std::string_view SymbolTable::Name(Datum symbol) const {
  QPREP_CHECK(IsSymbol(symbol));
  return names_[static_cast<size_t>(symbol - kSymbolBase)];
}

RelationId Program::AddRelation(RelationDecl decl) {
  QPREP_CHECK(!relation_index.contains(absl::string_view(decl.name)));
  QPREP_CHECK(decl.kind != RelationDecl::Kind::kEquivalence || decl.columns.size() == 2);
  QPREP_CHECK(decl.columns.size() <= 32);
  RelationId id = static_cast<RelationId>(relations.size());
  relation_index.emplace(decl.name, id);
  relations.push_back(std::move(decl));
  return id;
}

RelationId Program::Find(std::string_view name) const {
  auto it = relation_index.find(absl::string_view(name.data(), name.size()));
  return it == relation_index.end() ? kInvalid : it->second;
}

}  // namespace qprep::engine
