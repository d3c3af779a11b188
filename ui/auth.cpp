#include "auth.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cstdio>
#include <regex>
#include <vector>

namespace dashloop::ui {
namespace {

constexpr int kLogN = 15, kR = 8, kP = 1;
constexpr size_t kHashBytes = 32;

std::string to_hex(const unsigned char* p, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += kDigits[p[i] >> 4];
    out += kDigits[p[i] & 15];
  }
  return out;
}

bool from_hex(const std::string& hex, std::vector<unsigned char>& out) {
  if (hex.size() % 2) return false;
  out.clear();
  for (size_t i = 0; i < hex.size(); i += 2) {
    unsigned v = 0;
    if (std::sscanf(hex.c_str() + i, "%2x", &v) != 1) return false;
    out.push_back(static_cast<unsigned char>(v));
  }
  return true;
}

bool scrypt(const std::string& password, const std::vector<unsigned char>& salt, int log_n, int r, int p,
            unsigned char* out, size_t out_len) {
  const uint64_t n = uint64_t(1) << log_n;
  // maxmem: 128 * r * N * p plus room; OpenSSL refuses otherwise.
  const uint64_t maxmem = 128 * uint64_t(r) * n * uint64_t(p) + (1 << 20);
  return EVP_PBE_scrypt(password.data(), password.size(), salt.data(), salt.size(), n, uint64_t(r), uint64_t(p),
                        maxmem, out, out_len) == 1;
}

}  // namespace

std::string random_hex(size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  if (RAND_bytes(buf.data(), int(buf.size())) != 1) std::abort();  // no randomness: no secure session can be made
  return to_hex(buf.data(), buf.size());
}

std::string sha256_hex(const std::string& text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  return to_hex(digest, sizeof digest);
}

Status check_account_name(const std::string& name) {
  static const std::regex kName("[A-Za-z0-9._-]{1,64}");
  if (std::regex_match(name, kName)) return Status::Ok();
  return Status::InvalidArgument("name '" + name.substr(0, 64) + "': letters, digits, '.', '_' or '-', at most 64");
}

Status check_new_password(const std::string& password) {
  if (password.size() < 10) return Status::InvalidArgument("password: at least 10 characters");
  if (password.size() > 1024) return Status::InvalidArgument("password: at most 1024 characters");
  return Status::Ok();
}

Result<std::string> hash_password(const std::string& password) {
  std::vector<unsigned char> salt;
  from_hex(random_hex(16), salt);
  unsigned char hash[kHashBytes];
  if (!scrypt(password, salt, kLogN, kR, kP, hash, sizeof hash))
    return Status::IOError("scrypt failed (OpenSSL refused the parameters or ran out of memory)");
  return "scrypt$" + std::to_string(kLogN) + "$" + std::to_string(kR) + "$" + std::to_string(kP) + "$" +
         to_hex(salt.data(), salt.size()) + "$" + to_hex(hash, sizeof hash);
}

bool verify_password(const std::string& password, const std::string& encoded) {
  int log_n = 0, r = 0, p = 0;
  char salt_hex[129] = {}, hash_hex[129] = {};
  if (std::sscanf(encoded.c_str(), "scrypt$%d$%d$%d$%128[0-9a-f]$%128[0-9a-f]", &log_n, &r, &p, salt_hex, hash_hex) != 5)
    return false;
  if (log_n < 10 || log_n > 22 || r < 1 || r > 32 || p < 1 || p > 16) return false;
  std::vector<unsigned char> salt, want;
  if (!from_hex(salt_hex, salt) || !from_hex(hash_hex, want) || want.empty()) return false;
  std::vector<unsigned char> got(want.size());
  if (!scrypt(password, salt, log_n, r, p, got.data(), got.size())) return false;
  return CRYPTO_memcmp(got.data(), want.data(), want.size()) == 0;
}

}  // namespace dashloop::ui
