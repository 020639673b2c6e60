"""A corpus of malformed and degenerate detector files, for robustness tests and benchmarks.

``build_corpus(out)`` writes files made by our own writers (and by fabio's, for formats we
do not write) and, when given the shared real frames, damaged copies of those: truncations,
byte flips, header edits, damaged compression, broken HDF5 structures, degenerate but valid
frames and sizes claimed far beyond the data. Every file is one case; ``manifest.csv``
names the case and what a reader should do with it ("error" or "read").

    python -m tests.malformed OUT [--shared ../shared/real-frames] [--sample]
"""

from __future__ import annotations

import argparse
import bz2
import csv
import gzip
import os
import re
import shutil
import struct
from pathlib import Path

import fabio
import h5py
import numpy as np

from mxqc.frame import Geometry
from mxqc.io import write_cbf, write_edf, write_nexus, write_smv, write_tiff

GEOMETRY = Geometry(beam_x=130.0, beam_y=120.0, pixel_size_mm=0.172, distance_mm=200.0,
                    wavelength_a=1.0)
TRUNCATE = (0.0005, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.999)


class Corpus:
    def __init__(self, out: Path, rng: np.random.Generator):
        self.out, self.rng, self.cases = out, rng, []

    def add(self, name: str, data: bytes, expect: str, why: str) -> None:
        (self.out / name).write_bytes(data)
        self.cases.append({"file": name, "expect": expect, "case": why})

    def written(self, name: str, expect: str, why: str) -> None:
        self.cases.append({"file": name, "expect": expect, "case": why})


def _frame(rng, shape=(256, 256)) -> np.ndarray:
    yy, xx = np.indices(shape)
    r = np.hypot(xx - GEOMETRY.beam_x, yy - GEOMETRY.beam_y)
    return rng.poisson(20 * np.exp(-r / 90) + 2).astype(np.float32)


def _bytes_of(write, rng, suffix) -> bytes:
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"mxqc-corpus-{os.getpid()}{suffix}"
    write(tmp)
    data = tmp.read_bytes()
    tmp.unlink()
    return data


def _base_files(rng) -> dict[str, bytes]:
    """Good files from our writers, by file name suffix."""
    pixels = _frame(rng)
    return {
        ".cbf": _bytes_of(lambda p: write_cbf(p, pixels, GEOMETRY), rng, ".cbf"),
        ".img": _bytes_of(lambda p: write_smv(p, pixels, GEOMETRY), rng, ".img"),
        ".tif": _bytes_of(lambda p: write_tiff(p, pixels), rng, ".tif"),
        ".edf": _bytes_of(lambda p: write_edf(p, pixels, GEOMETRY), rng, ".edf"),
        ".npy": _npy_bytes(pixels),
    }


def _npy_bytes(array) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def _header_end(data: bytes, suffix: str) -> int:
    """Where the header ends (the data start), per format."""
    if suffix == ".cbf":
        return data.find(b"\x0c\x1a\x04\xd5") + 4
    if suffix == ".img":
        return int(re.search(rb"HEADER_BYTES\s*=\s*(\d+)", data)[1])
    if suffix == ".edf":
        return data.find(b"}\n") + 2
    if suffix == ".npy":
        return 10 + struct.unpack("<H", data[8:10])[0]
    return 8


def _damage(corpus: Corpus, stem: str, suffix: str, data: bytes, n_flips: int = 6,
            cuts: tuple[float, ...] = TRUNCATE) -> None:
    """Truncations, byte flips in the header and the data, and damaged compression."""
    rng = corpus.rng
    start = _header_end(data, suffix)
    for f in cuts:
        corpus.add(f"{stem}_cut{f:g}{suffix}", data[:max(int(len(data) * f), 1)], "error",
                   f"truncated to {f:g} of its length")
    corpus.add(f"{stem}_headeronly{suffix}", data[:start], "error", "header without data")
    for i in range(n_flips):
        for where, lo, hi in (("header", 0, start), ("data", start, len(data))):
            if hi - lo < 2:
                continue
            flipped = bytearray(data)
            for k in rng.integers(lo, hi, 1 + i):
                flipped[k] ^= 1 << int(rng.integers(8))
            corpus.add(f"{stem}_flip{where}{i}{suffix}", bytes(flipped), "either",
                       f"{1 + i} bit flips in the {where}")
    gz, bz = gzip.compress(data), bz2.compress(data)
    corpus.add(f"{stem}{suffix}.gz", gz, "read", "gzip-compressed good file")
    corpus.add(f"{stem}{suffix}.bz2", bz, "read", "bzip2-compressed good file")
    corpus.add(f"{stem}_cutgz{suffix}.gz", gz[: len(gz) // 2], "error", "truncated gzip")
    corpus.add(f"{stem}_cutbz{suffix}.bz2", bz[: len(bz) // 2], "error", "truncated bzip2")
    bad = bytearray(gz)
    bad[len(bad) // 2] ^= 0xFF
    corpus.add(f"{stem}_flipgz{suffix}.gz", bytes(bad), "error", "gzip with a damaged block")
    bad[20:30] = b"\xff" * 10
    corpus.add(f"{stem}_zlibgz{suffix}.gz", bytes(bad), "error", "gzip whose deflate stream "
               "is invalid (zlib.error)")
    corpus.add(f"{stem}_notgz{suffix}.gz", data, "either", "named .gz but not compressed")


def _header_edits(corpus: Corpus, data: bytes) -> None:
    """Claims that disagree with the data, and degenerate geometry, per format."""
    cbf_edits = {
        "huge": (rb"Fastest-Dimension: \d+", b"Fastest-Dimension: 20000",
                 rb"Second-Dimension: \d+", b"Second-Dimension: 20000"),
        "size": (rb"X-Binary-Size: \d+", b"X-Binary-Size: 99",),
        "elements": (rb"X-Binary-Number-of-Elements: \d+", b"X-Binary-Number-of-Elements: 12",),
        "md5": (rb"Content-MD5: \S+", b"Content-MD5: AAAAAAAAAAAAAAAAAAAAAA==",),
        "pixel0": (rb"# Pixel_size [^\r\n]*", b"# Pixel_size 0 m x 0 m",),
        "wavenan": (rb"# Wavelength [^\r\n]*", b"# Wavelength nan A",),
        "beamfar": (rb"# Beam_xy [^\r\n]*", b"# Beam_xy (99999.00, -99999.00) pixels",),
        "dist0": (rb"# Detector_distance [^\r\n]*", b"# Detector_distance 0.000000 m",),
        "markerhead": (rb"_array_data.header_contents",
                       b"_array_data.header_contents \x0c\x1a\x04\xd5",),
        "encoding": (rb"x-CBF_BYTE_OFFSET", b"x-CBF_PACKED",),
    }
    expect = {"pixel0": "read", "wavenan": "read", "beamfar": "read", "dist0": "read"}
    for name, edit in cbf_edits.items():
        edited = data
        for pattern, repl in zip(edit[::2], edit[1::2], strict=True):
            edited = re.sub(pattern, repl.replace(b"\\", b"\\\\"), edited, count=1)
        corpus.add(f"cbf_edit_{name}.cbf", edited, expect.get(name, "error"), f"CBF header: {name}")


def _smv_edits(corpus: Corpus, data: bytes) -> None:
    """Edits that keep the header's length (SMV data start at HEADER_BYTES)."""
    edits = {"huge": ((rb"SIZE1=\s*\d+;", b"SIZE1=20000;"), (rb"SIZE2=\s*\d+;", b"SIZE2=20000;")),
             "neg": ((rb"SIZE1=\s*\d+;", b"SIZE1=-5;"),),
             "text": ((rb"SIZE1=\s*\d+;", b"SIZE1=abc;"),),
             "pixel0": ((rb"PIXEL_SIZE=\s*[^;]*;", b"PIXEL_SIZE=0;"),),
             "wavenan": ((rb"WAVELENGTH=\s*[^;]*;", b"WAVELENGTH=nan;"),),
             "headerbytes": ((rb"HEADER_BYTES=\s*\d+;", b"HEADER_BYTES=99999999;"),)}
    expect = {"pixel0": "read", "wavenan": "read"}
    for name, edit in edits.items():
        edited = data
        for pattern, repl in edit:
            old = re.search(pattern, edited)[0]
            edited = edited.replace(old, repl[:-1] + b" " * (len(old) - len(repl)) + b";", 1)
        corpus.add(f"smv_edit_{name}.img", edited, expect.get(name, "error"), f"SMV header: {name}")


def _edf_edits(corpus: Corpus, data: bytes) -> None:
    edits = {"huge": (rb"Dim_1 = \d+", b"Dim_1 = 20000", rb"Dim_2 = \d+", b"Dim_2 = 20000"),
             "size": (rb"Size = \d+", b"Size = 1000000000"),
             "type": (rb"DataType = \w+", b"DataType = NoSuchType")}
    for name, edit in edits.items():
        edited = data
        for pattern, repl in zip(edit[::2], edit[1::2], strict=True):
            edited = re.sub(pattern, repl, edited, count=1)
        corpus.add(f"edf_edit_{name}.edf", edited, "error", f"EDF header: {name}")


def _tiff_cases(corpus: Corpus, data: bytes) -> None:
    loop = bytearray(data)
    first = struct.unpack("<I", data[4:8])[0]
    n = struct.unpack("<H", data[first:first + 2])[0]
    next_at = first + 2 + 12 * n
    loop[next_at:next_at + 4] = struct.pack("<I", first)  # the IFD points to itself
    corpus.add("tiff_ifd_loop.tif", bytes(loop), "either", "TIFF whose IFD chain loops")
    corpus.add("tiff_ifd_loop.tif.gz", gzip.compress(bytes(loop)), "either",
               "gzipped TIFF whose IFD chain loops")
    corpus.add("tiff_ifd_out.tif", data[:4] + struct.pack("<I", 2**31) + data[8:], "error",
               "TIFF whose first IFD lies beyond the file")


def _npy_cases(corpus: Corpus, rng) -> None:
    frame = _frame(rng, (64, 48))
    corpus.add("npy_fortran.npy", _npy_bytes(np.asfortranarray(frame)), "read",
               "Fortran-ordered array")
    corpus.add("npy_bool.npy", _npy_bytes(frame > 20), "read", "boolean array")
    corpus.add("npy_3d.npy", _npy_bytes(np.stack([frame, frame])), "either", "3-D array")
    corpus.add("npy_empty.npy", _npy_bytes(np.zeros((0, 0), np.float32)), "error", "0×0 array")
    corpus.add("npy_complex.npy", _npy_bytes(frame.astype(np.complex64)), "error", "complex")
    header = _npy_bytes(frame)
    huge = header.replace(b"(64, 48)", b"(20000, 20000)")
    corpus.add("npy_huge.npy", huge, "error", "shape claims 20000×20000 over a small array")


def _degenerate(corpus: Corpus, rng) -> None:
    """Valid files whose pixels are degenerate: they read, and the analysis must cope."""
    cases = {"zeros": np.zeros((256, 256), np.float32),
             "const": np.full((256, 256), 7, np.float32),
             "onehot": np.pad(np.ones((1, 1), np.float32) * 1e6, ((100, 155), (40, 215))),
             "tiny": np.ones((4, 4), np.float32),
             "strip": _frame(rng, (3, 256)),
             "column": _frame(rng, (256, 1)),
             "allgap": np.full((256, 256), np.nan, np.float32),
             "saturated": np.full((256, 256), 1_048_500, np.float32)}
    for name, pixels in cases.items():
        write_cbf(corpus.out / f"degenerate_{name}.cbf", pixels, GEOMETRY)
        corpus.written(f"degenerate_{name}.cbf", "either", f"valid CBF: {name}")
    nan = _frame(rng)
    nan[::7] = np.nan
    nan[:, ::5] = np.inf
    write_edf(corpus.out / "degenerate_naninf.edf", nan, GEOMETRY)
    corpus.written("degenerate_naninf.edf", "read", "EDF with NaN and Inf pixels")
    write_edf(corpus.out / "degenerate_allnan.edf", np.full((64, 64), np.nan), GEOMETRY)
    corpus.written("degenerate_allnan.edf", "either", "EDF with only NaN pixels")


def _hdf5_cases(corpus: Corpus, rng) -> None:
    out = corpus.out
    frames = [_frame(rng, (64, 64)) for _ in range(3)]
    write_nexus(out / "h5_good_master.h5", frames, GEOMETRY)
    corpus.written("h5_good_master.h5", "read", "good NeXus master with 3 frames")
    write_nexus(out / "h5_nodata_master.h5", frames, GEOMETRY)
    os.remove(out / "h5_nodata_data_000001.h5")
    corpus.written("h5_nodata_master.h5", "error", "master whose data file is missing")
    write_nexus(out / "h5_badchunk_master.h5", frames, GEOMETRY)
    data_file = out / "h5_badchunk_data_000001.h5"
    raw = bytearray(data_file.read_bytes())
    for k in rng.integers(len(raw) // 2, len(raw), 64):
        raw[k] ^= 0xFF
    data_file.write_bytes(bytes(raw))
    corpus.written("h5_badchunk_master.h5", "either", "compressed data chunks damaged")
    with h5py.File(out / "h5_zero_master.h5", "w") as f:
        f.create_dataset("entry/data/data", shape=(0, 64, 64), dtype=np.uint32)
    corpus.written("h5_zero_master.h5", "error", "NeXus data with no frames")
    with h5py.File(out / "h5_1d_master.h5", "w") as f:
        f["entry/data/data"] = np.arange(10)
    corpus.written("h5_1d_master.h5", "error", "1-D data")
    with h5py.File(out / "h5_text_master.h5", "w") as f:
        f["entry/data/data"] = np.array([b"abc", b"def"])
    corpus.written("h5_text_master.h5", "error", "text data")
    with h5py.File(out / "h5_selflink_master.h5", "w") as f:
        f["entry/data/data_000001"] = h5py.ExternalLink("h5_selflink_master.h5",
                                                        "/entry/data/data_000001")
    corpus.written("h5_selflink_master.h5", "error", "external link to itself")
    good = (out / "h5_good_master.h5").read_bytes()
    for f in (0.1, 0.5, 0.9):
        corpus.add(f"h5_cut{f:g}_master.h5", good[:int(len(good) * f)], "error",
                   f"master truncated to {f:g}")


# Formats fabio writes and reads back, by the class that writes them and a typical name.
FABIO_WRITERS = (("BrukerImage", "bruker.0026"), ("Bruker100Image", "bruker100.sfrm"),
                 ("OxdImage", "oxford.img"), ("MarccdImage", "rayonix.mccd"),
                 ("EsperantoImage", "rigaku.esperanto"), ("PnmImage", "frame.pnm"),
                 ("Fit2dMaskImage", "fit2d.msk"))


def write_with_fabio(class_name: str, path, pixels: np.ndarray) -> None:
    """Write ``pixels`` with the fabio image class named ``class_name``."""
    cls = next(c for c in fabio.fabioformats.get_all_classes() if c.__name__ == class_name)
    data = (pixels > 30).astype(np.uint8) if class_name == "Fit2dMaskImage" else pixels
    cls(data=data, header={}).write(str(path))


def _fabio_formats(corpus: Corpus, rng) -> None:
    """Formats fabio writes and we do not: plain, compressed and named by number."""
    pixels = np.clip(_frame(rng), 0, 60000).astype(np.uint16)
    for class_name, name in FABIO_WRITERS:
        write_with_fabio(class_name, corpus.out / name, pixels)
        data = (corpus.out / name).read_bytes()
        corpus.written(name, "read", f"fabio-written {name}")
        corpus.add(f"{name}.bz2", bz2.compress(data), "read", f"bzip2 {name}")
        corpus.add(f"{name}.gz", gzip.compress(data), "read", f"gzip {name}")
        corpus.add(f"cut_{name}", data[: len(data) // 3], "error", f"truncated {name}")


def _cbf_variants(corpus: Corpus, data: bytes) -> None:
    """Multi-panel CBF (two binary sections) and a zero-frame-like empty CBF."""
    start = data.find(b"--CIF-BINARY-FORMAT-SECTION--")
    end = data.rfind(b"--CIF-BINARY-FORMAT-SECTION----")
    section = data[start:end]
    corpus.add("cbf_multipanel.cbf", data[:end] + b"\n" + section + data[end:], "error",
               "CBF with two binary sections (a multi-panel detector)")
    corpus.add("cbf_nobinary.cbf", data[:start], "error", "CBF without a binary section")


def _real(corpus: Corpus, shared: Path, limit: int | None, n_flips: int) -> None:
    """Damaged copies of the shared real frames (decompressed first)."""
    files = sorted(p for p in shared.rglob("*") if p.is_file()
                   and not p.name.endswith((".md", ".csv")))[:limit]
    for path in files:
        opener = {".bz2": bz2.open, ".gz": gzip.open}.get(path.suffix, open)
        with opener(path, "rb") as f:
            data = f.read()
        inner = path.name.removesuffix(".bz2").removesuffix(".gz")
        stem, suffix = os.path.splitext(inner)
        _damage(corpus, f"real_{stem}", suffix, data, n_flips)


def build_corpus(out, shared=None, *, sample: bool = False, seed: int = 7) -> list[dict]:
    """Write the corpus into ``out``; its cases (also in ``out/manifest.csv``)."""
    out = Path(out)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    corpus = Corpus(out, np.random.default_rng(seed))
    base = _base_files(corpus.rng)
    for suffix, data in base.items():
        corpus.add(f"good{suffix}", data, "read", f"good {suffix} file")
        _damage(corpus, f"ours_{suffix[1:]}", suffix, data, n_flips=1 if sample else 12,
                cuts=TRUNCATE[1::2] if sample else TRUNCATE)
    _header_edits(corpus, base[".cbf"])
    _smv_edits(corpus, base[".img"])
    _edf_edits(corpus, base[".edf"])
    _tiff_cases(corpus, base[".tif"])
    _npy_cases(corpus, corpus.rng)
    _degenerate(corpus, corpus.rng)
    _hdf5_cases(corpus, corpus.rng)
    _fabio_formats(corpus, corpus.rng)
    _cbf_variants(corpus, base[".cbf"])
    corpus.add("empty.cbf", b"", "error", "0 bytes")
    corpus.add("garbage.img", corpus.rng.bytes(4096), "error", "random bytes")
    if shared is not None and Path(shared).is_dir():
        _real(corpus, Path(shared), 1 if sample else None, 2 if sample else 15)
    with open(out / "manifest.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, ["file", "expect", "case"])
        writer.writeheader()
        writer.writerows(corpus.cases)
    return corpus.cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--shared", default=None, help="the shared real frames' folder")
    parser.add_argument("--sample", action="store_true", help="about 150 files")
    args = parser.parse_args()
    cases = build_corpus(args.out, args.shared, sample=args.sample)
    print(f"{len(cases)} files in {args.out}")


if __name__ == "__main__":
    main()
