#!/usr/bin/python3
"""Writes the table of stategate's wire contract from its own schema.proto, the way
../rwindshift/windshift_contract.py does for windshift's files; contract_test.cpp writes the same
table from our generated descriptors.

stategate's file imports google/api/annotations.proto and go-proto-validators' validator.proto,
which are not on this machine and change nothing on the wire: their imports and options are
stripped from a copy before protoc reads it.

Usage: stategate_contract.py SCHEMA_PROTO OUT  (e.g. ../shared/reference/protos/stategate/
schema.proto tests/rstategate/stategate_contract.txt; needs protoc and /usr/bin/python3's
protobuf)."""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "rwindshift"))
from windshift_contract import table  # noqa: E402
from google.protobuf import descriptor_pb2  # noqa: E402


def stripped(text):
    text = re.sub(r'^import "(google/api/annotations|github\.com/mwitkow/go-proto-validators/'
                  r'validator)\.proto";\n', "", text, flags=re.M)
    # rpc options: `option (google.api.http) = { put: "/api/.../{key}" };` (paths hold braces:
    # the option ends at a line that is only "};").
    text = re.sub(r"option \(google\.api\.http\) = \{.*?\n\s*\};", "", text, flags=re.S)
    # field options: `[(validator.field) = {...}]`.
    text = re.sub(r"\[\(validator\.field\) = \{[^}]*\}\]", "", text)
    return text


def main():
    schema, out = sys.argv[1], sys.argv[2]
    with open(schema) as f:
        text = stripped(f.read())
    with tempfile.TemporaryDirectory() as tmp:
        os.makedirs(os.path.join(tmp, "stategate"))
        with open(os.path.join(tmp, "stategate", "schema.proto"), "w") as f:
            f.write(text)
        fds_path = os.path.join(tmp, "fds.pb")
        subprocess.run(["protoc", f"-I{tmp}", "-I/usr/include", f"--descriptor_set_out={fds_path}",
                        "stategate/schema.proto"], check=True)
        fds = descriptor_pb2.FileDescriptorSet()
        with open(fds_path, "rb") as f:
            fds.ParseFromString(f.read())
    with open(out, "w") as f:
        f.write("\n".join(table(fds)) + "\n")


if __name__ == "__main__":
    main()
