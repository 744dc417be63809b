#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "redis/tls.h"

namespace cdc {
namespace {

// OpenSSL's reason for the last failure (no data, only the library's text), and a clean queue.
std::string openssl_reason() {
  unsigned long code = ERR_peek_last_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  const char* reason = ERR_reason_error_string(code);
  return reason != nullptr ? reason : "OpenSSL error " + std::to_string(code);
}

bool is_pem_text(const std::string& value) { return value.find("-----BEGIN") != std::string::npos; }

// The PEM text of a field: the value itself, or the file it names. A key's path is not echoed:
// a key pasted without its PEM header would otherwise end up in the message.
Status load_pem(const std::string& value, const std::string& field, bool secret, std::string& pem) {
  if (is_pem_text(value)) {
    pem = value;
    return Status::Ok();
  }
  std::string file = secret ? std::string("the file given") : "the file " + value;
  std::ifstream in(value, std::ios::binary);
  if (!in) return Status::Error(field + ": cannot read " + file + ": " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  pem = text.str();
  if (!is_pem_text(pem)) return Status::Error(field + ": " + file + " holds no PEM text (-----BEGIN ...)");
  return Status::Ok();
}

struct Bio {
  explicit Bio(const std::string& text) : bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size()))) {}
  ~Bio() { BIO_free(bio); }
  BIO* bio;
};

// Encrypted keys are not supported: never let OpenSSL prompt on the terminal for a passphrase.
int no_passphrase(char*, int, int, void*) { return 0; }

Status load_ca(SSL_CTX* ctx, const std::string& pem) {
  Bio in(pem);
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  int count = 0;
  while (X509* cert = PEM_read_bio_X509(in.bio, nullptr, no_passphrase, nullptr)) {
    int added = X509_STORE_add_cert(store, cert);
    X509_free(cert);
    if (added != 1) return Status::Error("redis.tls.ca: " + openssl_reason());
    ++count;
  }
  ERR_clear_error();  // the end of the text reads as "no start line"
  if (count == 0) return Status::Error("redis.tls.ca: no PEM certificate in it");
  return Status::Ok();
}

// The first certificate is the client's; the rest, if any, its chain.
Status load_client_cert(SSL_CTX* ctx, const std::string& pem) {
  Bio in(pem);
  X509* leaf = PEM_read_bio_X509(in.bio, nullptr, no_passphrase, nullptr);
  if (leaf == nullptr) return Status::Error("redis.tls.cert: not a PEM certificate (" + openssl_reason() + ")");
  int used = SSL_CTX_use_certificate(ctx, leaf);
  X509_free(leaf);
  if (used != 1) return Status::Error("redis.tls.cert: " + openssl_reason());
  while (X509* link = PEM_read_bio_X509(in.bio, nullptr, no_passphrase, nullptr)) {
    if (SSL_CTX_add0_chain_cert(ctx, link) != 1) {
      X509_free(link);
      return Status::Error("redis.tls.cert: " + openssl_reason());
    }
  }
  ERR_clear_error();
  return Status::Ok();
}

Status load_client_key(SSL_CTX* ctx, const std::string& pem) {
  Bio in(pem);
  EVP_PKEY* key = PEM_read_bio_PrivateKey(in.bio, nullptr, no_passphrase, nullptr);
  if (key == nullptr) {
    ERR_clear_error();
    return Status::Error("redis.tls.key: not an unencrypted PEM private key (encrypted keys are not supported)");
  }
  int used = SSL_CTX_use_PrivateKey(ctx, key);
  EVP_PKEY_free(key);
  if (used != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    return Status::Error("redis.tls.key: does not match the certificate in redis.tls.cert");
  }
  return Status::Ok();
}

Status configure(SSL_CTX* ctx, const RedisTlsSettings& settings) {
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) return Status::Error("redis.tls: " + openssl_reason());
  if (settings.cert.empty() != settings.key.empty()) {
    return Status::Error(settings.cert.empty() ? "redis.tls.key: given without redis.tls.cert"
                                               : "redis.tls.cert: given without redis.tls.key");
  }
  std::string pem;
  Status st = Status::Ok();
  if (!settings.ca.empty()) {
    if (!(st = load_pem(settings.ca, "redis.tls.ca", false, pem)).ok()) return st;
    if (!(st = load_ca(ctx, pem)).ok()) return st;
  } else if (settings.reject_unauthorized && SSL_CTX_set_default_verify_paths(ctx) != 1) {
    return Status::Error("redis.tls.ca: the system's trust store cannot be loaded (" + openssl_reason() + ")");
  }
  if (!settings.cert.empty()) {
    if (!(st = load_pem(settings.cert, "redis.tls.cert", false, pem)).ok()) return st;
    if (!(st = load_client_cert(ctx, pem)).ok()) return st;
    if (!(st = load_pem(settings.key, "redis.tls.key", true, pem)).ok()) return st;
    st = load_client_key(ctx, pem);
    OPENSSL_cleanse(pem.data(), pem.size());
    if (!st.ok()) return st;
  }
  SSL_CTX_set_verify(ctx, settings.reject_unauthorized ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  return Status::Ok();
}

}  // namespace

Status TlsClientContext::create(const RedisTlsSettings& settings, std::shared_ptr<const TlsClientContext>& out) {
  std::shared_ptr<TlsClientContext> context(new TlsClientContext());
  context->ctx_ = SSL_CTX_new(TLS_client_method());
  if (context->ctx_ == nullptr) return Status::Error("redis.tls: " + openssl_reason());
  Status st = configure(context->ctx_, settings);
  if (!st.ok()) return st;
  context->servername_ = settings.servername;
  context->verify_ = settings.reject_unauthorized;
  out = std::move(context);
  return Status::Ok();
}

TlsClientContext::~TlsClientContext() { SSL_CTX_free(ctx_); }

}  // namespace cdc
