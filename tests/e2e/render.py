"""The HTML report renders: headless Chromium takes a screenshot of the page
and the PNG is checked: signature, size, and that it shows text and the
charts' colours, not a blank page. Skips (77) when chromium is missing."""
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from jdtest import Env, track, eq, check, done

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    print("SKIP: chromium is not installed (scripts/deps.sh installs it)")
    sys.exit(77)

CONF = """
plugins = { note = { module = "log"; }; };
journeys = (
  { name = "rider"; entry = "count('signup') >= 1";
    stages = ( { name = "new"; expect = "2d"; }, "first_ride", "frequent" );
    rules = (
      { name = "first"; stage = "new"; when = "count('ride') >= 1"; goto = "first_ride"; },
      { name = "often"; stage = "first_ride"; when = "count('ride') >= 3"; goto = "frequent"; },
      { name = "tip"; stage = "first_ride"; when = "true"; holdout = 20;
        action = { plugin = "note"; }; }
    ); }
);
"""


def png_pixels(data):
    """Decode an 8-bit RGB or RGBA, non-interlaced PNG: (w, h, rows)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, w = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and interlace == 0, (depth, ctype)
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pr) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


with Env() as env:
    env.write_conf(CONF)
    lines = [track("u%d" % i, "signup", "2026-03-01T08:00:00Z") for i in range(40)]
    lines += [track("u%d" % i, "ride", "2026-03-02T08:00:00Z") for i in range(25)]
    lines += [track("u%d" % i, "ride", "2026-03-0%dT08:00:00Z" % d)
              for i in range(10) for d in (3, 4)]
    env.import_lines(lines)
    for d in range(1, 6):
        env.once("2026-03-0%dT09:00:00Z" % d)
    page = env.path("report.html")
    env.ctl("report", "--html", page, "--now", "2026-03-06T09:00:00Z")

    shot = env.path("report.png")
    profile = tempfile.mkdtemp(prefix="journeyd-chromium.")
    try:
        r = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                            "--disable-quic", "--no-first-run",
                            "--disable-background-networking",
                            "--disable-component-update", "--disable-sync",
                            "--user-data-dir=" + profile, "--screenshot=" + shot,
                            "--window-size=1200,1600", "file://" + page],
                           capture_output=True, text=True, timeout=120,
                           cwd=env.dir)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    check(os.path.exists(shot), "chromium wrote a screenshot", r.stderr[-2000:])
    data = open(shot, "rb").read()
    eq(data[:8], b"\x89PNG\r\n\x1a\n", "the screenshot is a PNG")
    check(len(data) > 20000, "the PNG is not trivial (%d bytes)" % len(data))
    w, h, bpp, rows = png_pixels(data)
    eq((w, h), (1200, 1600), "the PNG has the window's size")
    colours, dark, now_blue, time_orange, conv_green = set(), 0, 0, 0, 0
    for row in rows[::2]:
        for x in range(0, w * bpp, bpp * 2):
            rgb = row[x:x + 3]
            colours.add(rgb)
            if sum(rgb) < 200:
                dark += 1
            # the charts' fills: "now" #0b5cad and "time" #c05a00
            if abs(rgb[0] - 0x0b) < 16 and abs(rgb[1] - 0x5c) < 16 and abs(rgb[2] - 0xad) < 16:
                now_blue += 1
            if abs(rgb[0] - 0xc0) < 16 and abs(rgb[1] - 0x5a) < 16 and rgb[2] < 24:
                time_orange += 1
            # the holdout's conversions: "conv" #2a7f62
            if abs(rgb[0] - 0x2a) < 16 and abs(rgb[1] - 0x7f) < 16 and abs(rgb[2] - 0x62) < 16:
                conv_green += 1
    check(len(colours) > 50, "the page is not blank (%d colours)" % len(colours))
    check(dark > 500, "text was drawn (%d dark pixels)" % dark)
    check(now_blue > 200, "the funnel chart was drawn (%d pixels)" % now_blue)
    check(time_orange > 200, "the time chart was drawn (%d pixels)" % time_orange)
    check(conv_green > 200, "the holdout's conversion chart was drawn (%d pixels)" % conv_green)
done()
