// Verifies observer specs: PyTorch 1.13's defaults and effective quant ranges, the canonical
// text round trip, and errors that name the argument and point at its column.
#include "common/observer_spec.h"

#include <random>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace qprep {
namespace {

using ::testing::HasSubstr;

ObserverSpec Parse(const std::string& text) {
  auto s = ParseObserverSpec(text);
  EXPECT_TRUE(s.ok()) << text << ": " << s.status();
  return s.ok() ? *s : ObserverSpec{};
}

std::string Error(const std::string& text) {
  auto s = ParseObserverSpec(text);
  EXPECT_FALSE(s.ok()) << text << " parsed as " << (s.ok() ? s->ToString() : "");
  return s.ok() ? "" : std::string(s.status().message());
}

TEST(ObserverSpec, HistogramDefaultsAndReduceRange) {
  ObserverSpec s = Parse("HistogramObserver(dtype=quint8, reduce_range=true)");
  EXPECT_EQ(s.class_name, "HistogramObserver");
  EXPECT_EQ(s.dtype(), Dtype::kQUInt8);
  EXPECT_EQ(s.qscheme(), QScheme::kPerTensorAffine);
  EXPECT_EQ(s.quant_min(), 0);
  EXPECT_EQ(s.quant_max(), 127);
  EXPECT_EQ(std::get<int64_t>(s.args.at("bins").v), 2048);
  EXPECT_EQ(std::get<int64_t>(s.args.at("upsample_rate").v), 128);
  EXPECT_EQ(std::get<double>(s.args.at("eps").v), 1.1920928955078125e-07);
  EXPECT_EQ(std::get<bool>(s.args.at("has_customized_qrange").v), false);
}

TEST(ObserverSpec, EffectiveRanges) {
  struct Case {
    const char* text;
    int64_t qmin, qmax;
  };
  for (const Case& c : {
           Case{"MinMaxObserver()", 0, 255},
           Case{"MinMaxObserver(dtype=qint8)", -128, 127},
           Case{"MinMaxObserver(dtype=torch.qint8, reduce_range=True)", -64, 63},
           Case{"MinMaxObserver(dtype=qint32)", -2147483648LL, 2147483647LL},
           Case{"MinMaxObserver(dtype=quint4x2)", 0, 15},
           // Custom ranges are halved with Python's floor division.
           Case{"MinMaxObserver(dtype=qint8, quant_min=-127, quant_max=127, reduce_range=true)",
                -64, 63},
           // Only one bound given: PyTorch ignores it.
           Case{"MinMaxObserver(quant_min=0)", 0, 255},
           Case{"FusedMovingAvgObsFakeQuantize()", 0, 255},
           Case{"FakeQuantize(observer=MovingAverageMinMaxObserver, quant_min=0, quant_max=255, "
                "dtype=quint8, qscheme=per_tensor_affine, reduce_range=True)",
                0, 127},
       }) {
    ObserverSpec s = Parse(c.text);
    EXPECT_EQ(s.quant_min(), c.qmin) << c.text;
    EXPECT_EQ(s.quant_max(), c.qmax) << c.text;
  }
}

TEST(ObserverSpec, CanonicalTextRoundTrips) {
  for (const char* text : {
           "MinMaxObserver()",
           "MinMaxObserver(dtype=qint8, quant_min=-127, quant_max=127, reduce_range=true)",
           "HistogramObserver(bins=256, upsample_rate=16, reduce_range=true)",
           "PerChannelMinMaxObserver(ch_axis=1, dtype=qint8, qscheme=per_channel_symmetric)",
           "MovingAveragePerChannelMinMaxObserver(averaging_constant=0.25, ch_axis=-1)",
           "FixedQParamsObserver(0.00390625, 0)",
           "PlaceholderObserver(dtype=float16)",
           "PlaceholderObserver(dtype=quint8, is_dynamic=true)",
           "NoopObserver()",
           "ReuseInputObserver()",
           "FakeQuantize()",
           "FakeQuantize(observer=MovingAverageMinMaxObserver, quant_min=0, quant_max=255, "
           "reduce_range=true)",
           "FusedMovingAvgObsFakeQuantize(observer=MovingAveragePerChannelMinMaxObserver, "
           "quant_min=-128, quant_max=127, dtype=qint8, qscheme=per_channel_symmetric)",
           "FakeQuantize(observer=PerChannelMinMaxObserver(ch_axis=1, dtype=qint8))",
           "FixedQParamsFakeQuantize(observer=FixedQParamsObserver(scale=0.0078125, "
           "zero_point=128))",
           "torch.ao.quantization.observer.MinMaxObserver(eps=0.001)",
       }) {
    ObserverSpec s = Parse(text);
    const std::string canonical = s.ToString();
    ObserverSpec again = Parse(canonical);
    EXPECT_EQ(again, s) << text << " -> " << canonical << " -> " << again.ToString();
    EXPECT_EQ(again.ToString(), canonical);
  }
}

TEST(ObserverSpec, FakeQuantMirrorsItsObserver) {
  ObserverSpec s = Parse(
      "FakeQuantize(observer=MovingAveragePerChannelMinMaxObserver, quant_min=-128, "
      "quant_max=127, dtype=qint8, qscheme=per_channel_symmetric, ch_axis=0)");
  ASSERT_NE(s.observer, nullptr);
  EXPECT_EQ(s.observer->class_name, "MovingAveragePerChannelMinMaxObserver");
  EXPECT_EQ(s.dtype(), Dtype::kQInt8);
  EXPECT_EQ(s.qscheme(), QScheme::kPerChannelSymmetric);
  EXPECT_EQ(s.quant_min(), -128);
  EXPECT_EQ(std::get<bool>(s.observer->args.at("has_customized_qrange").v), true);
}

TEST(ObserverSpec, ErrorsNameTheArgumentAndColumn) {
  EXPECT_THAT(Error("MinMaxObsrver()"), HasSubstr("unknown observer class 'MinMaxObsrver'"));
  EXPECT_THAT(Error("MinMaxObserver(dtype=quint8, foo=1)"),
              AllOf(HasSubstr("column 30"), HasSubstr("argument 'foo'")));
  EXPECT_THAT(Error("MinMaxObserver(reduce_range=3)"),
              AllOf(HasSubstr("argument 'reduce_range'"), HasSubstr("expected a bool")));
  EXPECT_THAT(Error("MinMaxObserver(qscheme=per_channel_affine)"),
              AllOf(HasSubstr("column 16"), HasSubstr("argument 'qscheme'"),
                    HasSubstr("only support torch.per_tensor_symmetric")));
  EXPECT_THAT(Error("PerChannelMinMaxObserver(qscheme=per_tensor_affine)"),
              HasSubstr("argument 'qscheme'"));
  EXPECT_THAT(Error("MinMaxObserver(qscheme=per_tensor_symmetric, reduce_range=true)"),
              HasSubstr("Cannot reduce range for symmetric quantization for quint8"));
  EXPECT_THAT(Error("MinMaxObserver(quant_min=1, quant_max=10)"), HasSubstr("must include 0"));
  EXPECT_THAT(Error("MinMaxObserver(dtype=qint8, quant_min=-200, quant_max=100)"),
              HasSubstr("maximum bit range (=256)"));
  EXPECT_THAT(Error("MinMaxObserver(dtype=float32)"), HasSubstr("argument 'dtype'"));
  EXPECT_THAT(Error("MinMaxObserver(dtype=qint9)"), HasSubstr("unknown dtype 'qint9'"));
  EXPECT_THAT(Error("FakeQuantize(quant_min=-1, quant_max=255)"),
              HasSubstr("quant_min out of bound"));
  EXPECT_THAT(Error("FusedMovingAvgObsFakeQuantize(observer=HistogramObserver)"),
              HasSubstr("only works with MovingAverageMinMaxObserver"));
  EXPECT_THAT(Error("FixedQParamsObserver(zero_point=0)"),
              HasSubstr("argument 'scale': missing required argument"));
  EXPECT_THAT(Error("MinMaxObserver(dtype=quint8"), HasSubstr("expected ',' or ')'"));
  EXPECT_THAT(Error("MinMaxObserver(eps=1e)"), HasSubstr("bad number"));
  EXPECT_THAT(Error("MinMaxObserver() x"), HasSubstr("column 18"));
}

TEST(ObserverSpec, HistogramSizesAreBounded) {
  // PyTorch allocates `bins` floats, and bins * upsample_rate when the range grows: past the
  // limits an error, not an out-of-memory abort (found by spec_fuzz's first run).
  EXPECT_THAT(Error("HistogramObserver(bins=0)"), HasSubstr("must be positive"));
  EXPECT_THAT(Error("HistogramObserver(bins=1000000000000)"),
              AllOf(HasSubstr("argument 'bins'"), HasSubstr("at most 16777216")));
  EXPECT_THAT(Error("PercentileObserver(bins=16777217)"), HasSubstr("at most 16777216"));
  EXPECT_THAT(Error("HistogramObserver(upsample_rate=1048577)"),  // 2048 * 2^20 + 2048 > 2^31
              AllOf(HasSubstr("argument 'upsample_rate'"), HasSubstr("at most 2147483648")));
  EXPECT_TRUE(ParseObserverSpec("HistogramObserver(upsample_rate=1048576)").ok());
  EXPECT_TRUE(ParseObserverSpec("HistogramObserver(bins=16777216, upsample_rate=128)").ok());
}

TEST(ObserverSpec, KnownClassesIncludeEveryPyTorchObserver) {
  const auto& known = KnownObserverClasses();
  for (const char* c :
       {"MinMaxObserver", "MovingAverageMinMaxObserver", "PerChannelMinMaxObserver",
        "MovingAveragePerChannelMinMaxObserver", "HistogramObserver", "FixedQParamsObserver",
        "PlaceholderObserver", "NoopObserver", "ReuseInputObserver", "FakeQuantize",
        "FusedMovingAvgObsFakeQuantize", "FixedQParamsFakeQuantize"}) {
    EXPECT_NE(std::find(known.begin(), known.end(), c), known.end()) << c;
  }
}

// Random and mutated inputs never crash the parser, and whatever parses round-trips.
TEST(ObserverSpec, MutatedInputsParseOrFailCleanly) {
  const std::vector<std::string> seeds = {
      "HistogramObserver(dtype=quint8, reduce_range=true)",
      "FakeQuantize(observer=PerChannelMinMaxObserver(ch_axis=1, dtype=qint8), quant_min=-128, "
      "quant_max=127)",
      "FixedQParamsObserver(0.00390625, 0)",
      "MinMaxObserver(quant_min=0, quant_max=15, eps=1e-5, qscheme=torch.per_tensor_symmetric)",
  };
  const std::string alphabet = "()=,.-+ _\"'aeqtx0159eETrueFalseNone";
  std::mt19937 rng(42);
  int parsed = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::string s = seeds[iter % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !s.empty(); ++e) {
      const size_t pos = rng() % s.size();
      switch (rng() % 3) {
        case 0:
          s.erase(pos, 1 + rng() % 3);
          break;
        case 1:
          s.insert(pos, 1, alphabet[rng() % alphabet.size()]);
          break;
        default:
          s[pos] = alphabet[rng() % alphabet.size()];
          break;
      }
    }
    auto spec = ParseObserverSpec(s);
    if (!spec.ok()) {
      EXPECT_FALSE(spec.status().message().empty()) << s;
      continue;
    }
    ++parsed;
    auto again = ParseObserverSpec(spec->ToString());
    ASSERT_TRUE(again.ok()) << s << " -> " << spec->ToString() << ": " << again.status();
    EXPECT_EQ(*again, *spec) << s << " -> " << spec->ToString();
  }
  EXPECT_GT(parsed, 100);  // the mutations do not only produce garbage
}

}  // namespace
}  // namespace qprep
