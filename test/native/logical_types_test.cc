// Connect logical types (issue 10, item 7): the conversions, and real Debezium 3.7 messages
// (test/fixtures/debezium/postgres/pg-v3.7-*) decoded into keys and refreshed values.
#include "debezium/logical_types.h"

#include <gtest/gtest.h>

#include <algorithm>

#include <string>
#include <vector>

#include "debezium/decoder.h"
#include "fixtures.h"
#include "rules/rules.h"

namespace cdc {
namespace {

using namespace decoding;
using cdc_test::kFixtures;
using cdc_test::read_file;

const std::string kCreate = "postgres/pg-v3.7-logical-types-create.with-schema";

std::string decimal(std::string_view base64, int32_t scale) {
  std::string out;
  EXPECT_TRUE(decimal_text(base64, scale, out)) << base64;
  return out;
}

TEST(LogicalTypes, DecimalBytesAtTheirScale) {
  EXPECT_EQ(decimal("JxA=", 0), "10000");
  EXPECT_EQ(decimal("JxA=", 2), "100.00");
  EXPECT_EQ(decimal("BOI=", 2), "12.50");
  EXPECT_EQ(decimal("+w==", 2), "-0.05");
  EXPECT_EQ(decimal("AA==", 0), "0");
  EXPECT_EQ(decimal("AA==", 2), "0.00");
  EXPECT_EQ(decimal("/w==", 0), "-1");
  EXPECT_EQ(decimal("gA==", 0), "-128");
  EXPECT_EQ(decimal("AIA=", 0), "128");
  EXPECT_EQ(decimal("Bw==", -2), "700");
  EXPECT_EQ(decimal("Ap1Ctk52cUJEzQ==", 3), "12345678901234567890.125");
  // 2^64 and -(2^64): nine bytes, beyond any machine integer.
  EXPECT_EQ(decimal("AQAAAAAAAAAA", 0), "18446744073709551616");
  EXPECT_EQ(decimal("/wAAAAAAAAAA", 0), "-18446744073709551616");
  std::string out;
  EXPECT_FALSE(decimal_text("", 0, out));
  EXPECT_FALSE(decimal_text("J*A=", 0, out));
  EXPECT_FALSE(decimal_text("J", 0, out));
  // A scale no PostgreSQL column has (a hostile or broken schema) is refused, not padded out.
  EXPECT_FALSE(decimal_text("JxA=", 1001, out));
  EXPECT_FALSE(decimal_text("JxA=", -1001, out));
  EXPECT_FALSE(decimal_text("JxA=", 2'000'000'000, out));
  EXPECT_EQ(decimal("JxA=", 1000).size(), size_t(1002));  // "0." and 1000 digits
}

TEST(LogicalTypes, DatesAsPostgresPrintsThem) {
  std::string out;
  date_text(0, out);
  EXPECT_EQ(out, "1970-01-01");
  date_text(-1, out);
  EXPECT_EQ(out, "1969-12-31");
  date_text(20788, out);
  EXPECT_EQ(out, "2026-12-01");
  date_text(19782, out);
  EXPECT_EQ(out, "2024-02-29");
  date_text(-719162, out);
  EXPECT_EQ(out, "0001-01-01");
  date_text(-719163, out);
  EXPECT_EQ(out, "0001-12-31 BC");
  date_text(2932896, out);
  EXPECT_EQ(out, "9999-12-31");
}

TEST(LogicalTypes, TimesAndTimestampsWithoutTrailingZeros) {
  std::string out;
  EXPECT_TRUE(time_text(0, 1000, out));
  EXPECT_EQ(out, "00:00:00");
  EXPECT_TRUE(time_text(36672000250, 1000000, out));
  EXPECT_EQ(out, "10:11:12.00025");
  EXPECT_TRUE(time_text(86399999, 1000, out));
  EXPECT_EQ(out, "23:59:59.999");
  EXPECT_TRUE(time_text(86400000000000, 1000000000, out));
  EXPECT_EQ(out, "24:00:00");
  EXPECT_TRUE(time_text(1000000001, 1000000000, out));
  EXPECT_EQ(out, "00:00:01.000000001");
  EXPECT_FALSE(time_text(-1, 1000, out));
  EXPECT_FALSE(time_text(86400001, 1000, out));

  timestamp_text(1796119872123456, 1000000, out);
  EXPECT_EQ(out, "2026-12-01 10:11:12.123456");
  timestamp_text(-1, 1000000, out);
  EXPECT_EQ(out, "1969-12-31 23:59:59.999999");
  timestamp_text(-2208988800000000, 1000000, out);
  EXPECT_EQ(out, "1900-01-01 00:00:00");
  timestamp_text(1796119872120000000, 1000000000, out);
  EXPECT_EQ(out, "2026-12-01 10:11:12.12");
  timestamp_text(-62135596801000, 1000, out);
  EXPECT_EQ(out, "0001-12-31 23:59:59 BC");
}

ChangeEvent decode_fixture(Decoder& decoder, const std::string& base) {
  ChangeEvent event;
  Status st = decoder.decode(read_file(kFixtures + "/" + base + ".json"), false,
                             read_file(kFixtures + "/" + base + ".key.json"), event);
  EXPECT_TRUE(st.ok()) << st.message();
  return event;
}

// The refreshed value is the row as the application reads it: numbers and dates as their text,
// json columns as JSON; zoned timestamps and uuids as Debezium sends them (already text).
TEST(LogicalTypes, RealDebeziumRowBecomesTheApplicationsRow) {
  Decoder decoder;
  ChangeEvent event = decode_fixture(decoder, kCreate);
  EXPECT_EQ(event.after.json,
            R"({"id":"10000","price":"12.50","placed":"2026-12-01","placed_at":"2026-12-01 10:11:12.123456",)"
            R"("placed_at_tz":"2026-12-01T08:11:12.500000Z","ready_by":"10:11:12.00025",)"
            R"("ref":"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11","details":{"a": [1, 2], "b": "x"},"meta":{"k": 1}})");
  EXPECT_EQ(event.key.json, R"({"id":"10000"})");
  const Field* details = event.after.find("details");
  ASSERT_TRUE(details);
  EXPECT_EQ(details->type, FieldType::json_text);
  EXPECT_FALSE(event.key_looks_encoded);
}

TEST(LogicalTypes, KeysAndRefreshesRenderTheDecodedText) {
  RuleSpec spec;
  spec.source = "public.logical_orders";
  spec.invalidate = {"order:{id}", "order:{id}:{placed}"};
  spec.refresh = RefreshSpec{"order:{id}:row", {"id", "price", "details"}, 0};
  RuleSet rules;
  ASSERT_TRUE(RuleSet::compile({spec}, RuleOptions{}, rules).ok());
  Decoder decoder;
  ChangeEvent event = decode_fixture(decoder, kCreate);
  std::vector<Command> commands;
  bool matched = false;
  PlanCounters counters;
  ASSERT_TRUE(rules.plan(event, commands, matched, counters).ok());
  ASSERT_EQ(commands.size(), 2u);
  EXPECT_EQ(commands[0].argv, (std::vector<std::string>{"UNLINK", "order:10000", "order:10000:2026-12-01"}));
  const std::vector<std::string>& set = commands[1].argv;
  EXPECT_NE(std::find(set.begin(), set.end(), "order:10000:row"), set.end());
  EXPECT_NE(std::find(set.begin(), set.end(), R"({"id":"10000","price":"12.50","details":{"a": [1, 2], "b": "x"}})"),
            set.end());
}

// The columns are read from a schema once: later messages with the byte-identical schema skip it,
// and a changed schema (another scale) is read anew, never mixed up with the known one.
TEST(LogicalTypes, SchemaPrefixCacheKeepsEachSchemasColumns) {
  const std::string value = read_file(kFixtures + "/" + kCreate + ".json");
  const std::string key = read_file(kFixtures + "/" + kCreate + ".key.json");
  std::string rescaled = value;
  const std::string scale2 = R"("parameters":{"scale":"2","connect.decimal.precision":"12"})";
  for (size_t at; (at = rescaled.find(scale2)) != std::string::npos;) rescaled.replace(at + 23, 1, "3");
  ASSERT_NE(rescaled, value);
  Decoder decoder;
  ChangeEvent event;
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(decoder.decode(value, false, key, event).ok());
    EXPECT_EQ(event.after.find("price")->value, "12.50");
    EXPECT_EQ(event.key.find("id")->value, "10000");
    ASSERT_TRUE(decoder.decode(rescaled, false, key, event).ok());
    EXPECT_EQ(event.after.find("price")->value, "1.250");
  }
}

TEST(LogicalTypes, EncodingThatDoesNotDecodeFailsTheMessageNamingTheField) {
  std::string value = read_file(kFixtures + "/" + kCreate + ".json");
  const size_t at = value.find(R"("price":"BOI=")");
  ASSERT_NE(at, std::string::npos);
  value.replace(at, 14, R"("price":"B*I=")");
  Decoder decoder;
  ChangeEvent event;
  Status st = decoder.decode(value, false, "", event);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("payload.after.price"), std::string::npos) << st.message();
}

// Without a schema nothing can be decoded; keys that look encoded are flagged for a warning.
TEST(LogicalTypes, SchemalessKeysThatLookEncodedAreFlagged) {
  Decoder decoder;
  ChangeEvent event;
  const std::string value = R"({"op":"c","before":null,"after":{"id":1},"source":{"connector":"postgresql",)"
                            R"("schema":"public","table":"t","lsn":1}})";
  auto flagged = [&](const std::string& key) {
    EXPECT_TRUE(decoder.decode(value, false, key, event).ok());
    return event.key_looks_encoded;
  };
  EXPECT_TRUE(flagged(R"({"id":{"scale":0,"value":"JxA="}})"));
  EXPECT_TRUE(flagged(R"({"id":"JxA="})"));
  EXPECT_FALSE(flagged(R"({"id":10000})"));
  EXPECT_FALSE(flagged(R"({"id":"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"})"));
  EXPECT_FALSE(flagged(read_file(kFixtures + "/" + kCreate + ".key.json")));  // it has a schema: decoded
}

}  // namespace
}  // namespace cdc
