// An operator's edits as the catalog keeps them (JSON) and as they land on a
// package's tracks: drawn objects, moved boxes, deletions, relabels.
#include <gtest/gtest.h>

#include "station/clip_maker.hpp"

namespace dashloop::app {
namespace {

using nlohmann::json;
using pipeline::clips::LabelTrack;

std::vector<LabelTrack> detected() {
  return {{1, "car", {{100, 10, 10, 50, 30, 0.8, false}, {106, 16, 10, 50, 30, 0.7, false}}},
          {2, "person", {{100, 200, 50, 20, 60, 0.6, false}}}};
}

TEST(ClipEdits, DrawnObjectsAndMovedBoxesRoundTripAndLandOnTheTracks) {
  const json stored = {{"relabel", {{"2", "cyclist"}}},
                       {"deleted", json::array()},
                       {"added", {{{"track", 3}, {"label", "person"}, {"keys", {{110, 300, 40, 20, 60}, {100, 280, 40, 20, 60}}}}}},
                       {"moved", {{{"track", 1}, {"keys", {{103, 12, 11, 50, 30}, {106, 20, 10, 50, 30}}}}}}};
  auto edits = ClipEdits::from_json(stored);
  ASSERT_TRUE(edits.ok()) << edits.status().message();
  EXPECT_EQ(edits->to_json().at("added"), stored.at("added"));
  EXPECT_EQ(edits->to_json().at("moved"), stored.at("moved"));

  auto tracks = detected();
  edits->apply(tracks);
  ASSERT_EQ(tracks.size(), 3u);
  const auto& car = tracks[0];
  ASSERT_EQ(car.boxes.size(), 3u) << "a key between two detections is a new box; one on a detection replaces it";
  EXPECT_EQ(car.boxes[1].frame, 103);
  EXPECT_DOUBLE_EQ(car.boxes[1].x, 12);
  EXPECT_EQ(car.boxes[2].frame, 106);
  EXPECT_DOUBLE_EQ(car.boxes[2].x, 20);
  EXPECT_FALSE(car.operator_added);
  EXPECT_EQ(tracks[1].label, "cyclist");
  const auto& drawn = tracks[2];
  EXPECT_TRUE(drawn.operator_added);
  EXPECT_EQ(drawn.track_no, 3);
  EXPECT_EQ(drawn.label, "person");
  ASSERT_EQ(drawn.boxes.size(), 2u);
  EXPECT_EQ(drawn.boxes[0].frame, 100) << "keys in frame order, whatever order they were drawn in";
  EXPECT_EQ(drawn.boxes[1].frame, 110);

  auto gone = ClipEdits::from_json({{"added", stored.at("added")}, {"deleted", {3}}});
  ASSERT_TRUE(gone.ok());
  tracks = detected();
  gone->apply(tracks);
  EXPECT_EQ(tracks.size(), 2u) << "a drawn object is deleted like any track";
}

TEST(ClipEdits, ADrawnObjectWithoutAClassOrAnEmptyBoxIsRefused) {
  EXPECT_FALSE(ClipEdits::from_json({{"added", {{{"track", 3}, {"label", ""}, {"keys", {{1, 0, 0, 5, 5}}}}}}}).ok());
  EXPECT_FALSE(ClipEdits::from_json({{"added", {{{"track", 3}, {"label", "car"}, {"keys", {{1, 0, 0, 0, 5}}}}}}}).ok());
  EXPECT_FALSE(ClipEdits::from_json({{"moved", {{{"track", 1}, {"keys", json::array()}}}}}).ok());
}

}  // namespace
}  // namespace dashloop::app
