#include "support/postgres_server.h"

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace sluice::testing {
namespace {

// The newest installed server's bin directory, or "".
std::string BinDir() {
  std::error_code ec;
  std::string best;
  int best_version = 0;
  for (const auto& e : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
    const int v = std::atoi(e.path().filename().c_str());
    if (v > best_version && std::filesystem::exists(e.path() / "bin" / "initdb")) {
      best_version = v;
      best = (e.path() / "bin").string();
    }
  }
  return best;
}

bool IsRoot() {
  return ::geteuid() == 0;
}

// A port nothing listens on now.
int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// `binary args...` as the postgres user when root.
std::pair<std::string, std::vector<std::string>> AsPostgres(const std::string& binary,
                                                            std::vector<std::string> args) {
  if (!IsRoot()) return {binary, std::move(args)};
  std::vector<std::string> a = {"-u", "postgres", "--", binary};
  a.insert(a.end(), args.begin(), args.end());
  return {"/usr/sbin/runuser", std::move(a)};
}

Status Run(const std::string& binary, std::vector<std::string> args, const std::string& scratch,
           std::chrono::seconds timeout = std::chrono::seconds(120)) {
  auto [bin, a] = AsPostgres(binary, std::move(args));
  RunResult r = RunToCompletion(bin, a, scratch, timeout);
  if (r.exit_code != 0) {
    return Status::Internal(std::filesystem::path(binary).filename().string() + " exited " +
                            std::to_string(r.exit_code) + ": " + r.output);
  }
  return Status::Ok();
}

// Makes `dir` (and its parents) and gives it to the postgres user.
Status MakeOwnedDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::Internal("mkdir " + dir + ": " + ec.message());
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
  if (IsRoot()) {
    const passwd* pw = ::getpwnam("postgres");
    if (pw == nullptr) return Status::Internal("no postgres user");
    if (::chown(dir.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      return Status::Internal("chown " + dir + " failed");
    }
    // The server needs to reach its directory through the test's.
    for (auto p = std::filesystem::path(dir).parent_path(); p != p.root_path();
         p = p.parent_path()) {
      std::filesystem::permissions(p, std::filesystem::perms::others_exec,
                                   std::filesystem::perm_options::add, ec);
    }
  }
  return Status::Ok();
}

}  // namespace

bool PostgresServer::Available() {
  return !BinDir().empty();
}

PostgresServer::PostgresServer(std::string bin, std::string dir, int port,
                               std::vector<std::string> settings)
    : bin_(std::move(bin)), dir_(std::move(dir)), port_(port), settings_(std::move(settings)) {}

PostgresServer::~PostgresServer() {
  if (pid() > 0) {
    Thaw();
    ::kill(pid(), SIGQUIT);  // immediate shutdown
    if (process_) process_->Wait(std::chrono::seconds(20));
  }
}

Result<std::unique_ptr<PostgresServer>> PostgresServer::Start(const std::string& dir,
                                                              std::vector<std::string> settings) {
  const std::string bin = BinDir();
  if (bin.empty()) return Status::NotFound("PostgreSQL is not installed (make deps installs it)");
  const std::string data = dir + "/data";
  SLUICE_RETURN_IF_ERROR(MakeOwnedDir(dir));
  SLUICE_RETURN_IF_ERROR(MakeOwnedDir(data));
  SLUICE_RETURN_IF_ERROR(
      Run(bin + "/initdb",
          {"-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"},
          dir));
  std::unique_ptr<PostgresServer> s(new PostgresServer(bin, dir, FreePort(), std::move(settings)));
  SLUICE_RETURN_IF_ERROR(s->Launch());
  return s;
}

Result<std::unique_ptr<PostgresServer>> PostgresServer::StartStandby(const PostgresServer& primary,
                                                                     const std::string& dir) {
  const std::string data = dir + "/data";
  SLUICE_RETURN_IF_ERROR(MakeOwnedDir(dir));
  SLUICE_RETURN_IF_ERROR(MakeOwnedDir(data));
  SLUICE_RETURN_IF_ERROR(Run(primary.bin_ + "/pg_basebackup",
                             {"-D", data, "-h", "127.0.0.1", "-p", std::to_string(primary.port_),
                              "-U", "postgres", "-R", "-X", "stream", "-c", "fast", "--no-sync"},
                             dir));
  std::unique_ptr<PostgresServer> s(
      new PostgresServer(primary.bin_, dir, FreePort(), primary.settings_));
  SLUICE_RETURN_IF_ERROR(s->Launch());
  for (int i = 0; i < 100; ++i) {
    if (s->Value("select pg_is_in_recovery()") == "t") return s;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return Status::Internal("the standby is not in recovery: " + s->Log());
}

Status PostgresServer::Launch() {
  std::vector<std::string> args = {"-D", dir_ + "/data",
                                   "-p", std::to_string(port_),
                                   "-c", "listen_addresses=127.0.0.1",
                                   "-c", "unix_socket_directories=" + dir_,
                                   "-c", "fsync=off",
                                   "-c", "full_page_writes=off",
                                   "-c", "shared_buffers=16MB",
                                   "-c", "max_connections=200",
                                   "-c", "log_destination=stderr",
                                   "-c", "logging_collector=off"};
  for (const std::string& s : settings_) {
    args.push_back("-c");
    args.push_back(s);
  }
  auto [bin, a] = AsPostgres(bin_ + "/postgres", std::move(args));
  // One log file per start: Log() reads them in order.
  process_ =
      std::make_unique<Process>(bin, a, dir_ + "/server-" + std::to_string(launches_++) + ".log");
  for (int i = 0; i < 300; ++i) {
    PGconn* c = PQconnectdb(ConnStr().c_str());
    const bool ok = PQstatus(c) == CONNECTION_OK;
    PQfinish(c);
    if (ok) return Status::Ok();
    if (process_->Wait(std::chrono::milliseconds(0))) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return Status::Internal("PostgreSQL did not start: " + Log());
}

std::string PostgresServer::ConnStr(const std::string& dbname) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=" + dbname +
         " connect_timeout=5";
}

pid_t PostgresServer::pid() const {
  std::ifstream in(dir_ + "/data/postmaster.pid");
  pid_t p = -1;
  if (!(in >> p)) return -1;
  if (p <= 0 || ::kill(p, 0) != 0) return -1;
  return p;
}

Result<std::vector<std::vector<std::string>>> PostgresServer::Query(
    const std::string& sql, const std::string& dbname) const {
  PGconn* c = PQconnectdb(ConnStr(dbname).c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    std::string e = PQerrorMessage(c);
    PQfinish(c);
    return Status::Unavailable(e);
  }
  PGresult* r = PQexec(c, sql.c_str());
  const ExecStatusType st = PQresultStatus(r);
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
    std::string e = PQresultErrorMessage(r);
    PQclear(r);
    PQfinish(c);
    return Status::InvalidArgument(e);
  }
  std::vector<std::vector<std::string>> rows;
  for (int i = 0; i < PQntuples(r); ++i) {
    std::vector<std::string> row;
    for (int j = 0; j < PQnfields(r); ++j) row.emplace_back(PQgetvalue(r, i, j));
    rows.push_back(std::move(row));
  }
  PQclear(r);
  PQfinish(c);
  return rows;
}

std::string PostgresServer::Value(const std::string& sql, const std::string& dbname) const {
  Result<std::vector<std::vector<std::string>>> r = Query(sql, dbname);
  if (!r.ok()) return r.status().ToString();
  if (r->empty() || r->front().empty()) return "";
  return r->front().front();
}

namespace {
// The postmaster and its children.
std::vector<pid_t> ServerPids(pid_t postmaster) {
  std::vector<pid_t> out = {postmaster};
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    const pid_t p = std::atoi(e.path().filename().c_str());
    if (p <= 0) continue;
    std::ifstream stat(e.path() / "stat");
    std::string line;
    std::getline(stat, line);
    const size_t close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    char state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == postmaster) out.push_back(p);
  }
  return out;
}
}  // namespace

void PostgresServer::Kill() {
  const pid_t p = pid();
  if (p <= 0) return;
  const std::vector<pid_t> all = ServerPids(p);
  ::kill(p, SIGKILL);
  if (process_) process_->Wait(std::chrono::seconds(20));
  // The backends exit when they notice the postmaster is gone; a restart
  // needs them gone (they hold the shared memory).
  for (int i = 0; i < 100; ++i) {
    bool any = false;
    for (pid_t q : all) any = any || (q != p && ::kill(q, 0) == 0);
    if (!any) break;
    if (i == 50) {
      for (pid_t q : all) ::kill(q, SIGKILL);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void PostgresServer::Freeze() {
  const pid_t p = pid();
  if (p <= 0) return;
  for (pid_t q : ServerPids(p)) ::kill(q, SIGSTOP);
}

void PostgresServer::Thaw() {
  const pid_t p = pid();
  if (p > 0) {
    for (pid_t q : ServerPids(p)) ::kill(q, SIGCONT);
  }
  // runuser stops itself when its child stops: wake it too, or it never
  // reaps the server.
  if (process_ && process_->pid() > 0) ::kill(process_->pid(), SIGCONT);
}

Status PostgresServer::Restart() {
  if (pid() > 0) Stop();
  return Launch();
}

void PostgresServer::Stop() {
  const pid_t p = pid();
  if (p > 0) ::kill(p, SIGINT);  // fast shutdown
  if (process_) process_->Wait(std::chrono::seconds(30));
}

std::string PostgresServer::Log() const {
  std::stringstream ss;
  for (int i = 0; i < launches_; ++i) {
    std::ifstream in(dir_ + "/server-" + std::to_string(i) + ".log");
    ss << in.rdbuf();
  }
  return ss.str();
}

}  // namespace sluice::testing
