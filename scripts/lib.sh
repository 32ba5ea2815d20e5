# Shared by the scripts in this folder: paths, messages and the one way we configure a build.
# shellcheck shell=bash

REFLEX_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

say() { printf '\033[1m[%s]\033[0m %s\n' "$(basename "$0")" "$*" >&2; }
die() { printf '\033[1;31m[%s] error:\033[0m %s\n' "$(basename "$0")" "$*" >&2; exit 1; }

# configure DIR [cmake args...]: configures the project in DIR with Ninja, ccache and mold when
# present, warnings as errors. Re-running is cheap.
configure() {
  local dir=$1; shift
  local args=(-S "$REFLEX_ROOT" -B "$dir" -G Ninja -DREFLEX_WERROR=ON)
  command -v ccache >/dev/null && args+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  if command -v mold >/dev/null; then
    args+=(-DCMAKE_EXE_LINKER_FLAGS=-fuse-ld=mold -DCMAKE_SHARED_LINKER_FLAGS=-fuse-ld=mold)
  fi
  say "configuring $dir"
  cmake "${args[@]}" "$@" >"$dir.configure.log" 2>&1 || { cat "$dir.configure.log" >&2; die "cmake configure failed (log: $dir.configure.log)"; }
}

# build DIR [targets...]: builds the given targets (default: all) with every core.
build() {
  local dir=$1; shift
  local targets=()
  [ $# -gt 0 ] && targets=(--target "$@")
  say "building ${*:-everything} in $dir with $(nproc) jobs"
  cmake --build "$dir" -j "$(nproc)" "${targets[@]}" || die "build failed in $dir"
}
