// explain(): the decoded event and planned commands as JSON; and the cdc_explain CLI's exit codes.
#include "explain/explain.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "fixtures.h"

namespace cdc {
namespace {

using cdc_test::kFixtures;
using cdc_test::read_file;

const char* kRules = R"([
  {"source": "inventory.customers", "invalidate": ["customer:{id}", "customer:email:{email}"]},
  {"source": "public.*", "onTruncate": ["customers:all"]},
  {"source": "ordersdb.orders", "invalidate": ["order:{_id}"]}
])";

std::string explain_ok(const std::string& rules, const std::string& value, const std::string& key = "") {
  std::string out;
  Status st = explain(rules, value, value.empty(), key, out);
  EXPECT_TRUE(st.ok()) << st.message();
  return out;
}

TEST(Explain, MySqlUpdate) {
  std::string out = explain_ok(kRules, read_file(kFixtures + "/mysql/mysql-v1.9-update.with-schema.json"));
  EXPECT_EQ(out,
            R"({"event":{"kind":"change","op":"u","source":{"connector":"mysql","db":"inventory","schema":"","table":"customers"},)"
            R"("before":{"id":1004,"first_name":"Anne","last_name":"Kretchmar","email":"annek@noanswer.org"},)"
            R"("after":{"id":1004,"first_name":"Anne1","last_name":"Kretchmar","email":"annek@noanswer.org"}},)"
            R"("commands":[["UNLINK","customer:1004","customer:email:annek@noanswer.org"]]})");
}

TEST(Explain, PostgresTruncateAndTombstone) {
  std::string out = explain_ok(kRules, read_file(kFixtures + "/postgres/pg-docs-truncate.schemaless.json"), "null");
  EXPECT_EQ(out,
            R"({"event":{"kind":"change","op":"t","source":{"connector":"postgresql","db":"postgres","schema":"public","table":"customers"},)"
            R"("before":null,"after":null},"commands":[["UNLINK","customers:all"]]})");
  out = explain_ok(kRules, "", read_file(kFixtures + "/postgres/pg-composite-key-tombstone.key.json"));
  EXPECT_EQ(out, R"({"event":{"kind":"tombstone","op":null,"source":{"connector":"","db":"","schema":"","table":""},)"
                 R"("before":null,"after":null},"commands":[]})");
}

TEST(Explain, MongoAndHeartbeatAndConfigObject) {
  std::string out = explain_ok(kRules, read_file(kFixtures + "/mongodb/mongo-v2.7-create.schemaless.json"));
  EXPECT_NE(out.find(R"("after":{"_id":{"$oid":"6811137d0c9f202a34d861e0"},"id":"64429e987a8b646915b3735f")"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("commands":[["UNLINK","order:6811137d0c9f202a34d861e0"]])"), std::string::npos) << out;

  out = explain_ok(kRules, read_file(kFixtures + "/misc/heartbeat.with-schema.json"));
  EXPECT_EQ(out.rfind(R"({"event":{"kind":"heartbeat","op":null,)", 0), 0u) << out;

  // The engine config object works too, with its keyPrefix and deleteCommand.
  std::string config = std::string(R"({"kafka":{},"keyPrefix":"app:\"x\" ","deleteCommand":"DEL","rules":)") + kRules + "}";
  out = explain_ok(config, read_file(kFixtures + "/mysql/mysql-v1.9-delete.with-schema.json"));
  EXPECT_NE(out.find(R"("commands":[["DEL","app:\"x\" customer:1006","app:\"x\" customer:email:add1"]])"), std::string::npos) << out;
}

TEST(Explain, ErrorsNameWhatAndWhere) {
  std::string out;
  Status st = explain(kRules, R"({"op":"x","source":{}})", false, "", out);
  EXPECT_EQ(st.message(), "payload.op: unknown op \"x\"");
  st = explain(R"([{"source":"a","invalidate":["{id"]}])", "{}", false, "", out);
  EXPECT_EQ(st.message(), "rules[0].invalidate[0]: unknown placeholder syntax \"{id\"");
  st = explain(R"([{"source":"a","bogus":1}])", "{}", false, "", out);
  EXPECT_EQ(st.message(), "rules[0].bogus: unknown field (expected source, invalidate, refresh, onTruncate)");
  st = explain(R"({"rules":[],"deleteCommand":"FLUSHALL"})", "{}", false, "", out);
  EXPECT_EQ(st.message(), "deleteCommand: expected \"UNLINK\" or \"DEL\"");
}

// ---- the CLI -------------------------------------------------------------------------------------

std::string cli_path() {
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return "";
  std::string path(self, static_cast<size_t>(n));
  return path.substr(0, path.rfind('/')) + "/cdc_explain";
}

struct CliResult {
  int exit_code = -1;
  std::string out, err;
};

CliResult run_cli(const std::string& args) {
  std::string err_file = ::testing::TempDir() + "/cdc_explain_stderr.txt";
  std::string command = cli_path() + " " + args + " 2>" + err_file;
  CliResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return result;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.out.append(buffer, n);
  int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.err = read_file(err_file);
  return result;
}

std::string write_temp(const std::string& name, const std::string& content) {
  std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

class ExplainCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(cli_path().c_str(), X_OK) != 0) GTEST_SKIP() << "cdc_explain not built next to the test: " << cli_path();
  }
};

TEST_F(ExplainCli, ExplainsAFixture) {
  std::string rules = write_temp("rules.json", kRules);
  CliResult r = run_cli("--rules " + rules + " " + kFixtures + "/mysql/mysql-v1.9-delete.with-schema.json");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(R"("commands":[["UNLINK","customer:1006","customer:email:add1"]])"), std::string::npos) << r.out;
  // Empty event file = tombstone, with a key file.
  r = run_cli("--rules " + rules + " --key " + kFixtures + "/postgres/pg-composite-key-tombstone.key.json " + kFixtures +
              "/postgres/pg-composite-key-tombstone.tombstone");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(R"("kind":"tombstone")"), std::string::npos) << r.out;
}

TEST_F(ExplainCli, UndecodableInputExitsTwoWithOneClearLine) {
  std::string rules = write_temp("rules.json", kRules);
  CliResult r = run_cli("--rules " + rules + " " + write_temp("bad.json", R"({"op":"x","source":{}})"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "cdc_explain: payload.op: unknown op \"x\"\n");
  EXPECT_TRUE(r.out.empty());
  r = run_cli("--rules " + rules + " " + write_temp("truncated.json", R"({"schema":{},"payload":{"op":"c")"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("malformed JSON"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1);
}

TEST_F(ExplainCli, BadRulesExitTwoNamingTheField) {
  std::string rules = write_temp("bad-rules.json", R"([{"source":"a"},{"source":"b","refresh":{"key":"{id"}}])");
  CliResult r = run_cli("--rules " + rules + " " + kFixtures + "/mysql/mysql-v1.9-delete.with-schema.json");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "cdc_explain: rules[1].refresh.key: unknown placeholder syntax \"{id\"\n");
  r = run_cli("--rules /nonexistent/rules.json " + kFixtures + "/mysql/mysql-v1.9-delete.with-schema.json");
  EXPECT_EQ(r.exit_code, 2);
  r = run_cli("");
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
}  // namespace cdc
