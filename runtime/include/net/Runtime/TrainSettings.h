//===- TrainSettings.h - The training settings' table, in C++ ---*- C++ -*-===//
//
// TrainSettings.def as constant arrays, for the front end, the emitter, netrun
// and the runtime alike: header-only, no LLVM. Code that needs a setting's
// member or ABI field by name includes the .def itself.
//
//===----------------------------------------------------------------------===//
#ifndef NET_RUNTIME_TRAINSETTINGS_H
#define NET_RUNTIME_TRAINSETTINGS_H

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace netc::settings {

/// The settings of the run, the schedules and early stopping, in table order.
enum SettingId : int {
#define NETC_TRAIN_SETTING(Id, ...) Id,
#include "net/Runtime/TrainSettings.def"
};

enum class Group { Run, Schedule, EarlyStopping };
enum class Type { Int, Real, Bool, Choice };
/// An optimizer argument's range (mlir::net::ranges, as float32).
enum class Bound { None, Positive, Unit };

/// One row of the table; TrainSettings.def says what each column means.
struct Setting {
  SettingId id;
  Group group;
  const char *netName, *flag, *metavar, *verbs, *field;
  Type type;
  double fallback, low, high;
  bool lowOpen, highOpen;
  const char *choices, *expects, *help;
};

#define NETC_SETTING_ROW(group, Id, NetName, Flag, Metavar, Verbs, Field, Member, Type_, \
                         Default, Low, High, LowOpen, HighOpen, Choices, Expects, Help) \
  {Id, Group::group, NetName, Flag, Metavar, Verbs, #Field, Type::Type_, double(Default), \
   double(Low), double(High), LowOpen, HighOpen, Choices, Expects, Help},
inline const Setting kSettings[] = {
#define NETC_RUN_SETTING(...) NETC_SETTING_ROW(Run, __VA_ARGS__)
#define NETC_SCHEDULE_SETTING(...) NETC_SETTING_ROW(Schedule, __VA_ARGS__)
#define NETC_EARLY_STOPPING_SETTING(...) NETC_SETTING_ROW(EarlyStopping, __VA_ARGS__)
#include "net/Runtime/TrainSettings.def"
};
#undef NETC_SETTING_ROW

inline const Setting &setting(SettingId id) { return kSettings[id]; }

/// An argument of sgd(...) or adam(...).
struct OptimizerSetting {
  const char *optimizer, *netName, *field;
  Type type;
  double fallback;
  Bound bound;
};

inline const OptimizerSetting kOptimizerSettings[] = {
#define NETC_OPTIMIZER_SETTING(Optimizer, NetName, Field, Type_, Default, Bound_) \
  {#Optimizer, NetName, #Field, Type::Type_, Default, Bound::Bound_},
#include "net/Runtime/TrainSettings.def"
};

/// A learning-rate schedule and its arguments in their .net order.
struct Schedule {
  const char *netName, *flag;
  SettingId args[3];
  int numArgs;

  bool uses(SettingId id) const {
    for (int i = 0; i < numArgs; ++i)
      if (args[i] == id)
        return true;
    return false;
  }
};

template <typename... Ids> constexpr int countOf(Ids...) { return int(sizeof...(Ids)); }

#define NETC_UNPAREN(...) __VA_ARGS__
inline const Schedule kSchedules[] = {
#define NETC_LR_SCHEDULE(NetName, Flag, Args) \
  {NetName, Flag, {NETC_UNPAREN Args}, countOf(NETC_UNPAREN Args)},
#include "net/Runtime/TrainSettings.def"
};
#undef NETC_UNPAREN

/// The schedule netrun calls `flag` (one-cycle), or nullptr.
inline const Schedule *scheduleByFlag(const std::string &flag) {
  for (const Schedule &s : kSchedules)
    if (flag == s.flag)
      return &s;
  return nullptr;
}

/// A bound or default as it is written: 10, 0.1, 1e9 (not 1e+09).
inline std::string numberText(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%g", v);
  std::string s = buffer;
  if (size_t e = s.find("e+"); e != std::string::npos) {
    size_t digits = e + 2;
    while (digits + 1 < s.size() && s[digits] == '0')
      ++digits;
    s = s.substr(0, e + 1) + s.substr(digits);
  }
  return s;
}

/// The range as the front end's errors give it: "in (0, 1]".
inline std::string rangeText(const Setting &s) {
  if (s.type == Type::Choice || s.type == Type::Bool)
    return s.expects;
  auto bound = [&](double v) {
    return s.type == Type::Int ? std::to_string(int64_t(v)) : numberText(v);
  };
  return std::string("in ") + (s.lowOpen ? "(" : "[") + bound(s.low) + ", " + bound(s.high) +
         (s.highOpen ? ")" : "]");
}

/// The choices of a Choice setting, split at '|'.
inline std::vector<std::string> choices(const Setting &s) {
  std::vector<std::string> out;
  std::string all = s.choices;
  for (size_t start = 0;;) {
    size_t bar = all.find('|', start);
    out.push_back(all.substr(start, bar - start));
    if (bar == std::string::npos)
      return out;
    start = bar + 1;
  }
}

/// The first of a Choice's choices, its default: "val_loss" of
/// "val_loss|val_accuracy".
inline std::string firstChoice(const char *choices) {
  return std::string(choices, std::strcspn(choices, "|"));
}

/// The default as netrun's help gives it: "10", "0.1", "val_loss".
inline std::string defaultText(const Setting &s) {
  return s.type == Type::Choice ? firstChoice(s.choices) : numberText(s.fallback);
}

/// Whether `v` is in the setting's range (NaN is in none).
inline bool within(const Setting &s, double v) {
  return std::isfinite(v) && v >= s.low && v <= s.high && !(s.lowOpen && v == s.low) &&
         !(s.highOpen && v == s.high);
}

} // namespace netc::settings

#endif // NET_RUNTIME_TRAINSETTINGS_H
