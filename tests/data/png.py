#!/usr/bin/env python3
"""png.py: a small PNG reader (Python's zlib only), for checking what a
browser drew: 8-bit RGB and RGBA, not interlaced, filter types 0-4
(PNG spec, sections 7 and 9: None, Sub, Up, Average, Paeth).

As a module: read(path) -> Image with .width, .height and .pixel(x, y)
-> (r, g, b); Image.count(rgb, box=None, tol=0) counts pixels of a
colour. As a command: png.py FILE prints "WIDTH HEIGHT" and the most
common colours; png.py --selftest TMPFILE checks the reader on an image
it writes with every filter type; png.py --palette IN OUT rewrites a
screenshot with a 256-colour palette (share/doc/).
"""
import struct
from collections import Counter
import sys
import zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"


class Image:
    def __init__(self, width, height, rows):
        self.width, self.height, self.rows = width, height, rows
        self._hist = None

    def pixel(self, x, y):
        r = self.rows[y]
        return (r[3 * x], r[3 * x + 1], r[3 * x + 2])

    def pixels(self, box=None):
        x0, y0, x1, y1 = box or (0, 0, self.width, self.height)
        for y in range(max(0, y0), min(self.height, y1)):
            r = self.rows[y]
            for x in range(max(0, x0), min(self.width, x1)):
                yield x, y, (r[3 * x], r[3 * x + 1], r[3 * x + 2])

    def histogram(self, box=None):
        """{(r, g, b): pixels} inside box (x0, y0, x1, y1)."""
        x0, y0, x1, y1 = box or (0, 0, self.width, self.height)
        h = Counter()
        for y in range(max(0, y0), min(self.height, y1)):
            r = self.rows[y][3 * max(0, x0):3 * min(self.width, x1)]
            h.update(zip(r[0::3], r[1::3], r[2::3]))
        return h

    def count(self, rgb, box=None, tol=0):
        """The pixels of colour rgb (each channel within tol) in box."""
        if box is None:
            if self._hist is None:
                self._hist = self.histogram()
            h = self._hist
        else:
            h = self.histogram(box)
        return sum(n for p, n in h.items()
                   if all(abs(a - b) <= tol for a, b in zip(p, rgb)))


def _paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def read(path):
    data = open(path, "rb").read()
    if data[:8] != SIGNATURE:
        raise ValueError(f"{path}: not a PNG file")
    pos, idat, head = 8, [], None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + n]
        crc, = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        if zlib.crc32(kind + chunk) != crc:
            raise ValueError(f"{path}: bad CRC in {kind!r}")
        pos += 12 + n
        if kind == b"IHDR":
            head = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat.append(chunk)
        elif kind == b"IEND":
            break
    if head is None:
        raise ValueError(f"{path}: no IHDR")
    width, height, depth, ctype, _, _, interlace = head
    if depth != 8 or ctype not in (2, 6) or interlace != 0:
        raise ValueError(f"{path}: only 8-bit RGB/RGBA, not interlaced "
                         f"(depth {depth}, colour type {ctype})")
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    if len(raw) != height * (stride + 1):
        raise ValueError(f"{path}: {len(raw)} bytes of image data, "
                         f"want {height * (stride + 1)}")
    prev = bytearray(stride)
    rows = []
    for y in range(height):
        off = y * (stride + 1)
        ftype, line = raw[off], bytearray(raw[off + 1:off + 1 + stride])
        if ftype == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif ftype == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, prev))
        elif ftype == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif ftype == 4:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                up_left = prev[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + _paeth(left, prev[i], up_left)) & 0xFF
        elif ftype != 0:
            raise ValueError(f"{path}: row {y}: filter type {ftype}")
        prev = line
        if bpp == 4:
            # Composite over white: a screenshot is opaque, but a PNG
            # with alpha stays readable.
            rgb = bytearray(3 * width)
            for x in range(width):
                r, g, b, a = line[4 * x:4 * x + 4]
                for k, v in enumerate((r, g, b)):
                    rgb[3 * x + k] = (v * a + 255 * (255 - a)) // 255
            rows.append(bytes(rgb))
        else:
            rows.append(bytes(line))
    return Image(width, height, rows)


def _encode(path, width, height, pixels, bpp):
    """Write pixels (rows of bytes) as a PNG, row y with filter y % 5:
    the reader's test."""
    raw, prev = bytearray(), bytearray(width * bpp)
    for y, line in enumerate(pixels):
        f, out = y % 5, bytearray()
        for i, v in enumerate(line):
            left = line[i - bpp] if i >= bpp else 0
            up, ul = prev[i], prev[i - bpp] if i >= bpp else 0
            pred = [0, left, up, (left + up) >> 1, _paeth(left, up, ul)][f]
            out.append((v - pred) & 0xFF)
        raw += bytes([f]) + out
        prev = bytearray(line)

    head = struct.pack(">IIBBBBB", width, height, 8, 2 if bpp == 3 else 6,
                       0, 0, 0)
    with open(path, "wb") as f:
        f.write(SIGNATURE + _chunk(b"IHDR", head) +
                _chunk(b"IDAT", zlib.compress(bytes(raw))) +
                _chunk(b"IEND", b""))


def _chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + \
        struct.pack(">I", zlib.crc32(kind + data))


def write_palette(img, path):
    """Write img as an 8-bit palette PNG: its 256 most common colours,
    every other pixel as the nearest of them (a screenshot of text has
    a few hundred shades of antialiasing; this halves its size and more
    for share/doc/), less the window's empty rows past the page."""
    # The page ends before the window does: keep 24 rows of its
    # background below it.
    end = img.height
    while end > 1 and img.rows[end - 1] == img.rows[-1]:
        end -= 1
    img = Image(img.width, min(img.height, end + 24), img.rows[:end + 24])
    hist = img.histogram()
    pal = [c for c, _ in hist.most_common(256)]
    index = {c: i for i, c in enumerate(pal)}

    def nearest(c):
        return min(range(len(pal)), key=lambda i: sum(
            (a - b) ** 2 for a, b in zip(pal[i], c)))
    m = {c: index[c] if c in index else nearest(c) for c in hist}
    raw = bytearray()
    for r in img.rows:
        raw.append(0)
        raw += bytes(m[p] for p in zip(r[0::3], r[1::3], r[2::3]))
    head = struct.pack(">IIBBBBB", img.width, img.height, 8, 3, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(SIGNATURE + _chunk(b"IHDR", head) +
                _chunk(b"PLTE", b"".join(bytes(c) for c in pal)) +
                _chunk(b"IDAT", zlib.compress(bytes(raw), 9)) +
                _chunk(b"IEND", b""))


def selftest(path):
    """Every filter type, RGB and RGBA, read back exactly."""
    import random
    rnd = random.Random(7)
    w, h = 37, 23
    for bpp in (3, 4):
        rows = [bytes(rnd.randrange(256) if bpp == 3 or i % 4 != 3 else 255
                      for i in range(w * bpp)) for _ in range(h)]
        _encode(path, w, h, rows, bpp)
        img = read(path)
        for y in range(h):
            for x in range(w):
                want = tuple(rows[y][x * bpp:x * bpp + 3])
                if img.pixel(x, y) != want:
                    raise SystemExit(f"bpp {bpp}: pixel {x},{y} is "
                                     f"{img.pixel(x, y)}, want {want}")


if __name__ == "__main__":
    if sys.argv[1] == "--selftest":
        selftest(sys.argv[2])
        sys.exit(0)
    if sys.argv[1] == "--palette":
        write_palette(read(sys.argv[2]), sys.argv[3])
        sys.exit(0)
    img = read(sys.argv[1])
    print(img.width, img.height)
    top = sorted(img.histogram().items(), key=lambda kv: -kv[1])[:12]
    for rgb, n in top:
        print("#%02x%02x%02x %d" % (*rgb, n))
