#include "support/http_client.h"

#include <strings.h>

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
