// Operator passwords and reader tokens. Passwords are hashed with scrypt
// (OpenSSL's EVP_PBE_scrypt; N = 2^15, r = 8, p = 1: 32 MiB and about 0.1 s
// a try here), a random 16-byte salt each, stored as
// "scrypt$<log2 N>$<r>$<p>$<salt hex>$<hash hex>". A reader's token is 32
// random bytes; only its sha256 is stored.
#pragma once

#include <string>

#include "status.hpp"

namespace dashloop::ui {

Result<std::string> hash_password(const std::string& password);
// False for a wrong password and for a stored string that is not ours.
bool verify_password(const std::string& password, const std::string& encoded);
// An operator's or reader's name: letters, digits, '.', '_' or '-', 1 to 64.
Status check_account_name(const std::string& name);
// Refuses what is too short to resist a guess at the depot.
Status check_new_password(const std::string& password);
// `bytes` random bytes (OpenSSL's CSPRNG) as lowercase hex.
std::string random_hex(size_t bytes);
std::string sha256_hex(const std::string& text);

}  // namespace dashloop::ui
