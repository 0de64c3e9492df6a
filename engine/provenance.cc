// Implements engine/provenance.h by reading the Derivation records the evaluator stored.
#include "engine/provenance.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace qprep::engine {
namespace {

Fact PremiseFact(const Database& db, const PremiseRef& ref) {
  if (db.is_equivalence(ref.relation)) {
    auto [a, b] = db.equivalence_premises()[ref.id];
    return Fact{ref.relation, {a, b}};
  }
  auto t = db.relation(ref.relation).tuple(ref.id);
  return Fact{ref.relation, std::vector<Datum>(t.begin(), t.end())};
}

ProofStep StepFrom(const Database& db, Fact conclusion, const Derivation& d) {
  ProofStep step;
  step.conclusion = std::move(conclusion);
  if (d.rule == Derivation::kInput) {
    step.input = true;
    return step;
  }
  step.rule = static_cast<int>(d.rule);
  const auto& pool = db.premise_pool();
  for (uint32_t k = 0; k < d.premise_count; ++k) {
    step.premises.push_back(PremiseFact(db, pool[d.premise_begin + k]));
  }
  return step;
}

absl::Status Render(const Database& db, const SymbolTable* symbols, const Fact& fact, int depth,
                    int max_depth, std::string* out) {
  const Program& program = db.program();
  std::string indent(2 * depth, ' ');
  absl::StrAppend(out, indent, FormatFact(program, symbols, fact));
  if (depth >= max_depth) {
    absl::StrAppend(out, "  ...\n");
    return absl::OkStatus();
  }
  auto steps = Why(db, fact.relation, fact.tuple);
  if (!steps.ok()) return steps.status();
  if (db.is_equivalence(fact.relation)) {
    if (steps->empty()) {
      absl::StrAppend(out, "  (reflexive)\n");
      return absl::OkStatus();
    }
    if (steps->size() > 1) {
      absl::StrAppend(out, "  <- chain of ", steps->size(), " unions\n");
      for (const ProofStep& s : *steps) {
        std::string sub_indent(2 * (depth + 1), ' ');
        absl::StrAppend(out, sub_indent, FormatFact(program, symbols, s.conclusion));
        if (s.input) {
          absl::StrAppend(out, "  (input)\n");
          continue;
        }
        absl::StrAppend(out, "  <- ", program.rules[s.rule].name, "\n");
        for (const Fact& p : s.premises) {
          absl::Status st = Render(db, symbols, p, depth + 2, max_depth, out);
          if (!st.ok()) return st;
        }
      }
      return absl::OkStatus();
    }
  }
  const ProofStep& s = steps->front();
  if (s.input) {
    absl::StrAppend(out, "  (input)\n");
    return absl::OkStatus();
  }
  absl::StrAppend(out, "  <- ", program.rules[s.rule].name, "\n");
  for (const Fact& p : s.premises) {
    absl::Status st = Render(db, symbols, p, depth + 1, max_depth, out);
    if (!st.ok()) return st;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<ProofStep>> Why(const Database& db, RelationId relation,
                                           absl::Span<const Datum> tuple) {
  const Program& program = db.program();
  if (!db.provenance_enabled()) {
    return absl::FailedPreconditionError("provenance was disabled for this database");
  }
  Fact fact{relation, std::vector<Datum>(tuple.begin(), tuple.end())};
  if (db.is_equivalence(relation)) {
    const UnionFind& uf = db.equivalence(relation);
    auto chain = uf.Explain(tuple[0], tuple[1]);
    if (!chain) {
      return absl::NotFoundError(
          absl::StrCat(FormatFact(program, nullptr, fact), " does not hold"));
    }
    std::vector<ProofStep> steps;
    const auto& derivs = db.union_derivations(relation);
    for (const UnionFind::Step& u : *chain) {
      Derivation d;  // kInput unless the union came from a rule
      if (u.justification != UnionFind::kNoJustification) d = derivs[u.justification];
      steps.push_back(StepFrom(db, Fact{relation, {u.from, u.to}}, d));
    }
    return steps;
  }
  const Relation& r = db.relation(relation);
  TupleId id = r.Find(tuple);
  if (id == kNoTuple) {
    return absl::NotFoundError(absl::StrCat(FormatFact(program, nullptr, fact), " does not hold"));
  }
  return std::vector<ProofStep>{StepFrom(db, std::move(fact), r.derivations()[id])};
}

std::string FormatFact(const Program& program, const SymbolTable* symbols, const Fact& fact) {
  const RelationDecl& decl = program.relations[fact.relation];
  std::vector<std::string> parts;
  for (size_t i = 0; i < fact.tuple.size(); ++i) {
    Datum d = fact.tuple[i];
    bool symbolic = symbols != nullptr && symbols->IsSymbol(d) &&
                    (i >= decl.columns.size() || decl.columns[i] != ColumnType::kInt);
    parts.push_back(symbolic ? std::string(symbols->Name(d)) : absl::StrCat(d));
  }
  return absl::StrCat(decl.name, "(", absl::StrJoin(parts, ", "), ")");
}

absl::StatusOr<std::string> ExplainTree(const Database& db, const SymbolTable* symbols,
                                        RelationId relation, absl::Span<const Datum> tuple,
                                        int max_depth) {
  std::string out;
  Fact fact{relation, std::vector<Datum>(tuple.begin(), tuple.end())};
  absl::Status st = Render(db, symbols, fact, 0, max_depth, &out);
  if (!st.ok()) return st;
  return out;
}

}  // namespace qprep::engine
