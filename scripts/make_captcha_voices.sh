#!/usr/bin/env bash
# Records the French voices of the audio CAPTCHA once (kept in the repo, reassort/data/captcha_voices/):
# one file per digit, <digit>.wav, 16 kHz mono 16-bit PCM, silence trimmed at both ends, peak at -3 dB.
# Slow and clear (espeak-ng's French voice at 110 words a minute); reassort.procedures.captchas
# puts them end to end with pauses over a light noise — no reversed or overlapping decoys.
# Needs Debian's espeak-ng and sox.
set -euo pipefail
out="$(dirname "$0")/../reassort/data/captcha_voices"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
declare -A words=([2]=deux [3]=trois [4]=quatre [5]=cinq [6]=six [7]=sept [8]=huit [9]=neuf)
mkdir -p "$out"
rm -rf "$out"/[0-9]  # the older layout: one folder per digit, 8 kHz 8-bit
for digit in "${!words[@]}"; do
  espeak-ng -v fr -s 110 -p 45 -w "$tmp/$digit.wav" "${words[$digit]}"
  sox "$tmp/$digit.wav" -r 16000 -c 1 -b 16 -e signed-integer "$out/$digit.wav" \
      silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse norm -3
done
echo "voix écrites dans $out"
