// The catalog's schema, as the ordered list of its migrations: migration N
// takes a catalog from schema version N to N+1 (Catalog::kSchemaVersion is
// their count). One file of its own so that a schema change is one place.
#pragma once

#include <span>

namespace dashloop::firmware::catalog {

std::span<const char* const> migrations();

}  // namespace dashloop::firmware::catalog
