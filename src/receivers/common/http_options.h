#pragma once

#include <string>

#include "config/schema.h"
#include "net/http_server.h"

namespace sluice::receivers {

// `tls`: a certificate and key (PEM) to serve with; `what` names the object
// in errors ("otlp.protocols.http.tls").
inline config::Schema<net::TlsFiles> TlsSchema(const char* what) {
  config::Schema<net::TlsFiles> tls(what);
  tls.String("cert_file", &net::TlsFiles::cert_file,
             "PEM certificate (chain, leaf first) the server presents.")
      .Required()
      .String("key_file", &net::TlsFiles::key_file, "PEM private key of the certificate.")
      .Required();
  return tls;
}

// The options every HTTP receiver has, declared once. T has the members
// endpoint, max_request_body_size, read_header_timeout, read_timeout,
// idle_timeout, max_connections, tenant_header and tls.
template <class T>
void AddHttpServerFields(config::Schema<T>& s, const char* default_port_doc, const char* tls_what) {
  s.String("endpoint", &T::endpoint, default_port_doc)
      .Bytes("max_request_body_size", &T::max_request_body_size,
             "Largest request body accepted, compressed and after decompression; larger get 413.",
             {1024.0L * 1024, 256.0L * 1024 * 1024})
      .Duration("read_header_timeout", &T::read_header_timeout,
                "Time allowed for a request's headers to arrive.", {1e6L, 600e9L})
      .Duration("read_timeout", &T::read_timeout, "Time allowed for a request's body to arrive.",
                {1e6L, 3600e9L})
      .Duration("idle_timeout", &T::idle_timeout,
                "Time an idle keep-alive connection is kept open.", {1e9L, 86400e9L})
      .Int("max_connections", &T::max_connections,
           "Most connections open at once; more are closed as soon as they are accepted.",
           {1, 1 << 20})
      .String("tenant_header", &T::tenant_header,
              "Request header whose value is stored as the batch's tenant.")
      .OptionalObject("tls", &T::tls, TlsSchema(tls_what),
                      "Serve HTTPS (TLS 1.2 or later) with this certificate; plaintext when "
                      "absent.");
}

template <class T>
net::HttpServerOptions HttpServerOptionsFrom(const std::string& name, const T& o) {
  net::HttpServerOptions s;
  s.name = name;
  s.endpoint = o.endpoint;
  s.max_body_bytes = o.max_request_body_size;
  s.header_read_timeout = o.read_header_timeout;
  s.body_read_timeout = o.read_timeout;
  s.idle_timeout = o.idle_timeout;
  s.max_connections = o.max_connections;
  s.tls = o.tls;
  return s;
}

}  // namespace sluice::receivers
