#include "relabel/labels.h"

#include <algorithm>

namespace sluice::relabel {

void LabelSet::Add(std::string_view name, std::string_view value) {
  if (size_ == labels_.size()) labels_.emplace_back();
  Label& l = labels_[size_++];
  l.name.assign(name);
  l.value.assign(value);
}

std::string_view LabelSet::Get(std::string_view name) const {
  for (size_t i = 0; i < size_; ++i) {
    if (labels_[i].name == name) return labels_[i].value;
  }
  return {};
}

bool LabelSet::Has(std::string_view name) const {
  for (size_t i = 0; i < size_; ++i) {
    if (labels_[i].name == name) return true;
  }
  return false;
}

void LabelSet::Set(std::string_view name, std::string_view value) {
  if (value.empty()) {
    Remove(name);
    return;
  }
  for (size_t i = 0; i < size_; ++i) {
    if (labels_[i].name == name) {
      labels_[i].value.assign(value);
      return;
    }
  }
  Add(name, value);
}

void LabelSet::Remove(std::string_view name) {
  RemoveIf([&](std::string_view n) { return n == name; });
}

void LabelSet::Sort() {
  std::sort(labels_.begin(), labels_.begin() + static_cast<std::ptrdiff_t>(size_),
            [](const Label& a, const Label& b) { return a.name < b.name; });
}

bool LabelSet::operator==(const LabelSet& o) const {
  if (size_ != o.size_) return false;
  for (size_t i = 0; i < size_; ++i) {
    if (o.Get(labels_[i].name) != labels_[i].value || !o.Has(labels_[i].name)) return false;
  }
  return true;
}

}  // namespace sluice::relabel
