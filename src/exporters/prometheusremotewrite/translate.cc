#include "exporters/prometheusremotewrite/translate.h"

#include <algorithm>
#include <utility>

#include "exporters/prometheusremotewrite/otlp_translation.h"
#include "exporters/prometheusremotewrite/pass_through.h"
#include "exporters/prometheusremotewrite/series.h"
#include "wire/prom/labels.h"

namespace sluice::exporters::prw {
namespace {

// The external labels with values, as views into `options`, sorted by name.
// Fails with InvalidArgument if one is unusable.
Result<std::vector<LabelRef>> ExternalLabels(const TranslateOptions& options) {
  std::vector<LabelRef> external;
  for (const Label& l : options.external_labels) {
    const std::string& n = l.name;
    bool valid = wire::prom::ValidLabelName(n) && !n.starts_with("__");
    if (!valid) {
      return Invalid("external label name \"" + n +
                     "\" must match [a-zA-Z_][a-zA-Z0-9_]* and not start with __");
    }
    if (!wire::prom::ValidUtf8(l.value))
      return Invalid("external label " + n + " has a value that is not UTF-8");
    if (!l.value.empty()) external.push_back(LabelRef{l.name, l.value});
  }
  std::sort(external.begin(), external.end(),
            [](const LabelRef& a, const LabelRef& b) { return a.name < b.name; });
  for (size_t i = 1; i < external.size(); ++i) {
    if (external[i].name == external[i - 1].name) {
      return Invalid("external label " + std::string(external[i].name) + " is repeated");
    }
  }
  return external;
}

}  // namespace

struct Translator::Impl {
  explicit Impl(TranslateOptions o)
      : options(std::move(o)), otlp(options, external), splitter(external) {}

  TranslateOptions options;
  // Views into `options`, set by Create before either direction runs.
  std::vector<LabelRef> external;
  OtlpTranslator otlp;
  WriteRequestSplitter splitter;
};

Translator::Translator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Translator::~Translator() = default;

Result<std::unique_ptr<Translator>> Translator::Create(TranslateOptions options) {
  // The label views point into the options the translator keeps, so they are
  // taken once those are in place.
  auto impl = std::make_unique<Impl>(std::move(options));
  SLUICE_ASSIGN_OR_RETURN(impl->external, ExternalLabels(impl->options));
  return std::unique_ptr<Translator>(new Translator(std::move(impl)));
}

Status Translator::TranslateOtlpMetrics(std::string_view request, SeriesSink& sink,
                                        TranslateStats* stats) {
  TranslateStats ignored;
  return impl_->otlp.Translate(request, sink, stats != nullptr ? stats : &ignored);
}

Status Translator::SplitWriteRequest(std::string_view request, SeriesSink& sink,
                                     TranslateStats* stats) {
  TranslateStats ignored;
  return impl_->splitter.Split(request, sink, stats != nullptr ? stats : &ignored);
}

Status TranslateOtlpMetrics(std::string_view request, const TranslateOptions& options,
                            SeriesSink& sink, TranslateStats* stats) {
  auto t = Translator::Create(options);
  if (!t.ok()) return t.status();
  return (*t)->TranslateOtlpMetrics(request, sink, stats);
}

Status SplitWriteRequest(std::string_view request, const TranslateOptions& options,
                         SeriesSink& sink, TranslateStats* stats) {
  auto t = Translator::Create(options);
  if (!t.ok()) return t.status();
  return (*t)->SplitWriteRequest(request, sink, stats);
}

}  // namespace sluice::exporters::prw
