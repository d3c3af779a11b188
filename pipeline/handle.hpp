// Handle<T, Release>: a std::unique_ptr that owns a C library's handle and
// releases it with that library's function. Every C handle in Dashloop
// (GStreamer, GLib, SQLite, ...) is held through one of these.
#pragma once

#include <memory>

namespace dashloop {

template <auto Release>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    if (p) Release(p);
  }
};

template <typename T, auto Release>
using Handle = std::unique_ptr<T, Deleter<Release>>;

}  // namespace dashloop
