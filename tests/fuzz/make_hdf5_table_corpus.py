#!/usr/bin/python3
"""make_hdf5_table_corpus.py TESSERA DIR — writes the seed corpus of the
hdf5_table fuzz target: small HDF5 tables (written by `tessera convert`, in
both string layouts, with and without deflate, and by h5py by the documented
layout) and compound datasets (every field kind, nested, and ones tessera
refuses).  Needs h5py (run it with /usr/bin/python3).  The files are checked
in; this script documents them and makes them again."""
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

tessera = sys.argv[1]
out = sys.argv[2] if len(sys.argv) > 2 else "corpus/hdf5_table"
os.makedirs(out, exist_ok=True)


def path(name):
    return os.path.join(out, name + ".h5")


with tempfile.TemporaryDirectory() as tmp:
    csv = os.path.join(tmp, "t.csv")
    with open(csv, "w") as f:
        f.write("a,b,c,d,e\n1,x y,2.5,2024-01-31,true\n,\"\",,,false\n3,ünï,1e300,1970-01-01,\n"
                "4,a long string of text,-0.5,1999-12-31,true\n")
    for name, opts in [("tessera_vlen", []), ("tessera_offsets", ["--strings", "offsets"]),
                       ("tessera_deflate", ["--compress", "1", "--chunk-rows", "2"])]:
        if os.path.exists(path(name)):
            os.unlink(path(name))
        subprocess.run([tessera, "convert", csv, path(name) + ":/t"] + opts, check=True,
                       stdout=subprocess.DEVNULL)

with h5py.File(path("h5py_table"), "w") as f:
    g = f.create_group("t")
    g.attrs["tessera_format"] = "table"
    g.attrs["tessera_format_version"] = 1
    g.attrs["columns"] = ["k", "s", "d"]
    g.create_dataset("k", data=np.array([0, 1, -1, 2], dtype="i1"))
    g["k"].attrs["dictionary"] = "kd"
    g["k"].attrs["validity"] = "kv"
    g.create_dataset("kd", data=["a", "b", "c"], dtype=h5py.string_dtype())
    g.create_dataset("kv", data=np.array([True, True, False, True]))
    g.create_dataset("s", data=np.array([b"ab", b"", b"cdef", b"g"], dtype="S4"))
    g.create_dataset("d", data=np.arange(4, dtype="i8"))
    g["d"].attrs["unit"] = "ns"

a = np.zeros(5, dtype=[("i", "<i4"), ("name", "S6"), ("label", h5py.string_dtype()),
                       ("pos", [("x", "<f8"), ("y", ">f4")]), ("b", "?")])
a["i"] = np.arange(5)
a["name"] = [b"a", b"bb", b"", b"dddd", b"e"]
a["label"] = ["x", "yy", "", "long label text", "z"]
with h5py.File(path("compound"), "w") as f:
    f.create_dataset("recs", data=a, chunks=(2,), compression="gzip")
    f.create_dataset("arr", data=np.zeros(2, dtype=[("v", "f8", (3,))]))
