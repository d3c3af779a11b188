// RAII owners for GStreamer C handles. This is the only header that calls
// gst_object_unref / gst_sample_unref & co; everything else holds these types.
#pragma once

#include <gst/gst.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "handle.hpp"
#include "media/source.hpp"
#include "status.hpp"

namespace dashloop::pipeline::media {

// gst_sample_unref & co are static inline in GStreamer's headers; named
// wrappers give the handle types external linkage, so structs may hold them.
inline void unref_sample(GstSample* s) { gst_sample_unref(s); }
inline void unref_message(GstMessage* m) { gst_message_unref(m); }
inline void unref_caps(GstCaps* c) { gst_caps_unref(c); }

using ElementPtr = Handle<GstElement, gst_object_unref>;
using BusPtr = Handle<GstBus, gst_object_unref>;
using PadPtr = Handle<GstPad, gst_object_unref>;
using FactoryPtr = Handle<GstElementFactory, gst_object_unref>;
using SamplePtr = Handle<GstSample, unref_sample>;
using MessagePtr = Handle<GstMessage, unref_message>;
using CapsPtr = Handle<GstCaps, unref_caps>;
using ErrorPtr = Handle<GError, g_error_free>;
using GCharPtr = Handle<gchar, g_free>;
using IteratorPtr = Handle<GstIterator, gst_iterator_free>;
using ClockPtr = Handle<GstClock, gst_object_unref>;
using PluginPtr = Handle<GstPlugin, gst_object_unref>;

// Initialises GStreamer once per process (gst_init is itself idempotent).
void ensure_gst_init();

// True when an element factory of that name is installed (for choosing
// NVIDIA elements on a Jetson and the software ones elsewhere).
bool has_element(const char* factory_name);

// Which elements a pipeline may use, by factory name. The Jetson path is
// chosen at run time from what is installed; tests hand in a set of their
// own to check the choice without the hardware.
using ElementSet = std::function<bool(const std::string& factory)>;
ElementSet installed_elements();

// Raw video (system memory, any format) to H.264 with a keyframe every
// `gop` frames, for cameras that do not encode: nvv4l2h264enc through
// nvvidconv where both are present (Jetson), else x264enc tuned for low
// latency, else openh264enc; kUnsupported with none of them.
Result<std::string> raw_to_h264(const ElementSet& has, int gop);

// A Jetson CSI sensor's frames (csi://N), left in NVMM for the element that
// follows; kUnsupported where nvarguscamerasrc is not installed.
Result<std::string> csi_capture(const Source& source, const ElementSet& has);

// Owns a running pipeline: sets it to NULL before releasing it, so no
// streaming thread outlives its owner.
class Pipeline {
 public:
  Pipeline() = default;
  explicit Pipeline(ElementPtr element) : element_(std::move(element)) {}
  Pipeline(Pipeline&&) noexcept = default;
  Pipeline& operator=(Pipeline&& other) noexcept {
    stop();
    element_ = std::move(other.element_);
    return *this;
  }
  ~Pipeline() { stop(); }

  GstElement* get() const { return element_.get(); }
  explicit operator bool() const { return element_ != nullptr; }
  // A named child (from the launch description); null when absent.
  ElementPtr child(const char* name) const {
    return ElementPtr(element_ ? gst_bin_get_by_name(GST_BIN(element_.get()), name) : nullptr);
  }
  BusPtr bus() const { return BusPtr(gst_element_get_bus(element_.get())); }
  void stop() {
    if (element_) gst_element_set_state(element_.get(), GST_STATE_NULL);
  }

 private:
  ElementPtr element_;
};

// When `from` adds a pad carrying video (or JPEG images), it is linked to
// `to`'s sink pad; the first such pad wins, audio and subtitles stay unlinked.
// `to` must outlive `from`'s streaming.
void link_video_pad_when_added(GstElement* from, GstElement* to);

// An ERROR or WARNING message as one line, with the element that posted it.
std::string message_text(GstMessage* msg);

// For the writers (appsrc -> file): the error waiting on `bus`, as an
// IOError naming `name`, or `otherwise` when there is none.
Status bus_error_or(GstBus* bus, const std::string& name, const std::string& otherwise);
// Waits up to `timeout_s` for the end of the stream (EOS or an error), each named.
Status wait_for_eos(GstBus* bus, const std::string& name, int timeout_s, const std::string& if_late);

// An element the media code uses, and whether this machine has it.
struct ElementCheck {
  std::string factory;
  std::string purpose;
  bool required = true;  // false: used when present (NVIDIA, cameras)
  bool present = false;
};

// Every element the media code may build into a pipeline, checked against
// the installed plugins. The optional NVIDIA ones switch on the Jetson path.
std::vector<ElementCheck> check_elements();

// "GStreamer 1.22.0"
std::string gst_version();

}  // namespace dashloop::pipeline::media
