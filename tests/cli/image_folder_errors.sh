#!/usr/bin/env bash
# Image folders with bad input: each kind of bad file stops the run with
# its own message naming the file (on every rank, no crash), an empty class
# folder and a missing split are refused before anything is written, and
# data.skip_bad_files skips, counts and lists the bad files the same way on
# 1 and 2 ranks.
source "$(dirname "$0")/testing.bash"
PYTHON=/usr/bin/python3
if ! $PYTHON -c "import PIL" 2> /dev/null; then echo "skip: python3-pil missing"; exit 77; fi

# A good folder: 2 classes, JPEGs and PNGs of assorted sizes.
$PYTHON - "$WORK/good" <<'PY' || { echo "cannot write the folder" >&2; exit 1; }
import os, random, sys
from PIL import Image
random.seed(3)
for split, count in (("train", 8), ("val", 3)):
    for k, name in enumerate(("cat", "dog")):
        os.makedirs(os.path.join(sys.argv[1], split, name))
        for i in range(count):
            w, h = random.randint(20, 60), random.randint(20, 60)
            image = Image.frombytes("RGB", (w, h), bytes(random.randrange(256) for _ in range(w * h * 3)))
            ext = ("jpg", "JPEG", "png")[i % 3]
            image.save(os.path.join(sys.argv[1], split, name, "%02d.%s" % (i, ext)))
PY
cat > "$WORK/run.yaml" <<YAML
seed: 3
threads: 1
data: {name: images, path: $WORK/case, image_size: 16}
model:
  - {type: conv, out: 4, kernel: 3, stride: 2, activation: relu}
  - {type: flatten}
  - {type: linear, out: 2}
train: {epochs: 1, batch_size: 4}
YAML
fresh() { rm -rf "$WORK/case"; cp -r "$WORK/good" "$WORK/case"; }
train() { $MPIRUN -n "$1" "$LAMINA" train "$WORK/run.yaml" --out "$WORK/run" --overwrite "${@:2}"; }
bad=$WORK/case/train/dog

fresh; train 2 > /dev/null 2>&1 || fail "the good folder does not train"

fresh; head -c 20 "$WORK/good/train/dog/00.jpg" > "$bad/10.jpg"   # cut inside the header
expect_failure "header cut" "train/dog/10.jpg" train 2
fresh; $PYTHON - "$WORK/good/train/dog/00.jpg" "$bad/10.jpg" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
open(sys.argv[2], "wb").write(data[: len(data) * 2 // 3])
PY
expect_failure "truncated jpeg" "10.jpg' is truncated" train 2
fresh; head -c 120 "$WORK/good/train/dog/02.png" > "$bad/10.png"
expect_failure "truncated png" "10.png' is truncated" train 2
fresh; $PYTHON - "$WORK/good/train/dog/00.jpg" "$bad/10.jpg" <<'PY'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
# A damaged Huffman table: its 16 code-length counts all 0xff. (Noise in the
# entropy-coded data itself is often undetectable, for any decoder.)
dht = data.find(b"\xff\xc4")
data[dht + 5:dht + 21] = b"\xff" * 16
open(sys.argv[2], "wb").write(bytes(data))
PY
expect_failure "corrupt jpeg" "10.jpg' is not a valid JPEG (corrupt data" train 2
fresh; : > "$bad/10.jpg"
expect_failure "empty file" "10.jpg' is empty" train 2
fresh; echo "not a picture" > "$bad/10.png"
expect_failure "non-image" "10.png' is neither JPEG nor PNG" train 2
fresh; echo "GIF89a" > "$bad/10.gif"
expect_failure "wrong extension" "10.gif' is not a .jpg, .jpeg or .png" train 2
fresh; ln -s "$WORK/nowhere.jpg" "$bad/10.jpg"
expect_failure "dangling link" "10.jpg': No such file" train 2
fresh; mkfifo "$bad/10.jpg"
expect_failure "fifo" "10.jpg' is not a regular file" train 2

# Permission denied: root reads through mode 000, so run as nobody.
as_nobody=()
if command -v setpriv > /dev/null && setpriv --reuid=nobody --regid=nogroup --clear-groups true 2> /dev/null; then
  as_nobody=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
fi
if (( ${#as_nobody[@]} )); then
  fresh; chmod -R a+rX "$WORK"; chmod 000 "$bad/03.jpg"; mkdir -p "$WORK/nobody"; chmod 777 "$WORK/nobody"
  expect_failure "permission denied" "03.jpg': Permission denied" \
    "${as_nobody[@]}" env HOME="$WORK/nobody" "$LAMINA" train "$WORK/run.yaml" --out "$WORK/nobody/out"
else
  echo "note: cannot switch to user nobody here; permission check left to the fifo/link cases"
fi

# Folder-level errors are found before anything is written: an earlier
# run's outputs stay as they were.
fresh; train 1 > /dev/null 2>&1 || fail "reference run"
sha=$(cat "$WORK"/run/* 2> /dev/null | sha1sum)
fresh; mkdir "$WORK/case/train/bird"
expect_failure "empty class folder" "train/bird' holds no .jpg" train 2
fresh; rm -rf "$WORK/case/val"
expect_failure "missing val" "val' is missing" train 2
fresh; mv "$WORK/case/train" "$WORK/case/training"
expect_failure "missing train" "has no train/ directory" train 2
fresh; mkdir -p "$WORK/case/val/bird"; cp "$WORK/good/val/cat/00.jpg" "$WORK/case/val/bird/"
expect_failure "val class unknown to train" "val/bird' has no counterpart" train 2
[[ "$(cat "$WORK"/run/* 2> /dev/null | sha1sum)" == "$sha" ]] || fail "a refused run changed the output directory"

# skip_bad_files: one of each kind in train, one in val; counted, listed,
# the same on 1 and 2 ranks.
fresh
: > "$bad/10.jpg"; echo "text" > "$bad/11.png"; echo "GIF89a" > "$bad/12.gif"
head -c 300 "$WORK/good/train/dog/00.jpg" > "$bad/13.jpg"; ln -s "$WORK/nowhere.jpg" "$bad/14.jpg"
: > "$WORK/case/val/cat/99.png"
for ranks in 1 2; do
  train $ranks --set data.skip_bad_files=true --out "$WORK/skip$ranks" > "$WORK/log$ranks" 2>&1 \
    || { cat "$WORK/log$ranks" >&2; fail "skip_bad_files run on $ranks ranks"; }
done
[[ -f "$WORK/skip1/bad_files.txt" ]] && (( $(wc -l < "$WORK/skip1/bad_files.txt") == 6 )) \
  || fail "bad_files.txt should list 6 files: $(cat "$WORK/skip1/bad_files.txt" 2>&1)"
for f in train/dog/10.jpg train/dog/11.png train/dog/12.gif train/dog/13.jpg train/dog/14.jpg val/cat/99.png; do
  grep -q "^$f: " "$WORK/skip1/bad_files.txt" || fail "bad_files.txt does not list $f"
done
grep -q "skipped 6 bad image files" "$WORK/log1" || fail "the log does not count the skipped files"
cmp -s "$WORK/skip1/bad_files.txt" "$WORK/skip2/bad_files.txt" || fail "bad_files.txt depends on the rank count"
finish
