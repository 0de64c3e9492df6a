// The parser's link to diagnostics: it records where every position_tagged AST node came from
// (so the checker can point at tokens) and turns X3 expectation failures into located
// "expected ..." errors in a DiagnosticSink. Nothing is printed; parsing continues at the next
// declaration (rules/parser.cc).
#ifndef QPREP_RULES_GRAMMAR_ERROR_HANDLER_H_
#define QPREP_RULES_GRAMMAR_ERROR_HANDLER_H_

#include <boost/spirit/home/x3.hpp>
#include <boost/spirit/home/x3/support/ast/position_tagged.hpp>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "common/diagnostics.h"

namespace qprep::rules::parser {

namespace x3 = boost::spirit::x3;

struct ErrorHandlerTag;

class ErrorHandler {
 public:
  using iterator_type = std::string::const_iterator;

  ErrorHandler(std::shared_ptr<const SourceFile> file, DiagnosticSink* sink)
      : file_(std::move(file)),
        sink_(sink) {
    // About one tag per four bytes of the bundled rules: reserving avoids the vector's
    // regrowth copies during the parse.
    positions_.reserve(file_->text().size() / 4 + 16);
  }

  // What x3::position_cache::annotate does (ids index a vector of [first, last) pairs), on a
  // vector this class can reserve.
  template <typename Ast>
  void Tag(Ast& ast, iterator_type first, iterator_type last) {
    if constexpr (std::is_base_of_v<x3::position_tagged, Ast>) {
      ast.id_first = static_cast<int>(positions_.size());
      positions_.push_back(first);
      ast.id_last = static_cast<int>(positions_.size());
      positions_.push_back(last);
    }
  }

  // The byte range of a tagged node (empty range at 0 if it was never tagged).
  SourceRange RangeOf(const x3::position_tagged& ast) const {
    SourceRange r;
    r.file = file_;
    if (ast.id_first < 0) return r;
    r.begin = static_cast<size_t>(positions_.at(ast.id_first) - file_->text().begin());
    r.end = static_cast<size_t>(positions_.at(ast.id_last) - file_->text().begin());
    return r;
  }
  SourceRange RangeAt(iterator_type first, iterator_type last) const {
    return SourceRange{file_, static_cast<size_t>(first - file_->text().begin()),
                       static_cast<size_t>(last - file_->text().begin())};
  }

  // An expectation failure at `where`: `what` is X3's description of the expected parser.
  void Expected(iterator_type where, const std::string& what);
  const std::shared_ptr<const SourceFile>& file() const { return file_; }
  DiagnosticSink* sink() const { return sink_; }
  // Set by Expected(): where parsing failed, for recovery.
  iterator_type failure() const { return failure_; }
  bool failed() const { return failed_; }
  void ClearFailure() { failed_ = false; }

 private:
  std::shared_ptr<const SourceFile> file_;
  DiagnosticSink* sink_;
  std::vector<iterator_type> positions_;
  iterator_type failure_{};
  bool failed_ = false;
};

// Rule-ID bases (X3 calls these by inheritance, as in the rexpr example).
struct AnnotatePosition {
  template <typename T, typename Iterator, typename Context>
  void on_success(const Iterator& first, const Iterator& last, T& ast, const Context& context) {
    x3::get<ErrorHandlerTag>(context).Tag(ast, first, last);
  }
};

struct ReportExpectationFailure {
  template <typename Iterator, typename Exception, typename Context>
  x3::error_handler_result on_error(Iterator& /*first*/, const Iterator& /*last*/,
                                    const Exception& x, const Context& context) {
    x3::get<ErrorHandlerTag>(context).Expected(x.where(), x.which());
    return x3::error_handler_result::fail;
  }
};

}  // namespace qprep::rules::parser

#endif  // QPREP_RULES_GRAMMAR_ERROR_HANDLER_H_
