#include "ui/ui.h"

#include <zlib.h>

#include <algorithm>
#include <string>
#include <string_view>

#include "ui/embedded.h"

namespace sluice::ui {
namespace {

using internal::EmbeddedFile;

const EmbeddedFile* Find(std::string_view path) {
  const EmbeddedFile* begin = internal::kFiles;
  const EmbeddedFile* end = internal::kFiles + internal::kFileCount;
  const EmbeddedFile* it = std::lower_bound(
      begin, end, path, [](const EmbeddedFile& f, std::string_view p) { return f.path < p; });
  return it != end && it->path == path ? it : nullptr;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);
         });
}

// Whether Accept-Encoding lists gzip (or *) without q=0.
bool AcceptsGzip(std::string_view header) {
  while (!header.empty()) {
    size_t comma = header.find(',');
    std::string_view item = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    size_t semi = item.find(';');
    std::string_view coding = Trim(item.substr(0, semi));
    if (!EqualsIgnoreCase(coding, "gzip") && coding != "*") continue;
    if (semi == std::string_view::npos) return true;
    std::string_view param = Trim(item.substr(semi + 1));
    if (!param.starts_with("q=") && !param.starts_with("Q=")) return true;
    std::string_view q = param.substr(2);
    if (q.find_first_not_of("0.") != std::string_view::npos) return true;  // q above 0
  }
  return false;
}

bool Gunzip(const EmbeddedFile& file, std::string* out) {
  out->resize(file.size);
  z_stream z{};
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) return false;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(file.gzipped.data()));
  z.avail_in = static_cast<uInt>(file.gzipped.size());
  z.next_out = reinterpret_cast<Bytef*>(out->data());
  z.avail_out = static_cast<uInt>(out->size());
  int rc = inflate(&z, Z_FINISH);
  bool ok = rc == Z_STREAM_END && z.total_out == file.size;
  inflateEnd(&z);
  return ok;
}

bool IsAdminRoute(std::string_view path) {
  return path == "/metrics" || path == "/healthz" || path == "/readyz";
}

void AddHeaders(const EmbeddedFile& file, net::HttpResponse* r) {
  // Vite names every file under /assets/ after a hash of its contents.
  const bool hashed = file.path.starts_with("/assets/");
  r->headers.emplace_back("Cache-Control",
                          hashed ? "public, max-age=31536000, immutable" : "no-cache");
  r->headers.emplace_back("Vary", "Accept-Encoding");
  r->headers.emplace_back("X-Content-Type-Options", "nosniff");
  r->headers.emplace_back("Content-Security-Policy", kContentSecurityPolicy);
  r->headers.emplace_back("Referrer-Policy", "no-referrer");
}

}  // namespace

bool Serve(const net::HttpRequest& request, net::HttpResponse* response) {
  if (request.method != "GET" && request.method != "HEAD") return false;
  const std::string_view path = request.path;
  if (!path.starts_with("/") || path == "/api" || path.starts_with("/api/") || IsAdminRoute(path)) {
    return false;
  }
  const EmbeddedFile* file = Find(path == "/" ? "/index.html" : path);
  if (file == nullptr) {
    const std::string_view last = path.substr(path.rfind('/') + 1);
    if (last.find('.') != std::string_view::npos) return false;
    file = Find("/index.html");
    if (file == nullptr) return false;
  }
  net::HttpResponse r;
  r.status = 200;
  r.content_type = std::string(file->content_type);
  if (AcceptsGzip(request.Header("accept-encoding"))) {
    r.body.assign(file->gzipped);
    r.headers.emplace_back("Content-Encoding", "gzip");
  } else if (!Gunzip(*file, &r.body)) {
    *response = net::HttpResponse::Text(
        500, "the UI's embedded file " + std::string(file->path) + " does not inflate");
    return true;
  }
  AddHeaders(*file, &r);
  *response = std::move(r);
  return true;
}

}  // namespace sluice::ui
