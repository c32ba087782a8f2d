#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sluice::config {

// 1-based position in a configuration file.
struct Location {
  std::string file;
  int line = 0;
  int column = 0;
};

struct Error {
  Location where;
  std::string message;
  // "file:line:column: message"
  std::string ToString() const;
};

// Looks up an environment variable; returns nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup ProcessEnv();

// Replaces ${env:NAME} and ${env:NAME:-default} in text. $$ is a literal $.
// Returns false and sets *error for an unset variable without a default or a
// malformed reference.
bool ExpandEnv(std::string_view text, const EnvLookup& env, std::string* out, std::string* error);

// Error collection and scalar access for one configuration file.
class Context {
 public:
  explicit Context(std::string file, EnvLookup env = ProcessEnv())
      : file_(std::move(file)), env_(std::move(env)) {}

  Location Where(const YAML::Node& node) const;
  void AddError(const YAML::Node& at, std::string message);
  void AddError(Location where, std::string message);
  const std::vector<Error>& errors() const { return errors_; }
  bool ok() const { return errors_.empty(); }

  // The scalar's text after env substitution. On failure records an error at
  // the node and returns false.
  bool Scalar(const YAML::Node& node, std::string* out);

 private:
  std::string file_;
  EnvLookup env_;
  std::vector<Error> errors_;
};

// Inclusive bounds in the field's own unit (bytes, nanoseconds, or the number).
struct Bounds {
  std::optional<long double> min;
  std::optional<long double> max;
};

// Documentation of one field, for generated reference docs and error messages.
struct FieldDoc {
  std::string name;
  std::string type;
  std::string default_text;
  std::string bounds_text;
  std::string doc;
  std::vector<FieldDoc> children;
};

// Parses a YAML file; on a syntax error records it in ctx and returns nullopt.
std::optional<YAML::Node> LoadFile(const std::string& path, Context& ctx);
std::optional<YAML::Node> LoadString(const std::string& text, Context& ctx);

// Human-readable list "a, b, c".
std::string JoinChoices(const std::vector<std::string>& names);

namespace internal {
// Field parsers shared by every Schema<T>. Each returns false after recording
// an error in ctx.
bool ParseString(const YAML::Node& n, Context& ctx, std::string* out);
bool ParseBool(const YAML::Node& n, Context& ctx, bool* out);
bool ParseInt(const YAML::Node& n, Context& ctx, const Bounds& b, int64_t* out);
bool ParseDuration(const YAML::Node& n, Context& ctx, const Bounds& b,
                   std::chrono::nanoseconds* out);
bool ParseBytes(const YAML::Node& n, Context& ctx, const Bounds& b, uint64_t* out);
bool ParseStringList(const YAML::Node& n, Context& ctx, std::vector<std::string>* out);
bool ParseStringMap(const YAML::Node& n, Context& ctx,
                    std::vector<std::pair<std::string, std::string>>* out);
bool ParseChoice(const YAML::Node& n, Context& ctx, const std::vector<std::string>& choices,
                 size_t* index);
std::string DurationBoundsText(const Bounds& b);
std::string BytesBoundsText(const Bounds& b);
std::string IntBoundsText(const Bounds& b);
std::string QuoteList(const std::vector<std::string>& v);

struct FieldDef {
  std::string name;
  FieldDoc doc;
  bool required = false;
  std::function<void(const YAML::Node&, void*, Context&)> parse;
};

// Parses a map node against field definitions, rejecting unknown keys.
void ParseObject(const YAML::Node& node, const std::string& what,
                 const std::vector<FieldDef>& fields, void* target, Context& ctx);
}  // namespace internal

// Binds YAML keys to members of T. Defaults are T's member initialisers.
//
//   Schema<HttpOptions> s("http");
//   s.String("endpoint", &HttpOptions::endpoint, "host:port to listen on")
//    .Bytes("max_request_body_size", &HttpOptions::max_body, "largest body", {1 << 20, 256 << 20});
template <class T>
class Schema {
 public:
  explicit Schema(std::string what) : what_(std::move(what)) {}

  Schema& String(const char* name, std::string T::*m, const char* doc) {
    return Add(name, "string", Quote(T().*m), "", doc, [m](const YAML::Node& n, T* t, Context& c) {
      internal::ParseString(n, c, &(t->*m));
    });
  }
  Schema& Bool(const char* name, bool T::*m, const char* doc) {
    return Add(name, "bool", (T().*m) ? "true" : "false", "", doc,
               [m](const YAML::Node& n, T* t, Context& c) { internal::ParseBool(n, c, &(t->*m)); });
  }
  Schema& Int(const char* name, int64_t T::*m, const char* doc, Bounds b = {}) {
    return Add(
        name, "int", std::to_string(T().*m), internal::IntBoundsText(b), doc,
        [m, b](const YAML::Node& n, T* t, Context& c) { internal::ParseInt(n, c, b, &(t->*m)); });
  }
  Schema& Duration(const char* name, std::chrono::nanoseconds T::*m, const char* doc,
                   Bounds b = {});
  Schema& Bytes(const char* name, uint64_t T::*m, const char* doc, Bounds b = {});
  Schema& StringList(const char* name, std::vector<std::string> T::*m, const char* doc) {
    const std::vector<std::string> def = T().*m;
    return Add(
        name, "list of strings", def.empty() ? "[]" : "[" + internal::QuoteList(def) + "]", "", doc,
        [m](const YAML::Node& n, T* t, Context& c) { internal::ParseStringList(n, c, &(t->*m)); });
  }
  // A map of string keys to string values, kept in the file's order.
  Schema& StringMap(const char* name, std::vector<std::pair<std::string, std::string>> T::*m,
                    const char* doc) {
    return Add(name, "map of strings", "{}", "", doc, [m](const YAML::Node& n, T* t, Context& c) {
      internal::ParseStringMap(n, c, &(t->*m));
    });
  }
  template <class E>
  Schema& Enum(const char* name, E T::*m, std::vector<std::pair<std::string, E>> choices,
               const char* doc) {
    std::vector<std::string> names;
    std::string default_text;
    for (const auto& [text, value] : choices) {
      names.push_back(text);
      if (value == T().*m) default_text = text;
    }
    return Add(name, "one of " + JoinChoices(names), default_text, "", doc,
               [m, choices, names](const YAML::Node& n, T* t, Context& c) {
                 size_t i;
                 if (internal::ParseChoice(n, c, names, &i)) t->*m = choices[i].second;
               });
  }
  template <class U>
  Schema& Object(const char* name, U T::*m, const Schema<U>& sub, const char* doc) {
    Add(name, "object", "", "", doc,
        [m, sub](const YAML::Node& n, T* t, Context& c) { sub.Parse(n, &(t->*m), c); });
    fields_.back().doc.children = sub.Document();
    return *this;
  }
  // A list of maps, each parsed by `sub`.
  template <class U>
  Schema& ObjectList(const char* name, std::vector<U> T::*m, const Schema<U>& sub,
                     const char* doc) {
    Add(name, "list of maps", "none", "", doc, [m, sub](const YAML::Node& n, T* t, Context& c) {
      if (n.IsNull()) return;
      if (!n.IsSequence()) {
        c.AddError(n, "expected a list");
        return;
      }
      for (auto it = n.begin(); it != n.end(); ++it) {
        const YAML::Node item = *it;
        U u;
        sub.Parse(item, &u, c);
        (t->*m).push_back(std::move(u));
      }
    });
    fields_.back().doc.children = sub.Document();
    return *this;
  }
  // A sub-object whose presence means "enabled" (as `protocols: {http: }`):
  // the member is engaged with defaults plus whatever the node sets.
  template <class U>
  Schema& OptionalObject(const char* name, std::optional<U> T::*m, const Schema<U>& sub,
                         const char* doc) {
    Add(name, "object (optional)", "", "", doc, [m, sub](const YAML::Node& n, T* t, Context& c) {
      (t->*m).emplace();
      sub.Parse(n, &*(t->*m), c);
    });
    fields_.back().doc.children = sub.Document();
    return *this;
  }
  // Marks the most recently added field as required.
  Schema& Required() {
    fields_.back().required = true;
    fields_.back().doc.default_text = "(required)";
    return *this;
  }

  // A check across fields, run after they parse cleanly; returns an error
  // message (reported at the object) or "" when the options are consistent.
  Schema& Check(std::function<std::string(const T&)> check) {
    checks_.push_back(std::move(check));
    return *this;
  }

  // Fills *out from node (a map, or null for all defaults). Errors go to ctx.
  void Parse(const YAML::Node& node, T* out, Context& ctx) const {
    size_t errors_before = ctx.errors().size();
    internal::ParseObject(node, what_, fields_, out, ctx);
    if (ctx.errors().size() != errors_before) return;
    for (const auto& check : checks_) {
      std::string error = check(*out);
      if (!error.empty()) ctx.AddError(node, what_ + ": " + error);
    }
  }
  std::vector<FieldDoc> Document() const {
    std::vector<FieldDoc> docs;
    for (const auto& f : fields_) docs.push_back(f.doc);
    return docs;
  }
  const std::string& what() const { return what_; }

  // A field with its own parser (which records its errors in the context).
  Schema& Custom(const char* name, std::string type, std::string default_text, const char* doc,
                 std::function<void(const YAML::Node&, T*, Context&)> parse) {
    return Add(name, std::move(type), std::move(default_text), "", doc, std::move(parse));
  }

 private:
  static std::string Quote(const std::string& s) { return "\"" + s + "\""; }

  Schema& Add(const char* name, std::string type, std::string default_text, std::string bounds_text,
              const char* doc, std::function<void(const YAML::Node&, T*, Context&)> parse) {
    internal::FieldDef f;
    f.name = name;
    f.doc =
        FieldDoc{name, std::move(type), std::move(default_text), std::move(bounds_text), doc, {}};
    f.parse = [parse = std::move(parse)](const YAML::Node& n, void* t, Context& c) {
      parse(n, static_cast<T*>(t), c);
    };
    fields_.push_back(std::move(f));
    return *this;
  }

  std::string what_;
  std::vector<internal::FieldDef> fields_;
  std::vector<std::function<std::string(const T&)>> checks_;
};

std::string FormatDurationText(std::chrono::nanoseconds d);
std::string FormatBytesText(uint64_t b);

template <class T>
Schema<T>& Schema<T>::Duration(const char* name, std::chrono::nanoseconds T::*m, const char* doc,
                               Bounds b) {
  return Add(name, "duration", FormatDurationText(T().*m), internal::DurationBoundsText(b), doc,
             [m, b](const YAML::Node& n, T* t, Context& c) {
               internal::ParseDuration(n, c, b, &(t->*m));
             });
}

template <class T>
Schema<T>& Schema<T>::Bytes(const char* name, uint64_t T::*m, const char* doc, Bounds b) {
  return Add(
      name, "byte size", FormatBytesText(T().*m), internal::BytesBoundsText(b), doc,
      [m, b](const YAML::Node& n, T* t, Context& c) { internal::ParseBytes(n, c, b, &(t->*m)); });
}

// Renders field docs as a Markdown table (used to generate docs/configuration.md).
std::string RenderMarkdown(const std::vector<FieldDoc>& fields, const std::string& prefix = "");

}  // namespace sluice::config
