// `--set /json/pointer=value`: walks the pointer itself so that a bad one gets a geotrain message
// (file, pointer, value, what is allowed), never a JSON library exception.
#include "cli/overrides.h"

#include <algorithm>

#include <fmt/format.h>

#include "sim/json_reader.h"

namespace geotrain::cli {
namespace {

// The reference tokens of an RFC 6901 pointer ("" is the whole document: no tokens).  Throws
// BadInput on a malformed one.
std::vector<std::string> pointer_tokens(const std::string& pointer, const std::string& file, const std::string& shown) {
  std::vector<std::string> tokens;
  for (std::size_t at = 1; at <= pointer.size();) {
    const std::size_t end = std::min(pointer.find('/', at), pointer.size());
    std::string token;
    for (std::size_t i = at; i < end; ++i) {
      if (pointer[i] != '~') {
        token += pointer[i];
      } else if (i + 1 < end && (pointer[i + 1] == '0' || pointer[i + 1] == '1')) {
        token += pointer[++i] == '0' ? '~' : '/';
      } else {
        sim::throw_bad_input(file, pointer, shown,
                             "--set expects a JSON pointer (RFC 6901): '~' only as ~0 (for ~) or ~1 (for /)");
      }
    }
    tokens.push_back(std::move(token));
    at = end + 1;
  }
  return tokens;
}

const char* type_name(const nlohmann::json& v) {
  if (v.is_string()) return "a string";
  if (v.is_boolean()) return "a boolean";
  if (v.is_number()) return "a number";
  return "null";
}

// The array index `token` names in an array of `size` entries (size: append), or -1.
long array_index(const std::string& token, std::size_t size) {
  if (token == "-") return static_cast<long>(size);
  if (token.empty() || token.size() > 9 || token.find_first_not_of("0123456789") != std::string::npos ||
      (token.size() > 1 && token[0] == '0'))
    return -1;
  const long i = std::stol(token);
  return i <= static_cast<long>(size) ? i : -1;
}

// Sets `value` at `tokens` below `doc`, creating objects on the way.
void set_at(nlohmann::json& doc, const std::vector<std::string>& tokens, const nlohmann::json& value, const std::string& file,
            const std::string& pointer) {
  const std::string shown = sim::json_value_text(value);
  nlohmann::json* node = &doc;
  std::string walked;  // the pointer of *node
  for (std::size_t k = 0; k < tokens.size(); ++k) {
    const std::string& token = tokens[k];
    const bool last = k + 1 == tokens.size();
    if (node->is_null() && !walked.empty()) *node = nlohmann::json::object();  // a key added on the way
    if (node->is_object()) {
      node = &(*node)[token];
    } else if (node->is_array()) {
      const long i = array_index(token, node->size());
      if (i < 0)
        sim::throw_bad_input(file, pointer, shown,
                             fmt::format("{} is an array of {} entries: --set expects an index in [0, {}] there ({} or - appends)", walked,
                                         node->size(), node->size(), node->size()));
      if (static_cast<std::size_t>(i) == node->size()) node->push_back(last ? value : nlohmann::json::object());
      node = &(*node)[static_cast<std::size_t>(i)];
    } else if (walked == "/topology" && node->is_string()) {
      sim::throw_bad_input(file, pointer, shown,
                           fmt::format("/topology is a file path here ({}), and --set reaches inside inline topologies "
                                       "only: put the topology in the scenario, or replace it whole "
                                       "(--set /topology=FILE or --set /topology='{{...}}')",
                                       sim::json_value_text(*node)));
    } else {
      sim::throw_bad_input(file, pointer, shown,
                           fmt::format("--set cannot reach inside {}: it is {} ({}), not an object or array; set it whole instead",
                                       walked.empty() ? "the document" : walked,
                                       type_name(*node), sim::json_value_text(*node)));
    }
    walked = sim::json_pointer_append(walked, token);
  }
  *node = value;
}

}  // namespace

void apply_overrides(nlohmann::json& doc, const std::string& file, const std::vector<std::string>& sets) {
  for (const auto& set : sets) {
    if (!sim::is_valid_utf8(set))
      sim::throw_bad_input(file, "--set", "(bytes that are not UTF-8)", "expected --set /json/pointer=value in UTF-8");
    const auto eq = set.find('=');
    if (set.empty() || set[0] != '/' || eq == std::string::npos)
      sim::throw_bad_input(file, "--set " + set, "", "expected --set /json/pointer=value");
    const std::string pointer = set.substr(0, eq), text = set.substr(eq + 1);
    // Valid JSON is parsed with the nesting limit; anything else is a string (--set /strategy/name=gossip).
    const nlohmann::json value =
        nlohmann::json::accept(text) ? sim::parse_json_text(text, file, "--set " + pointer) : nlohmann::json(text);
    set_at(doc, pointer_tokens(pointer, file, sim::json_value_text(value)), value, file, pointer);
  }
}

}  // namespace geotrain::cli
