// File I/O that never leaves a half-written output: writes go to a temporary file in the target
// directory and are renamed over the target only when complete.
#ifndef QPREP_COMMON_FILE_IO_H_
#define QPREP_COMMON_FILE_IO_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace qprep {

// Reads a whole file. NotFound / PermissionDenied / Internal with the path in the message.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// Writes `contents` to `path` atomically (temp file + fsync + rename). On error the target is
// untouched and the temporary is removed.
absl::Status WriteFileAtomically(const std::string& path, std::string_view contents);

}  // namespace qprep

#endif  // QPREP_COMMON_FILE_IO_H_
