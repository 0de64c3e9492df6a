// Name / parse helpers and pattern utilities of the prepare configuration (prepare_config.h).
#include "engine/prepare_config.h"

#include <string>
#include <variant>

#include "absl/strings/str_cat.h"

namespace qprep::engine {

std::string_view ObservationTypeName(ObservationType t) {
  switch (t) {
    case ObservationType::kOutputUseDifferentObserverAsInput:
      return "output_use_different_observer_as_input";
    case ObservationType::kOutputShareObserverWithInput:
      return "output_share_observer_with_input";
    case ObservationType::kInputOutputNotObserved:
      return "input_output_not_observed";
  }
  return "?";
}

std::optional<ObservationType> ParseObservationType(std::string_view name) {
  for (ObservationType t :
       {ObservationType::kOutputUseDifferentObserverAsInput,
        ObservationType::kOutputShareObserverWithInput, ObservationType::kInputOutputNotObserved}) {
    if (ObservationTypeName(t) == name) return t;
  }
  return std::nullopt;
}

std::string OpRef::ToString() const {
  switch (kind) {
    case Kind::kModule:
      return absl::StrCat("module:", name);
    case Kind::kFunction:
      return absl::StrCat("function:", name);
    case Kind::kMethod:
      return absl::StrCat("method:", name);
    case Kind::kAny:
      return "MatchAllNode";
  }
  return "?";
}

int Pattern::Length() const {
  int n = 1;
  for (const Pattern& a : args) n += a.Length();
  return n;
}

bool Pattern::SameAs(const Pattern& o) const {
  if (!op.SameOp(o.op) || alternatives.size() != o.alternatives.size() ||
      args.size() != o.args.size()) {
    return false;
  }
  for (size_t i = 0; i < alternatives.size(); ++i) {
    if (!alternatives[i].SameOp(o.alternatives[i])) return false;
  }
  for (size_t i = 0; i < args.size(); ++i) {
    if (!args[i].SameAs(o.args[i])) return false;
  }
  return true;
}

std::string Pattern::ToString() const {
  std::string head = op.ToString();
  for (const OpRef& alt : alternatives) absl::StrAppend(&head, "|", alt.ToString());
  if (args.empty()) return head;
  std::string s = absl::StrCat("(", head);
  for (const Pattern& a : args) absl::StrAppend(&s, ", ", a.ToString());
  return absl::StrCat(s, ")");
}

std::vector<Pattern> ExpandAlternatives(const Pattern& p) {
  std::vector<OpRef> choices = {p.op};
  choices.insert(choices.end(), p.alternatives.begin(), p.alternatives.end());
  // Cartesian product over the args, first choice first at every position (lexicographic with
  // the head varying slowest), so expansion order equals the order a user would list them.
  std::vector<std::vector<Pattern>> arg_sets = {{}};
  for (const Pattern& a : p.args) {
    std::vector<Pattern> expanded = ExpandAlternatives(a);
    std::vector<std::vector<Pattern>> next;
    next.reserve(arg_sets.size() * expanded.size());
    for (const auto& prefix : arg_sets) {
      for (const Pattern& e : expanded) {
        next.push_back(prefix);
        next.back().push_back(e);
      }
    }
    arg_sets = std::move(next);
  }
  std::vector<Pattern> out;
  out.reserve(choices.size() * arg_sets.size());
  for (const OpRef& c : choices) {
    for (auto& args : arg_sets) {
      Pattern q;
      q.op = c;
      q.args = args;
      q.where = p.where;
      out.push_back(std::move(q));
    }
  }
  return out;
}

bool QConfig::is_reuse_input() const {
  return !is_none && activation.has_value() && activation->class_name == "ReuseInputObserver";
}

bool QConfig::is_dynamic() const {
  if (is_none || !activation.has_value()) return false;
  auto it = activation->args.find("is_dynamic");
  if (it == activation->args.end()) return false;
  const bool* b = std::get_if<bool>(&it->second.v);
  return b != nullptr && *b;
}

absl::Status ConfigError(const SourceRange& at, std::string message, const SourceRange* note_at,
                         std::string note) {
  if (at.file == nullptr) return absl::InvalidArgumentError(message);
  Diagnostic d;
  d.severity = Severity::kError;
  d.range = at;
  d.message = std::move(message);
  if (note_at != nullptr && note_at->file != nullptr) {
    Diagnostic n;
    n.severity = Severity::kNote;
    n.range = *note_at;
    n.message = std::move(note);
    d.notes.push_back(std::move(n));
  }
  DiagnosticSink sink;
  sink.Add(std::move(d));
  return sink.ToStatus();
}

}  // namespace qprep::engine
