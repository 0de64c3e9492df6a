// Checker and lowering of the rule language (see compiler.h for the contract and
// docs/language.md for the language). One pass collects declarations from every file into one
// namespace; configuration declarations are then evaluated on demand (so order in a file does
// not matter and cycles are diagnosed); derivation rules are type-checked and lowered to an
// engine::Program; stratification is checked with engine::FindNegationCycle.
#include "rules/compiler.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/file_io.h"
#include "engine/facts.h"
#include "engine/stratify.h"
#include "rules/parser.h"

namespace qprep::rules {
namespace {

namespace fs = std::filesystem;

// ------------------------------------------------------------------------------------------
// Small helpers
// ------------------------------------------------------------------------------------------

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// " (did you mean `x`?)" for the closest candidate within a small distance, else "".
template <typename Range>
std::string DidYouMean(std::string_view word, const Range& candidates) {
  std::string best;
  size_t best_d = std::max<size_t>(2, word.size() / 3) + 1;
  for (const auto& c : candidates) {
    std::string_view cv(c);
    size_t d = EditDistance(word, cv);
    if (d < best_d) {
      best_d = d;
      best = std::string(cv);
    }
  }
  return best.empty() ? "" : absl::StrCat(" (did you mean `", best, "`?)");
}

bool IsVariableName(std::string_view s) {
  return !s.empty() && s.find('.') == std::string_view::npos &&
         (std::isupper(static_cast<unsigned char>(s[0])) || (s[0] == '_' && s.size() > 1));
}

std::string_view LastSegment(std::string_view s) {
  size_t dot = s.rfind('.');
  return dot == std::string_view::npos ? s : s.substr(dot + 1);
}

const char* ColumnTypeName(engine::ColumnType t) {
  switch (t) {
    case engine::ColumnType::kInt:
      return "int";
    case engine::ColumnType::kSymbol:
      return "symbol";
    case engine::ColumnType::kNode:
      return "node";
    case engine::ColumnType::kEdge:
      return "edge";
    case engine::ColumnType::kObserver:
      return "observer";
    case engine::ColumnType::kQConfig:
      return "qconfig";
    case engine::ColumnType::kPattern:
      return "pattern";
  }
  return "?";
}

std::optional<engine::ColumnType> ParseColumnType(std::string_view s) {
  using T = engine::ColumnType;
  static const std::pair<const char*, T> kTypes[] = {
      {"int", T::kInt},           {"float", T::kInt},       {"symbol", T::kSymbol},
      {"string", T::kSymbol},     {"node", T::kNode},       {"edge", T::kEdge},
      {"observer", T::kObserver}, {"qconfig", T::kQConfig}, {"pattern", T::kPattern}};
  for (const auto& [name, t] : kTypes) {
    if (s == name) return t;
  }
  return std::nullopt;
}
const std::vector<std::string> kColumnTypeNames = {"int",  "float",    "symbol",  "string", "node",
                                                   "edge", "observer", "qconfig", "pattern"};

// Floats in rules compare through the engine's order-preserving int64 key, so rule constants
// compare with fact values (observer eps, fixed scales).
engine::Datum FloatKeyOf(double d) { return engine::FloatKey(d); }

// ------------------------------------------------------------------------------------------
// The compiler
// ------------------------------------------------------------------------------------------

enum class EntityKind { kGroup, kObserver, kQConfig, kDTypeConfig, kMapping, kBackend };

const char* EntityKindName(EntityKind k) {
  switch (k) {
    case EntityKind::kGroup:
      return "group";
    case EntityKind::kObserver:
      return "observer";
    case EntityKind::kQConfig:
      return "qconfig";
    case EntityKind::kDTypeConfig:
      return "dtype_config";
    case EntityKind::kMapping:
      return "qconfig_mapping";
    case EntityKind::kBackend:
      return "backend";
  }
  return "?";
}

// "an observer", "a group".
std::string WithArticle(EntityKind k) {
  std::string n = EntityKindName(k);
  return absl::StrCat(n[0] == 'o' ? "an " : "a ", n);
}

struct Entity {
  EntityKind kind;
  const ParsedFile* file = nullptr;
  const ast::NamedDecl* named = nullptr;  // group, observer, qconfig, dtype_config
  const ast::BlockDecl* block = nullptr;  // qconfig_mapping, backend
  SourceRange where;                      // the name token
  bool used = false;
  enum class State { kNew, kBusy, kDone, kFailed } state = State::kNew;
};

struct Alias {
  const ParsedFile* file;
  const ast::AliasDecl* decl;
  SourceRange where;
  bool used = false;
};

struct RelationInfo {
  engine::RelationDecl decl;
  bool builtin = false;
  bool used_in_body = false;
  bool used_in_head = false;
};

struct RuleRef {
  const ParsedFile* file;
  const ast::RuleDecl* decl;
};

class Compiler {
 public:
  Compiler(const CompileOptions& options, DiagnosticSink* sink) : options_(options), sink_(sink) {
    if (!options_.read_file) options_.read_file = [](const std::string& p) { return ReadFile(p); };
    out_.symbols = options_.symbols ? options_.symbols : std::make_shared<engine::SymbolTable>();
  }

  absl::StatusOr<CompiledRules> Run(const std::vector<std::shared_ptr<const SourceFile>>& sources,
                                    const std::vector<std::string>& paths) {
    for (const auto& s : sources) AddFile(s, nullptr);
    for (const std::string& p : paths) LoadPath(p, SourceRange{});
    // Unused-declaration warnings after a syntax error would mostly be about uses the parser
    // skipped.
    bool syntax_errors = sink_->has_errors();
    Collect();
    EvaluateEntities();
    CompileRelationsAndRules();
    if (options_.warn_unused && !syntax_errors) WarnUnused();
    if (sink_->has_errors()) return sink_->ToStatus();
    return std::move(out_);
  }

 private:
  // ---------------------------------------------------------------- loading and includes
  void LoadPath(const std::string& path, const SourceRange& from) {
    std::string key = Canonical(path);
    if (loaded_.count(key)) return;
    absl::StatusOr<std::string> text = options_.read_file(path);
    if (!text.ok()) {
      sink_->Error(from, absl::StrCat("cannot read `", path, "`: ", text.status().message()));
      return;
    }
    AddFile(std::make_shared<SourceFile>(path, *std::move(text)), &key);
  }

  static std::string Canonical(const std::string& path) {
    std::error_code ec;
    fs::path p = fs::weakly_canonical(fs::path(path), ec);
    return ec ? path : p.string();
  }

  void AddFile(std::shared_ptr<const SourceFile> file, const std::string* key) {
    loaded_.insert(key ? *key : Canonical(file->name()));
    out_.files.push_back(file);
    auto parsed = std::make_unique<ParsedFile>(ParseSource(file, sink_));
    const ParsedFile* pf = parsed.get();
    files_.push_back(std::move(parsed));
    // Includes are read depth-first where they appear, so an included file's declarations are
    // known before the includer's (order does not matter for meaning, only for output order).
    for (const ast::Declaration& d : pf->declarations) {
      if (const auto* inc = boost::get<ast::IncludeDecl>(&d.get())) {
        ResolveInclude(*pf, *inc);
      }
    }
  }

  void ResolveInclude(const ParsedFile& from, const ast::IncludeDecl& inc) {
    const std::string& rel = inc.path.value;
    SourceRange where = from.RangeOf(inc.path);
    std::vector<std::string> candidates;
    fs::path rp(rel);
    if (rp.is_absolute()) {
      candidates.push_back(rel);
    } else {
      candidates.push_back((fs::path(from.file->name()).parent_path() / rp).string());
      for (const std::string& sp : options_.search_paths) {
        candidates.push_back((fs::path(sp) / rp).string());
      }
    }
    for (const std::string& c : candidates) {
      std::string key = Canonical(c);
      if (loaded_.count(key)) return;  // already read (or being read: include cycles are fine)
      absl::StatusOr<std::string> text = options_.read_file(c);
      if (text.ok()) {
        AddFile(std::make_shared<SourceFile>(c, *std::move(text)), &key);
        return;
      }
    }
    Diagnostic d{
        Severity::kError, where, absl::StrCat("cannot find included file \"", rel, "\""), {}};
    d.notes.push_back(Diagnostic{
        Severity::kNote, where, absl::StrCat("searched: ", absl::StrJoin(candidates, ", ")), {}});
    sink_->Add(std::move(d));
  }

  // ---------------------------------------------------------------- collecting declarations
  void Redefinition(const SourceRange& at, const std::string& what, const SourceRange& prev) {
    Diagnostic d{Severity::kError, at, absl::StrCat("redefinition of ", what), {}};
    d.notes.push_back(Diagnostic{Severity::kNote, prev, "previously declared here", {}});
    sink_->Add(std::move(d));
  }

  void Collect() {
    for (const auto& pf : files_) {
      for (const ast::Declaration& d : pf->declarations) {
        if (const auto* a = boost::get<ast::AliasDecl>(&d.get())) {
          SourceRange r = pf->RangeOf(a->name);
          if (a->name.text.find('.') != std::string::npos) {
            sink_->Error(r, "an alias name is a single identifier");
            continue;
          }
          auto [it, fresh] = aliases_.try_emplace(a->name.text, Alias{pf.get(), a, r});
          if (!fresh) Redefinition(r, absl::StrCat("alias `", a->name.text, "`"), it->second.where);
        } else if (const auto* n = boost::get<ast::NamedDecl>(&d.get())) {
          EntityKind k = n->keyword.text == "group"      ? EntityKind::kGroup
                         : n->keyword.text == "observer" ? EntityKind::kObserver
                         : n->keyword.text == "qconfig"  ? EntityKind::kQConfig
                                                         : EntityKind::kDTypeConfig;
          AddEntity(n->name, k, pf.get(), n, nullptr);
        } else if (const auto* b = boost::get<ast::BlockDecl>(&d.get())) {
          AddEntity(b->name,
                    b->keyword.text == "backend" ? EntityKind::kBackend : EntityKind::kMapping,
                    pf.get(), nullptr, b);
        } else if (const auto* r = boost::get<ast::RelationDecl>(&d.get())) {
          relation_decls_.push_back({pf.get(), r});
        } else if (const auto* rule = boost::get<ast::RuleDecl>(&d.get())) {
          rules_.push_back({pf.get(), rule});
        }
      }
    }
  }

  void AddEntity(const ast::Name& name, EntityKind k, const ParsedFile* pf, const ast::NamedDecl* n,
                 const ast::BlockDecl* b) {
    SourceRange r = pf->RangeOf(name);
    if (name.text.find('.') != std::string::npos) {
      sink_->Error(r, absl::StrCat("a ", EntityKindName(k), " name is a single identifier"));
      return;
    }
    if (name.text == "none" || name.text == "reuse_input") {
      sink_->Error(r,
                   absl::StrCat("`", name.text, "` is a built-in qconfig and cannot be redefined"));
      return;
    }
    auto [it, fresh] = entities_.try_emplace(name.text);
    if (!fresh) {
      Redefinition(r, absl::StrCat(EntityKindName(k), " `", name.text, "`"), it->second.where);
      return;
    }
    it->second = Entity{k, pf, n, b, r};
    entity_order_.push_back(name.text);
  }

  // ---------------------------------------------------------------- names
  // Expands a leading alias segment (recursively). Marks aliases used.
  std::string ExpandAliases(const std::string& text, const SourceRange& where) {
    std::string cur = text;
    for (int depth = 0; depth < 16; ++depth) {
      size_t dot = cur.find('.');
      std::string head = cur.substr(0, dot);
      auto it = aliases_.find(head);
      if (it == aliases_.end()) return cur;
      it->second.used = true;
      cur = it->second.decl->target.text + (dot == std::string::npos ? "" : cur.substr(dot));
    }
    sink_->Error(where, absl::StrCat("alias expansion of `", text, "` does not terminate"));
    return cur;
  }

  Entity* FindEntity(const std::string& name) {
    auto it = entities_.find(name);
    return it == entities_.end() ? nullptr : &it->second;
  }

  std::vector<std::string> EntityNames(EntityKind k) const {
    std::vector<std::string> names;
    for (const auto& [n, e] : entities_) {
      if (e.kind == k) names.push_back(n);
    }
    return names;
  }

  // Looks up an entity of kind `k`, reporting unknown names and kind mismatches at `where`.
  Entity* Expect(const std::string& name, EntityKind k, const SourceRange& where) {
    Entity* e = FindEntity(name);
    if (e == nullptr) {
      sink_->Error(where, absl::StrCat("unknown ", EntityKindName(k), " `", name, "`",
                                       DidYouMean(name, EntityNames(k))));
      return nullptr;
    }
    e->used = true;
    if (e->kind != k) {
      Diagnostic d{Severity::kError,
                   where,
                   absl::StrCat("`", name, "` is ", WithArticle(e->kind), ", not ", WithArticle(k)),
                   {}};
      d.notes.push_back(Diagnostic{Severity::kNote, e->where, "declared here", {}});
      sink_->Add(std::move(d));
      return nullptr;
    }
    return e;
  }

  // ---------------------------------------------------------------- expression views
  // The single primary of an expression without `->` or `|`, else null.
  static const ast::Primary* Single(const ast::Expr& e) {
    if (e.size() != 1 || e[0].size() != 1) return nullptr;
    return &e[0][0];
  }
  template <typename T>
  static const T* As(const ast::Expr& e) {
    const ast::Primary* p = Single(e);
    return p ? boost::get<T>(&p->get()) : nullptr;
  }

  SourceRange RangeOfPrimary(const ParsedFile& pf, const ast::Primary& p) {
    return boost::apply_visitor([&](const auto& node) -> SourceRange { return pf.RangeOf(node); },
                                p.get());
  }
  SourceRange RangeOfExpr(const ParsedFile& pf, const ast::Expr& e) {
    SourceRange r = pf.RangeOf(e);
    if (r.begin == r.end && !e.empty() && !e[0].empty()) r = RangeOfPrimary(pf, e[0][0]);
    return r;
  }

  std::optional<int64_t> IntOf(const ParsedFile& pf, const ast::Expr& e, const char* what) {
    const auto* n = As<ast::Number>(e);
    int64_t v;
    if (n != nullptr && absl::SimpleAtoi(n->text, &v)) return v;
    sink_->Error(RangeOfExpr(pf, e), absl::StrCat(what, " must be an integer"));
    return std::nullopt;
  }
  std::optional<double> DoubleOf(const ParsedFile& pf, const ast::Expr& e, const char* what) {
    const auto* n = As<ast::Number>(e);
    double v;
    if (n != nullptr && absl::SimpleAtod(n->text, &v)) return v;
    sink_->Error(RangeOfExpr(pf, e), absl::StrCat(what, " must be a number"));
    return std::nullopt;
  }
  std::optional<bool> BoolOf(const ParsedFile& pf, const ast::Expr& e, const char* what) {
    const auto* n = As<ast::Name>(e);
    if (n != nullptr && (n->text == "true" || n->text == "True")) return true;
    if (n != nullptr && (n->text == "false" || n->text == "False")) return false;
    sink_->Error(RangeOfExpr(pf, e), absl::StrCat(what, " must be true or false"));
    return std::nullopt;
  }
  std::optional<std::string> StringOf(const ParsedFile& pf, const ast::Expr& e, const char* what) {
    if (const auto* s = As<ast::String>(e)) return s->value;
    sink_->Error(RangeOfExpr(pf, e), absl::StrCat(what, " must be a quoted string"));
    return std::nullopt;
  }
  std::optional<Dtype> DtypeOf(const ParsedFile& pf, const ast::Expr& e) {
    const auto* n = As<ast::Name>(e);
    if (n != nullptr) {
      if (auto d = ParseDtype(n->text)) return d;
    }
    static const std::vector<std::string> kDtypes = {
        "quint8", "qint8", "qint32", "quint4x2", "float16", "float32", "int8", "uint8", "int32"};
    sink_->Error(RangeOfExpr(pf, e),
                 absl::StrCat("unknown dtype", n ? absl::StrCat(" `", n->text, "`") : "",
                              n ? DidYouMean(n->text, kDtypes) : "", "; expected one of ",
                              absl::StrJoin(kDtypes, ", ")));
    return std::nullopt;
  }

  // Checks that a block only uses known field names, each once.
  bool CheckFields(const ParsedFile& pf, const ast::Block& block,
                   const std::vector<std::string>& known, const char* what) {
    bool ok = true;
    std::map<std::string, SourceRange> seen;
    for (const ast::Field& f : block) {
      SourceRange r = pf.RangeOf(f.key);
      if (std::find(known.begin(), known.end(), f.key.text) == known.end()) {
        sink_->Error(r, absl::StrCat("unknown field `", f.key.text, "` in ", what,
                                     DidYouMean(f.key.text, known), "; fields are ",
                                     absl::StrJoin(known, ", ")));
        ok = false;
      } else if (auto [it, fresh] = seen.try_emplace(f.key.text, r); !fresh) {
        Redefinition(r, absl::StrCat("field `", f.key.text, "`"), it->second);
        ok = false;
      }
    }
    return ok;
  }

  // ---------------------------------------------------------------- ops and patterns
  // The ops one primary stands for: a module type, function, quoted method, `_`, a group, or a
  // set of those.
  bool ResolveOps(const ParsedFile& pf, const ast::Primary& p, std::vector<engine::OpRef>* out) {
    SourceRange where = RangeOfPrimary(pf, p);
    if (boost::get<ast::Wildcard>(&p.get())) {
      out->push_back(engine::OpRef::Any());
      out->back().where = where;
      return true;
    }
    if (const auto* s = boost::get<ast::String>(&p.get())) {
      if (s->value.empty()) {
        sink_->Error(where, "a method name cannot be empty");
        return false;
      }
      out->push_back(engine::OpRef::Method(s->value));
      out->back().where = where;
      return true;
    }
    if (const auto* set = boost::get<ast::SetExpr>(&p.get())) return ResolveSet(pf, *set, out);
    if (const auto* n = boost::get<ast::Name>(&p.get())) {
      std::string text = ExpandAliases(n->text, where);
      if (Entity* e = FindEntity(text)) {
        e->used = true;
        if (e->kind != EntityKind::kGroup) {
          sink_->Error(where, absl::StrCat("`", text, "` is ", WithArticle(e->kind),
                                           ", not an op or group"));
          return false;
        }
        const std::vector<engine::OpRef>* ops = Group(text);
        if (ops == nullptr) return false;
        for (engine::OpRef op : *ops) {
          op.where = where;
          out->push_back(std::move(op));
        }
        return true;
      }
      if (text.find('.') == std::string::npos) {
        sink_->Error(where,
                     absl::StrCat("unknown op or group `", text, "`",
                                  DidYouMean(text, EntityNames(EntityKind::kGroup)),
                                  "; write ops fully qualified (torch.nn.modules.conv.Conv2d, "
                                  "torch.nn.functional.relu, operator.add) or methods quoted "
                                  "(\"relu\")"));
        return false;
      }
      // PyTorch's naming: classes are CamelCase, functions lower case.
      bool is_module = std::isupper(static_cast<unsigned char>(LastSegment(text)[0]));
      out->push_back(is_module ? engine::OpRef::Module(text) : engine::OpRef::Function(text));
      out->back().where = where;
      return true;
    }
    sink_->Error(where,
                 "expected an op: a qualified name, a quoted method name, `_`, a group "
                 "or a set { ... }");
    return false;
  }

  bool ResolveSet(const ParsedFile& pf, const ast::SetExpr& set, std::vector<engine::OpRef>* out) {
    bool ok = true;
    for (const ast::Expr& item : set.items) {
      const ast::Primary* one = Single(item);
      if (one == nullptr || boost::get<ast::Call>(&one->get())) {
        sink_->Error(RangeOfExpr(pf, item), "a set of ops holds single ops or groups");
        ok = false;
        continue;
      }
      ok &= ResolveOps(pf, *one, out);
    }
    return ok;
  }

  std::optional<engine::Pattern> PatternAt(const ParsedFile& pf, const ast::Alternatives& alt) {
    SourceRange where = pf.RangeOf(alt);
    if (alt.size() == 1) {
      if (const auto* call = boost::get<ast::Call>(&alt[0].get())) {
        // A tree: op(arg patterns...).
        std::vector<engine::OpRef> ops;
        ast::Primary callee;
        callee = call->callee;
        if (!ResolveOps(pf, callee, &ops)) return std::nullopt;
        engine::Pattern p;
        p.where = pf.RangeOf(*call);
        p.op = ops[0];
        p.alternatives.assign(ops.begin() + 1, ops.end());
        if (call->args.empty()) {
          sink_->Error(p.where,
                       "a pattern tree needs at least one argument pattern (use `_` for "
                       "any argument)");
          return std::nullopt;
        }
        for (const ast::Argument& a : call->args) {
          if (a.keyword) {
            sink_->Error(pf.RangeOf(*a.keyword), "pattern arguments are positional");
            return std::nullopt;
          }
          auto sub = BuildPattern(pf, a.value.get());
          if (!sub) return std::nullopt;
          p.args.push_back(std::move(*sub));
        }
        return p;
      }
    }
    std::vector<engine::OpRef> ops;
    bool ok = true;
    for (const ast::Primary& prim : alt) {
      if (boost::get<ast::Call>(&prim.get())) {
        sink_->Error(RangeOfPrimary(pf, prim),
                     "alternatives (`|`) must be single ops; write a separate pattern for each "
                     "tree");
        ok = false;
        continue;
      }
      ok &= ResolveOps(pf, prim, &ops);
    }
    if (!ok || ops.empty()) {
      if (ok) sink_->Error(where, "empty set of ops");
      return std::nullopt;
    }
    engine::Pattern p = engine::Pattern::Leaf(ops[0]);
    p.alternatives.assign(ops.begin() + 1, ops.end());
    p.where = where;
    return p;
  }

  // `a -> b -> c` is c(b(a)): PyTorch's reversed nested tuple (c, (b, a)).
  std::optional<engine::Pattern> BuildPattern(const ParsedFile& pf, const ast::Expr& e) {
    std::optional<engine::Pattern> inner;
    for (size_t i = 0; i < e.size(); ++i) {
      auto p = PatternAt(pf, e[i]);
      if (!p) return std::nullopt;
      if (inner) {
        if (p->is_tuple()) {
          sink_->Error(p->where,
                       "an op with argument patterns cannot also consume the previous "
                       "op of a chain; write the tree form op(arg, ...)");
          return std::nullopt;
        }
        p->args.push_back(std::move(*inner));
      }
      inner = std::move(p);
    }
    if (!inner) sink_->Error(RangeOfExpr(pf, e), "empty pattern");
    return inner;
  }

  // ---------------------------------------------------------------- observers
  std::optional<ObserverSpec> ObserverOf(const ParsedFile& pf, const ast::Expr& e) {
    SourceRange where = RangeOfExpr(pf, e);
    if (const auto* n = As<ast::Name>(e)) {
      std::string text = ExpandAliases(n->text, where);
      if (Entity* ent = FindEntity(text); ent && ent->kind == EntityKind::kObserver) {
        ent->used = true;
        const ObserverSpec* spec = Observer(text);
        if (spec == nullptr) return std::nullopt;
        return *spec;
      }
      const auto& known = KnownObserverClasses();
      if (std::find(known.begin(), known.end(), LastSegment(text)) != known.end()) {
        return MakeSpec(pf, std::string(LastSegment(text)), where, {});
      }
      std::vector<std::string> names = EntityNames(EntityKind::kObserver);
      names.insert(names.end(), known.begin(), known.end());
      sink_->Error(where, absl::StrCat("unknown observer `", text, "`", DidYouMean(text, names)));
      return std::nullopt;
    }
    if (const auto* call = As<ast::Call>(e)) {
      return MakeSpec(pf, call->callee.text, pf.RangeOf(call->callee), &call->args);
    }
    sink_->Error(where, "expected an observer: Class(arg=value, ...) or an observer's name");
    return std::nullopt;
  }

  std::optional<SpecValue> SpecValueOf(const ParsedFile& pf, const ast::Expr& e) {
    if (const auto* n = As<ast::Number>(e)) {
      int64_t i;
      double d;
      if (absl::SimpleAtoi(n->text, &i)) return SpecValue{i};
      if (absl::SimpleAtod(n->text, &d)) return SpecValue{d};
    }
    if (const auto* n = As<ast::Name>(e)) {
      if (n->text == "true" || n->text == "True") return SpecValue{true};
      if (n->text == "false" || n->text == "False") return SpecValue{false};
      if (n->text == "None" || n->text == "none") return SpecValue{};
      return SpecValue{n->text};
    }
    if (const auto* s = As<ast::String>(e)) return SpecValue{s->value};
    sink_->Error(RangeOfExpr(pf, e),
                 "an observer argument is a number, true/false, None or a name");
    return std::nullopt;
  }

  std::optional<ObserverSpec> MakeSpec(const ParsedFile& pf, std::string cls,
                                       const SourceRange& cls_where,
                                       const std::vector<ast::Argument>* args) {
    cls = std::string(LastSegment(cls));  // torch.ao.quantization.observer.X -> X
    const auto& known = KnownObserverClasses();
    if (std::find(known.begin(), known.end(), cls) == known.end()) {
      sink_->Error(cls_where,
                   absl::StrCat("unknown observer class `", cls, "`", DidYouMean(cls, known)));
      return std::nullopt;
    }
    std::vector<std::pair<std::string, SpecValue>> values;
    std::vector<SourceRange> arg_where;
    bool ok = true;
    if (args != nullptr) {
      for (const ast::Argument& a : *args) {
        if (!a.keyword) {
          sink_->Error(RangeOfExpr(pf, a.value.get()),
                       "observer arguments are keyword arguments (name=value)");
          ok = false;
          continue;
        }
        auto v = SpecValueOf(pf, a.value.get());
        if (!v) {
          ok = false;
          continue;
        }
        values.emplace_back(a.keyword->text, *v);
        SourceRange r = pf.RangeOf(*a.keyword);
        SourceRange vr = RangeOfExpr(pf, a.value.get());
        r.end = std::max(r.end, vr.end);
        arg_where.push_back(r);
      }
    }
    if (!ok) return std::nullopt;
    absl::StatusOr<ObserverSpec> spec = MakeObserverSpec(cls, values);
    if (spec.ok()) return *std::move(spec);
    // Point at the argument the message names, else at the class.
    SourceRange at = cls_where;
    std::string msg(spec.status().message());
    for (size_t i = 0; i < values.size(); ++i) {
      const std::string& k = values[i].first;
      if (absl::StrContains(msg, absl::StrCat("`", k, "`")) ||
          absl::StrContains(msg, absl::StrCat("'", k, "'")) ||
          absl::StrContains(msg, absl::StrCat("\"", k, "\"")) ||
          absl::StrContains(msg, absl::StrCat(" ", k, " ")) ||
          absl::StrContains(msg, absl::StrCat(k, "=")) ||
          absl::StrContains(msg, absl::StrCat(" ", k, ":"))) {
        at = arg_where[i];
        break;
      }
    }
    sink_->Error(at, std::string(msg));
    return std::nullopt;
  }

  // ---------------------------------------------------------------- entities (memoized)
  bool Enter(Entity& e) {
    if (e.state == Entity::State::kDone) return true;
    if (e.state == Entity::State::kFailed) return false;
    if (e.state == Entity::State::kBusy) {
      sink_->Error(e.where, absl::StrCat(EntityKindName(e.kind), " `",
                                         e.named ? e.named->name.text : e.block->name.text,
                                         "` is defined in terms of itself"));
      e.state = Entity::State::kFailed;
      return false;
    }
    e.state = Entity::State::kBusy;
    return true;
  }
  void Leave(Entity& e, bool ok) {
    if (e.state == Entity::State::kBusy)
      e.state = ok ? Entity::State::kDone : Entity::State::kFailed;
  }

  const std::vector<engine::OpRef>* Group(const std::string& name) {
    Entity& e = entities_.at(name);
    if (e.state == Entity::State::kDone) return &out_.groups[name];
    if (!Enter(e)) return nullptr;
    std::vector<engine::OpRef> ops;
    bool ok = true;
    const ast::SetExpr* set = As<ast::SetExpr>(e.named->value);
    if (set == nullptr) {
      sink_->Error(RangeOfExpr(*e.file, e.named->value),
                   "a group is a set of ops: group name = {op, op, ...};");
      ok = false;
    } else {
      ok = ResolveSet(*e.file, *set, &ops);
      std::set<std::string> seen;
      for (const engine::OpRef& op : ops) {
        if (!seen.insert(op.ToString()).second) {
          sink_->Warning(op.where,
                         absl::StrCat("`", op.name, "` is already in group `", name, "`"));
        }
      }
    }
    Leave(e, ok);
    if (!ok) return nullptr;
    return &(out_.groups[name] = std::move(ops));
  }

  // The named observer's spec in out_.observers (evaluated on first use), or null if it failed.
  // A pointer, not a copy: EvaluateEntities only needs it evaluated, users copy what they keep.
  const ObserverSpec* Observer(const std::string& name) {
    Entity& e = entities_.at(name);
    if (e.state == Entity::State::kDone) return &out_.observers.at(name);
    if (!Enter(e)) return nullptr;
    auto spec = ObserverOf(*e.file, e.named->value);
    Leave(e, spec.has_value());
    if (!spec) return nullptr;
    return &(out_.observers[name] = *std::move(spec));
  }

  // Same for a named qconfig (out_.qconfigs).
  const engine::QConfig* QConfigNamed(const std::string& name) {
    Entity& e = entities_.at(name);
    if (e.state == Entity::State::kDone) return &out_.qconfigs.at(name);
    if (!Enter(e)) return nullptr;
    auto q = QConfigOf(*e.file, e.named->value, name);
    Leave(e, q.has_value());
    if (!q) return nullptr;
    q->name = name;  // `qconfig q2 = q;` is q under its own name (plans show q2)
    q->where = e.where;
    return &(out_.qconfigs[name] = *std::move(q));
  }

  engine::QConfig ReuseInput() {
    engine::QConfig q;
    q.name = "reuse_input";
    if (auto a = MakeObserverSpec("ReuseInputObserver", {}); a.ok()) q.activation = *a;
    if (auto w = MakeObserverSpec("NoopObserver", {}); w.ok()) q.weight = *w;
    return q;
  }

  // A qconfig value: `none`, `reuse_input`, another qconfig's name, or a block.
  std::optional<engine::QConfig> QConfigOf(const ParsedFile& pf, const ast::Expr& e,
                                           const std::string& name) {
    SourceRange where = RangeOfExpr(pf, e);
    if (const auto* n = As<ast::Name>(e)) {
      if (n->text == "none" || n->text == "None") return engine::QConfig::None();
      if (n->text == "reuse_input") return ReuseInput();
      Entity* ent = Expect(n->text, EntityKind::kQConfig, where);
      if (ent == nullptr) return std::nullopt;
      const engine::QConfig* q = QConfigNamed(n->text);
      if (q == nullptr) return std::nullopt;
      return *q;
    }
    const auto* block = As<ast::Block>(e);
    if (block == nullptr) {
      sink_->Error(where,
                   "expected a qconfig: { activation: ..., weight: ... }, none, "
                   "reuse_input, or a qconfig's name");
      return std::nullopt;
    }
    // `input_activation` is EqualizationQConfig's name for the activation (fx/_equalize.py):
    // an equalization qconfig is an ordinary qconfig whose observers are equalization observers.
    static const std::vector<std::string> kFields = {"activation", "weight", "bias", "input",
                                                     "output", "input_activation"};
    bool ok = CheckFields(pf, *block, kFields, "qconfig");
    const bool has_activation = std::any_of(block->begin(), block->end(), [](const ast::Field& f) {
      return f.key.text == "activation";
    });
    engine::QConfig q;
    q.name = name;
    q.where = where;
    for (const ast::Field& f : *block) {
      if (f.key.text == "input_activation" && has_activation) {
        sink_->Error(RangeOfExpr(pf, f.value.get()),
                     "`input_activation` and `activation` name the same observer: give one");
        ok = false;
        continue;
      }
      std::optional<ObserverSpec>* slot = f.key.text == "activation"         ? &q.activation
                                          : f.key.text == "input_activation" ? &q.activation
                                          : f.key.text == "weight"           ? &q.weight
                                          : f.key.text == "bias"     ? &q.bias
                                          : f.key.text == "input"    ? &q.input
                                          : f.key.text == "output"   ? &q.output
                                                                     : nullptr;
      if (slot == nullptr) continue;
      auto spec = ObserverOf(pf, f.value.get());
      if (!spec) {
        ok = false;
        continue;
      }
      *slot = std::move(*spec);
    }
    if (ok && !q.activation) {
      sink_->Error(where, "a qconfig needs an `activation` observer");
      ok = false;
    }
    if (!ok) return std::nullopt;
    return q;
  }

  std::optional<engine::DTypeWithConstraints> ConstrainedDtypeOf(const ParsedFile& pf,
                                                                 const ast::Expr& e) {
    engine::DTypeWithConstraints c;
    c.where = RangeOfExpr(pf, e);
    if (const auto* block = As<ast::Block>(e)) {
      static const std::vector<std::string> kFields = {"dtype",
                                                       "quant_min_lower_bound",
                                                       "quant_max_upper_bound",
                                                       "quant_min",
                                                       "quant_max",
                                                       "scale_min_lower_bound",
                                                       "scale_max_upper_bound",
                                                       "scale_exact_match",
                                                       "zero_point_exact_match"};
      bool ok = CheckFields(pf, *block, kFields, "dtype constraints");
      for (const ast::Field& f : *block) {
        const std::string& k = f.key.text;
        const ast::Expr& v = f.value.get();
        if (k == "dtype") {
          auto d = DtypeOf(pf, v);
          ok &= d.has_value();
          c.dtype = d;
        } else if (k == "quant_min_lower_bound" || k == "quant_min") {
          auto i = IntOf(pf, v, k.c_str());
          ok &= i.has_value();
          c.quant_min_lower_bound = i;
        } else if (k == "quant_max_upper_bound" || k == "quant_max") {
          auto i = IntOf(pf, v, k.c_str());
          ok &= i.has_value();
          c.quant_max_upper_bound = i;
        } else if (k == "scale_min_lower_bound") {
          auto d = DoubleOf(pf, v, k.c_str());
          ok &= d.has_value();
          c.scale_min_lower_bound = d;
        } else if (k == "scale_max_upper_bound") {
          auto d = DoubleOf(pf, v, k.c_str());
          ok &= d.has_value();
          c.scale_max_upper_bound = d;
        } else if (k == "scale_exact_match") {
          auto d = DoubleOf(pf, v, k.c_str());
          ok &= d.has_value();
          c.scale_exact_match = d;
        } else if (k == "zero_point_exact_match") {
          auto i = IntOf(pf, v, k.c_str());
          ok &= i.has_value();
          c.zero_point_exact_match = i;
        }
      }
      if (ok && !c.dtype) {
        sink_->Error(c.where, "dtype constraints need a `dtype`");
        ok = false;
      }
      if (ok && c.quant_min_lower_bound && c.quant_max_upper_bound &&
          *c.quant_min_lower_bound > *c.quant_max_upper_bound) {
        sink_->Error(c.where, "quant_min bound is above the quant_max bound");
        ok = false;
      }
      if (!ok) return std::nullopt;
      return c;
    }
    auto d = DtypeOf(pf, e);
    if (!d) return std::nullopt;
    c.dtype = d;
    return c;
  }

  std::optional<engine::DTypeConfig> DTypeConfigOf(const ParsedFile& pf, const ast::Expr& e) {
    SourceRange where = RangeOfExpr(pf, e);
    if (const auto* n = As<ast::Name>(e)) {
      Entity* ent = Expect(n->text, EntityKind::kDTypeConfig, where);
      if (ent == nullptr) return std::nullopt;
      if (ent->state == Entity::State::kDone) return out_.dtype_configs.at(n->text);
      if (!Enter(*ent)) return std::nullopt;
      auto d = DTypeConfigOf(*ent->file, ent->named->value);
      Leave(*ent, d.has_value());
      if (d) out_.dtype_configs[n->text] = *d;
      return d;
    }
    const auto* block = As<ast::Block>(e);
    if (block == nullptr) {
      sink_->Error(where,
                   "expected a dtype config: { input: ..., output: ..., weight: ..., "
                   "bias: ..., is_dynamic: ... } or a dtype_config's name");
      return std::nullopt;
    }
    static const std::vector<std::string> kFields = {"input", "output", "weight", "bias",
                                                     "is_dynamic"};
    bool ok = CheckFields(pf, *block, kFields, "dtype_config");
    engine::DTypeConfig c;
    c.where = where;
    for (const ast::Field& f : *block) {
      const std::string& k = f.key.text;
      const ast::Expr& v = f.value.get();
      if (k == "input" || k == "output" || k == "weight") {
        auto d = ConstrainedDtypeOf(pf, v);
        if (!d) {
          ok = false;
          continue;
        }
        (k == "input" ? c.input_dtype : k == "output" ? c.output_dtype : c.weight_dtype) = *d;
      } else if (k == "bias") {
        auto d = DtypeOf(pf, v);
        ok &= d.has_value();
        c.bias_dtype = d;
      } else if (k == "is_dynamic") {
        auto b = BoolOf(pf, v, "is_dynamic");
        ok &= b.has_value();
        c.is_dynamic = b;
      }
    }
    if (!ok) return std::nullopt;
    return c;
  }

  // ---------------------------------------------------------------- mappings
  const engine::QConfigMapping* Mapping(const std::string& name) {
    Entity& e = entities_.at(name);
    if (e.state == Entity::State::kDone) return &out_.qconfig_mappings.at(name);
    if (!Enter(e)) return nullptr;
    bool ok = true;
    engine::QConfigMapping m;
    m.where = e.where;
    const ParsedFile& pf = *e.file;
    for (const ast::Name& base : e.block->bases) {
      Entity* be = Expect(base.text, EntityKind::kMapping, pf.RangeOf(base));
      const engine::QConfigMapping* bm = be ? Mapping(base.text) : nullptr;
      if (bm == nullptr) {
        ok = false;
        continue;
      }
      MergeMapping(*bm, &m);
    }
    static const std::vector<std::string> kEntries = {"global", "object_type", "module_name_regex",
                                                      "module_name",
                                                      "module_name_object_type_order"};
    for (const ast::Item& item : e.block->items) {
      ok &= MappingItem(pf, item, kEntries, &m);
    }
    Leave(e, ok);
    if (!ok) return nullptr;
    return &(out_.qconfig_mappings[name] = std::move(m));
  }

  // Python dict semantics: a later entry for an existing key replaces its value in place.
  template <typename Vec, typename Same>
  static void Upsert(Vec* v, typename Vec::value_type entry, Same same) {
    for (auto& old : *v) {
      if (same(old, entry)) {
        old.qconfig = std::move(entry.qconfig);
        return;
      }
    }
    v->push_back(std::move(entry));
  }

  // Upsert of every entry of `from`. A mapping's entries are pairwise distinct under `same`
  // (each went in through Upsert), so into an empty vector (the first base of `extends`) that
  // is a plain copy, without the quadratic search.
  template <typename Vec, typename Same>
  static void UpsertAll(Vec* to, const Vec& from, Same same) {
    if (to->empty()) {
      *to = from;
      return;
    }
    for (const auto& en : from) Upsert(to, en, same);
  }

  static void MergeMapping(const engine::QConfigMapping& from, engine::QConfigMapping* to) {
    if (from.global_qconfig) to->global_qconfig = from.global_qconfig;
    UpsertAll(&to->object_type_qconfigs, from.object_type_qconfigs,
              [](const auto& a, const auto& b) { return a.object_type.SameOp(b.object_type); });
    UpsertAll(&to->module_name_regex_qconfigs, from.module_name_regex_qconfigs,
              [](const auto& a, const auto& b) { return a.regex == b.regex; });
    UpsertAll(&to->module_name_qconfigs, from.module_name_qconfigs,
              [](const auto& a, const auto& b) { return a.module_name == b.module_name; });
    UpsertAll(&to->module_name_object_type_order_qconfigs,
              from.module_name_object_type_order_qconfigs, [](const auto& a, const auto& b) {
                return a.module_name == b.module_name && a.object_type.SameOp(b.object_type) &&
                       a.index == b.index;
              });
  }


  bool MappingItem(const ParsedFile& pf, const ast::Item& item,
                   const std::vector<std::string>& kinds, engine::QConfigMapping* m) {
    const std::string& kw = item.keyword.text;
    SourceRange kw_where = pf.RangeOf(item.keyword);
    if (std::find(kinds.begin(), kinds.end(), kw) == kinds.end()) {
      sink_->Error(kw_where,
                   absl::StrCat("unknown qconfig_mapping entry `", kw, "`", DidYouMean(kw, kinds),
                                "; entries are ", absl::StrJoin(kinds, ", ")));
      return false;
    }
    const auto* value = boost::get<boost::spirit::x3::forward_ast<ast::Expr>>(&item.body.get());
    if (value == nullptr) {
      sink_->Error(kw_where, absl::StrCat("`", kw, "` takes `: qconfig;`, not a block"));
      return false;
    }
    size_t want = kw == "global" ? 0 : kw == "module_name_object_type_order" ? 3 : 1;
    if (item.keys.size() != want) {
      static const std::map<std::string, std::string> kUsage = {
          {"global", "global: QCONFIG;"},
          {"object_type", "object_type OP_OR_GROUP: QCONFIG;"},
          {"module_name_regex", "module_name_regex \"REGEX\": QCONFIG;"},
          {"module_name", "module_name \"path.to.module\": QCONFIG;"},
          {"module_name_object_type_order",
           "module_name_object_type_order \"path\", OP, INDEX: QCONFIG;"}};
      sink_->Error(kw_where, absl::StrCat("`", kw, "` takes ", want, " key", want == 1 ? "" : "s",
                                          ": ", kUsage.at(kw)));
      return false;
    }
    auto q = QConfigOf(
        pf, value->get(),
        absl::StrCat(kw, "@", pf.file->name(), ":", pf.file->Locate(kw_where.begin).line));
    if (!q) return false;
    if (kw == "global") {
      m->global_qconfig = *std::move(q);
      return true;
    }
    if (kw == "object_type") {
      const ast::Primary* p = Single(item.keys[0]);
      std::vector<engine::OpRef> ops;
      if (p == nullptr || !ResolveOps(pf, *p, &ops)) {
        if (p == nullptr) sink_->Error(RangeOfExpr(pf, item.keys[0]), "expected an op or group");
        return false;
      }
      for (size_t i = 0; i < ops.size(); ++i) {
        engine::OpRef& op = ops[i];
        if (op.kind == engine::OpRef::Kind::kAny) {
          sink_->Error(op.where, "object_type needs a concrete op, not `_`");
          return false;
        }
        // Each op gets its own copy of the qconfig; the last takes the original.
        Upsert(&m->object_type_qconfigs,
               {std::move(op), i + 1 == ops.size() ? *std::move(q) : *q},
               [](const auto& a, const auto& b) { return a.object_type.SameOp(b.object_type); });
      }
      return true;
    }
    auto s = StringOf(pf, item.keys[0], kw == "module_name_regex" ? "a regex" : "a module name");
    if (!s) return false;
    if (kw == "module_name_regex") {
      // std::regex compiles recursively; bound what it is given.
      if (s->size() > 1000) {
        sink_->Error(RangeOfExpr(pf, item.keys[0]), "regex longer than 1000 characters");
        return false;
      }
      try {
        std::regex re(*s);
      } catch (const std::regex_error& e) {
        sink_->Error(RangeOfExpr(pf, item.keys[0]), absl::StrCat("invalid regex: ", e.what()));
        return false;
      }
      Upsert(&m->module_name_regex_qconfigs, {*std::move(s), *std::move(q)},
             [](const auto& a, const auto& b) { return a.regex == b.regex; });
      return true;
    }
    if (kw == "module_name") {
      if (s->empty()) {
        sink_->Warning(RangeOfExpr(pf, item.keys[0]),
                       "module_name \"\" never matches (PyTorch skips the empty name); use "
                       "global");
      }
      Upsert(&m->module_name_qconfigs, {*std::move(s), *std::move(q)},
             [](const auto& a, const auto& b) { return a.module_name == b.module_name; });
      return true;
    }
    // module_name_object_type_order
    const ast::Primary* p = Single(item.keys[1]);
    std::vector<engine::OpRef> ops;
    if (p == nullptr || !ResolveOps(pf, *p, &ops)) return false;
    if (ops.size() != 1 || ops[0].kind == engine::OpRef::Kind::kAny) {
      sink_->Error(RangeOfExpr(pf, item.keys[1]), "expected exactly one concrete op");
      return false;
    }
    auto idx = IntOf(pf, item.keys[2], "the call index");
    if (!idx) return false;
    if (*idx < 0) {
      sink_->Error(RangeOfExpr(pf, item.keys[2]), "the call index must be >= 0");
      return false;
    }
    engine::QConfigMapping::ModuleNameObjectTypeOrderEntry en{*std::move(s), std::move(ops[0]),
                                                              static_cast<int>(*idx),
                                                              *std::move(q)};
    Upsert(&m->module_name_object_type_order_qconfigs, std::move(en),
           [](const auto& a, const auto& b) {
             return a.module_name == b.module_name && a.object_type.SameOp(b.object_type) &&
                    a.index == b.index;
           });
    return true;
  }

  // ---------------------------------------------------------------- backends
  const engine::BackendConfig* Backend(const std::string& name) {
    Entity& e = entities_.at(name);
    if (e.state == Entity::State::kDone) return &out_.backends.at(name);
    if (!Enter(e)) return nullptr;
    bool ok = true;
    engine::BackendConfig b;
    b.name = name;
    b.where = e.where;
    const ParsedFile& pf = *e.file;
    for (const ast::Name& base : e.block->bases) {
      Entity* be = Expect(base.text, EntityKind::kBackend, pf.RangeOf(base));
      const engine::BackendConfig* bb = be ? Backend(base.text) : nullptr;
      if (bb == nullptr) {
        ok = false;
        continue;
      }
      b.configs.insert(b.configs.end(), bb->configs.begin(), bb->configs.end());
    }
    size_t inherited = b.configs.size();
    // Expanded plain patterns already configured in this backend's own items.
    std::map<std::string, SourceRange> own_seen;
    for (const ast::Item& item : e.block->items) {
      auto c = PatternConfig(pf, item);
      if (!c) {
        ok = false;
        continue;
      }
      std::vector<engine::Pattern> plain = engine::ExpandAlternatives(c->pattern);
      size_t covered = 0;
      SourceRange first_prev;
      for (const engine::Pattern& p : plain) {
        auto it = own_seen.find(p.ToString());
        if (it != own_seen.end()) {
          if (covered == 0) first_prev = it->second;
          ++covered;
        }
      }
      if (covered == plain.size()) {
        Diagnostic d{plain.size() == 1 ? Severity::kError : Severity::kWarning,
                     c->pattern.where,
                     plain.size() == 1
                         ? absl::StrCat("duplicate pattern ", plain[0].ToString(), " in backend `",
                                        name, "`")
                         : "unreachable pattern: every alternative is already configured above",
                     {}};
        d.notes.push_back(Diagnostic{Severity::kNote, first_prev, "configured here", {}});
        sink_->Add(std::move(d));
        if (plain.size() == 1) ok = false;
        continue;
      }
      for (const engine::Pattern& p : plain) own_seen.emplace(p.ToString(), c->pattern.where);
      // An own pattern replaces an inherited one (BackendConfig.set_backend_pattern_config).
      bool replaced = false;
      for (size_t i = 0; i < inherited; ++i) {
        if (b.configs[i].pattern.SameAs(c->pattern)) {
          b.configs[i] = *std::move(c);
          replaced = true;
          break;
        }
      }
      if (!replaced) b.configs.push_back(std::move(*c));
    }
    Leave(e, ok);
    if (!ok) return nullptr;
    return &(out_.backends[name] = std::move(b));
  }

  // Patterns that can never match, independent of any graph.
  bool CheckMatchable(const engine::Pattern& p, bool top) {
    if (top && p.op.kind == engine::OpRef::Kind::kAny && p.alternatives.empty()) {
      sink_->Error(p.where,
                   "pattern can never match: its last op is `_` (MatchAllNode only "
                   "matches arguments)");
      return false;
    }
    if (p.op.kind == engine::OpRef::Kind::kAny && p.is_tuple()) {
      sink_->Error(p.where, "pattern can never match: `_` cannot have argument patterns");
      return false;
    }
    bool ok = true;
    for (const auto& a : p.args) ok &= CheckMatchable(a, false);
    return ok;
  }

  std::optional<std::string> ModuleTypeOf(const ParsedFile& pf, const ast::Expr& e,
                                          const char* what) {
    const ast::Primary* p = Single(e);
    std::vector<engine::OpRef> ops;
    if (p != nullptr && boost::get<ast::Name>(&p->get()) && ResolveOps(pf, *p, &ops) &&
        ops.size() == 1 && ops[0].kind == engine::OpRef::Kind::kModule) {
      return ops[0].name;
    }
    if (ops.empty() || ops.size() != 1 || ops[0].kind != engine::OpRef::Kind::kModule) {
      sink_->Error(RangeOfExpr(pf, e),
                   absl::StrCat(what, " must be one module type (a qualified CamelCase name)"));
    }
    return std::nullopt;
  }

  std::optional<engine::BackendPatternConfig> PatternConfig(const ParsedFile& pf,
                                                            const ast::Item& item) {
    const std::string& kw = item.keyword.text;
    SourceRange kw_where = pf.RangeOf(item.keyword);
    if (kw != "op" && kw != "pattern") {
      sink_->Error(kw_where,
                   absl::StrCat("unknown backend entry `", kw, "`",
                                DidYouMean(kw, std::vector<std::string>{"op", "pattern"}),
                                "; entries are `op OPS { ... }` and `pattern P { ... }`"));
      return std::nullopt;
    }
    if (item.keys.size() != 1) {
      sink_->Error(kw_where, absl::StrCat("`", kw, "` takes exactly one ",
                                          kw == "op" ? "op, group or set" : "pattern"));
      return std::nullopt;
    }
    const auto* body = boost::get<ast::Block>(&item.body.get());
    if (body == nullptr) {
      sink_->Error(kw_where, absl::StrCat("`", kw,
                                          "` takes a block { observation: ...; "
                                          "dtypes: [...]; ... }"));
      return std::nullopt;
    }
    const ast::Expr& key = item.keys[0];
    if (kw == "op" && (key.size() != 1 || (Single(key) && As<ast::Call>(key)))) {
      sink_->Error(RangeOfExpr(pf, key),
                   "`op` takes single ops (a name, group or set); use "
                   "`pattern` for sequences and trees");
      return std::nullopt;
    }
    auto pattern = BuildPattern(pf, key);
    if (!pattern) return std::nullopt;
    if (!CheckMatchable(*pattern, true)) return std::nullopt;
    engine::BackendPatternConfig c;
    c.pattern = std::move(*pattern);
    c.where = pf.RangeOf(item);
    static const std::vector<std::string> kFields = {"observation",
                                                     "dtypes",
                                                     "weight",
                                                     "bias",
                                                     "root_module",
                                                     "fuse",
                                                     "fused_module",
                                                     "qat_module",
                                                     "reference_module",
                                                     "fixed_qparams",
                                                     "fixed_qparams_fake_quantize",
                                                     "num_tensor_args",
                                                     "root_node_getter",
                                                     "extra_inputs_getter",
                                                     "input_output_observed"};
    bool ok = CheckFields(pf, *body, kFields, "a pattern config");
    for (const ast::Field& f : *body) {
      const std::string& k = f.key.text;
      const ast::Expr& v = f.value.get();
      SourceRange vr = RangeOfExpr(pf, v);
      if (k == "observation") {
        auto t = ObservationTypeOf(pf, v);
        ok &= t.has_value();
        if (t) c.observation_type = *t;
      } else if (k == "dtypes") {
        std::vector<const ast::Expr*> items;
        if (const auto* l = As<ast::ListExpr>(v)) {
          for (const ast::Expr& x : l->items) items.push_back(&x);
        } else {
          items.push_back(&v);
        }
        for (const ast::Expr* x : items) {
          auto d = DTypeConfigOf(pf, *x);
          ok &= d.has_value();
          if (d) c.dtype_configs.push_back(*std::move(d));
        }
      } else if (k == "weight" || k == "bias") {
        auto i = IntOf(pf, v, "an argument position");
        ok &= i.has_value();
        if (i && *i < 0) {
          sink_->Error(vr, "an argument position must be >= 0");
          ok = false;
        }
        if (i) c.input_type_to_index[k] = static_cast<int>(*i);
      } else if (k == "root_module" || k == "fused_module" || k == "qat_module" ||
                 k == "reference_module") {
        auto t = ModuleTypeOf(pf, v, k.c_str());
        ok &= t.has_value();
        if (!t) continue;
        if (k == "root_module") c.root_module = t;
        if (k == "fused_module") c.fused_module = t;
        if (k == "qat_module") c.qat_module = t;
        if (k == "reference_module") c.reference_quantized_module = t;
      } else if (k == "fuse") {
        ok &= FuserOf(pf, v, &c);
      } else if (k == "fixed_qparams" || k == "fixed_qparams_fake_quantize") {
        auto spec = ObserverOf(pf, v);
        ok &= spec.has_value();
        if (spec) {
          (k == "fixed_qparams" ? c.overwrite_output_observer : c.overwrite_output_fake_quantize) =
              *spec;
        }
      } else if (k == "num_tensor_args") {
        const auto* b = As<ast::Block>(v);
        if (b == nullptr) {
          sink_->Error(vr, "num_tensor_args is a block { one: OBSERVATION, two: OBSERVATION }");
          ok = false;
          continue;
        }
        ok &= CheckFields(pf, *b, {"one", "two"}, "num_tensor_args");
        for (const ast::Field& nf : *b) {
          auto t = ObservationTypeOf(pf, nf.value.get());
          ok &= t.has_value();
          if (t) c.num_tensor_args_to_observation_type[nf.key.text == "one" ? 1 : 2] = *t;
        }
      } else if (k == "root_node_getter" || k == "extra_inputs_getter") {
        auto s = StringOf(pf, v, k.c_str());
        ok &= s.has_value();
        if (s) (k == "root_node_getter" ? c.root_node_getter : c.extra_inputs_getter) = *s;
      } else if (k == "input_output_observed") {
        auto b = BoolOf(pf, v, k.c_str());
        ok &= b.has_value();
        c.input_output_observed = b;
      }
    }
    if (!ok) return std::nullopt;
    return c;
  }

  std::optional<engine::ObservationType> ObservationTypeOf(const ParsedFile& pf,
                                                           const ast::Expr& e) {
    static const std::vector<std::string> kTypes = {"output_use_different_observer_as_input",
                                                    "output_share_observer_with_input",
                                                    "input_output_not_observed"};
    const auto* n = As<ast::Name>(e);
    if (n != nullptr) {
      if (auto t = engine::ParseObservationType(n->text)) return t;
    }
    sink_->Error(RangeOfExpr(pf, e),
                 absl::StrCat("unknown observation type", n ? absl::StrCat(" `", n->text, "`") : "",
                              n ? DidYouMean(n->text, kTypes) : "", "; expected one of ",
                              absl::StrJoin(kTypes, ", ")));
    return std::nullopt;
  }

  // fuse: sequential(FusedType)  |  fold_bn(name="fuse_conv_bn", eval=Type, qat=Type)
  bool FuserOf(const ParsedFile& pf, const ast::Expr& e, engine::BackendPatternConfig* c) {
    const auto* call = As<ast::Call>(e);
    SourceRange where = RangeOfExpr(pf, e);
    if (call == nullptr || (call->callee.text != "sequential" && call->callee.text != "fold_bn")) {
      sink_->Error(call ? pf.RangeOf(call->callee) : where,
                   "expected a fuser: sequential(FusedModuleType) or "
                   "fold_bn(name=\"...\", eval=Type, qat=Type)");
      return false;
    }
    engine::FuserMethod& f = c->fuser_method;
    if (call->callee.text == "sequential") {
      if (call->args.size() != 1 || call->args[0].keyword) {
        sink_->Error(where, "sequential(...) takes the fused module type");
        return false;
      }
      auto t = ModuleTypeOf(pf, call->args[0].value.get(), "the fused module");
      if (!t) return false;
      f.kind = engine::FuserMethod::Kind::kSequential;
      f.name = "sequential";
      f.eval_module_type = *t;
      if (!c->fused_module) c->fused_module = *t;
      return true;
    }
    f.kind = engine::FuserMethod::Kind::kFoldBn;
    bool ok = true;
    for (const ast::Argument& a : call->args) {
      if (!a.keyword ||
          (a.keyword->text != "name" && a.keyword->text != "eval" && a.keyword->text != "qat")) {
        sink_->Error(a.keyword ? pf.RangeOf(*a.keyword) : RangeOfExpr(pf, a.value.get()),
                     "fold_bn takes name=\"...\", eval=Type and qat=Type");
        ok = false;
        continue;
      }
      if (a.keyword->text == "name") {
        auto s = StringOf(pf, a.value.get(), "name");
        ok &= s.has_value();
        if (s) f.name = *s;
      } else {
        auto t = ModuleTypeOf(pf, a.value.get(), a.keyword->text.c_str());
        ok &= t.has_value();
        if (t) (a.keyword->text == "eval" ? f.eval_module_type : f.qat_module_type) = *t;
      }
    }
    if (f.name.empty()) f.name = "fold_bn";
    return ok;
  }

  void EvaluateEntities() {
    for (const std::string& name : entity_order_) {
      Entity& e = entities_.at(name);
      switch (e.kind) {
        case EntityKind::kGroup:
          Group(name);
          break;
        case EntityKind::kObserver:
          Observer(name);
          break;
        case EntityKind::kQConfig:
          QConfigNamed(name);
          break;
        case EntityKind::kDTypeConfig: {
          if (e.state == Entity::State::kNew) {
            if (Enter(e)) {
              auto d = DTypeConfigOf(*e.file, e.named->value);
              Leave(e, d.has_value());
              if (d) out_.dtype_configs[name] = *d;
            }
          }
          break;
        }
        case EntityKind::kMapping:
          Mapping(name);
          break;
        case EntityKind::kBackend:
          Backend(name);
          break;
      }
    }
  }

  // ---------------------------------------------------------------- relations and rules
  void CompileRelationsAndRules() {
    engine::Program& prog = out_.program;
    for (const engine::RelationDecl& b : options_.builtin_relations) {
      if (prog.Find(b.name) != engine::Program::kInvalid) continue;
      engine::RelationDecl d = b;
      d.kind = engine::RelationDecl::Kind::kInput;
      prog.AddRelation(d);
      relations_[b.name] = RelationInfo{d, true};
    }
    for (const auto& [pf, r] : relation_decls_) DeclareRelation(*pf, *r);
    std::map<std::string, SourceRange> rule_names;
    for (const RuleRef& rr : rules_) {
      SourceRange r = rr.file->RangeOf(rr.decl->name);
      auto [it, fresh] = rule_names.try_emplace(rr.decl->name.text, r);
      if (!fresh) {
        Redefinition(r, absl::StrCat("rule `", rr.decl->name.text, "`"), it->second);
        continue;
      }
      CompileRule(*rr.file, *rr.decl);
    }
    if (sink_->has_errors()) return;
    if (auto cycle = engine::FindNegationCycle(prog)) {
      const engine::Rule& first = prog.rules[cycle->rules[0]];
      SourceRange at = first.where;
      for (size_t i = 0; i < cycle->rules.size(); ++i) {
        if (cycle->negated[i]) {
          at = prog.rules[cycle->rules[i]].body[cycle->literals[i]].where;
          break;
        }
      }
      Diagnostic d{
          Severity::kError, at, absl::StrCat("negation is not stratifiable: ", cycle->text), {}};
      for (size_t i = 0; i < cycle->rules.size(); ++i) {
        const engine::Rule& rule = prog.rules[cycle->rules[i]];
        d.notes.push_back(Diagnostic{
            Severity::kNote,
            rule.body[cycle->literals[i]].where,
            absl::StrCat("rule `", rule.name, "`: ", prog.relations[cycle->relations[i]].name,
                         " depends on ", cycle->negated[i] ? "the negation of " : "",
                         prog.relations[cycle->relations[(i + 1) % cycle->relations.size()]].name),
            {}});
      }
      sink_->Add(std::move(d));
    }
  }

  void DeclareRelation(const ParsedFile& pf, const ast::RelationDecl& r) {
    SourceRange where = pf.RangeOf(r.name);
    engine::RelationDecl d;
    d.name = r.name.text;
    d.where = where;
    d.kind = r.qualifier == "input relation" ? engine::RelationDecl::Kind::kInput
             : r.qualifier == "equivalence"  ? engine::RelationDecl::Kind::kEquivalence
                                             : engine::RelationDecl::Kind::kDerived;
    bool ok = true;
    if (r.name.text.find('.') != std::string::npos || IsVariableName(r.name.text)) {
      sink_->Error(where, "a relation name is a single lower-case identifier");
      ok = false;
    }
    for (const ast::Column& c : r.columns) {
      const ast::Name& type_name = c.type ? *c.type : c.first;
      auto t = ParseColumnType(type_name.text);
      if (!t) {
        sink_->Error(pf.RangeOf(type_name),
                     absl::StrCat("unknown column type `", type_name.text, "`",
                                  DidYouMean(type_name.text, kColumnTypeNames), "; types are ",
                                  absl::StrJoin(kColumnTypeNames, ", ")));
        ok = false;
        continue;
      }
      d.columns.push_back(*t);
      d.column_names.push_back(c.type ? c.first.text : "");
    }
    if (ok && d.kind == engine::RelationDecl::Kind::kEquivalence &&
        (d.columns.size() != 2 || d.columns[0] != d.columns[1])) {
      sink_->Error(where, "an equivalence relation has two columns of the same type");
      ok = false;
    }
    if (!ok) return;
    auto existing = relations_.find(d.name);
    if (existing != relations_.end()) {
      RelationInfo& info = existing->second;
      if (info.builtin && d.kind == engine::RelationDecl::Kind::kInput) {
        if (info.decl.columns != d.columns) {
          std::vector<std::string> want;
          for (auto t : info.decl.columns) want.push_back(ColumnTypeName(t));
          sink_->Error(where, absl::StrCat("input relation `", d.name,
                                           "` does not match the engine's: it has columns (",
                                           absl::StrJoin(want, ", "), ")"));
        }
        return;  // a matching redeclaration documents the built-in
      }
      if (info.builtin) {
        sink_->Error(where, absl::StrCat("`", d.name,
                                         "` is a built-in input relation; rules "
                                         "cannot define it"));
        return;
      }
      Redefinition(where, absl::StrCat("relation `", d.name, "`"), info.decl.where);
      return;
    }
    if (d.kind == engine::RelationDecl::Kind::kInput && !options_.builtin_relations.empty()) {
      std::vector<std::string> names;
      for (const auto& b : options_.builtin_relations) names.push_back(b.name);
      sink_->Error(where, absl::StrCat("the engine provides no input relation `", d.name, "`",
                                       DidYouMean(d.name, names)));
      return;
    }
    out_.program.AddRelation(d);
    relations_[d.name] = RelationInfo{d, false};
  }

  struct VarInfo {
    int index;
    std::optional<engine::ColumnType> type;
    SourceRange first;
    int positive_uses = 0;
    int uses = 0;
    bool bound = false;
  };

  struct RuleState {
    const ParsedFile* pf;
    engine::Rule rule;
    std::map<std::string, VarInfo> vars;
    bool ok = true;
  };

  // Lowers one term in a column of type `want` (nullopt: comparisons, type from context).
  std::optional<engine::Term> LowerTerm(RuleState& st, const ast::Term& t,
                                        std::optional<engine::ColumnType> want, bool positive,
                                        bool in_head, std::optional<engine::ColumnType>* type_out) {
    const ParsedFile& pf = *st.pf;
    SourceRange where = boost::apply_visitor(
        [&](const auto& node) -> SourceRange { return pf.RangeOf(node); }, t.get());
    auto mismatch = [&](const char* what) {
      sink_->Error(where, absl::StrCat("type error: ", what, " in a column of type ",
                                       ColumnTypeName(*want)));
      st.ok = false;
      return std::nullopt;
    };
    if (boost::get<ast::Wildcard>(&t.get())) {
      if (in_head) {
        sink_->Error(where, "`_` cannot appear in a rule head");
        st.ok = false;
        return std::nullopt;
      }
      if (!want) {
        sink_->Error(where, "`_` cannot appear in a comparison");
        st.ok = false;
        return std::nullopt;
      }
      return engine::Term::Wild();
    }
    if (const auto* n = boost::get<ast::Number>(&t.get())) {
      int64_t i;
      double d;
      if (type_out) *type_out = engine::ColumnType::kInt;
      if (want && *want != engine::ColumnType::kInt) return mismatch("a number");
      if (absl::SimpleAtoi(n->text, &i)) return engine::Term::Const(i);
      if (absl::SimpleAtod(n->text, &d)) return engine::Term::Const(FloatKeyOf(d));
      sink_->Error(where, "number out of range");
      st.ok = false;
      return std::nullopt;
    }
    std::string symbol;
    if (const auto* s = boost::get<ast::String>(&t.get())) {
      symbol = s->value;
      // A group named in a rule (group_op("equalization_ops", K, T)) is used.
      if (Entity* e = FindEntity(symbol); e != nullptr && e->kind == EntityKind::kGroup) {
        e->used = true;
      }
    } else {
      const auto& name = boost::get<ast::Name>(t.get());
      if (IsVariableName(name.text) && !aliases_.count(name.text)) {
        auto [it, fresh] = st.vars.try_emplace(
            name.text, VarInfo{static_cast<int>(st.vars.size()), std::nullopt, where});
        VarInfo& v = it->second;
        if (fresh) st.rule.variable_names.push_back(name.text);
        ++v.uses;
        if (positive) {
          ++v.positive_uses;
          v.bound = true;
        }
        if (want) {
          if (!v.type) {
            v.type = want;
          } else if (*v.type != *want) {
            Diagnostic d{Severity::kError,
                         where,
                         absl::StrCat("type error: variable `", name.text, "` is used as ",
                                      ColumnTypeName(*want), " here but as ",
                                      ColumnTypeName(*v.type), " before"),
                         {}};
            d.notes.push_back(Diagnostic{Severity::kNote, v.first, "first used here", {}});
            sink_->Add(std::move(d));
            st.ok = false;
          }
        }
        if (type_out) *type_out = v.type;
        return engine::Term::Var(v.index);
      }
      symbol = ExpandAliases(name.text, where);
      if (Entity* e = FindEntity(symbol)) e->used = true;
    }
    // qconfig / observer / pattern values are opaque ids the engine assigns per run; rules
    // reach them through their names (qconfig_name, observer_class, pattern_text).
    if (want && (*want == engine::ColumnType::kQConfig || *want == engine::ColumnType::kObserver ||
                 *want == engine::ColumnType::kPattern)) {
      sink_->Error(where, absl::StrCat("type error: a ", ColumnTypeName(*want),
                                       " column holds ids, not constants; bind a variable and "
                                       "compare its name (e.g. ",
                                       *want == engine::ColumnType::kObserver
                                           ? absl::StrCat("observer_name(O, ", symbol, ")")
                                           : std::string("qconfig_name(Q, \"default\")"),
                                       ")"));
      st.ok = false;
      return std::nullopt;
    }
    if (type_out) *type_out = engine::ColumnType::kSymbol;
    if (want && (*want == engine::ColumnType::kInt || *want == engine::ColumnType::kNode ||
                 *want == engine::ColumnType::kEdge)) {
      return mismatch("a symbol");
    }
    return engine::Term::Const(out_.symbols->Intern(symbol));
  }

  std::optional<engine::Atom> LowerAtom(RuleState& st, const ast::Atom& a, bool positive,
                                        bool in_head) {
    const ParsedFile& pf = *st.pf;
    SourceRange where = pf.RangeOf(a.relation);
    auto it = relations_.find(a.relation.text);
    if (it == relations_.end()) {
      std::vector<std::string> names;
      for (const auto& [n, _] : relations_) names.push_back(n);
      sink_->Error(where, absl::StrCat("unknown relation `", a.relation.text, "`",
                                       DidYouMean(a.relation.text, names)));
      st.ok = false;
      return std::nullopt;
    }
    RelationInfo& info = it->second;
    (in_head ? info.used_in_head : info.used_in_body) = true;
    if (a.args.size() != info.decl.columns.size()) {
      Diagnostic d{
          Severity::kError,
          where,
          absl::StrCat("relation `", a.relation.text, "` has ", info.decl.columns.size(), " column",
                       info.decl.columns.size() == 1 ? "" : "s", ", not ", a.args.size()),
          {}};
      if (info.decl.where.file) {
        d.notes.push_back(Diagnostic{Severity::kNote, info.decl.where, "declared here", {}});
      }
      sink_->Add(std::move(d));
      st.ok = false;
      return std::nullopt;
    }
    if (in_head && info.decl.kind == engine::RelationDecl::Kind::kInput) {
      sink_->Error(where, absl::StrCat("`", a.relation.text,
                                       "` is an input relation; rules cannot derive its facts"));
      st.ok = false;
      return std::nullopt;
    }
    engine::Atom out;
    out.relation = out_.program.Find(a.relation.text);
    bool ok = true;
    for (size_t i = 0; i < a.args.size(); ++i) {
      auto t = LowerTerm(st, a.args[i], info.decl.columns[i], positive, in_head, nullptr);
      if (!t) {
        ok = false;
        continue;
      }
      out.args.push_back(*t);
    }
    if (!ok) return std::nullopt;
    return out;
  }

  void CompileRule(const ParsedFile& pf, const ast::RuleDecl& r) {
    RuleState st{&pf, {}, {}, true};
    st.rule.name = r.name.text;
    st.rule.where = pf.RangeOf(r.name);
    // Positive atoms first: they bind variables and give them types.
    std::vector<std::optional<engine::Literal>> lowered(r.body.size());
    for (size_t i = 0; i < r.body.size(); ++i) {
      const ast::Literal& lit = r.body[i];
      const auto* atom = boost::get<ast::Atom>(&lit.body.get());
      if (atom == nullptr || lit.negated) continue;
      auto a = LowerAtom(st, *atom, true, false);
      if (!a) continue;
      engine::Literal l;
      l.kind = engine::Literal::Kind::kPositive;
      l.atom = std::move(*a);
      l.where = pf.RangeOf(lit);
      lowered[i] = std::move(l);
    }
    // Comparisons: `X = term` binds X when the other side is bound (repeat to a fixpoint).
    std::vector<size_t> comparisons;
    for (size_t i = 0; i < r.body.size(); ++i) {
      const ast::Literal& lit = r.body[i];
      if (const auto* cmp = boost::get<ast::Comparison>(&lit.body.get())) {
        if (lit.negated) {
          sink_->Error(pf.RangeOf(lit),
                       "a comparison cannot be negated; use the opposite "
                       "operator");
          st.ok = false;
          continue;
        }
        (void)cmp;
        comparisons.push_back(i);
      }
    }
    auto term_var = [&](const ast::Term& t) -> VarInfo* {
      const auto* n = boost::get<ast::Name>(&t.get());
      if (n == nullptr || !IsVariableName(n->text) || aliases_.count(n->text)) return nullptr;
      auto it = st.vars.find(n->text);
      return it == st.vars.end() ? nullptr : &it->second;
    };
    auto is_bound = [&](const ast::Term& t) {
      const auto* n = boost::get<ast::Name>(&t.get());
      if (n == nullptr || !IsVariableName(n->text) || aliases_.count(n->text)) return true;
      VarInfo* v = term_var(t);
      return v != nullptr && v->bound;
    };
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t i : comparisons) {
        const auto& cmp = boost::get<ast::Comparison>(r.body[i].body.get());
        if (cmp.op != "=") continue;
        bool lb = is_bound(cmp.lhs), rb = is_bound(cmp.rhs);
        if (lb == rb) continue;
        const ast::Term& unbound = lb ? cmp.rhs : cmp.lhs;
        const auto& n = boost::get<ast::Name>(unbound.get());
        SourceRange where = pf.RangeOf(n);
        auto [it, fresh] = st.vars.try_emplace(
            n.text, VarInfo{static_cast<int>(st.vars.size()), std::nullopt, where});
        if (fresh) st.rule.variable_names.push_back(n.text);
        it->second.bound = true;
        changed = true;
      }
    }
    for (size_t i : comparisons) {
      const ast::Literal& lit = r.body[i];
      const auto& cmp = boost::get<ast::Comparison>(lit.body.get());
      for (const ast::Term* t : {&cmp.lhs, &cmp.rhs}) {
        if (!is_bound(*t)) {
          const auto& n = boost::get<ast::Name>(t->get());
          sink_->Error(pf.RangeOf(n), absl::StrCat("variable `", n.text,
                                                   "` is not bound by a positive atom "
                                                   "(range restriction)"));
          st.ok = false;
        }
      }
      if (!st.ok) continue;
      std::optional<engine::ColumnType> lt, rt;
      // Infer the type of each side; a constant takes the other side's type.
      VarInfo* lv = term_var(cmp.lhs);
      VarInfo* rv = term_var(cmp.rhs);
      std::optional<engine::ColumnType> want = lv && lv->type   ? lv->type
                                               : rv && rv->type ? rv->type
                                                                : std::nullopt;
      auto l = LowerTerm(st, cmp.lhs, want, false, false, &lt);
      auto rr = LowerTerm(st, cmp.rhs, want ? want : lt, false, false, &rt);
      if (!l || !rr) continue;
      if (lt && rt && *lt != *rt) {
        sink_->Error(pf.RangeOf(cmp), absl::StrCat("type error: comparing ", ColumnTypeName(*lt),
                                                   " with ", ColumnTypeName(*rt)));
        st.ok = false;
        continue;
      }
      // A variable bound only by `=` takes the type of the other side.
      if (lv && !lv->type) lv->type = rt;
      if (rv && !rv->type) rv->type = lt;
      // Ordering: ints by value; nodes and edges by graph order (their ids are dense in it).
      if (cmp.op != "=" && cmp.op != "!=" && lt && *lt != engine::ColumnType::kInt &&
          *lt != engine::ColumnType::kNode && *lt != engine::ColumnType::kEdge) {
        sink_->Error(pf.RangeOf(cmp),
                     absl::StrCat("`", cmp.op, "` compares ints, not ", ColumnTypeName(*lt), "s"));
        st.ok = false;
        continue;
      }
      engine::Literal out;
      out.kind = engine::Literal::Kind::kCompare;
      out.op = cmp.op == "="    ? engine::CompareOp::kEq
               : cmp.op == "!=" ? engine::CompareOp::kNe
               : cmp.op == "<"  ? engine::CompareOp::kLt
               : cmp.op == "<=" ? engine::CompareOp::kLe
               : cmp.op == ">"  ? engine::CompareOp::kGt
                                : engine::CompareOp::kGe;
      out.lhs = *l;
      out.rhs = *rr;
      out.where = pf.RangeOf(lit);
      lowered[i] = std::move(out);
    }
    // Negated atoms: every variable must already be bound.
    for (size_t i = 0; i < r.body.size(); ++i) {
      const ast::Literal& lit = r.body[i];
      const auto* atom = boost::get<ast::Atom>(&lit.body.get());
      if (atom == nullptr || !lit.negated) continue;
      for (const ast::Term& t : atom->args) {
        const auto* n = boost::get<ast::Name>(&t.get());
        if (n && IsVariableName(n->text) && !aliases_.count(n->text) && !is_bound(t)) {
          sink_->Error(pf.RangeOf(*n), absl::StrCat("variable `", n->text,
                                                    "` appears only under negation; bind "
                                                    "it in a positive atom or use `_`"));
          st.ok = false;
        }
      }
      auto a = LowerAtom(st, *atom, false, false);
      if (!a) continue;
      engine::Literal l;
      l.kind = engine::Literal::Kind::kNegated;
      l.atom = std::move(*a);
      l.where = pf.RangeOf(lit);
      lowered[i] = std::move(l);
    }
    // Head (its range restriction is only meaningful once the body is well formed).
    for (const ast::Term& t : r.head.args) {
      if (!st.ok) break;
      const auto* n = boost::get<ast::Name>(&t.get());
      if (n && IsVariableName(n->text) && !aliases_.count(n->text) && !is_bound(t)) {
        sink_->Error(pf.RangeOf(*n), absl::StrCat("head variable `", n->text,
                                                  "` is not bound by the body "
                                                  "(range restriction)"));
        st.ok = false;
      }
    }
    auto head = LowerAtom(st, r.head, false, true);
    if (!head || !st.ok) return;
    for (const auto& [name, v] : st.vars) {
      if (v.uses == 1 && v.positive_uses == 1) {
        sink_->Warning(v.first, absl::StrCat("variable `", name,
                                             "` is used only once; write `_` "
                                             "if that is intended"));
      }
    }
    st.rule.head = std::move(*head);
    for (auto& l : lowered) {
      if (l) st.rule.body.push_back(std::move(*l));
    }
    out_.program.rules.push_back(std::move(st.rule));
  }

  // ---------------------------------------------------------------- warnings
  void WarnUnused() {
    for (const auto& [name, a] : aliases_) {
      if (!a.used) sink_->Warning(a.where, absl::StrCat("alias `", name, "` is never used"));
    }
    for (const std::string& name : entity_order_) {
      const Entity& e = entities_.at(name);
      // qconfigs, mappings and backends are what a file exports (selected by name with
      // --qconfig / --backend); the rest exist to be referenced.
      if (e.used || e.kind == EntityKind::kQConfig || e.kind == EntityKind::kMapping ||
          e.kind == EntityKind::kBackend) {
        continue;
      }
      sink_->Warning(e.where, absl::StrCat(EntityKindName(e.kind), " `", name,
                                           "` is declared but never used"));
    }
    for (const auto& [name, info] : relations_) {
      if (info.builtin) continue;
      if (!info.used_in_head && !info.used_in_body) {
        sink_->Warning(info.decl.where,
                       absl::StrCat("relation `", name, "` is declared but never used"));
      } else if (!info.used_in_head && info.decl.kind != engine::RelationDecl::Kind::kInput) {
        sink_->Warning(info.decl.where,
                       absl::StrCat("relation `", name, "` has no rules; it is always empty"));
      }
    }
  }

  CompileOptions options_;
  DiagnosticSink* sink_;
  CompiledRules out_;
  std::set<std::string> loaded_;
  std::vector<std::unique_ptr<ParsedFile>> files_;
  std::map<std::string, Alias> aliases_;
  std::map<std::string, Entity> entities_;
  std::vector<std::string> entity_order_;
  std::vector<std::pair<const ParsedFile*, const ast::RelationDecl*>> relation_decls_;
  std::vector<RuleRef> rules_;
  std::map<std::string, RelationInfo> relations_;
};

}  // namespace

absl::StatusOr<CompiledRules> CompileFiles(const std::vector<std::string>& paths,
                                           const CompileOptions& options, DiagnosticSink* sink) {
  return Compiler(options, sink).Run({}, paths);
}

absl::StatusOr<CompiledRules> CompileSources(
    const std::vector<std::shared_ptr<const SourceFile>>& sources, const CompileOptions& options,
    DiagnosticSink* sink) {
  return Compiler(options, sink).Run(sources, {});
}

}  // namespace qprep::rules
