#!/usr/bin/env bash
# Writes a libFuzzer dictionary of the configuration keys and choices the
# code reads (every quoted lower-case word or dotted key path in the
# settings readers), each key path also split into its parts, plus YAML
# syntax and the harness's --set separator. Regenerated on every `make
# fuzz`, so it follows the code: tests/fuzz/make_dict.sh > config.dict
set -euo pipefail
cd "$(dirname "$0")/../.."
sources=(src/train/settings.c src/train/parallel_settings.c src/train/task.c
         src/train/epoch_control.c src/io/model_config.c src/data/partition.c
         src/io/image_folder.c src/optim/optimizer.c src/optim/schedule.c src/nn/zoo.c
         src/nn/layers/*.c)
existing=()
for f in "${sources[@]}"; do [[ -f $f ]] && existing+=("$f"); done
{
  grep -ohE '"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*"' "${existing[@]}" | tr -d '"'
  grep -ohE '"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+"' "${existing[@]}" | tr -d '"' | tr '.' '\n'
} | sort -u | sed 's/.*/"&"/'
printf '%s\n' '":"' '": "' '"\x0A"' '"\x0A  "' '"- "' '"["' '"]"' '"{"' '"}"' '", "' '"#"' \
  '"[0]"' '"="' '"\x0A#--\x0A"' '"true"' '"false"' '"null"' '"~"' '"1e309"' '"-1"' '"0"' \
  '"9223372036854775808"' '"nan"' '".inf"' '"&a"' '"*a"' '"!!str"' '"---"' '"..."' '"|"' '">"' \
  '"\x00"' '"type"' '"layers"'
