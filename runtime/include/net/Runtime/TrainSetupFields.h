//===- TrainSetupFields.h - A model's training settings by id ----*- C++ -*-===//
//
// The fields of a compiled model's netc_train_setup (ModelABI.h) looked up by
// their row of TrainSettings.def, so that checking and printing a model's
// set-up walks the table instead of naming each field.
//
//===----------------------------------------------------------------------===//
#ifndef NET_RUNTIME_TRAINSETUPFIELDS_H
#define NET_RUNTIME_TRAINSETUPFIELDS_H

#include "net/Runtime/ModelABI.h"
#include "net/Runtime/TrainSettings.h"

#include <cmath>
#include <string>

namespace netc::settings {

namespace detail {
template <typename T> double numberOf(T value) { return double(value); }
inline double numberOf(const char *) { return std::nan(""); }
template <typename T> const char *textOf(T) { return nullptr; }
inline const char *textOf(const char *value) { return value; }
} // namespace detail

/// The setting's field as a number; NaN for a Choice (a string).
inline double numberIn(const netc_train_setup &t, SettingId id) {
  switch (id) {
#define NETC_TRAIN_SETTING(Id, NetName, Flag, Metavar, Verbs, Field, ...) \
  case Id:                                                               \
    return detail::numberOf(t.Field);
#include "net/Runtime/TrainSettings.def"
  }
  return std::nan("");
}

/// A Choice setting's field (may be null); null for the other types.
inline const char *textIn(const netc_train_setup &t, SettingId id) {
  switch (id) {
#define NETC_TRAIN_SETTING(Id, NetName, Flag, Metavar, Verbs, Field, ...) \
  case Id:                                                               \
    return detail::textOf(t.Field);
#include "net/Runtime/TrainSettings.def"
  }
  return nullptr;
}

/// The field as netrun's flags write it: "10", "0.1", "val_loss", "true".
inline std::string valueTextIn(const netc_train_setup &t, const Setting &s) {
  switch (s.type) {
  case Type::Choice: {
    const char *text = textIn(t, s.id);
    return text ? text : "?";
  }
  case Type::Bool:
    return numberIn(t, s.id) != 0 ? "true" : "false";
  case Type::Int:
    return std::to_string(int64_t(numberIn(t, s.id)));
  case Type::Real:
    return numberText(numberIn(t, s.id));
  }
  return "?";
}

} // namespace netc::settings

#endif // NET_RUNTIME_TRAINSETUPFIELDS_H
