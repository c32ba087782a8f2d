#pragma once

#include <cstdlib>
#include <string>

#include "support/temp_dir.h"

namespace sluice::testing {

// A certificate and its key, PEM files.
struct CertificateFiles {
  std::string cert_file;
  std::string key_file;
};

// Makes a self-signed certificate for `cn` (also valid for localhost and
// 127.0.0.1) with the openssl command, as <name>.pem and <name>.key in
// `dir`. Returns false if openssl failed; its output is in <name>.log.
inline bool MakeSelfSignedCertificate(const TempDir& dir, const std::string& name,
                                      const std::string& cn, CertificateFiles* out) {
  out->cert_file = dir.Sub(name + ".pem");
  out->key_file = dir.Sub(name + ".key");
  std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=" + cn +
                    " -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout " + out->key_file +
                    " -out " + out->cert_file + " > " + dir.Sub(name + ".log") + " 2>&1";
  return std::system(cmd.c_str()) == 0;
}

}  // namespace sluice::testing
