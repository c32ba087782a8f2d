#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sluice::relabel {

// A series' labels while relabelling rules run on it. Names are unique; an
// absent label reads as "", and setting "" removes a label (Prometheus'
// rules). Kept per thread and cleared per series: the strings keep their
// memory, so a series costs no allocation once the set has seen one as big.
class LabelSet {
 public:
  struct Label {
    std::string name;
    std::string value;
  };

  void Clear() { size_ = 0; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const Label& operator[](size_t i) const { return labels_[i]; }

  // Appends a label whose name is not in the set yet.
  void Add(std::string_view name, std::string_view value);
  std::string_view Get(std::string_view name) const;
  bool Has(std::string_view name) const;
  // Sets, adds, or (for "") removes.
  void Set(std::string_view name, std::string_view value);
  void Remove(std::string_view name);
  // Removes every label for which pred(name) holds.
  template <class Pred>
  void RemoveIf(Pred pred) {
    size_t w = 0;
    for (size_t i = 0; i < size_; ++i) {
      if (pred(std::string_view(labels_[i].name))) continue;
      if (w != i) std::swap(labels_[w], labels_[i]);
      ++w;
    }
    size_ = w;
  }
  // Orders labels by name, as remote write requires.
  void Sort();
  bool operator==(const LabelSet& o) const;

 private:
  std::vector<Label> labels_;  // [0, size_) in use; the rest keeps memory
  size_t size_ = 0;
};

}  // namespace sluice::relabel
