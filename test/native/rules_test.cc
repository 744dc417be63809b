// Rules: template syntax, source globs, planning of Redis commands, and the rules JSON parser.
#include "rules/rules.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "debezium/decoder.h"
#include "rules/versioned_refresh.h"

namespace cdc {
namespace {

using Argv = std::vector<std::string>;

// pg_change() events are at lsn 1.
const std::string kLsn1 = "p00000000000000000001";

Argv versioned_set_argv(const std::string& key, const std::string& value, const std::string& ttl = "0",
                        const std::string& version = kLsn1) {
  return versioned_set(key, value, ttl == "0" ? "" : ttl, version).argv;
}
Argv versioned_delete_argv(const std::string& key, const std::string& version = kLsn1) {
  return versioned_delete(key, version).argv;
}

RuleSpec rule(std::string source, std::vector<std::string> invalidate) {
  RuleSpec spec;
  spec.source = std::move(source);
  spec.invalidate = std::move(invalidate);
  return spec;
}

RuleSet compile_ok(const std::vector<RuleSpec>& specs, RuleOptions options = {}) {
  RuleSet set;
  Status st = RuleSet::compile(specs, options, set);
  EXPECT_TRUE(st.ok()) << st.message();
  return set;
}

std::string compile_error(const std::vector<RuleSpec>& specs) {
  RuleSet set;
  Status st = RuleSet::compile(specs, RuleOptions{}, set);
  EXPECT_FALSE(st.ok());
  return st.message();
}

ChangeEvent decode(const std::string& value, const std::string& key = "") {
  Decoder decoder;
  ChangeEvent e;
  Status st = decoder.decode(value, false, key, e);
  EXPECT_TRUE(st.ok()) << st.message();
  return e;
}

// A PostgreSQL-shaped change on public.customers.
ChangeEvent pg_change(char op, const std::string& before, const std::string& after, const std::string& key = "") {
  return decode(std::string(R"({"op":")") + op + R"(","before":)" + before + R"(,"after":)" + after +
                    R"(,"source":{"connector":"postgresql","db":"inv","schema":"public","table":"customers","lsn":1}})",
                key);
}

std::vector<Argv> plan(const RuleSet& rules, const ChangeEvent& e, PlanCounters* counters = nullptr,
                       bool* matched_out = nullptr) {
  std::vector<Command> commands;
  bool matched = false;
  PlanCounters local;
  Status st = rules.plan(e, commands, matched, counters ? *counters : local);
  EXPECT_TRUE(st.ok()) << st.message();
  if (matched_out) *matched_out = matched;
  std::vector<Argv> out;
  for (Command& c : commands) out.push_back(c.argv);
  return out;
}

// ---- templates -------------------------------------------------------------------------------

TEST(RuleTemplates, LiteralBracesAndPlaceholders) {
  RuleSet rules = compile_ok({rule("public.customers", {"{{literal}}:{id}", "a}}b{{", "plain"})});
  auto cmds = plan(rules, pg_change('c', "null", R"({"id":7})"));
  ASSERT_EQ(cmds.size(), 1u);
  EXPECT_EQ(cmds[0], (Argv{"UNLINK", "{literal}:7", "a}b{", "plain"}));
}

TEST(RuleTemplates, SyntaxErrorsNameTheRuleAndTemplate) {
  EXPECT_EQ(compile_error({rule("a", {"ok:{id}"}), rule("b", {"x"}), rule("c", {"{id"})}),
            "rules[2].invalidate[0]: unknown placeholder syntax \"{id\"");
  EXPECT_EQ(compile_error({rule("a", {"x", "c:{}"})}), "rules[0].invalidate[1]: unknown placeholder syntax \"c:{}\"");
  EXPECT_EQ(compile_error({rule("a", {"{a{b}}"})}), "rules[0].invalidate[0]: unknown placeholder syntax \"{a{b}}\"");
  EXPECT_EQ(compile_error({rule("a", {"x}y"})}), "rules[0].invalidate[0]: unknown placeholder syntax \"x}y\"");
  EXPECT_EQ(compile_error({rule("a", {"{a..b}"})}), "rules[0].invalidate[0]: unknown placeholder syntax \"{a..b}\"");
  EXPECT_EQ(compile_error({rule("a", {"{key.}"})}), "rules[0].invalidate[0]: unknown placeholder syntax \"{key.}\"");
  EXPECT_EQ(compile_error({rule("", {"x"})}), "rules[0].source: expected a non-empty string");
  EXPECT_EQ(compile_error({rule("a", {""})}), "rules[0].invalidate[0]: expected a non-empty string");

  RuleSpec refresh = rule("a", {});
  refresh.refresh = RefreshSpec{"c:{id", {}, 0};
  EXPECT_EQ(compile_error({refresh}), "rules[0].refresh.key: unknown placeholder syntax \"c:{id\"");
  RuleSpec truncate = rule("a", {});
  truncate.on_truncate = {"all", "x{"};
  EXPECT_EQ(compile_error({truncate}), "rules[0].onTruncate[1]: unknown placeholder syntax \"x{\"");
  truncate.on_truncate = {"all:{id}"};
  EXPECT_EQ(compile_error({truncate}),
            "rules[0].onTruncate[0]: placeholders are not allowed here (a truncate carries no row)");
}

// ---- source globs ------------------------------------------------------------------------------

TEST(RuleGlobs, Matching) {
  struct Case {
    const char* pattern;
    const char* name;
    bool match;
  } cases[] = {
      {"public.customers", "public.customers", true}, {"public.customers", "public.customers2", false},
      {"*", "anything.at.all", true},                 {"*", "", true},
      {"public.*", "public.orders", true},            {"public.*", "inventory.orders", false},
      {"*.customers", "inventory.customers", true},   {"*.customers", "inventory.customers_v2", false},
      {"inv*.c*s", "inventory.customers", true},      {"inv*.c*s", "inventory.customer", false},
      {"a*b*c", "abc", true},                          {"a*b*c", "aXbYbZc", true},
      {"a*b*c", "acb", false},                         {"**", "x", true},
      {"public.customers", "PUBLIC.customers", false},
  };
  for (const Case& c : cases) {
    RuleSet rules = compile_ok({rule(c.pattern, {"k"})});
    EXPECT_EQ(rules.matches(c.name), c.match) << c.pattern << " vs " << c.name;
  }
}

TEST(RuleNeeds, TheColumnsTheTemplatesReadOrWholeImagesForARefresh) {
  RuleSet invalidate_only = compile_ok({rule("public.customers", {"customer:{id}", "c:{address.city}:{key.tenant}"}),
                                        rule("public.orders", {"order:{id}", "static-key"})});
  DecodeNeeds needs = invalidate_only.decode_needs();
  EXPECT_FALSE(needs.whole_images);
  EXPECT_FALSE(needs.positions);
  // "address.city" is column address's field city (or a column so named: the decoder takes it with address).
  EXPECT_EQ(needs.columns, (std::vector<std::string>{"id", "address"}));

  RuleSpec refreshing = rule("public.customers", {"customer:{id}"});
  refreshing.refresh = RefreshSpec{};
  refreshing.refresh->key = "customer:json:{id}";
  DecodeNeeds refresh_needs = compile_ok({rule("public.orders", {"order:{id}"}), refreshing}).decode_needs();
  EXPECT_TRUE(refresh_needs.whole_images);
  EXPECT_TRUE(refresh_needs.positions);  // the refresh's version
}

// ---- planning ----------------------------------------------------------------------------------

TEST(RulePlan, ChangedEmailDeletesOldAndNewKeys) {
  RuleSet rules = compile_ok({rule("public.customers", {"customer:{id}", "customer:email:{email}"})});
  auto cmds = plan(rules, pg_change('u', R"({"id":1,"email":"old@x"})", R"({"id":1,"email":"new@x"})"));
  ASSERT_EQ(cmds.size(), 1u);
  EXPECT_EQ(cmds[0], (Argv{"UNLINK", "customer:1", "customer:email:old@x", "customer:email:new@x"}));
}

TEST(RulePlan, SeveralRulesApplyAndKeysAreDeduplicated) {
  RuleSet rules = compile_ok({rule("public.customers", {"customer:{id}"}), rule("public.*", {"customer:{id}", "list"}),
                              rule("inventory.*", {"never"})});
  bool matched = false;
  auto cmds = plan(rules, pg_change('d', R"({"id":1})", "null"), nullptr, &matched);
  EXPECT_TRUE(matched);
  ASSERT_EQ(cmds.size(), 1u);
  EXPECT_EQ(cmds[0], (Argv{"UNLINK", "customer:1", "list"}));
}

TEST(RulePlan, MissingNullAndUnavailableFieldsAreCounted) {
  RuleSet rules = compile_ok({rule("public.customers", {"customer:email:{email}"})});
  PlanCounters counters;
  // before lacks email, after has null: nothing to delete, two misses.
  auto cmds = plan(rules, pg_change('u', R"({"id":1})", R"({"id":1,"email":null})"), &counters);
  EXPECT_TRUE(cmds.empty());
  EXPECT_EQ(counters.missing_field, 2u);
  cmds = plan(rules, pg_change('u', "null", R"({"id":1,"email":"__debezium_unavailable_value"})"), &counters);
  EXPECT_TRUE(cmds.empty());
  EXPECT_EQ(counters.missing_field, 3u);
  // Only the image that has it yields a key.
  cmds = plan(rules, pg_change('u', R"({"id":1})", R"({"id":1,"email":"e"})"), &counters);
  EXPECT_EQ(cmds, (std::vector<Argv>{{"UNLINK", "customer:email:e"}}));
  EXPECT_EQ(counters.missing_field, 4u);
}

TEST(RulePlan, KeyPlaceholdersAndNestedPaths) {
  RuleSet rules = compile_ok({rule("public.customers", {"c:{key.id}", "city:{addr.city}"})});
  auto cmds = plan(rules, pg_change('c', "null", R"({"id":1,"addr":{"city":"Ansbach"}})", R"({"id":1})"));
  EXPECT_EQ(cmds, (std::vector<Argv>{{"UNLINK", "c:1", "city:Ansbach"}}));
}

TEST(RulePlan, TypeErrorsNameTheRuleAndField) {
  RuleSet rules = compile_ok({rule("x.y", {"k"}), rule("public.customers", {"ok:{id}", "c:{addr}"})});
  std::vector<Command> commands;
  bool matched = false;
  PlanCounters counters;
  Status st = rules.plan(pg_change('c', "null", R"({"id":1,"addr":{"city":"X"}})"), commands, matched, counters);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "rules[1].invalidate[1]: field \"addr\" is an object, not a scalar");
  EXPECT_TRUE(commands.empty());
  st = rules.plan(pg_change('c', "null", R"({"id":1,"addr":[1,2]})"), commands, matched, counters);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "rules[1].invalidate[1]: field \"addr\" is an array or object, not a scalar");
}

TEST(RulePlan, RefreshWritesTheAfterImage) {
  RuleSpec whole = rule("public.customers", {"customer:email:{email}"});
  whole.refresh = RefreshSpec{"customer:{id}", {}, 0};
  RuleSpec fields = rule("public.customers", {});
  fields.refresh = RefreshSpec{"summary:{id}", {"id", "email", "vip", "gone", "note"}, 60};
  RuleSet rules = compile_ok({whole, fields});
  auto cmds = plan(rules, pg_change('u', R"({"id":1,"email":"a"})",
                                    R"({"id":1,"email":"b","vip":true,"note":null,"n":{"x":"\"q\""}})"));
  ASSERT_EQ(cmds.size(), 3u);
  EXPECT_EQ(cmds[0], (Argv{"UNLINK", "customer:email:a", "customer:email:b"}));
  EXPECT_EQ(cmds[1], versioned_set_argv("customer:1", R"({"id":1,"email":"b","vip":true,"note":null,"n":{"x":"\"q\""}})"));
  EXPECT_EQ(cmds[2], versioned_set_argv("summary:1", R"({"id":1,"email":"b","vip":true,"note":null})", "60"));
  EXPECT_EQ(cmds[2][0], "EVALSHA");
  EXPECT_EQ(cmds[2][4], "{summary:1}:cdc-version");
  EXPECT_EQ(cmds[2][7], "60");
}

TEST(RulePlan, RefreshedKeyIsNotAlsoDeleted) {
  RuleSpec spec = rule("public.customers", {"customer:{id}", "customer:email:{email}"});
  spec.refresh = RefreshSpec{"customer:{id}", {"id"}, 0};
  RuleSet rules = compile_ok({spec});
  auto cmds = plan(rules, pg_change('c', "null", R"({"id":2,"email":"e"})"));
  EXPECT_EQ(cmds, (std::vector<Argv>{{"UNLINK", "customer:email:e"}, versioned_set_argv("customer:2", R"({"id":2})")}));
}

TEST(RulePlan, RefreshOnDeleteDeletesTheKey) {
  RuleSpec spec = rule("public.customers", {});
  spec.refresh = RefreshSpec{"customer:{id}", {}, 0};
  RuleSet rules = compile_ok({spec});
  EXPECT_EQ(plan(rules, pg_change('d', R"({"id":9})", "null")), (std::vector<Argv>{versioned_delete_argv("customer:9")}));
  // No before image (default replica identity delete without it): the key gives the id.
  EXPECT_EQ(plan(rules, pg_change('d', "null", "null", R"({"id":10})")),
            (std::vector<Argv>{versioned_delete_argv("customer:10")}));
  // A TOAST placeholder in the new image must never be cached: drop the key instead.
  EXPECT_EQ(plan(rules, pg_change('u', "null", R"({"id":3,"bio":"__debezium_unavailable_value"})")),
            (std::vector<Argv>{versioned_delete_argv("customer:3")}));
}

// Issue 10 item 6: the refresh key is rendered from both images.
TEST(RulePlan, RefreshUnderAChangedKeyFieldDeletesTheOldKey) {
  RuleSpec spec = rule("public.customers", {});
  spec.refresh = RefreshSpec{"customer:email:{email}", {"id"}, 0};
  RuleSet rules = compile_ok({spec});
  PlanCounters counters;
  EXPECT_EQ(plan(rules, pg_change('u', R"({"id":1,"email":"a"})", R"({"id":1,"email":"b"})"), &counters),
            (std::vector<Argv>{versioned_set_argv("customer:email:b", R"({"id":1})"),
                               versioned_delete_argv("customer:email:a")}));
  // The key field became null: nothing to write, the old key goes.
  EXPECT_EQ(plan(rules, pg_change('u', R"({"id":1,"email":"a"})", R"({"id":1,"email":null})"), &counters),
            (std::vector<Argv>{versioned_delete_argv("customer:email:a")}));
  // Unchanged key field: one write, no delete.
  EXPECT_EQ(plan(rules, pg_change('u', R"({"id":1,"email":"a"})", R"({"id":1,"email":"a"})"), &counters),
            (std::vector<Argv>{versioned_set_argv("customer:email:a", R"({"id":1})")}));
  EXPECT_EQ(counters.refresh_without_before, 0u);
  // No before image (REPLICA IDENTITY DEFAULT): counted, the old key cannot be known.
  plan(rules, pg_change('u', "null", R"({"id":1,"email":"b"})"), &counters);
  EXPECT_EQ(counters.refresh_without_before, 1u);
}

// Issue 10 item 4: versions sort in log order within each kind of source.
TEST(RefreshVersion, SourcePositionsSortInLogOrder) {
  auto version_of = [](const std::string& source) {
    return source_version(decode(R"({"op":"u","before":null,"after":{"id":1},"source":)" + source + "}"));
  };
  std::string pg_small = version_of(R"({"connector":"postgresql","schema":"public","table":"t","lsn":9,"txId":5,"ts_ms":5})");
  std::string pg_big = version_of(R"({"connector":"postgresql","schema":"public","table":"t","lsn":314477488,"ts_ms":1})");
  EXPECT_EQ(pg_small, "p00000000000000000009");
  EXPECT_LT(pg_small, pg_big);
  std::string my_a = version_of(R"({"connector":"mysql","db":"d","table":"t","file":"mysql-bin.000009","pos":99999})");
  std::string my_b = version_of(R"({"connector":"mysql","db":"d","table":"t","file":"mysql-bin.000010","pos":4})");
  EXPECT_EQ(my_a.front(), 'b');
  EXPECT_LT(my_a, my_b);  // the next binlog file is later whatever its position
  std::string mongo_a = version_of(R"({"connector":"mongodb","db":"d","collection":"c","ts_ms":1000,"ord":7})");
  std::string mongo_b = version_of(R"({"connector":"mongodb","db":"d","collection":"c","ts_ms":2000,"ord":1})");
  EXPECT_EQ(mongo_a.front(), 'o');
  EXPECT_LT(mongo_a, mongo_b);
  std::string ts = version_of(R"({"connector":"sqlserver","db":"d","table":"t","ts_ms":1700000000000})");
  EXPECT_EQ(ts, "t00000001700000000000");
  EXPECT_EQ(version_key("customer:1"), "{customer:1}:cdc-version");
  EXPECT_EQ(version_key("{tenant}:customer:1"), "{tenant}:customer:1:cdc-version");
}

TEST(RulePlan, TruncateMessageAndNonChangeKinds) {
  RuleSpec with = rule("public.customers", {"customer:{id}"});
  with.on_truncate = {"customers:all", "customers:count"};
  RuleSet rules = compile_ok({with}, RuleOptions{"app:", true});
  PlanCounters counters;
  bool matched = false;
  EXPECT_EQ(plan(rules, pg_change('t', "null", "null"), &counters, &matched),
            (std::vector<Argv>{{"UNLINK", "app:customers:all", "app:customers:count"}}));
  EXPECT_TRUE(matched);

  RuleSet without = compile_ok({rule("public.customers", {"customer:{id}"})});
  EXPECT_TRUE(plan(without, pg_change('t', "null", "null"), &counters).empty());
  EXPECT_EQ(counters.truncate_ignored, 1u);
  EXPECT_EQ(counters.missing_field, 0u);

  EXPECT_TRUE(plan(without, pg_change('m', "null", "null"), &counters, &matched).empty());
  EXPECT_TRUE(matched);
  ChangeEvent tombstone;
  tombstone.kind = EventKind::tombstone;
  EXPECT_TRUE(plan(without, tombstone, &counters, &matched).empty());
  EXPECT_FALSE(matched);
  ChangeEvent heartbeat;
  heartbeat.kind = EventKind::heartbeat;
  EXPECT_TRUE(plan(without, heartbeat, &counters, &matched).empty());
  EXPECT_FALSE(matched);
}

TEST(RulePlan, NoMatchingRule) {
  RuleSet rules = compile_ok({rule("inventory.*", {"x:{id}"})});
  bool matched = true;
  EXPECT_TRUE(plan(rules, pg_change('c', "null", R"({"id":1})"), nullptr, &matched).empty());
  EXPECT_FALSE(matched);
}

TEST(RulePlan, PrefixAndDelCommand) {
  RuleSet rules = compile_ok({rule("public.customers", {"customer:{id}"})}, RuleOptions{"tenant1:", false});
  EXPECT_EQ(plan(rules, pg_change('c', "null", R"({"id":1})")), (std::vector<Argv>{{"DEL", "tenant1:customer:1"}}));
}

TEST(RulePlan, HostileValuesStayOneArgvElement) {
  RuleSet rules = compile_ok({rule("public.customers", {"c:{name}"})});
  std::string after = R"({"name":"a b\r\nDEL *\r\n{x} \"q\" \u0000 end"})";
  auto cmds = plan(rules, pg_change('c', "null", after));
  ASSERT_EQ(cmds.size(), 1u);
  ASSERT_EQ(cmds[0].size(), 2u);
  EXPECT_EQ(cmds[0][1], std::string("c:a b\r\nDEL *\r\n{x} \"q\" \0 end", 27));
}

TEST(RulePlan, MongoDeleteWithoutPreImageUsesTheKey) {
  RuleSet rules = compile_ok({rule("ordersdb.orders", {"order:{_id}", "order2:{key.id}"})});
  ChangeEvent e = decode(
      R"({"before":null,"after":null,"source":{"connector":"mongodb","db":"ordersdb","collection":"orders"},"op":"d"})",
      R"({"id":"{\"$oid\": \"68121c1692da88b533465769\"}"})");
  EXPECT_EQ(plan(rules, e), (std::vector<Argv>{{"UNLINK", "order:68121c1692da88b533465769",
                                                "order2:68121c1692da88b533465769"}}));
}

TEST(RulePlan, CommandsAreAppended) {
  RuleSet rules = compile_ok({rule("public.customers", {"c:{id}"})});
  std::vector<Command> commands(1);
  commands[0].argv = {"PING"};
  bool matched = false;
  PlanCounters counters;
  ASSERT_TRUE(rules.plan(pg_change('c', "null", R"({"id":1})"), commands, matched, counters).ok());
  ASSERT_EQ(commands.size(), 2u);
  EXPECT_EQ(commands[0].argv, (Argv{"PING"}));
  EXPECT_EQ(commands[1].argv, (Argv{"UNLINK", "c:1"}));
}

// ---- rules JSON --------------------------------------------------------------------------------

TEST(RulesJson, ParsesTheContractShape) {
  std::vector<RuleSpec> specs;
  Status st = parse_rules_json(R"([{"source":"public.customers","invalidate":["customer:{id}","customer:email:{email}"],
      "refresh":{"key":"customer:{id}","fields":["id","email"],"ttlSeconds":60},"onTruncate":["customers:all"]},
      {"source":"*","invalidate":[]}])",
                               specs);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(specs.size(), 2u);
  EXPECT_EQ(specs[0].source, "public.customers");
  EXPECT_EQ(specs[0].invalidate, (std::vector<std::string>{"customer:{id}", "customer:email:{email}"}));
  ASSERT_TRUE(specs[0].refresh.has_value());
  EXPECT_EQ(specs[0].refresh->key, "customer:{id}");
  EXPECT_EQ(specs[0].refresh->fields, (std::vector<std::string>{"id", "email"}));
  EXPECT_EQ(specs[0].refresh->ttl_seconds, 60);
  EXPECT_EQ(specs[0].on_truncate, (std::vector<std::string>{"customers:all"}));
  EXPECT_EQ(specs[1].source, "*");
  EXPECT_FALSE(specs[1].refresh.has_value());
}

TEST(RulesJson, ErrorsNameThePath) {
  auto error = [](const std::string& json, std::string_view prefix = "rules") {
    std::vector<RuleSpec> specs;
    Status st = parse_rules_json(json, specs, prefix);
    EXPECT_FALSE(st.ok()) << json;
    return st.message();
  };
  EXPECT_EQ(error(R"([{"source":"a"},{"source":""}])"), "rules[1].source: expected a non-empty string");
  EXPECT_EQ(error(R"([{"source":"a"},{"invalidate":["x"]}])"), "rules[1].source: expected a non-empty string");
  EXPECT_EQ(error(R"([{"source":"a","invalidat":["x"]}])"),
            "rules[0].invalidat: unknown field (expected source, invalidate, refresh, onTruncate)");
  EXPECT_EQ(error(R"([{"source":"a","invalidate":"x"}])"), "rules[0].invalidate: expected an array of strings");
  EXPECT_EQ(error(R"([{"source":"a","invalidate":["x",3]}])"), "rules[0].invalidate[1]: expected a non-empty string");
  EXPECT_EQ(error(R"([{"source":"a","refresh":{"fields":[]}}])"), "rules[0].refresh.key: missing");
  EXPECT_EQ(error(R"([{"source":"a","refresh":{"key":"k","ttlSeconds":-1}}])"),
            "rules[0].refresh.ttlSeconds: expected a non-negative integer");
  EXPECT_EQ(error(R"([{"source":"a","refresh":{"key":"k","ttlSeconds":1.5}}])"),
            "rules[0].refresh.ttlSeconds: expected a non-negative integer");
  EXPECT_EQ(error(R"([{"source":"a","refresh":{"key":"k","ttl":1}}])"),
            "rules[0].refresh.ttl: unknown field (expected key, fields, ttlSeconds)");
  EXPECT_EQ(error(R"([{"source":"a","onTruncate":[""]}])"), "rules[0].onTruncate[0]: expected a non-empty string");
  EXPECT_EQ(error(R"({"source":"a"})"), "rules: expected an array of rules");
  EXPECT_EQ(error(R"([1])"), "rules[0]: expected an object");
  EXPECT_EQ(error(R"([{"source":"a"},{"source":2}])", "config.rules"), "config.rules[1].source: expected a non-empty string");
  EXPECT_EQ(error("[{").rfind("rules: invalid JSON", 0), 0u);
}

}  // namespace
}  // namespace cdc
