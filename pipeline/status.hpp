// Status and Result<T>: the outcome of an operation that can fail, as a value.
//
// A Status is either ok or carries a kind and a message meant for an operator
// (it names the input: the file, the key, the URI). Result<T> holds a T or a
// non-ok Status. Both are plain values, safe to move between threads.
// Exceptions are used only at the edges (CLI, HTTP), where a Status becomes an
// exit code or a 4xx.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace dashloop {

class Status {
 public:
  // kUnavailable: worth retrying later (a timeout, a 5xx, a lost network);
  // kAlreadyExists: a create-only write found something there;
  // kPermissionDenied: a service refused us (credentials, rights, a missing
  // bucket): not the item's fault, and no retry mends it until a person does.
  enum class Kind {
    kOk,
    kInvalidArgument,
    kNotFound,
    kCorruption,
    kIOError,
    kUnsupported,
    kInternal,
    kUnavailable,
    kAlreadyExists,
    kPermissionDenied
  };

  Status() = default;
  static Status Ok() { return {}; }
  static Status InvalidArgument(std::string msg) { return {Kind::kInvalidArgument, std::move(msg)}; }
  static Status NotFound(std::string msg) { return {Kind::kNotFound, std::move(msg)}; }
  static Status Corruption(std::string msg) { return {Kind::kCorruption, std::move(msg)}; }
  static Status IOError(std::string msg) { return {Kind::kIOError, std::move(msg)}; }
  static Status Unsupported(std::string msg) { return {Kind::kUnsupported, std::move(msg)}; }
  static Status Internal(std::string msg) { return {Kind::kInternal, std::move(msg)}; }
  static Status Unavailable(std::string msg) { return {Kind::kUnavailable, std::move(msg)}; }
  static Status AlreadyExists(std::string msg) { return {Kind::kAlreadyExists, std::move(msg)}; }
  static Status PermissionDenied(std::string msg) { return {Kind::kPermissionDenied, std::move(msg)}; }

  bool ok() const { return kind_ == Kind::kOk; }
  Kind kind() const { return kind_; }
  const std::string& message() const { return message_; }
  std::string ToString() const { return ok() ? std::string("OK") : message_; }

 private:
  Status(Kind kind, std::string msg) : kind_(kind), message_(std::move(msg)) {}
  Kind kind_ = Kind::kOk;
  std::string message_;
};

template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}  // NOLINT: must be non-ok

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace dashloop
