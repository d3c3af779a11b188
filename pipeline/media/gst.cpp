#include "media/gst.hpp"

namespace dashloop::pipeline::media {

void ensure_gst_init() {
  if (!gst_is_initialized()) gst_init(nullptr, nullptr);
}

bool has_element(const char* factory_name) {
  ensure_gst_init();
  std::unique_ptr<GstElementFactory, GstObjectDeleter> f(gst_element_factory_find(factory_name));
  return f != nullptr;
}

}  // namespace dashloop::pipeline::media
