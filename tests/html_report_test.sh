#!/usr/bin/env bash
# The HTML report in a real browser: break a golden on purpose, run the case
# with --report, render the page in headless Chromium, and check the picture:
# the page loads, both plots are drawn, and the red divergence marker is there.
# Exits 77 (ctest: skipped) when chromium is missing, and says so.
#   usage: html_report_test.sh SOURCE_DIR LOCKSTEP_BINARY WORK_DIR
set -euo pipefail
src=$1 lockstep=$2 work=$3
python=${LOCKSTEP_PYTHON:-/usr/bin/python3}
if ! command -v chromium >/dev/null 2>&1; then
  echo "SKIPPED: chromium is not installed, so the HTML report was not rendered (ci/setup.sh installs it)."
  exit 77
fi
rm -rf "$work" && mkdir -p "$work"

# A golden whose step-20 loss is off in the last hex digit: a numerics diagnosis.
cp "$src/golden/cases/tiny.toml" "$work/golden.toml"
"$python" - "$work/golden.toml" <<'PY'
import re, sys
p = sys.argv[1]
s = open(p).read()
t = re.sub(r'(\{ step = 20, loss = "0x1\.[0-9a-f]*)([0-9a-f])(p)',
           lambda m: m.group(1) + ("0" if m.group(2) != "0" else "1") + m.group(3), s, count=1)
assert t != s, "no step 20 in the golden"
open(p, "w").write(t)
PY
printf 'config = "%s/trainer/configs/smoke.toml"\nsteps = 50\ngolden = "%s/golden.toml"\n[policy]\nrss_peak_bytes = "ignore"\n' "$src" "$work" >"$work/broken.toml"
set +e
"$lockstep" smoke -q "$work/broken.toml" --report "$work/report" >"$work/smoke.log" 2>&1
code=$?
set -e
[ "$code" = 1 ] || { cat "$work/smoke.log"; echo "expected exit 1 (numerics), got $code"; exit 1; }

chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$work/profile" --window-size=900,900 \
  --screenshot="$work/report.png" "file://$work/report/index.html" >"$work/chromium.log" 2>&1 || true
[ -s "$work/report.png" ] || { cat "$work/chromium.log"; echo "no screenshot"; exit 1; }

"$python" - "$work/report.png" <<'PY'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, width = 8, b"", 0
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        width, height, depth, color = struct.unpack(">IIBB", body[:10])
        assert depth == 8 and color in (2, 6), (depth, color)
        bpp = 3 if color == 2 else 4
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
raw, stride = zlib.decompress(idat), width * bpp
prev, rows, i = bytearray(stride), [], 0
for _ in range(height):
    f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
    i += 1 + stride
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0
        b, c = prev[x], prev[x - bpp] if x >= bpp else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(line)
    prev = line
def count(pred):
    return sum(1 for r in rows for x in range(0, stride, bpp) if pred(r[x], r[x + 1], r[x + 2]))
red = count(lambda r, g, b: r > 180 and g < 90 and b < 90)        # the divergence marker
blue = count(lambda r, g, b: b > 180 and r < 90 and 80 < g < 150)  # the run's lines
print(f"screenshot {width}x{height}: {red} red pixels, {blue} blue pixels")
assert red > 200, "the red divergence marker is not on the page"
assert blue > 500, "the plotted run lines are not on the page"
PY
grep -q "diverged at step 20" "$work/report/index.html"
echo "report rendered in Chromium: $work/report.png"
