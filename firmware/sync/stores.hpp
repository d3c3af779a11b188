// The two ObjectStore implementations, for open_store (store.cpp) only.
#pragma once

#include "sync/store.hpp"

namespace dashloop::firmware::sync {

std::unique_ptr<ObjectStore> make_file_store(const std::filesystem::path& root);
// endpoint: a parsed http(s) URL; prefix "" or ending in '/'.
Result<std::unique_ptr<ObjectStore>> make_s3_store(const StoreConfig& config, const std::string& bucket,
                                                   const std::string& prefix);

}  // namespace dashloop::firmware::sync
