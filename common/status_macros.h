// Status helpers that Abseil 20220623 (Debian 12) lacks: RETURN_IF_ERROR, ASSIGN_OR_RETURN, and a
// CHECK for programmer errors. User errors are absl::Status values (often built from
// diagnostics); a failed QPREP_CHECK is a bug in qprep and aborts with its location.
#ifndef QPREP_COMMON_STATUS_MACROS_H_
#define QPREP_COMMON_STATUS_MACROS_H_

#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define QPREP_CONCAT_INNER_(a, b) a##b
#define QPREP_CONCAT_(a, b) QPREP_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status); returns it from the enclosing function if not ok.
#define RETURN_IF_ERROR(expr)                              \
  do {                                                     \
    ::absl::Status qprep_status_ = (expr);                 \
    if (!qprep_status_.ok()) return qprep_status_;         \
  } while (0)

// ASSIGN_OR_RETURN(lhs, expr): evaluates `expr` (an absl::StatusOr<T>); on error returns its
// status, else assigns (moves) the value into `lhs`, which may be a declaration (`auto x`).
#define ASSIGN_OR_RETURN(lhs, expr) \
  QPREP_ASSIGN_OR_RETURN_IMPL_(QPREP_CONCAT_(qprep_statusor_, __LINE__), lhs, expr)
#define QPREP_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return std::move(tmp).status();     \
  lhs = std::move(tmp).value()

namespace qprep::internal {
[[noreturn]] inline void CheckFailed(const char* file, int line, const char* cond) {
  std::fprintf(stderr, "%s:%d: internal error: check failed: %s\n", file, line, cond);
  std::abort();
}
}  // namespace qprep::internal

// Programmer-error check: aborts with the location. Never use for user input.
#define QPREP_CHECK(cond) \
  ((cond) ? (void)0 : ::qprep::internal::CheckFailed(__FILE__, __LINE__, #cond))

#endif  // QPREP_COMMON_STATUS_MACROS_H_
