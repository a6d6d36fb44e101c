#!/usr/bin/env bash
# The installed tree on its own: `make install PREFIX=<temp>` puts the
# command, liblamina.so, lamina.h and lamina.pc there; examples/embed.c is
# compiled with `pkg-config --cflags --libs lamina` against that prefix
# (nothing from the source or build tree), runs on 2 ranks, trains LeNet on
# its own data through the API, checkpoints, resumes and checks accuracy;
# tests/install/inside_mpi.c uses the API inside the program's own MPI.
source "$(dirname "$0")/../cli/testing.bash"
SOURCE=${LMN_SOURCE_DIR:?set by ctest}
BUILD=${LMN_BUILD_DIR:?set by ctest}
PREFIX="$WORK/prefix"

make -s -C "$SOURCE" install BUILD="$BUILD" PREFIX="$PREFIX" JOBS=2 > "$WORK/install.log" 2>&1 ||
  { cat "$WORK/install.log" >&2; fail "make install PREFIX=$PREFIX"; finish; }
pc=$(find "$PREFIX" -name lamina.pc)
[[ -n "$pc" ]] || { fail "no lamina.pc under $PREFIX"; finish; }
for installed in bin/lamina include/lamina.h; do
  [[ -f "$PREFIX/$installed" ]] && echo "ok: installed $installed" || fail "$installed not installed"
done
"$PREFIX/bin/lamina" --version | grep -q '^lamina ' && echo "ok: installed lamina runs" ||
  fail "installed lamina --version"

export PKG_CONFIG_PATH="$(dirname "$pc")"
flags=$(pkg-config --cflags --libs lamina)
echo "pkg-config --cflags --libs lamina: $flags"
case "$flags" in
  *"$SOURCE"*|*"$BUILD"*) fail "pkg-config points into the source or build tree: $flags" ;;
esac
pkg-config --static --libs lamina > /dev/null && echo "ok: every Requires.private resolves" ||
  fail "pkg-config --static --libs lamina"
libdir=$(pkg-config --variable=libdir lamina)

# Only the API is exported: no internal lmn_* symbol.
exported=$(nm -D --defined-only "$libdir/liblamina.so" | awk '{print $3}')
if grep -qv '^lamina_' <<< "$exported"; then
  fail "liblamina.so exports more than lamina_*: $(grep -v '^lamina_' <<< "$exported" | head -5 | tr '\n' ' ')"
else
  echo "ok: liblamina.so exports $(wc -l <<< "$exported") symbols, all lamina_*"
fi

cc -std=c11 -Wall -Wextra -Werror "$SOURCE/examples/embed.c" $flags -o "$WORK/embed" ||
  { fail "embed.c does not build against the installed tree"; finish; }
resolved=$(LD_LIBRARY_PATH="$libdir" ldd "$WORK/embed" | awk '/liblamina/ {print $3}')
[[ "$(realpath "$resolved")" == "$(realpath "$libdir")"/* ]] &&
  echo "ok: embed loads $resolved" || fail "embed loads liblamina from '$resolved', not $libdir"

LD_LIBRARY_PATH="$libdir" $MPIRUN -n 2 -x LD_LIBRARY_PATH -x OMP_NUM_THREADS=1 \
  "$WORK/embed" "$WORK/run" > "$WORK/embed.out" 2>&1
status=$?
cat "$WORK/embed.out"
(( status == 0 )) || fail "embed exited with $status"
# "embed: test_loss L  test_accuracy A" on rank 0
accuracy=$(awk '/^embed: test_loss/ {print $5}' "$WORK/embed.out")
[[ "$accuracy" =~ ^[0-9.]+$ ]] || accuracy=0
awk -v a="$accuracy" 'BEGIN {exit !(a + 0 >= 0.9)}' &&
  echo "ok: LeNet learned the squares (test accuracy $accuracy)" ||
  fail "test accuracy '${accuracy}' < 0.9"
grep -q "resumed from" "$WORK/embed.out" && echo "ok: a new session resumed the checkpoint" ||
  fail "no resume"

# Inside a program that started MPI itself (tests/install/inside_mpi.c).
cc -std=c11 -Wall -Wextra -Werror "$(dirname "$0")/inside_mpi.c" $(pkg-config --cflags --libs lamina ompi-c) \
  -o "$WORK/inside_mpi" || fail "inside_mpi.c does not build against the installed tree"
LD_LIBRARY_PATH="$libdir" $MPIRUN -n 2 -x LD_LIBRARY_PATH -x OMP_NUM_THREADS=1 "$WORK/inside_mpi" \
  > "$WORK/inside.out" 2>&1 || { cat "$WORK/inside.out" >&2; fail "inside_mpi"; }
[[ $(grep -c "inside_mpi: all passed" "$WORK/inside.out") == 2 ]] &&
  echo "ok: inside the program's own MPI (not finalized by lamina), errors named" ||
  fail "inside_mpi did not pass on both ranks"
finish
