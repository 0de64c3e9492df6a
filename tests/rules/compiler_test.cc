// Lowering tests: what compiled rule files turn into (engine::Program relations and rules,
// engine::QConfigMapping / BackendConfig / QConfig), beyond the golden diagnostics.
#include "rules/compiler.h"

#include <map>
#include <memory>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/strings/escaping.h"
#include "engine/facts.h"
#include "engine/stratify.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rules/grammar/config.h"

namespace qprep::rules {
namespace {

using ::testing::HasSubstr;

struct Result {
  absl::StatusOr<CompiledRules> out;
  std::string diagnostics;
};

Result Compile(const std::string& text, bool builtins = true) {
  CompileOptions options;
  if (builtins) {
    for (const auto& b : engine::BuiltinRelations()) options.builtin_relations.push_back(b.decl);
  }
  options.read_file = [](const std::string& p) -> absl::StatusOr<std::string> {
    return absl::NotFoundError(p);
  };
  DiagnosticSink sink;
  auto file = std::make_shared<SourceFile>("t.qr", text);
  Result r{CompileSources({file}, options, &sink), sink.Render()};
  return r;
}

TEST(Compiler, EmptyFileCompiles) {
  Result r = Compile("");
  ASSERT_TRUE(r.out.ok()) << r.diagnostics;
  EXPECT_TRUE(r.out->program.rules.empty());
  // The built-in relations are predeclared so the fact loader can fill them by name.
  EXPECT_NE(r.out->program.Find("edge"), engine::Program::kInvalid);
}

TEST(Compiler, ChainsAndTreesLowerToPyTorchReversedNestedTuples) {
  Result r = Compile(R"(
    alias nn = torch.nn.modules;
    group convs = {nn.conv.Conv1d, nn.conv.Conv2d};
    dtype_config w8 = {input: quint8, output: quint8, weight: qint8, bias: float32};
    backend b {
      pattern convs -> nn.batchnorm.BatchNorm2d -> {nn.activation.ReLU, "relu"} {
        dtypes: [w8];
        fuse: fold_bn(name="fuse_conv_bn_relu", qat=torch.nn.intrinsic.modules.fused.ConvBnReLU2d);
      }
      pattern operator.add(nn.conv.Conv2d -> nn.batchnorm.BatchNorm2d, _) { dtypes: w8; }
      op F.linear { dtypes: [w8]; weight: 1; bias: 2; }
    }
    alias F = torch.nn.functional;
  )");
  ASSERT_TRUE(r.out.ok()) << r.diagnostics;
  const engine::BackendConfig& b = r.out->backends.at("b");
  ASSERT_EQ(b.configs.size(), 3u);
  // (ReLU|relu, (BatchNorm2d, Conv1d|Conv2d))
  const engine::Pattern& p = b.configs[0].pattern;
  EXPECT_EQ(p.op.ToString(), "module:torch.nn.modules.activation.ReLU");
  ASSERT_EQ(p.alternatives.size(), 1u);
  EXPECT_EQ(p.alternatives[0].ToString(), "method:relu");
  ASSERT_EQ(p.args.size(), 1u);
  EXPECT_EQ(p.args[0].op.name, "torch.nn.modules.batchnorm.BatchNorm2d");
  ASSERT_EQ(p.args[0].args.size(), 1u);
  EXPECT_EQ(p.args[0].args[0].op.name, "torch.nn.modules.conv.Conv1d");
  EXPECT_EQ(p.args[0].args[0].alternatives[0].name, "torch.nn.modules.conv.Conv2d");
  EXPECT_EQ(engine::ExpandAlternatives(p).size(), 4u);
  EXPECT_EQ(b.configs[0].fuser_method.kind, engine::FuserMethod::Kind::kFoldBn);
  EXPECT_EQ(b.configs[0].fuser_method.name, "fuse_conv_bn_relu");
  EXPECT_EQ(b.configs[0].fuser_method.qat_module_type,
            "torch.nn.intrinsic.modules.fused.ConvBnReLU2d");
  // (add, (BatchNorm2d, Conv2d), MatchAllNode)
  const engine::Pattern& add = b.configs[1].pattern;
  EXPECT_EQ(add.op.ToString(), "function:operator.add");
  ASSERT_EQ(add.args.size(), 2u);
  EXPECT_EQ(add.args[0].args[0].op.name, "torch.nn.modules.conv.Conv2d");
  EXPECT_EQ(add.args[1].op.kind, engine::OpRef::Kind::kAny);
  EXPECT_EQ(add.Length(), 4);
  // Functional weight / bias positions.
  EXPECT_EQ(b.configs[2].pattern.op.ToString(), "function:torch.nn.functional.linear");
  EXPECT_EQ(b.configs[2].input_type_to_index.at("weight"), 1);
  EXPECT_EQ(b.configs[2].input_type_to_index.at("bias"), 2);
  ASSERT_EQ(b.configs[2].dtype_configs.size(), 1u);
  EXPECT_EQ(b.configs[2].dtype_configs[0].weight_dtype.dtype, Dtype::kQInt8);
  EXPECT_EQ(b.configs[2].dtype_configs[0].bias_dtype, Dtype::kFloat32);
}

TEST(Compiler, DtypeConstraintsAndObservationTypes) {
  Result r = Compile(R"(
    dtype_config fixed = {
      input: {dtype: quint8, scale_exact_match: 0.00390625, zero_point_exact_match: 0},
      output: {dtype: quint8, quant_min_lower_bound: 0, quant_max_upper_bound: 255,
               scale_min_lower_bound: 0.000244140625},
      is_dynamic: false,
    };
    backend b {
      op torch.sigmoid {
        observation: output_use_different_observer_as_input;
        dtypes: [fixed];
        fixed_qparams: FixedQParamsObserver(scale=0.00390625, zero_point=0);
      }
      op {operator.add, torch.add} {
        dtypes: [fixed];
        num_tensor_args: {one: output_share_observer_with_input,
                          two: output_use_different_observer_as_input};
      }
      op "size" { observation: input_output_not_observed; }
    }
  )");
  ASSERT_TRUE(r.out.ok()) << r.diagnostics;
  const auto& c = r.out->backends.at("b").configs;
  ASSERT_EQ(c.size(), 3u);
  const engine::DTypeConfig& d = c[0].dtype_configs.at(0);
  EXPECT_EQ(d.input_dtype.scale_exact_match, 0.00390625);
  EXPECT_EQ(d.input_dtype.zero_point_exact_match, 0);
  EXPECT_EQ(d.output_dtype.quant_min_lower_bound, 0);
  EXPECT_EQ(d.output_dtype.quant_max_upper_bound, 255);
  EXPECT_EQ(d.output_dtype.scale_min_lower_bound, 0.000244140625);
  EXPECT_EQ(d.is_dynamic, false);
  ASSERT_TRUE(c[0].overwrite_output_observer.has_value());
  EXPECT_EQ(c[0].overwrite_output_observer->class_name, "FixedQParamsObserver");
  EXPECT_EQ(c[1].num_tensor_args_to_observation_type.at(1),
            engine::ObservationType::kOutputShareObserverWithInput);
  EXPECT_EQ(c[1].pattern.alternatives.size(), 1u);
  EXPECT_EQ(c[2].pattern.op.ToString(), "method:size");
  EXPECT_EQ(c[2].observation_type, engine::ObservationType::kInputOutputNotObserved);
}

TEST(Compiler, QConfigMappingKeepsPyTorchLevelsAndDictSemantics) {
  Result r = Compile(R"(
    observer act = HistogramObserver(dtype=quint8, reduce_range=true);
    qconfig q = {activation: act,
                 weight: PerChannelMinMaxObserver(dtype=qint8, qscheme=per_channel_symmetric)};
    qconfig q2 = q;
    group relus = {torch.nn.functional.relu, "relu"};
    qconfig_mapping base {
      global: q;
      object_type relus: none;
      module_name_regex "features\..*": q2;
    }
    qconfig_mapping m extends base {
      object_type torch.nn.functional.relu: q2;   // replaces base's value in place
      object_type "reshape": reuse_input;
      module_name "layer1.0": none;
      module_name_object_type_order "layer2", operator.add, 1: q;
    }
  )");
  ASSERT_TRUE(r.out.ok()) << r.diagnostics;
  const engine::QConfigMapping& m = r.out->qconfig_mappings.at("m");
  ASSERT_TRUE(m.global_qconfig.has_value());
  EXPECT_EQ(m.global_qconfig->name, "q");
  ASSERT_TRUE(m.global_qconfig->activation.has_value());
  EXPECT_EQ(m.global_qconfig->activation->class_name, "HistogramObserver");
  EXPECT_EQ(m.global_qconfig->activation->quant_max(), 127);  // reduce_range applied
  ASSERT_EQ(m.object_type_qconfigs.size(), 3u);
  EXPECT_EQ(m.object_type_qconfigs[0].object_type.ToString(), "function:torch.nn.functional.relu");
  EXPECT_EQ(m.object_type_qconfigs[0].qconfig.name, "q2");  // overridden, position kept
  EXPECT_TRUE(m.object_type_qconfigs[1].qconfig.is_none);
  EXPECT_EQ(m.object_type_qconfigs[1].object_type.ToString(), "method:relu");
  EXPECT_EQ(m.object_type_qconfigs[2].qconfig.name, "reuse_input");
  EXPECT_TRUE(m.object_type_qconfigs[2].qconfig.is_reuse_input());
  ASSERT_EQ(m.module_name_regex_qconfigs.size(), 1u);
  EXPECT_EQ(m.module_name_regex_qconfigs[0].regex, "features\\..*");
  ASSERT_EQ(m.module_name_qconfigs.size(), 1u);
  EXPECT_TRUE(m.module_name_qconfigs[0].qconfig.is_none);
  ASSERT_EQ(m.module_name_object_type_order_qconfigs.size(), 1u);
  EXPECT_EQ(m.module_name_object_type_order_qconfigs[0].index, 1);
  EXPECT_EQ(m.module_name_object_type_order_qconfigs[0].object_type.name, "operator.add");
}

TEST(Compiler, RulesLowerToProgramWithTypedRelationsAndStratifiedNegation) {
  Result r = Compile(R"(
    relation reach(a: node, b: node);
    relation leaf(n: node);
    equivalence shares(edge, edge);
    base: reach(A, B) :- edge(_, A, B).
    step: reach(A, C) :- reach(A, B), edge(_, B, C).
    leaf: leaf(N) :- node(N, _), !user(N, _).
    cat: shares(E1, E2) :- edge(E1, _, N), edge(E2, _, N), target(N, torch.cat), E1 != E2.
    big: leaf(N) :- num_users(N, K), K >= 2, node(N, "x").
  )");
  ASSERT_TRUE(r.out.ok()) << r.diagnostics;
  const engine::Program& p = r.out->program;
  engine::RelationId reach = p.Find("reach");
  ASSERT_NE(reach, engine::Program::kInvalid);
  EXPECT_EQ(p.relations[reach].kind, engine::RelationDecl::Kind::kDerived);
  EXPECT_EQ(p.relations[p.Find("shares")].kind, engine::RelationDecl::Kind::kEquivalence);
  EXPECT_EQ(p.relations[p.Find("edge")].kind, engine::RelationDecl::Kind::kInput);
  ASSERT_EQ(p.rules.size(), 5u);
  const engine::Rule& step = p.rules[1];
  EXPECT_EQ(step.name, "step");
  EXPECT_EQ(step.head.relation, reach);
  ASSERT_EQ(step.body.size(), 2u);
  EXPECT_EQ(step.variable_names, (std::vector<std::string>{"A", "B", "C"}));
  EXPECT_EQ(step.body[1].atom.args[0].kind, engine::Term::Kind::kWildcard);
  const engine::Rule& leaf = p.rules[2];
  EXPECT_EQ(leaf.body[1].kind, engine::Literal::Kind::kNegated);
  const engine::Rule& cat = p.rules[3];
  EXPECT_EQ(cat.body[2].atom.args[1].kind, engine::Term::Kind::kConstant);
  EXPECT_EQ(r.out->symbols->Name(cat.body[2].atom.args[1].value), "torch.cat");
  EXPECT_EQ(cat.body[3].kind, engine::Literal::Kind::kCompare);
  EXPECT_EQ(cat.body[3].op, engine::CompareOp::kNe);
  const engine::Rule& big = p.rules[4];
  EXPECT_EQ(big.body[1].kind, engine::Literal::Kind::kCompare);  // source order is kept
  EXPECT_EQ(big.body[1].op, engine::CompareOp::kGe);
  EXPECT_EQ(big.body[1].rhs.value, 2);
  // The evaluator accepts it: negation is stratified.
  EXPECT_FALSE(engine::FindNegationCycle(p).has_value());
}

TEST(Compiler, SharedSymbolTableIsUsed) {
  auto symbols = std::make_shared<engine::SymbolTable>();
  engine::Datum pre = symbols->Intern("torch.cat");
  CompileOptions options;
  for (const auto& b : engine::BuiltinRelations()) options.builtin_relations.push_back(b.decl);
  options.symbols = symbols;
  DiagnosticSink sink;
  auto out =
      CompileSources({std::make_shared<SourceFile>(
                         "t.qr", "relation c(n: node);\nr: c(N) :- target(N, torch.cat).\n")},
                     options, &sink);
  ASSERT_TRUE(out.ok()) << sink.Render();
  EXPECT_EQ(out->symbols.get(), symbols.get());
  EXPECT_EQ(out->program.rules[0].body[0].atom.args[1].value, pre);
}

TEST(Compiler, WithoutBuiltinsFilesDeclareTheirInputs) {
  Result r = Compile(R"(
    input relation e(a: node, b: node);
    relation path(a: node, b: node);
    p1: path(A, B) :- e(A, B).
    p2: path(A, C) :- path(A, B), e(B, C).
  )",
                     /*builtins=*/false);
  ASSERT_TRUE(r.out.ok()) << r.diagnostics;
  EXPECT_EQ(r.out->program.relations.size(), 2u);
  EXPECT_EQ(r.out->program.relations[0].kind, engine::RelationDecl::Kind::kInput);
}

TEST(Compiler, ErrorsFailCompilationAndAreAllReported) {
  Result r = Compile(R"(
observer a = NoSuchObserver();
qconfig q = {activation: a, weight: MinMaxObserver(dtype=qint9)};
relation x(n: node);
r: x(N) :- nodez(N, _).
)");
  EXPECT_FALSE(r.out.ok());
  EXPECT_THAT(r.diagnostics,
              HasSubstr("t.qr:2:14: error: unknown observer class `NoSuchObserver`"));
  EXPECT_THAT(r.diagnostics, HasSubstr("t.qr:3:52: error: MinMaxObserver: argument 'dtype'"));
  EXPECT_THAT(r.diagnostics, HasSubstr("t.qr:5:12: error: unknown relation `nodez`"));
  // The status carries the same rendered text for callers that only see the Status.
  EXPECT_THAT(std::string(r.out.status().message()), HasSubstr("unknown relation `nodez`"));
}

TEST(Compiler, IncludesUseTheSearchPathAndAreReadOnce) {
  // a.qr includes "lib/base.qr" (found on the search path) twice, directly and through b.qr.
  std::map<std::string, std::string> files = {
      {"/src/a.qr",
       "include \"lib/base.qr\";\ninclude \"b.qr\";\n"
       "backend top extends base { op torch.cat { dtypes: [w8]; } }\n"},
      {"/src/b.qr", "include \"lib/base.qr\";\n"},
      {"/rules/lib/base.qr",
       "dtype_config w8 = {input: quint8, output: quint8};\n"
       "backend base { op operator.add { dtypes: [w8]; } }\n"}};
  std::vector<std::string> reads;
  CompileOptions options;
  options.search_paths = {"/rules"};
  options.read_file = [&](const std::string& p) -> absl::StatusOr<std::string> {
    reads.push_back(p);
    auto it = files.find(p);
    if (it == files.end()) return absl::NotFoundError(p);
    return it->second;
  };
  DiagnosticSink sink;
  auto out = CompileFiles({"/src/a.qr"}, options, &sink);
  ASSERT_TRUE(out.ok()) << sink.Render();
  EXPECT_EQ(out->files.size(), 3u);  // base.qr once, though included twice
  ASSERT_EQ(out->backends.at("top").configs.size(), 2u);
  EXPECT_EQ(out->backends.at("top").configs[0].pattern.op.name, "operator.add");
  // The including file's directory is tried before the search path.
  EXPECT_EQ(reads[1], "/src/lib/base.qr");
  EXPECT_EQ(reads[2], "/rules/lib/base.qr");
}

TEST(Compiler, DeepNestingIsAnErrorNotAStackOverflow) {
  Result r = Compile("group g = " + std::string(5000, '[') + std::string(5000, ']') + ";\n");
  EXPECT_FALSE(r.out.ok());
  EXPECT_THAT(r.diagnostics, HasSubstr("t.qr:1:139: error: brackets nested more than 128 levels"));
}

// The rule parser's hand-written skipper (rules/grammar/config.h) must skip exactly what the X3
// expression it replaced skipped. Differential check on random text over the characters that
// matter (whitespace, comment openers and closers, a non-ASCII byte), from every start position.
TEST(Skipper, SkipsExactlyWhatTheXThreeExpressionSkipped) {
  namespace x3 = boost::spirit::x3;
  const auto reference = x3::ascii::space | (x3::lit("//") >> *(x3::char_ - x3::eol)) |
                         (x3::lit('#') >> *(x3::char_ - x3::eol)) |
                         (x3::lit("/*") >> *(x3::char_ - x3::lit("*/")) >> x3::lit("*/"));
  // skip_over reads the skipper from a phrase context, as the parser does (rules/parser.cc).
  const x3::phrase_parse_context<std::remove_const_t<decltype(reference)>>::type reference_context(
      reference);
  const parser::phrase_context_type skipper_context(parser::kSkipper);
  const std::string alphabet = " \t\n\r\v\f/*#a_\x80";
  std::mt19937 rng(12345);
  int checked = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string text;
    const int len = static_cast<int>(rng() % 24);
    for (int i = 0; i < len; ++i) text.push_back(alphabet[rng() % alphabet.size()]);
    for (size_t start = 0; start <= text.size(); ++start) {
      auto want = text.cbegin() + static_cast<std::ptrdiff_t>(start);
      x3::skip_over(want, text.cend(), reference_context);
      auto got = text.cbegin() + static_cast<std::ptrdiff_t>(start);
      x3::skip_over(got, text.cend(), skipper_context);
      ASSERT_EQ(got - text.cbegin(), want - text.cbegin())
          << "text (escaped): " << absl::CEscape(text) << " from " << start;
      ++checked;
    }
  }
  EXPECT_GT(checked, 30000);
}

TEST(Compiler, CommentsAndLineEndingsAreSkipped) {
  Result ok = Compile(
      "# hash comment\r\n"
      "/* block comment with * and / and /* inside,\n over lines */ dtype_config w8 =\t\v\f"
      "{input: quint8, // line comment\r\n output: quint8};\r\n"
      "/**/relation r(n: node); r: r(N) :- edge(_, N, _). // no newline at the end");
  ASSERT_TRUE(ok.out.ok()) << ok.diagnostics;
  EXPECT_EQ(ok.out->dtype_configs.count("w8"), 1u);
  EXPECT_EQ(ok.out->program.rules.size(), 1u);
  // An unterminated block comment is not a comment: the error points at its '/'.
  Result bad = Compile("dtype_config w8 = {input: quint8};\n  /* never closed\n");
  EXPECT_FALSE(bad.out.ok());
  EXPECT_THAT(bad.diagnostics, HasSubstr("t.qr:2:3: error: syntax error: expected a declaration"));
}

}  // namespace
}  // namespace qprep::rules
