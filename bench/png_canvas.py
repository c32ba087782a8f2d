"""A canvas for the benchmarks' plots, drawn to a PNG with the standard
library only: an RGB byte canvas, lines, a 5x7 bitmap font for the few
characters the plots write, and zlib and struct for the file.

Used by bench/postgresql.sh and bench/backfill.sh (PYTHONPATH=bench).
"""
import struct
import zlib

FONT = {
    "0": "01110100011001110101110011000101110", "1": "00100011000010000100001000010001110",
    "2": "01110100010000100010001000100011111", "3": "11111000100010000010000011000101110",
    "4": "00010001100101010010111110001000010", "5": "11111100001111000001000011000101110",
    "6": "00110010001000011110100011000101110", "7": "11111000010001000100010000100001000",
    "8": "01110100011000101110100011000101110", "9": "01110100011000101111000010001001100",
    "M": "10001110111010110001100011000110001", "i": "00100000000110000100001000010001110",
    "B": "11110100011000111110100011000111110", "R": "11110100011000111110101001001010001",
    "S": "01111100001000001110000010000111110", "s": "00000000000111010000011100000111110",
    "t": "01000010001110001000010000100100110", "e": "00000000000111010001111111000001110",
    "c": "00000000000111010000100001000101110", "o": "00000000000111010001100011000101110",
    "n": "00000000001011011001100011000110001", "d": "00001000010110110011100011000101111",
    "w": "00000000001000110001101011010101010", "a": "00000000000111000001011111000101111",
    "r": "00000000001011011001100001000010000", "m": "00000000001101010101101011010110101",
    "u": "00000000001000110001100011001101101", "p": "00000000001111010001111101000010000",
    "l": "01100001000010000100001000010001110", "g": "00000011111000110001011110000101110",
    "f": "00110010010100011100010000100001000", "h": "10000100001011011001100011000110001",
    "q": "00000011111000110001011110000100001", "b": "10000100001011011001100011000111110",
    "y": "00000000001000110001011110000101110", "k": "10000100001001010100110001010010010",
    "O": "01110100011000110001100011000101110", "x": "00000000001000101010001000101010001",
    ",": "00000000000000000000011000010001000", "(": "00010001000100001000010000010000010",
    ")": "01000001000001000010000100010001000", "-": "00000000000000011111000000000000000",
    ".": "00000000000000000000000000110001100", "/": "00000000010001000100010001000000000",
    ":": "00000011000110000000011000110000000", " ": "0" * 35,
}


class Canvas:
    def __init__(self, width, height):
        self.w, self.h = width, height
        self.img = bytearray(b"\xff" * (width * height * 3))

    def px(self, x, y, c):
        if 0 <= x < self.w and 0 <= y < self.h:
            i = (y * self.w + x) * 3
            self.img[i:i + 3] = bytes(c)

    def line(self, x0, y0, x1, y1, c, width=1):
        n = max(abs(x1 - x0), abs(y1 - y0), 1)
        for k in range(n + 1):
            x = round(x0 + (x1 - x0) * k / n)
            y = round(y0 + (y1 - y0) * k / n)
            for d in range(width):
                self.px(x, y + d, c)

    def text(self, x, y, s, c=(0, 0, 0), scale=1):
        for ch in s:
            g = FONT.get(ch, FONT[" "])
            for r in range(7):
                for q in range(5):
                    if g[r * 5 + q] == "1":
                        for a in range(scale):
                            for b in range(scale):
                                self.px(x + q * scale + a, y + r * scale + b, c)
            x += 6 * scale

    def y_grid(self, left, width, top_value, step, to_y):
        """Grey lines across [left, left + width] at 0, step, ... top_value,
        labelled on the left; to_y maps a value to its row."""
        v = 0
        while v <= top_value:
            self.line(left, to_y(v), left + width, to_y(v), (225, 225, 225))
            s = str(v)
            self.text(left - 8 - 6 * len(s), to_y(v) - 3, s)
            v += step

    def save(self, path):
        w, h = self.w, self.h
        raw = b"".join(b"\x00" + bytes(self.img[y * w * 3:(y + 1) * w * 3]) for y in range(h))

        def chunk(kind, data):
            return (struct.pack(">I", len(data)) + kind + data +
                    struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

        with open(path, "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n")
            f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)))
            f.write(chunk(b"IDAT", zlib.compress(raw, 9)))
            f.write(chunk(b"IEND", b""))
