#!/usr/bin/env bash
# Records the French voices of the audio CAPTCHA once (kept in the repo):
# one folder per character, as the `captcha` package's AudioCaptcha expects,
# 8 kHz mono 8-bit PCM.  Needs Debian's espeak-ng and sox.
set -euo pipefail
out="$(dirname "$0")/../reassort/data/captcha_voices"
declare -A words=([2]=deux [3]=trois [4]=quatre [5]=cinq [6]=six [7]=sept [8]=huit [9]=neuf)
for ch in "${!words[@]}"; do
  mkdir -p "$out/$ch"
  espeak-ng -v fr -s 130 -w "/tmp/voice-$ch.wav" "${words[$ch]}"
  sox "/tmp/voice-$ch.wav" -r 8000 -c 1 -b 8 -e unsigned-integer "$out/$ch/default.wav" norm -1
  rm -f "/tmp/voice-$ch.wav"
done
echo "voix écrites dans $out"
