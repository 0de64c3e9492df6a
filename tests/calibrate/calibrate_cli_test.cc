// `qprepc calibrate` through the real binary: a small plan (shared instance, per-channel, a
// calibrator, a marker, fixed qparams) over .npy batches in every supported layout; the output
// per observer and per insertion; sharded runs merged with --merge-state equal to one run; and
// errors (missing data, bad batch, bad plan, state of another plan) with their exit codes.
//
// Expected qparams are computed here through the observer library on the same batches (which
// tests/observers checks against PyTorch); the values tested against PyTorch directly are in
// observe_cli_test.
#include <string>
#include <vector>

#include "backends/cpu/calibrate/calibrators_extra.h"
#include "backends/cpu/observer.h"
#include "common/observer_spec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/calibrate/cli_test_util.h"

namespace qprep::testing {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

// A plan as tools/torch_reference.py writes it (no has_customized_qrange: the reader infers it),
// plus two entries in qprep's own style.
constexpr char kPlan[] = R"({
  "format": "qprep.plan", "version": 1, "graph": "tiny", "backend": "fbgemm",
  "observers": [
    {"id": 0, "class": "MinMaxObserver",
     "args": {"dtype": "quint8", "qscheme": "per_tensor_affine", "quant_min": 0, "quant_max": 127,
              "reduce_range": true, "eps": 1.1920928955078125e-07}},
    {"id": 1, "class": "PerChannelMinMaxObserver",
     "args": {"dtype": "qint8", "qscheme": "per_channel_symmetric", "quant_min": -128,
              "quant_max": 127, "reduce_range": false, "ch_axis": 0,
              "eps": 1.1920928955078125e-07}},
    {"id": 2, "class": "PercentileObserver", "args": {"percentile": 99.0, "bins": 256}},
    {"id": 3, "class": "PlaceholderObserver", "args": {"dtype": "float16"}},
    {"id": 4, "class": "FixedQParamsObserver",
     "args": {"scale": 0.00390625, "zero_point": 0, "dtype": "quint8", "quant_min": 0,
              "quant_max": 255}}
  ],
  "insertions": [
    {"name": "activation_post_process_0", "observer": 0, "value": "x", "consumers": ["add"]},
    {"name": "activation_post_process_1", "observer": 0, "value": "y", "consumers": ["add"]},
    {"name": "activation_post_process_2", "observer": 1, "value": "w", "consumers": ["linear"]},
    {"name": "activation_post_process_3", "observer": 3, "value": "h", "consumers": ["output"]},
    {"name": "activation_post_process_4", "observer": 4, "value": "s", "consumers": ["output"]},
    {"name": "activation_post_process_5", "observer": 2, "value": "z", "consumers": ["output"]}
  ]
})";

class CalibrateCliTest : public ::testing::Test {
 protected:
  CalibrateCliTest() : dir_("calibrate_cli") {
    WriteBytes(dir_ / "plan.json", kPlan);
    // Layouts: DIR/<insertion>/*.npy, DIR/<value>/*.npy, DIR/<insertion>.npy, DIR/<value>.npy.
    x_ = {{-1.0f, 2.0f, 0.5f, 3.0f}, {4.0f, -0.25f, 1.0f, 1.5f}};
    y_ = {{-3.0f, 0.0f, 1.0f, 2.0f}};
    for (size_t i = 0; i < x_.size(); ++i) {
      Npy(dir_ / ("data/activation_post_process_0/batch_" + std::to_string(i) + ".npy"), {2, 2},
          x_[i]);
    }
    Npy(dir_ / "data/y/0.npy", {4}, y_[0]);
    w_ = {0.5f, -2.0f, 1.0f, 0.25f, 3.0f, -1.0f};
    Npy(dir_ / "data/activation_post_process_2.npy", {2, 3}, w_);
    for (int i = 0; i < 100; ++i) z_.push_back(static_cast<float>(i) * 0.1f - 2.0f);
    Npy(dir_ / "data/z.npy", {10, 10}, z_);
  }

  RunResult Run(const std::string& args) { return Qprepc("calibrate " + args, dir_.str()); }
  std::string P(const std::string& rel) { return Quote(dir_ / rel); }

  // The qparams the library gives for `spec` over `batches`.
  json Expected(const std::string& spec, const std::vector<std::vector<float>>& batches,
                const std::vector<int64_t>& shape) {
    observers::RegisterExtraCalibrators();
    auto s = ParseObserverSpec(spec);
    EXPECT_TRUE(s.ok()) << s.status();
    auto o = observers::MakeObserver(*s);
    EXPECT_TRUE(o.ok()) << o.status();
    for (const auto& b : batches) EXPECT_TRUE((*o)->Observe(b.data(), shape).ok());
    auto qp = (*o)->CalculateQParams();
    EXPECT_TRUE(qp.ok());
    json scale = json::array(), zp = json::array();
    for (float f : qp->scale) scale.push_back(static_cast<double>(f));
    for (int64_t z : qp->zero_point) zp.push_back(z);
    return json{{"scale", scale}, {"zero_point", zp}};
  }

  ScratchDir dir_;
  std::vector<std::vector<float>> x_, y_;
  std::vector<float> w_, z_;
};

// Verifies the result: the shared instance saw x's and y's batches, per-channel lists, the
// calibrator, the marker without qparams, fixed qparams, and per-insertion copies.
TEST_F(CalibrateCliTest, CalibratesEveryInstance) {
  RunResult r = Run(P("plan.json") + " --data " + P("data") + " -o " + P("out/qparams.json"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("pass 2/2"));
  json q = json::parse(Slurp(dir_ / "out/qparams.json"));
  EXPECT_EQ(q["format"], "qprep.qparams");
  ASSERT_EQ(q["observers"].size(), 5u);
  ASSERT_EQ(q["insertions"].size(), 6u);

  std::vector<std::vector<float>> xy = x_;
  xy.push_back(y_[0]);
  json e0 = Expected("MinMaxObserver(reduce_range=True)", xy, {4});
  const json& o0 = q["observers"][0];
  EXPECT_EQ(o0["scale"], e0["scale"]);
  EXPECT_EQ(o0["zero_point"], e0["zero_point"]);
  EXPECT_EQ(o0["min_val"][0].get<float>(), -3.0f);
  EXPECT_EQ(o0["max_val"][0].get<float>(), 4.0f);
  EXPECT_EQ(o0["batches"], 3);
  EXPECT_EQ(o0["quant_max"], 127);

  json e1 =
      Expected("PerChannelMinMaxObserver(ch_axis=0, dtype=qint8, qscheme=per_channel_symmetric)",
               {w_}, {2, 3});
  EXPECT_EQ(q["observers"][1]["scale"], e1["scale"]);
  EXPECT_EQ(q["observers"][1]["scale"].size(), 2u);
  EXPECT_EQ(q["observers"][1]["ch_axis"], 0);

  json e2 = Expected("PercentileObserver(percentile=99.0, bins=256)", {z_}, {100});
  EXPECT_EQ(q["observers"][2]["scale"], e2["scale"]);
  EXPECT_EQ(q["observers"][2]["zero_point"], e2["zero_point"]);

  EXPECT_EQ(q["observers"][3]["kind"], "marker");
  EXPECT_FALSE(q["observers"][3].contains("scale"));
  EXPECT_EQ(q["observers"][4]["kind"], "fixed");
  EXPECT_EQ(q["observers"][4]["scale"][0].get<double>(), 0.00390625);

  // Per insertion: both points of the shared instance carry its qparams.
  EXPECT_EQ(q["insertions"][0]["scale"], e0["scale"]);
  EXPECT_EQ(q["insertions"][1]["scale"], e0["scale"]);
  EXPECT_EQ(q["insertions"][0]["files"], 2);
  EXPECT_EQ(q["insertions"][1]["files"], 1);
  EXPECT_EQ(q["insertions"][2]["scale"], e1["scale"]);
  EXPECT_FALSE(q["insertions"][3].contains("scale"));
  EXPECT_EQ(q["insertions"][5]["value"], "z");
}

// Verifies two shards saved with --save-state and merged give exactly the one-run result.
TEST_F(CalibrateCliTest, ShardedEqualsOneRun) {
  // Shard 1: the first batch of x, plus w; shard 2: the second batch of x, y and z.
  Npy(dir_ / "s1/activation_post_process_0/0.npy", {4}, x_[0]);
  Npy(dir_ / "s1/w.npy", {2, 3}, w_);
  Npy(dir_ / "s2/activation_post_process_0/1.npy", {4}, x_[1]);
  Npy(dir_ / "s2/y.npy", {4}, y_[0]);
  Npy(dir_ / "s2/z.npy", {100}, z_);
  RunResult one = Run(P("plan.json") + " --quiet --data " + P("data") + " -o " + P("one.json"));
  RunResult a =
      Run(P("plan.json") + " --allow-missing --data " + P("s1") + " --save-state " + P("st1"));
  RunResult b =
      Run(P("plan.json") + " --allow-missing --data " + P("s2") + " --save-state " + P("st2"));
  ASSERT_EQ(one.exit_code, 0) << one.err;
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.err;
  RunResult m = Run(P("plan.json") + " --merge-state " + P("st1") + " --merge-state " + P("st2") +
                    " -o " + P("merged.json"));
  ASSERT_EQ(m.exit_code, 0) << m.err;
  json qo = json::parse(Slurp(dir_ / "one.json")), qm = json::parse(Slurp(dir_ / "merged.json"));
  for (size_t id = 0; id < qo["observers"].size(); ++id) {
    for (const char* k : {"scale", "zero_point", "min_val", "max_val", "batches"}) {
      EXPECT_EQ(qo["observers"][id].value(k, json()), qm["observers"][id].value(k, json()))
          << "observer " << id << " " << k;
    }
  }
  EXPECT_EQ(qo["insertions"], qm["insertions"]);
  // A state directory of another plan is refused.
  WriteBytes(
      dir_ / "other.json",
      R"({"format": "qprep.plan", "version": 1, "observers": [{"id": 0, "class": "MinMaxObserver", "args": {}}], "insertions": []})");
  RunResult bad = Run(P("other.json") + " --merge-state " + P("st1"));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.err, HasSubstr("another plan"));
}

// Verifies missing data is an error naming the insertion (unless --allow-missing), and a bad
// batch names its file.
TEST_F(CalibrateCliTest, MissingAndBadData) {
  Npy(dir_ / "partial/x.npy", {4}, x_[0]);
  RunResult r = Run(P("plan.json") + " --data " + P("partial"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("activation_post_process_1 (value y)"));
  EXPECT_THAT(r.err, HasSubstr("--allow-missing"));
  r = Run(P("plan.json") + " --allow-missing --quiet --data " + P("partial"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json q = json::parse(r.out);
  EXPECT_EQ(q["observers"][1]["default"], true);
  EXPECT_EQ(q["observers"][1]["initialized"], false);

  std::string f8 = observers::EncodeNpy({2}, std::vector<float>{1, 2});
  f8.replace(f8.find("<f4"), 3, "<f8");
  WriteBytes(dir_ / "data/y/1.npy", f8);
  r = Run(P("plan.json") + " --data " + P("data") + " -o " + P("never.json"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("y/1.npy"));
  EXPECT_THAT(r.err, HasSubstr("'<f8'"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "never.json"));
}

// Verifies plan errors exit 1 naming the field, and command-line errors exit 2.
TEST_F(CalibrateCliTest, PlanAndUsageErrors) {
  struct Case {
    std::string plan, message;
  };
  for (
      const Case& c : std::vector<Case>{
          {"{", "not valid JSON"},
          {R"({"format": "other", "version": 1})", "\"format\""},
          {R"({"format": "qprep.plan", "version": 1, "observers": [], "insertions": [{"name": "a", "observer": 3, "value": "v"}]})",
           "observer id 3"},
          {R"({"format": "qprep.plan", "version": 1, "observers": [{"id": 0, "class": "MinMaxObserver", "args": {"bogus": 1}}], "insertions": []})",
           "bogus"},
          {R"({"format": "qprep.plan", "version": 1, "observers": [{"id": 0, "class": "MinMaxObserver"}], "insertions": [{"name": "../x", "observer": 0, "value": "v"}]})",
           "not usable as a file name"}}) {
    WriteBytes(dir_ / "bad.json", c.plan);
    RunResult r = Run(P("bad.json") + " --data " + P("data"));
    EXPECT_EQ(r.exit_code, 1) << c.plan;
    EXPECT_THAT(r.err, HasSubstr(c.message)) << c.plan;
  }
  EXPECT_EQ(Run("").exit_code, 2);
  EXPECT_EQ(Run(P("plan.json")).exit_code, 2);  // neither --data nor --merge-state
  EXPECT_EQ(Run(P("plan.json") + " --data").exit_code, 2);
  EXPECT_EQ(Run(P("plan.json") + " --data " + P("data") + " --frobnicate").exit_code, 2);
  RunResult h = Run("--help");
  EXPECT_EQ(h.exit_code, 0);
  EXPECT_THAT(h.out, HasSubstr("DIR/<insertion name>/*.npy"));
}

// Verifies the whole path against PyTorch: a CNN prepared by PyTorch 1.13's prepare_fx (its plan
// in the reference format, with a shared instance, moving averages and fixed qparams), the
// tensors each observer node received over 3 forward passes, and PyTorch's calculate_qparams per
// insertion. Regenerate with
//   /usr/bin/python3 tools/calibration_parity.py tests/calibrate/data/parity
TEST(CalibratePyTorchParityTest, MatchesPyTorchEndToEnd) {
  ScratchDir dir("calibrate_parity");
  const std::string data = std::string(QPREP_SOURCE_DIR) + "/tests/calibrate/data/parity";
  RunResult r = Qprepc("calibrate " + Quote(data + "/plan.json") + " --data " +
                           Quote(data + "/batches") + " -o " + Quote(dir / "q.json"),
                       dir.str());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("pass 3/3"));
  json q = json::parse(Slurp(dir / "q.json"));
  json expected = json::parse(Slurp(data + "/expected.json"));
  ASSERT_GE(expected["insertions"].size(), 8u);
  size_t compared = 0;
  for (const json& ins : q["insertions"]) {
    const std::string name = ins["name"].get<std::string>();
    if (!expected["insertions"].contains(name)) continue;
    const json& e = expected["insertions"][name];
    ASSERT_EQ(ins["scale"].size(), e["scale"].size()) << name;
    for (size_t i = 0; i < e["scale"].size(); ++i) {
      EXPECT_EQ(ins["scale"][i].get<float>(), e["scale"][i].get<float>()) << name;
    }
    EXPECT_EQ(ins["zero_point"], e["zero_point"]) << name;
    ++compared;
  }
  EXPECT_EQ(compared, expected["insertions"].size());
}

}  // namespace
}  // namespace qprep::testing
