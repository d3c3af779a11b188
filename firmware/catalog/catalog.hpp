// Catalog: the station's SQLite file (WAL, foreign keys, busy timeout),
// schema versioned by migrations in PRAGMA user_version and marked with its
// own application_id. All SQL lives in this module.
//
// A file that is not a SQLite database, fails its integrity check, belongs
// to another application or comes from a newer Dashloop is refused with a
// Corruption/InvalidArgument status: never recreated over user data.
// One Catalog per thread; several processes may open the same file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <string>
#include <vector>

#include "status.hpp"

namespace dashloop::firmware::catalog {

struct DriveRecord {
  int64_t id = 0;
  std::string source;        // path or URI as given
  std::string vehicle;
  std::string camera;
  std::string mode;          // full | triage
  std::string ingested_utc;  // ISO 8601, set by the catalog
  int width = 0;
  int height = 0;
  double fps = 0.0;
  int64_t frames = 0;
  double duration_s = 0.0;
  double elapsed_s = 0.0;
  std::string keyframe_dir;
  std::string detector;           // "" when no detector ran, else its description
  int64_t detected_frames = 0;    // frames the detector saw
  int64_t detection_skipped = 0;  // frames due for detection that a live source could not wait for
  std::string fingerprint;        // an ingested file's (size, sha256 of its first and last MiB); "" otherwise
};

struct KeyframeRecord {
  int64_t id = 0;
  int64_t drive_id = 0;
  int64_t frame_index = 0;
  double t_s = 0.0;
  std::string reason;
  int64_t trigger_index = 0;
  double change = 0.0;
  double content = 0.0;
  double sharpness = 0.0;
  double brightness = 0.0;
  double quality = 0.0;
  std::string dhash;  // 16 hex digits
  std::string image_path;
};

// One box of a track, in source-frame pixels.
struct TrackBoxRecord {
  int64_t frame = 0;
  double x = 0, y = 0, w = 0, h = 0;
  double score = 0;
  bool predicted = false;  // no detection: the tracker's prediction (occluded span)
};

struct TrackRecord {
  int64_t id = 0;
  int64_t drive_id = 0;
  int track_no = 0;  // the tracker's id, stable within the drive
  std::string label;
  int64_t first_frame = 0;
  int64_t last_frame = 0;
  double first_s = 0, last_s = 0;
  int64_t detections = 0;
  double mean_score = 0;
  std::string class_votes;  // JSON object: label -> detections
  std::vector<TrackBoxRecord> boxes;  // filled by add_drive's caller, and by track_boxes()
};

struct TrackEventRecord {
  int64_t drive_id = 0;
  int64_t frame = 0;
  double t_s = 0;
  std::string kind;  // track.started | track.ended | class.seen
  int track_no = 0;
  std::string label;
};

struct DriveObjects {
  std::vector<TrackRecord> tracks;
  std::vector<TrackEventRecord> events;
};

// A file of video the clips are cut from: a recorded segment (owned: the
// ring may delete it) or an ingested file (not ours: never deleted).
struct SegmentRecord {
  int64_t id = 0;
  int64_t drive_id = 0;  // 0: not (yet) part of an analysed drive
  std::string camera;
  std::string path;
  bool owned = false;
  std::string state = "open";  // open | closed | unreadable | deleted
  std::string start_utc;       // "" when unknown (an ingested file)
  std::string end_utc;
  int64_t first_frame = 0;  // the drive's frame number of this segment's first frame
  int64_t frames = 0;
  int64_t first_pts = 0;  // ns, the segment file's own timeline
  double duration_s = 0;
  double fps = 0;
  std::string codec;
  int64_t bytes = 0;
  std::string reason;  // why it is unreadable
};

struct SegmentKeyframe {
  int64_t frame = 0;  // frame number within the segment
  int64_t pts = 0;    // ns, the segment file's timeline
};

struct TriggerRecord {
  int64_t id = 0;
  int64_t drive_id = 0;
  int64_t frame = 0;
  double t_s = 0;
  std::string kind;  // trigger | mark
  std::string note;
  std::string created_utc;
};

// A hole in a camera's recording: from the end of its last segment before
// it was lost to the start of the first one after (UTC, ISO 8601).
struct GapRecord {
  int64_t id = 0;
  std::string camera;
  std::string start_utc;
  std::string end_utc;
  std::string reason;  // why it was lost
};

// Package states (docs/CLIPS.md, ARCHITECTURE.md): every change goes
// through Catalog::move_clip, which refuses a move not in this table.
inline constexpr const char* kClipStates[] = {"planned",   "packaged", "review", "approved", "rejected",
                                              "uploading", "uploaded", "acked",  "failed"};
bool clip_move_allowed(const std::string& from, const std::string& to);

struct ClipRecord {
  int64_t id = 0;
  std::string uid;  // the package's name: <vehicle>_d<drive>_c<id>
  int64_t drive_id = 0;
  std::string state = "planned";
  std::string state_reason;
  int64_t planned_start = 0, planned_end = 0;  // frames
  int64_t start_frame = 0, end_frame = 0;      // keyframe-aligned, end excluded
  double start_s = 0, end_s = 0;
  double priority = 0;
  std::string priority_parts;  // JSON object
  std::string reasons;         // JSON array of {rule, frame, detail}
  std::string package_dir;     // "" until packaged
  int64_t frames = 0;          // in clip.mp4
  int64_t bytes = 0;           // of the package
  double effort_minutes = 0;
  bool purged = false;  // the package's files were deleted by retention
  std::string created_utc;
  std::string updated_utc;
  std::string classes = "[]";  // JSON array: the labels of the package's tracks
  std::string edits = "{}";    // JSON object: an operator's review edits (relabel, deleted, trim)
  std::string camera;          // the drive's
};

// A page of the review queue: filters ("" : any), order, and where.
struct ClipQuery {
  std::string state;
  std::string camera;
  std::string label;            // clips with a track of this class
  std::string from_utc, to_utc;  // clips made at or after from, before to ("" : open)
  bool newest_first = false;    // else highest priority first
  int64_t offset = 0;
  int64_t limit = 24;
};
struct ClipPage {
  int64_t total = 0;  // clips the filters match
  std::vector<ClipRecord> clips;
};
// What the queue's filters can offer: the cameras and classes clips have,
// and the clips in each state.
struct ClipFacets {
  std::vector<std::string> cameras, classes;
  std::vector<std::pair<std::string, int64_t>> counts;
};

// Who may use the depot UI's API: an operator (a password, hashed) or a
// reader, the cloud job (a token, hashed).
struct OperatorRecord {
  std::string name;
  std::string role;         // operator | reader
  std::string secret_hash;  // operator: scrypt string; reader: sha256 hex of the token
  int failures = 0;         // wrong passwords in a row
  std::string locked_until_utc;  // "" : not locked
  std::string created_utc;
  bool one_time = false;  // operator: the password is spent at the first login, which sets a new one
  std::string scope = "read";  // reader: read (list, download, metrics) | ack (the cloud job: read and ack)
};

struct ClipAuditRecord {
  int64_t clip_id = 0;
  std::string at_utc;
  std::string from_state;
  std::string to_state;
  std::string actor;  // who or what: "ingest", "operator:NAME", "retention", ...
  std::string reason;
};

// What packaging adds to a clip, stored with its move to `packaged` (and
// with an operator's edit, review -> review).
struct PackageFacts {
  std::string dir;
  int64_t frames = 0;
  int64_t bytes = 0;
  double effort_minutes = 0;
  std::vector<std::string> classes;
  std::string edits;  // "" : unchanged
  struct Span {
    int64_t start_frame = 0, end_frame = 0;
    double start_s = 0, end_s = 0;
  };
  std::optional<Span> span;  // a trim: the new cut
};

// Sync's progress on one package file: its object key, and for a multipart
// upload the store's upload id and every part already stored.
struct UploadFileRecord {
  int64_t clip_id = 0;
  std::string path;  // in the package
  std::string key;   // in the object store
  int64_t bytes = 0;
  std::string sha256;
  std::string upload_id;  // "" : a single PUT
  bool done = false;
};

struct UploadPartRecord {
  int number = 0;  // 1-based
  int64_t offset = 0, bytes = 0;
  std::string etag, sha256;
};

class Catalog {
 public:
  static constexpr int kSchemaVersion = 10;

  static Result<std::unique_ptr<Catalog>> open(const std::filesystem::path& file);
  ~Catalog();

  int schema_version() const;

  // Stores a drive with its keyframes, tracks (with their boxes) and events
  // in one transaction; returns its id.
  // `before_commit` runs inside the transaction with the new id (moving
  // files into place); when it fails, nothing is stored.
  using BeforeCommit = std::function<Status(int64_t drive_id, DriveRecord&, std::vector<KeyframeRecord>&)>;
  Result<int64_t> add_drive(DriveRecord drive, std::vector<KeyframeRecord> keyframes, const DriveObjects& objects = {},
                            const BeforeCommit& before_commit = {});

  Result<std::vector<DriveRecord>> drives();
  // A camera's drives, newest first, those before `before_id` (0: all), at most `limit`.
  Result<std::vector<DriveRecord>> camera_drives(const std::string& camera, int64_t before_id, int limit);
  Result<std::optional<DriveRecord>> drive(int64_t id);
  // The drive made from a file of that fingerprint, if any.
  Result<std::optional<DriveRecord>> drive_with_fingerprint(const std::string& fingerprint);
  Result<std::vector<KeyframeRecord>> keyframes(int64_t drive_id);
  // A drive's tracks without their boxes, by track_no.
  Result<std::vector<TrackRecord>> tracks(int64_t drive_id);
  Result<std::vector<TrackBoxRecord>> track_boxes(int64_t track_id);
  Result<std::vector<TrackEventRecord>> track_events(int64_t drive_id);
  Status integrity_check();

  // Segments. add_segment stores a segment with the keyframes known so far.
  Result<int64_t> add_segment(const SegmentRecord& segment, const std::vector<SegmentKeyframe>& keyframes = {});
  // Closes an open (or unreadable) segment: its end, counts and keyframes
  // (replacing any); kNotFound for any other, a deleted one included.
  Status close_segment(const SegmentRecord& segment, const std::vector<SegmentKeyframe>& keyframes);
  // A segment whose file could not be indexed (now): kept, with the reason,
  // for a later try; retention ages it out like any other.
  Status mark_segment_unreadable(int64_t segment_id, const std::string& end_utc, int64_t bytes,
                                 const std::string& reason);
  Status mark_segment_deleted(int64_t segment_id);
  // Makes recorded segments a drive's recording: (segment id, the drive's frame number of its first frame).
  Status attach_segments(int64_t drive_id, const std::vector<std::pair<int64_t, int64_t>>& first_frames);
  // By drive (drive_id > 0) or camera (drive_id == 0, camera non-empty), in order; all when both are empty.
  Result<std::vector<SegmentRecord>> segments(int64_t drive_id, const std::string& camera = "");
  Result<std::vector<SegmentKeyframe>> segment_keyframes(int64_t segment_id);

  Result<int64_t> add_trigger(const TriggerRecord& trigger);
  Result<std::vector<TriggerRecord>> triggers(int64_t drive_id);

  Result<int64_t> add_gap(const GapRecord& gap);
  Result<std::vector<GapRecord>> gaps(const std::string& camera = "");  // all cameras' when empty

  // Tracks per label over every drive: the fleet's class frequencies.
  Result<std::vector<std::pair<std::string, int64_t>>> class_counts();

  // Clips. add_clip stores a planned clip (and its first audit row).
  Result<int64_t> add_clip(ClipRecord clip, const std::string& actor);
  Result<std::optional<ClipRecord>> clip(int64_t id);
  Result<std::optional<ClipRecord>> clip_by_uid(const std::string& uid);
  // By state ("" all) and drive (0 all), highest priority first.
  Result<std::vector<ClipRecord>> clips(const std::string& state = "", int64_t drive_id = 0);
  Result<ClipPage> clip_page(const ClipQuery& query);
  // Clips per state.
  Result<std::vector<std::pair<std::string, int64_t>>> clip_counts();
  Result<ClipFacets> clip_facets();
  // An operator's priority; an audit row records the old and new value.
  Status set_clip_priority(int64_t clip_id, double priority, const std::string& actor);
  // The one way a clip changes state: refuses a move clip_move_allowed()
  // does not allow, naming the clip and both states; records who and why.
  // `package` is stored with a move to `packaged`. `only_from` (not ""):
  // refused unless the clip is in that state now (an edit's move back to
  // review must not undo a decision made while it was built).
  Status move_clip(int64_t clip_id, const std::string& to, const std::string& actor, const std::string& reason,
                   const PackageFacts* package = nullptr, const std::string& only_from = "");
  // Retention deleted the clip's package files.
  Status mark_clip_purged(int64_t clip_id, const std::string& actor, const std::string& reason);
  Result<std::vector<ClipAuditRecord>> clip_audit(int64_t clip_id);
  Result<int64_t> drive_count();

  // Operators and readers of the UI's API. add_operator refuses a name taken.
  Status add_operator(const OperatorRecord& op);
  Status remove_operator(const std::string& name);
  Result<std::optional<OperatorRecord>> operator_named(const std::string& name);
  Result<std::optional<OperatorRecord>> reader_with_token_hash(const std::string& sha256);
  Result<std::vector<OperatorRecord>> operators();
  // A login's outcome: a success clears the failures; a failure counts one
  // and, at max_failures, locks the account until `lock_until_utc`.
  Status record_login(const std::string& name, bool ok, int max_failures, const std::string& lock_until_utc);
  // An operator's new password hash: the one-time mark, failures and lock cleared.
  Status set_operator_secret(const std::string& name, const std::string& secret_hash);
  // Failures and lock cleared (dashloop user unlock); NotFound for no such name.
  Status unlock_operator(const std::string& name);

  // Sync's resumable state per package file (clear_upload: start over).
  Result<std::vector<UploadFileRecord>> upload_files(int64_t clip_id);
  Status put_upload_file(const UploadFileRecord& file);
  Result<std::vector<UploadPartRecord>> upload_parts(int64_t clip_id, const std::string& path);
  Status add_upload_part(int64_t clip_id, const std::string& path, const UploadPartRecord& part);
  Status clear_upload(int64_t clip_id);

 private:
  struct Impl;
  explicit Catalog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dashloop::firmware::catalog
