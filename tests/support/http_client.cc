#include "support/http_client.h"

#include <arpa/inet.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <cstdio>

namespace sluice::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

std::string HttpResult::Header(const std::string& name) const {
  for (const auto& [k, v] : headers) {
    if (strcasecmp(k.c_str(), name.c_str()) == 0) return v;
  }
  return "";
}

HttpStream::HttpStream(const std::string& host_port, const std::string& target,
                       std::vector<std::pair<std::string, std::string>> headers) {
  size_t colon = host_port.rfind(':');
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::stoi(host_port.substr(colon + 1))));
  inet_pton(AF_INET, host_port.substr(0, colon).c_str(), &addr.sin_addr);
  fd_ = socket(AF_INET, SOCK_STREAM, 0);
  if (fd_ < 0 || connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    closed_ = true;
    return;
  }
  std::string req = "GET " + target + " HTTP/1.1\r\nHost: " + host_port.substr(0, colon) + "\r\n";
  for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
  req += "\r\n";
  if (write(fd_, req.data(), req.size()) != static_cast<ssize_t>(req.size())) closed_ = true;
}

HttpStream::~HttpStream() {
  if (fd_ >= 0) close(fd_);
}

std::string HttpStream::ReadUntil(const std::function<bool(const std::string&)>& done,
                                  std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (!closed_ && !done(read_)) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[8192];
    ssize_t n = read(fd_, buf, sizeof buf);
    if (n <= 0) {
      closed_ = true;
      break;
    }
    read_.append(buf, static_cast<size_t>(n));
  }
  return read_;
}

HttpResult HttpRequest(const std::string& method, const std::string& host_port,
                       const std::string& target, const std::string& body,
                       std::vector<std::pair<std::string, std::string>> headers) {
  HttpResult result;
  try {
    size_t colon = host_port.rfind(':');
    std::string host = host_port.substr(0, colon);
    std::string port = host_port.substr(colon + 1);
    asio::io_context io;
    asio::ip::tcp::resolver resolver(io);
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::seconds(30));
    stream.connect(resolver.resolve(host, port));
    http::request<http::string_body> req(http::string_to_verb(method), target, 11);
    req.set(http::field::host, host);
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(1ull << 30);
    http::read(stream, buffer, parser);
    auto res = parser.release();
    result.status = static_cast<int>(res.result_int());
    result.body = res.body();
    for (const auto& f : res) {
      result.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    }
    beast::error_code ec;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  } catch (const std::exception& e) {
    result.error = e.what();
  }
  return result;
}

std::string PromQueryValue(const std::string& host_port, const std::string& query) {
  HttpResult r = HttpGet(host_port, QueryTarget("/api/v1/query", query));
  size_t at = r.body.find("\"value\":[");
  if (at == std::string::npos) return "";
  size_t q = r.body.find('"', r.body.find(',', at));
  return r.body.substr(q + 1, r.body.find('"', q + 1) - q - 1);
}

std::string QueryTarget(const std::string& path, const std::string& query) {
  std::string target = path + "?query=";
  for (char c : query) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '_') {
      target += c;
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned char>(c));
      target += buf;
    }
  }
  return target;
}

int FreeLocalPort() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor a(
      io, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

}  // namespace sluice::testing
