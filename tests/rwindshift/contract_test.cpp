// Our windshift protos carry windshift-server's wire contract: the table written from our
// generated descriptors equals windshift_contract.txt, written by windshift_contract.py from
// windshift's own .proto files (packages, services, methods and their streaming, messages,
// fields with numbers, types, labels and oneofs, enums and their values).
#include <google/protobuf/descriptor.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "windshift/events/v1alpha1/service.pb.h"
#include "windshift/state/v1alpha1/service.pb.h"

namespace {

namespace gp = google::protobuf;

void walk_enum(const gp::EnumDescriptor& e, std::set<std::string>& out) {
  out.insert("enum " + e.full_name());
  for (int i = 0; i < e.value_count(); ++i) {
    out.insert("enumvalue " + e.full_name() + "." + e.value(i)->name() + " " +
               std::to_string(e.value(i)->number()));
  }
}

void walk(const gp::Descriptor& m, std::set<std::string>& out) {
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

std::set<std::string> table(const gp::FileDescriptor& file) {
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

TEST(WindshiftContract, OurProtosMatchWindshiftsTableEntryForEntry) {
  std::set<std::string> ours =
      table(*windshift::events::v1alpha1::EnsureStreamRequest::descriptor()->file());
  ours.merge(table(*windshift::state::v1alpha1::GetRequest::descriptor()->file()));

  std::ifstream in(REFLEX_SOURCE_DIR "/tests/rwindshift/windshift_contract.txt");
  ASSERT_TRUE(in) << "windshift_contract.txt is missing";
  std::set<std::string> theirs;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) theirs.insert(line);
  }
  ASSERT_GT(theirs.size(), 100u);

  std::vector<std::string> missing, extra;
  std::set_difference(theirs.begin(), theirs.end(), ours.begin(), ours.end(),
                      std::back_inserter(missing));
  std::set_difference(ours.begin(), ours.end(), theirs.begin(), theirs.end(),
                      std::back_inserter(extra));
  for (const auto& m : missing) ADD_FAILURE() << "windshift has, we lack: " << m;
  for (const auto& e : extra) ADD_FAILURE() << "we have, windshift lacks: " << e;
}

}  // namespace
