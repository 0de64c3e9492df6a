// Reading (and, for tests and tools, writing) NumPy `.npy` files: the batch format of
// `qprepc observe` and `qprepc calibrate` (docs/calibration.md).
//
// Contract: only float32, little-endian, C-order arrays (`descr` '<f4', fortran_order False) are
// accepted, in format versions 1.0, 2.0 and 3.0. Anything else -- another dtype, Fortran order, a
// bad magic string, a malformed header dictionary, a shape whose element count overflows, data
// shorter or longer than the shape says -- is an InvalidArgument status whose message names the
// problem (and, for ReadNpy, the file). ParseNpy takes arbitrary bytes and never crashes, reads
// out of bounds or allocates more than the input's size warrants: it is the fuzz entry point.
#ifndef QPREP_BACKENDS_CPU_CALIBRATE_NPY_H_
#define QPREP_BACKENDS_CPU_CALIBRATE_NPY_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace qprep::observers {

// A float32 tensor as read from a .npy file: C-order data, shape as written ({} for a 0-d array,
// which holds one element).
struct NpyArray {
  std::vector<int64_t> shape;
  std::vector<float> data;

  int64_t num_elements() const { return static_cast<int64_t>(data.size()); }
};

// Parses the bytes of a .npy file. Never crashes on malformed input.
absl::StatusOr<NpyArray> ParseNpy(std::string_view bytes);

// Reads and parses a .npy file; error messages start with the path.
absl::StatusOr<NpyArray> ReadNpy(const std::string& path);

// Encodes a float32 C-order array as a version 1.0 .npy file (version 2.0 if the header would
// not fit in 1.0's 16-bit length), exactly as numpy.save writes it.
std::string EncodeNpy(const std::vector<int64_t>& shape, std::span<const float> data);

// EncodeNpy + atomic write.
absl::Status WriteNpy(const std::string& path, const std::vector<int64_t>& shape,
                      std::span<const float> data);

}  // namespace qprep::observers

#endif  // QPREP_BACKENDS_CPU_CALIBRATE_NPY_H_
