// Test helper: a real redis-server on a free loopback port, no persistence, in its own temp dir.
// kill()/stop() and restart() keep the SAME port, so a client can reconnect to the same URL.
// The destructor stops the server and removes the temp dir.
//
//   RedisServer redis;                        // or RedisServer redis({"--requirepass", "s3cret"});
//   ASSERT_TRUE(redis.running()) << redis.error();
//   parse_redis_url(redis.url(), endpoint);   // "redis://127.0.0.1:<port>"
//
// The server gets PR_SET_PDEATHSIG: it dies with the thread that started it, so a crashed test
// leaves no server behind (start it from the test's main thread, not a short-lived thread).
// Set CDC_REDIS_SERVER to use another redis-server binary.
#pragma once

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace cdc_test {

class RedisServer {
 public:
  explicit RedisServer(std::vector<std::string> extra_args = {},
                       std::chrono::milliseconds ready_timeout = std::chrono::seconds(10))
      : extra_args_(std::move(extra_args)), ready_timeout_(ready_timeout) {
    char pattern[] = "/tmp/cdc-redis-XXXXXX";
    if (mkdtemp(pattern) == nullptr) {
      error_ = "mkdtemp failed";
      return;
    }
    dir_ = pattern;
    binary_ = find_binary();
    if (binary_.empty()) {
      error_ = "redis-server not found on PATH (apt-get install redis-server)";
      return;
    }
    // A free port can be taken by someone else between probing and binding: try a few.
    for (int attempt = 0; attempt < 5 && pid_ <= 0; ++attempt) {
      port_ = free_port();
      if (port_ > 0) start();
    }
  }

  ~RedisServer() {
    stop();
    if (!dir_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
    }
  }

  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  bool running() const { return pid_ > 0; }
  int port() const { return port_; }
  std::string host() const { return "127.0.0.1"; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  pid_t pid() const { return pid_; }
  // Why the last start failed (with the tail of the server log), empty otherwise.
  const std::string& error() const { return error_; }

  // SIGKILL: the server vanishes mid-stream, as in a crash. Returns false if it was not running.
  bool kill() { return signal_and_reap(SIGKILL, std::chrono::seconds(5)); }

  // SIGTERM, then SIGKILL after 5 s.
  bool stop() {
    if (pid_ <= 0) return false;
    if (paused_) resume();
    if (signal_and_reap(SIGTERM, std::chrono::seconds(5))) return true;
    return kill();
  }

  // Freezes the process (SIGSTOP): connections stay open and nothing answers (command timeouts).
  bool pause() {
    if (pid_ <= 0 || ::kill(pid_, SIGSTOP) != 0) return false;
    paused_ = true;
    return true;
  }
  bool resume() {
    if (pid_ <= 0 || ::kill(pid_, SIGCONT) != 0) return false;
    paused_ = false;
    return true;
  }

  // Starts again on the same port (killing the current process first) and waits for PING.
  // Data is gone: there is no persistence.
  bool restart() {
    if (pid_ > 0) kill();
    if (port_ <= 0) return false;
    for (int attempt = 0; attempt < 20; ++attempt) {
      if (start()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // port still releasing
    }
    return false;
  }

  // Runs one command on a fresh connection and returns the reply as text ("ERR ..." for error
  // replies, "(nil)" for nil), for test setup such as ACL SETUSER. Not binary safe on output.
  std::string command(const std::vector<std::string>& argv, const std::string& password = "") {
    redisContext* context = redisConnectWithTimeout(host().c_str(), port_, timeval{2, 0});
    if (context == nullptr || context->err != 0) {
      std::string message = context ? context->errstr : "out of memory";
      if (context) redisFree(context);
      return "connect failed: " + message;
    }
    redisSetTimeout(context, timeval{5, 0});
    if (!password.empty()) {
      std::string ignored = run(context, {"AUTH", password});
    }
    std::string result = run(context, argv);
    redisFree(context);
    return result;
  }

 private:
  static std::string find_binary() {
    if (const char* configured = std::getenv("CDC_REDIS_SERVER")) return configured;
    const char* path = std::getenv("PATH");
    std::stringstream dirs(path ? path : "/usr/bin:/bin");
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
      std::string candidate = (dir.empty() ? "." : dir) + "/redis-server";
      if (access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    for (const char* fallback : {"/usr/bin/redis-server", "/usr/local/bin/redis-server"}) {
      if (access(fallback, X_OK) == 0) return fallback;
    }
    return "";
  }

 public:
  // A loopback port that was free a moment ago.
  static int free_port() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t length = sizeof(address);
    int port = -1;
    if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
      port = ntohs(address.sin_port);
    }
    close(fd);
    return port;
  }

 private:

  static std::string run(redisContext* context, const std::vector<std::string>& argv) {
    std::vector<const char*> pointers;
    std::vector<size_t> lengths;
    for (const std::string& arg : argv) {
      pointers.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    auto* reply = static_cast<redisReply*>(redisCommandArgv(
        context, static_cast<int>(argv.size()), pointers.data(), lengths.data()));
    if (reply == nullptr) return std::string("io error: ") + context->errstr;
    std::string text;
    switch (reply->type) {
      case REDIS_REPLY_INTEGER: text = std::to_string(reply->integer); break;
      case REDIS_REPLY_NIL: text = "(nil)"; break;
      case REDIS_REPLY_ARRAY: text = "(array " + std::to_string(reply->elements) + ")"; break;
      default: text.assign(reply->str, reply->len); break;
    }
    freeReplyObject(reply);
    return text;
  }

  bool start() {
    error_.clear();
    std::string log_file = dir_ + "/redis.log";
    std::ofstream(log_file, std::ios::trunc).close();  // readiness is read from this run's log
    std::vector<std::string> args = {
        binary_,         "--port",     std::to_string(port_), "--bind",  "127.0.0.1",
        "--dir",         dir_,         "--save",              "",        "--appendonly",
        "no",            "--daemonize", "no",                 "--logfile", log_file,
        "--protected-mode", "no"};
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);

    pid_t parent = getpid();
    pid_t child = fork();
    if (child < 0) {
      error_ = "fork failed";
      return false;
    }
    if (child == 0) {
      // Only async-signal-safe calls between fork and exec.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);  // the parent died before prctl
      execv(argv[0], argv.data());
      _exit(127);
    }
    pid_ = child;
    if (wait_ready(log_file)) return true;
    error_ = "redis-server on port " + std::to_string(port_) + " did not answer PING within " +
             std::to_string(ready_timeout_.count()) + " ms; log:\n" + log_tail(log_file);
    kill();
    return false;
  }

  // Ready when OUR server logged that it accepts connections (not some other process that holds
  // the port) and PING gets any reply (NOAUTH counts: the test chose a password).
  bool wait_ready(const std::string& log_file) {
    auto deadline = std::chrono::steady_clock::now() + ready_timeout_;
    while (std::chrono::steady_clock::now() < deadline) {
      int wstatus = 0;
      if (waitpid(pid_, &wstatus, WNOHANG) == pid_) {  // exited: port taken or bad arguments
        pid_ = -1;
        return false;
      }
      if (log_tail(log_file).find("Ready to accept connections") == std::string::npos) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      redisContext* context = redisConnectWithTimeout(host().c_str(), port_, timeval{0, 200000});
      if (context != nullptr && context->err == 0) {
        redisSetTimeout(context, timeval{1, 0});
        auto* reply = static_cast<redisReply*>(redisCommand(context, "PING"));
        bool answered = reply != nullptr;
        if (reply != nullptr) freeReplyObject(reply);
        redisFree(context);
        if (answered) return true;
      } else if (context != nullptr) {
        redisFree(context);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  bool signal_and_reap(int signal_number, std::chrono::milliseconds timeout) {
    if (pid_ <= 0) return false;
    ::kill(pid_, signal_number);
    if (signal_number != SIGKILL && paused_) ::kill(pid_, SIGCONT);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int wstatus = 0;
      pid_t result = waitpid(pid_, &wstatus, WNOHANG);
      if (result == pid_ || (result < 0 && errno == ECHILD)) {
        pid_ = -1;
        paused_ = false;
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }

  static std::string log_tail(const std::string& file) {
    std::ifstream in(file);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    std::string tail;
    for (size_t i = lines.size() > 20 ? lines.size() - 20 : 0; i < lines.size(); ++i) {
      tail += lines[i] + "\n";
    }
    return tail;
  }

  std::vector<std::string> extra_args_;
  std::chrono::milliseconds ready_timeout_;
  std::string dir_;
  std::string binary_;
  std::string error_;
  int port_ = -1;
  pid_t pid_ = -1;
  bool paused_ = false;
};

}  // namespace cdc_test
