#pragma once
// The wire contract of a generated .proto file as a table, one entry per line (package,
// services, methods with their streaming, messages, fields with numbers, types, labels and
// oneofs, enums and their values), to compare with a table written from another project's own
// .proto files (tests/rwindshift/windshift_contract.py writes those). Header-only and for tests
// that link reflex::proto: the support library itself does not depend on protobuf.

#include <google/protobuf/descriptor.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

namespace reflex_test {

namespace contract_detail {

namespace gp = google::protobuf;

inline void walk_enum(const gp::EnumDescriptor& e, std::set<std::string>& out) {
  out.insert("enum " + e.full_name());
  for (int i = 0; i < e.value_count(); ++i) {
    out.insert("enumvalue " + e.full_name() + "." + e.value(i)->name() + " " +
               std::to_string(e.value(i)->number()));
  }
}

inline void walk(const gp::Descriptor& m, std::set<std::string>& out) {
  out.insert("message " + m.full_name());
  for (int i = 0; i < m.field_count(); ++i) {
    const auto& f = *m.field(i);
    std::string line = "field " + m.full_name() + "." + f.name() + " " +
                       std::to_string(f.number()) + " type=" + std::to_string(f.type()) +
                       " label=" + std::to_string(f.label());
    if (f.message_type()) line += " type_name=" + f.message_type()->full_name();
    if (f.enum_type()) line += " type_name=" + f.enum_type()->full_name();
    if (f.real_containing_oneof()) line += " oneof=" + f.real_containing_oneof()->name();
    if (f.has_optional_keyword()) line += " optional";
    out.insert(line);
  }
  for (int i = 0; i < m.enum_type_count(); ++i) walk_enum(*m.enum_type(i), out);
  for (int i = 0; i < m.nested_type_count(); ++i) walk(*m.nested_type(i), out);
}

}  // namespace contract_detail

/// The table of one generated file.
inline std::set<std::string> contract_table(const google::protobuf::FileDescriptor& file) {
  using namespace contract_detail;
  std::set<std::string> out;
  out.insert("package " + file.package());
  for (int i = 0; i < file.message_type_count(); ++i) walk(*file.message_type(i), out);
  for (int i = 0; i < file.enum_type_count(); ++i) walk_enum(*file.enum_type(i), out);
  for (int i = 0; i < file.service_count(); ++i) {
    const auto& s = *file.service(i);
    out.insert("service " + s.full_name());
    for (int j = 0; j < s.method_count(); ++j) {
      const auto& m = *s.method(j);
      out.insert("method " + m.full_name() + " " + m.input_type()->full_name() + " " +
                 m.output_type()->full_name() +
                 " client_streaming=" + std::to_string(m.client_streaming() ? 1 : 0) +
                 " server_streaming=" + std::to_string(m.server_streaming() ? 1 : 0));
    }
  }
  return out;
}

/// The entries of a committed table file (empty lines skipped); fails the test when missing.
inline std::set<std::string> read_contract_table(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << path << " is missing";
  std::set<std::string> out;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.insert(line);
  }
  return out;
}

/// Fails the test once per entry that one table has and the other lacks.
inline void expect_same_contract(const std::set<std::string>& ours,
                                 const std::set<std::string>& theirs, const std::string& who) {
  std::vector<std::string> missing, extra;
  std::set_difference(theirs.begin(), theirs.end(), ours.begin(), ours.end(),
                      std::back_inserter(missing));
  std::set_difference(ours.begin(), ours.end(), theirs.begin(), theirs.end(),
                      std::back_inserter(extra));
  for (const auto& m : missing) ADD_FAILURE() << who << " has, we lack: " << m;
  for (const auto& e : extra) ADD_FAILURE() << "we have, " << who << " lacks: " << e;
}

}  // namespace reflex_test
