#include "json.hpp"

#include "reflex/errors.hpp"

namespace reflex::rstate::detail {

Json parse_object(std::string_view text, std::string_view what) {
  Json parsed = Json::parse(text.begin(), text.end(), nullptr, false);
  if (parsed.is_discarded()) {
    throw ConfigError(std::string(what) + " are not valid JSON: give a JSON object such as " +
                      R"({"name": "value"})");
  }
  if (!parsed.is_object()) {
    throw ConfigError(std::string(what) + " must be a JSON object, not " +
                      std::string(parsed.type_name()));
  }
  return parsed;
}

Path parse_path(std::string_view field, bool from_event) {
  if (from_event && field.starts_with("entity.values.")) field.remove_prefix(14);
  Path path;
  std::size_t start = 0;
  while (true) {
    const auto dot = field.find('.', start);
    const auto key = field.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (key.empty()) {
      throw ConfigError("field '" + std::string(field) +
                        "' has an empty key: write nested keys as a.b.c");
    }
    for (const char c : key) {
      if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
        throw ConfigError("field '" + std::string(field) +
                          "' has a quote, backslash or control character in a key");
      }
    }
    path.emplace_back(key);
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return path;
}

std::vector<Term> parse_filter(std::string_view text, bool from_event) {
  std::vector<Term> terms;
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) return terms;
  const Json filter = parse_object(text, "the query string");
  for (const auto& [key, value] : filter.items()) {
    terms.push_back({parse_path(key, from_event), value});
  }
  return terms;
}

std::string json_path(const Path& path) {
  std::string out = "$";
  for (const auto& key : path) out += ".\"" + key + "\"";
  return out;
}

std::string pg_path(const Path& path) {
  std::string out = "{";
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (i) out += ',';
    out += '"' + path[i] + '"';
  }
  return out + "}";
}

Json nested(const std::vector<Term>& terms) {
  Json out = Json::object();
  for (const auto& term : terms) {
    Json* at = &out;
    for (std::size_t i = 0; i + 1 < term.path.size(); ++i) {
      Json& next = (*at)[term.path[i]];
      if (!next.is_object()) next = Json::object();
      at = &next;
    }
    (*at)[term.path.back()] = term.value;
  }
  return out;
}

std::string event_json(const EntityEvent& event) {
  // Built as text around the already-checked values and claims: they are not parsed again.
  Json head = {
      {"id", event.id}, {"method", event.method_name}, {"time", std::to_string(event.time_ns)}};
  std::string out = head.dump();
  out.pop_back();  // the closing brace
  Json ref = {{"domain", event.entity.ref.domain},
              {"type", event.entity.ref.type},
              {"key", event.entity.ref.key}};
  std::string entity = ref.dump();
  entity.pop_back();
  out += R"(,"entity":)" + entity + R"(,"values":)" + event.entity.values + "}";
  out += R"(,"claims":)" + event.claims + "}";
  return out;
}

}  // namespace reflex::rstate::detail
