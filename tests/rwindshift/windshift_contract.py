#!/usr/bin/python3
"""Writes the table of a set of .proto files' wire contract (packages, services, methods with
streaming flags, messages, fields with numbers, types, labels and oneofs, enums and values), one
entry per line, sorted; contract_test.cpp writes the same table from our generated descriptors.

Usage: windshift_contract.py PROTO_DIR OUT  (run against windshift-server's own .proto files to
refresh windshift_contract.txt; needs protoc and /usr/bin/python3's
protobuf; python3-grpc-tools' own protoc, 3.6, predates proto3 `optional`)."""
import os
import subprocess
import sys
import tempfile

from google.protobuf import descriptor_pb2


def table(fds):
    out = []
    for f in fds.file:
        pkg = f.package
        out.append(f"package {pkg}")

        def walk_enum(prefix, e):
            out.append(f"enum {prefix}.{e.name}")
            for v in e.value:
                out.append(f"enumvalue {prefix}.{e.name}.{v.name} {v.number}")

        def walk(prefix, m):
            name = f"{prefix}.{m.name}"
            out.append(f"message {name}")
            for fld in m.field:
                line = f"field {name}.{fld.name} {fld.number} type={fld.type} label={fld.label}"
                if fld.type_name:
                    line += f" type_name={fld.type_name.lstrip('.')}"
                if fld.HasField("oneof_index") and not fld.proto3_optional:
                    line += f" oneof={m.oneof_decl[fld.oneof_index].name}"
                if fld.proto3_optional:
                    line += " optional"
                out.append(line)
            for e in m.enum_type:
                walk_enum(name, e)
            for n in m.nested_type:
                walk(name, n)

        for m in f.message_type:
            walk(pkg, m)
        for e in f.enum_type:
            walk_enum(pkg, e)
        for s in f.service:
            out.append(f"service {pkg}.{s.name}")
            for meth in s.method:
                out.append(
                    f"method {pkg}.{s.name}.{meth.name} {meth.input_type.lstrip('.')} "
                    f"{meth.output_type.lstrip('.')} client_streaming={int(meth.client_streaming)} "
                    f"server_streaming={int(meth.server_streaming)}")
    return sorted(set(out))


def main():
    proto_dir, out = sys.argv[1], sys.argv[2]
    protos = sorted(p for p in os.listdir(proto_dir) if p.endswith(".proto"))
    with tempfile.TemporaryDirectory() as tmp:
        fds_path = os.path.join(tmp, "fds.pb")
        subprocess.run(["protoc", f"-I{proto_dir}", "-I/usr/include",
                        f"--descriptor_set_out={fds_path}"] + protos, check=True)
        fds = descriptor_pb2.FileDescriptorSet()
        with open(fds_path, "rb") as f:
            fds.ParseFromString(f.read())
    with open(out, "w") as f:
        f.write("\n".join(table(fds)) + "\n")


if __name__ == "__main__":
    main()
