// .npy reading and writing; see npy.h for the contract. The header is a Python dict literal
// ({'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }); it is parsed by a small
// hand-written scanner that accepts exactly the literal forms numpy writes (and reasonable
// whitespace variations), never by evaluating anything.
#include "backends/cpu/calibrate/npy.h"

#include <bit>
#include <cstring>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/file_io.h"
#include "common/status_macros.h"

namespace qprep::observers {
namespace {

static_assert(std::endian::native == std::endian::little,
              "npy.cc copies '<f4' data as is: a big-endian host needs byte swapping");

constexpr std::string_view kMagic = "\x93NUMPY";

absl::Status Bad(const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("invalid .npy file: ", what));
}

// A scanner over the header dictionary.
class HeaderScanner {
 public:
  explicit HeaderScanner(std::string_view text) : text_(text) {}

  void SkipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r'))
      ++pos_;
  }
  bool Consume(char c) {
    SkipSpace();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool Peek(char c) {
    SkipSpace();
    return pos_ < text_.size() && text_[pos_] == c;
  }
  bool AtEnd() {
    SkipSpace();
    return pos_ >= text_.size();
  }
  // A '...' or "..." string without escapes (numpy never writes escapes in these fields).
  std::optional<std::string> String() {
    SkipSpace();
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"')) return std::nullopt;
    char quote = text_[pos_++];
    size_t end = text_.find(quote, pos_);
    if (end == std::string_view::npos) return std::nullopt;
    std::string s(text_.substr(pos_, end - pos_));
    if (s.find('\\') != std::string::npos) return std::nullopt;
    pos_ = end + 1;
    return s;
  }
  std::optional<std::string> Word() {
    SkipSpace();
    size_t start = pos_;
    while (pos_ < text_.size() && ((text_[pos_] >= 'A' && text_[pos_] <= 'Z') ||
                                   (text_[pos_] >= 'a' && text_[pos_] <= 'z')))
      ++pos_;
    if (pos_ == start) return std::nullopt;
    return std::string(text_.substr(start, pos_ - start));
  }
  // A non-negative decimal integer (numpy may write a trailing 'L' on Python 2 files).
  std::optional<int64_t> Integer() {
    SkipSpace();
    size_t start = pos_;
    int64_t v = 0;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      int digit = text_[pos_] - '0';
      if (v > (INT64_MAX - digit) / 10) return std::nullopt;
      v = v * 10 + digit;
      ++pos_;
    }
    if (pos_ == start) return std::nullopt;
    if (pos_ < text_.size() && text_[pos_] == 'L') ++pos_;
    return v;
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

struct Header {
  std::optional<std::string> descr;
  std::optional<bool> fortran_order;
  std::optional<std::vector<int64_t>> shape;
};

absl::StatusOr<Header> ParseHeader(std::string_view text) {
  HeaderScanner s(text);
  Header h;
  if (!s.Consume('{')) return Bad("header is not a dictionary ('{' expected)");
  while (!s.Consume('}')) {
    std::optional<std::string> key = s.String();
    if (!key) return Bad("header dictionary: quoted key expected");
    if (!s.Consume(':'))
      return Bad(absl::StrCat("header dictionary: ':' expected after '", *key, "'"));
    if (*key == "descr") {
      h.descr = s.String();
      if (!h.descr) return Bad("header: 'descr' must be a string (a dtype like '<f4')");
    } else if (*key == "fortran_order") {
      std::optional<std::string> w = s.Word();
      if (w == "True") {
        h.fortran_order = true;
      } else if (w == "False") {
        h.fortran_order = false;
      } else {
        return Bad("header: 'fortran_order' must be True or False");
      }
    } else if (*key == "shape") {
      if (!s.Consume('(')) return Bad("header: 'shape' must be a tuple of integers");
      std::vector<int64_t> shape;
      while (!s.Consume(')')) {
        std::optional<int64_t> d = s.Integer();
        if (!d) return Bad("header: 'shape' must be a tuple of non-negative integers");
        shape.push_back(*d);
        if (shape.size() > 64) return Bad("header: 'shape' has more than 64 dimensions");
        if (!s.Consume(',') && !s.Peek(')')) return Bad("header: ',' or ')' expected in 'shape'");
      }
      h.shape = std::move(shape);
    } else {
      return Bad(absl::StrCat("header: unknown key '", *key, "'"));
    }
    if (!s.Consume(',') && !s.Peek('}')) return Bad("header dictionary: ',' or '}' expected");
  }
  if (!s.AtEnd()) return Bad("header: unexpected text after the dictionary");
  if (!h.descr || !h.fortran_order || !h.shape) {
    return Bad("header must name 'descr', 'fortran_order' and 'shape'");
  }
  return h;
}

uint32_t ReadLe(std::string_view b, size_t pos, size_t n) {
  uint32_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= uint32_t{static_cast<unsigned char>(b[pos + i])} << (8 * i);
  return v;
}

}  // namespace

absl::StatusOr<NpyArray> ParseNpy(std::string_view bytes) {
  if (bytes.size() < kMagic.size() || bytes.substr(0, kMagic.size()) != kMagic) {
    return Bad("bad magic string (not a NumPy .npy file)");
  }
  if (bytes.size() < 10) return Bad("truncated header");
  int major = static_cast<unsigned char>(bytes[6]);
  int minor = static_cast<unsigned char>(bytes[7]);
  if (minor != 0 || major < 1 || major > 3) {
    return Bad(absl::StrCat("unsupported format version ", major, ".", minor,
                            " (1.0, 2.0 and 3.0 are read)"));
  }
  size_t len_bytes = major == 1 ? 2 : 4;
  size_t prefix = 8 + len_bytes;
  if (bytes.size() < prefix) return Bad("truncated header");
  size_t header_len = ReadLe(bytes, 8, len_bytes);
  if (header_len > bytes.size() - prefix) return Bad("truncated header");
  std::string_view header_text = bytes.substr(prefix, header_len);
  ASSIGN_OR_RETURN(Header h, ParseHeader(header_text));

  if (*h.descr != "<f4") {
    std::string hint =
        *h.descr == ">f4" ? " (big-endian float32)" : "; convert with arr.astype(numpy.float32)";
    return Bad(
        absl::StrCat("dtype '", *h.descr, "' is not supported: qprep reads float32 '<f4'", hint));
  }
  if (*h.fortran_order) {
    return Bad("Fortran-order arrays are not supported; save numpy.ascontiguousarray(arr)");
  }
  std::string_view data = bytes.substr(prefix + header_len);
  uint64_t count = 1;
  for (int64_t d : *h.shape) {
    if (__builtin_mul_overflow(count, static_cast<uint64_t>(d), &count) ||
        count > (uint64_t{1} << 61)) {
      return Bad(absl::StrCat("shape (", absl::StrJoin(*h.shape, ", "), ") is too large"));
    }
  }
  uint64_t want = count * sizeof(float);
  if (data.size() < want) {
    return Bad(absl::StrCat("truncated data: shape (", absl::StrJoin(*h.shape, ", "), ") needs ",
                            want, " bytes, the file has ", data.size()));
  }
  if (data.size() > want) {
    return Bad(absl::StrCat(data.size() - want,
                            " bytes of unexpected data after the array of shape (",
                            absl::StrJoin(*h.shape, ", "), ")"));
  }
  NpyArray out;
  out.shape = std::move(*h.shape);
  out.data.resize(count);
  if (count > 0) std::memcpy(out.data.data(), data.data(), want);
  return out;
}

absl::StatusOr<NpyArray> ReadNpy(const std::string& path) {
  ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  absl::StatusOr<NpyArray> a = ParseNpy(bytes);
  if (!a.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", a.status().message()));
  return a;
}

std::string EncodeNpy(const std::vector<int64_t>& shape, std::span<const float> data) {
  std::string dims;
  for (int64_t d : shape) absl::StrAppend(&dims, d, shape.size() == 1 ? "," : ", ");
  if (shape.size() > 1) dims.resize(dims.size() - 2);
  std::string dict =
      absl::StrCat("{'descr': '<f4', 'fortran_order': False, 'shape': (", dims, "), }");
  // numpy reserves room for the first axis to grow to 21 digits (GROWTH_AXIS_MAX_DIGITS), then
  // pads the header with spaces so that the data starts on a 64-byte boundary, and ends it with a
  // newline.
  if (!shape.empty()) dict.append(21 - absl::StrCat(shape[0]).size(), ' ');
  size_t unpadded = 10 + dict.size() + 1;
  int major = 1;
  if (unpadded + 64 > 65535) {
    major = 2;
    unpadded += 2;
  }
  size_t pad = (64 - unpadded % 64) % 64;
  dict.append(pad, ' ');
  dict.push_back('\n');
  std::string out(kMagic);
  out.push_back(static_cast<char>(major));
  out.push_back(0);
  size_t len = dict.size();
  for (int i = 0; i < (major == 1 ? 2 : 4); ++i)
    out.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
  out += dict;
  if (!data.empty()) {
    out.append(reinterpret_cast<const char*>(data.data()), data.size() * sizeof(float));
  }
  return out;
}

absl::Status WriteNpy(const std::string& path, const std::vector<int64_t>& shape,
                      std::span<const float> data) {
  return WriteFileAtomically(path, EncodeNpy(shape, data));
}

}  // namespace qprep::observers
