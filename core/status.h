// Status: the result of an operation that can fail for reasons outside the
// program's control (bad input, a missing or unreadable file). Programming
// errors are not Statuses: they abort or throw.
//
// A Status carries a code that maps to lockstep's exit codes (docs/design.md) and
// one message written for the person at the terminal: what is wrong, where
// (file, key or line) and what to do about it.
#ifndef LOCKSTEP_CORE_STATUS_H_
#define LOCKSTEP_CORE_STATUS_H_

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>

#include "core/exit_code.h"

namespace lockstep {

// [[nodiscard]]: a Status dropped on the floor is an error nobody reported.
class [[nodiscard]] Status {
 public:
  enum class Code {
    kOk = 0,
    kRegression = 1,     // a compared value differs beyond its policy
    kBadInput = 2,       // bad usage, config, manifest, shard, missing file
    kCrash = 3,          // the run under test crashed
    kInterrupted = 130,  // a signal ended the work (exit 128 + the signal)
  };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status BadInput(std::string message) {
    return Status(Code::kBadInput, std::move(message));
  }
  static Status Regression(std::string message) {
    return Status(Code::kRegression, std::move(message));
  }
  static Status Crash(std::string message) { return Status(Code::kCrash, std::move(message)); }
  // `signal` ended the work; exit_code() is 128 + signal (130 if unknown).
  static Status Interrupted(std::string message, int signal) {
    Status st(Code::kInterrupted, std::move(message));
    st.signal_ = signal;
    return st;
  }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // The process exit code docs/design.md assigns to this status.
  int exit_code() const {
    if (code_ == Code::kInterrupted) return SignalExitCode(signal_);
    return static_cast<int>(code_);
  }

  // Returns a copy whose message is prefixed with `context: `, for adding the
  // file or key an inner function did not know about.
  Status WithContext(const std::string& context) const {
    if (ok()) return *this;
    Status st(code_, context + ": " + message_);
    st.signal_ = signal_;
    return st;
  }

 private:
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  Code code_ = Code::kOk;
  std::string message_;
  int signal_ = 0;
};

// Result<T>: a value or the Status that explains why there is none. Reading
// the value of a failed Result is a programming error: it aborts, naming the
// status, instead of reading an empty optional.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    if (status_.ok()) Die("a Result made from an ok Status has no value");
  }

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { return Checked(); }
  const T& value() const& { return Checked(); }
  T&& value() && { return std::move(Checked()); }
  T* operator->() { return &Checked(); }
  const T* operator->() const { return &Checked(); }
  T& operator*() { return Checked(); }
  const T& operator*() const { return Checked(); }

 private:
  T& Checked() {
    if (!value_) Die(status_.message().c_str());
    return *value_;
  }
  const T& Checked() const {
    if (!value_) Die(status_.message().c_str());
    return *value_;
  }
  [[noreturn]] static void Die(const char* why) {
    std::fprintf(stderr, "lockstep: internal error: the value of a failed Result was read: %s\n",
                 why);
    std::abort();
  }

  Status status_;
  std::optional<T> value_;
};

}  // namespace lockstep

// Returns early from the enclosing function when `expr` yields a failed Status.
#define LOCKSTEP_RETURN_IF_ERROR(expr) \
  do {                                 \
    ::lockstep::Status _st = (expr);   \
    if (!_st.ok()) return _st;         \
  } while (0)

#endif  // LOCKSTEP_CORE_STATUS_H_
