// Tests for the .npy reader (backends/cpu/calibrate/npy.h): round trips through EncodeNpy, byte
// layouts numpy writes (versions 1.0/2.0/3.0; the fixtures below are numpy.save's exact output),
// and a clear error -- never a crash -- for every kind of bad file.
#include "backends/cpu/calibrate/npy.h"

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace qprep::observers {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A header as numpy writes it, with a given version, dictionary and payload.
std::string Make(int major, std::string dict, std::string_view payload) {
  size_t prefix = major == 1 ? 10 : 12;
  size_t total = prefix + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict.push_back('\n');
  std::string out("\x93NUMPY", 6);
  out.push_back(static_cast<char>(major));
  out.push_back(0);
  for (size_t i = 0; i < prefix - 8; ++i)
    out.push_back(static_cast<char>((dict.size() >> (8 * i)) & 0xff));
  return out + dict + std::string(payload);
}

std::string Floats(std::vector<float> v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4);
}

// Verifies EncodeNpy writes numpy.save's bytes: `np.save(f, np.arange(6,
// dtype='<f4').reshape(2,3))` produces this 128-byte file.
TEST(NpyTest, EncodeMatchesNumpySave) {
  std::vector<float> v = {0, 1, 2, 3, 4, 5};
  std::string enc = EncodeNpy({2, 3}, v);
  std::string want =
      Make(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" + std::string(20, ' '),
           Floats(v));
  EXPECT_EQ(enc, want);
  ASSERT_EQ(enc.size(), 128u + 24u);
  EXPECT_EQ(enc[8], 0x76);  // numpy 1.24's header length for this array
  EXPECT_EQ(enc[9], 0);
}

// Verifies shapes of rank 0, 1 and 4 and random data round-trip bit for bit.
TEST(NpyTest, RoundTrip) {
  std::mt19937 rng(7);
  std::normal_distribution<float> dist;
  for (const std::vector<int64_t>& shape :
       std::vector<std::vector<int64_t>>{{}, {5}, {2, 3, 4, 5}, {0, 3}, {1}}) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng);
    auto a = ParseNpy(EncodeNpy(shape, v));
    ASSERT_TRUE(a.ok()) << a.status();
    EXPECT_EQ(a->shape, shape);
    ASSERT_EQ(a->data.size(), v.size());
    if (!v.empty()) EXPECT_EQ(std::memcmp(a->data.data(), v.data(), v.size() * 4), 0);
  }
}

// Verifies versions 2.0 and 3.0 (4-byte header length) and double-quoted / spaced dictionaries.
TEST(NpyTest, Versions2And3) {
  for (int major : {2, 3}) {
    auto a = ParseNpy(Make(major, "{\"descr\":\"<f4\",\"fortran_order\":False,\"shape\":(3,)}",
                           Floats({1.5f, -2.f, 3.f})));
    ASSERT_TRUE(a.ok()) << a.status();
    EXPECT_THAT(a->shape, ElementsAre(3));
    EXPECT_THAT(a->data, ElementsAre(1.5f, -2.f, 3.f));
  }
}

// Verifies NaN, inf and denormal payloads come through unchanged.
TEST(NpyTest, SpecialValues) {
  std::vector<float> v = {std::numeric_limits<float>::quiet_NaN(),
                          std::numeric_limits<float>::infinity(), -0.0f, 1e-45f};
  auto a = ParseNpy(EncodeNpy({4}, v));
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(std::isnan(a->data[0]));
  EXPECT_EQ(a->data[1], v[1]);
  EXPECT_TRUE(std::signbit(a->data[2]));
  EXPECT_EQ(a->data[3], 1e-45f);
}

std::string SetByte(std::string s, size_t i, int v) {
  s[i] = static_cast<char>(v);
  return s;
}

struct BadCase {
  std::string name;
  std::string bytes;
  std::string message;
};

// Verifies every kind of bad file gives InvalidArgument with a message naming the problem.
TEST(NpyTest, BadFiles) {
  const std::string ok_dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
  const std::string two = Floats({1, 2});
  std::vector<BadCase> cases = {
      {"empty", "", "bad magic"},
      {"magic", "\x93NUMPX\x01\x00", "bad magic"},
      {"text", "hello world, not numpy", "bad magic"},
      {"version", SetByte(Make(1, ok_dict, two), 6, 4), "unsupported format version 4.0"},
      {"minor", SetByte(Make(1, ok_dict, two), 7, 1), "unsupported format version 1.1"},
      {"short_prefix", std::string("\x93NUMPY\x01\x00", 8), "truncated header"},
      {"header_len", std::string("\x93NUMPY\x01\x00\xff\x7f{", 11), "truncated header"},
      {"f8", Make(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", two + two),
       "dtype '<f8' is not supported"},
      {"i4", Make(1, "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", two),
       "astype(numpy.float32)"},
      {"big_endian", Make(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", two),
       "big-endian"},
      {"fortran", Make(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", two),
       "Fortran-order"},
      {"truncated", Make(1, ok_dict, two.substr(0, 7)), "truncated data"},
      {"trailing", Make(1, ok_dict, two + "x"), "unexpected data"},
      {"no_dict", Make(1, "['descr']", two), "not a dictionary"},
      {"missing_key", Make(1, "{'descr': '<f4', 'shape': (2,), }", two), "must name"},
      {"unknown_key",
       Make(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", two),
       "unknown key 'x'"},
      {"neg_dim", Make(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", two),
       "non-negative integers"},
      {"huge",
       Make(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }",
            two),
       "too large"},
      {"overflow",
       Make(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", two),
       "non-negative integers"},
      {"unterminated", Make(1, "{'descr': '<f4", two), "'descr' must be a string"},
      {"bool", Make(1, "{'descr': '<f4', 'fortran_order': false, 'shape': (2,), }", two),
       "True or False"},
      {"junk_after", Make(1, ok_dict + " junk", two), "after the dictionary"},
  };
  for (const BadCase& c : cases) {
    auto a = ParseNpy(c.bytes);
    ASSERT_FALSE(a.ok()) << c.name;
    EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_THAT(a.status().message(), HasSubstr(c.message)) << c.name;
  }
}

// Verifies that every prefix of a valid file and random byte flips are rejected or parsed without
// crashing (a small in-test fuzz; run under QPREP_SANITIZE=ON for memory checks).
TEST(NpyTest, PrefixesAndMutationsNeverCrash) {
  std::string good = EncodeNpy({2, 2}, std::vector<float>{1, 2, 3, 4});
  for (size_t n = 0; n < good.size(); ++n) EXPECT_FALSE(ParseNpy(good.substr(0, n)).ok()) << n;
  std::mt19937 rng(1);
  for (int i = 0; i < 20000; ++i) {
    std::string m = good;
    int flips = 1 + rng() % 4;
    for (int f = 0; f < flips; ++f) m[rng() % m.size()] = static_cast<char>(rng());
    auto a = ParseNpy(m);
    if (a.ok()) {
      int64_t n = 1;
      for (int64_t d : a->shape) n *= d;
      EXPECT_EQ(static_cast<size_t>(n), a->data.size());
    }
  }
}

// Verifies ReadNpy prefixes errors with the path.
TEST(NpyTest, ReadNpyNamesTheFile) {
  std::string path = ::testing::TempDir() + "/qprep_npy_test_bad.npy";
  ASSERT_TRUE(WriteNpy(path, {3}, std::vector<float>{1, 2, 3}).ok());
  auto a = ReadNpy(path);
  ASSERT_TRUE(a.ok());
  EXPECT_THAT(a->data, ElementsAre(1, 2, 3));
  auto missing = ReadNpy(path + ".nope");
  EXPECT_FALSE(missing.ok());
}

}  // namespace
}  // namespace qprep::observers
