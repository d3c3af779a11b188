// Tracks and events from the pipeline as catalog records (source-frame
// pixels, seconds from the frame numbers and the stream's fps).
#pragma once

#include "catalog/catalog.hpp"
#include "tracking_worker.hpp"

namespace dashloop::app {

firmware::catalog::DriveObjects drive_objects(const pipeline::TrackingResult& result, double fps);

}  // namespace dashloop::app
