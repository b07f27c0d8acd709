#!/usr/bin/python3
"""make_hdf5_corpus.py DIR — writes the seed corpus of the hdf5 fuzz target:
small HDF5 files covering what tessera reads (and some of what it must
refuse cleanly).  Needs h5py (Debian's python3-h5py: run it with
/usr/bin/python3).  The files are checked in; this script documents them and
makes them again."""
import os
import sys

import h5py
import numpy as np

out = sys.argv[1] if len(sys.argv) > 1 else "corpus/hdf5"
os.makedirs(out, exist_ok=True)


def path(name):
    return os.path.join(out, name + ".h5")


x = np.arange(20, dtype="f8").reshape(4, 5) / 4 - 1

with h5py.File(path("contiguous_f8"), "w") as f:
    f["x"] = x

with h5py.File(path("chunked_i4"), "w") as f:
    f.create_dataset("y", data=np.arange(70, dtype="i4").reshape(10, 7), chunks=(3, 4))

with h5py.File(path("deflate_shuffle_f4"), "w") as f:
    f.create_dataset("z", data=np.linspace(0, 1, 256, dtype="f4").reshape(16, 16), chunks=(8, 8),
                     compression="gzip", compression_opts=4, shuffle=True)

with h5py.File(path("deflate_only_u2"), "w") as f:
    f.create_dataset("w", data=np.arange(40, dtype="u2"), chunks=(16,), compression="gzip")

with h5py.File(path("bool_enum"), "w") as f:
    f["b"] = np.array([True, False, True, True, False, False])

with h5py.File(path("enum_i1"), "w") as f:
    dt = h5py.enum_dtype({"RED": 0, "GREEN": 1, "BLUE": 7}, basetype="i1")
    f.create_dataset("colour", data=np.array([0, 1, 7, 1], dtype="i1"), dtype=dt)

with h5py.File(path("groups_ints"), "w") as f:
    g = f.create_group("a/b")
    g["i2"] = np.array([-3, 2, 1], dtype="i2")
    f["a/u1"] = np.arange(6, dtype="u1").reshape(2, 3)
    f["u8"] = np.array([2**64 - 1, 0], dtype="u8")
    f["i8"] = np.array([-2**63, 2**63 - 1], dtype="i8")
    f.create_group("empty_group")

with h5py.File(path("empty_datasets"), "w") as f:
    f.create_dataset("e0", shape=(0, 3), dtype="f8")
    f.create_dataset("e1", shape=(0,), dtype="i4", chunks=(4,), maxshape=(None,))
    f.create_dataset("null", data=h5py.Empty("f8"))

with h5py.File(path("scalar_attrs"), "w") as f:
    f["s"] = np.float64(2.5)
    f["s"].attrs["units"] = "K"
    f["s"].attrs["scale"] = np.arange(3)
    f.attrs["title"] = "attributes everywhere"

with h5py.File(path("links"), "w") as f:
    f["data/v"] = np.arange(5, dtype="i8")
    f["soft"] = h5py.SoftLink("/data/v")
    f["dangling"] = h5py.SoftLink("/nowhere")
    f["hard"] = f["data/v"]
    f["ext"] = h5py.ExternalLink("other.h5", "/x")

with h5py.File(path("latest_chunked"), "w", libver="latest") as f:
    f.create_dataset("fixed", data=np.arange(24, dtype="f8").reshape(4, 6), chunks=(2, 3))
    f.create_dataset("ext1", data=np.arange(10, dtype="i4"), chunks=(4,), maxshape=(None,))
    f.create_dataset("ext2", data=np.arange(12, dtype="i2").reshape(3, 4), chunks=(2, 2),
                     maxshape=(None, None))
    f.create_dataset("single", data=np.arange(6, dtype="f4"), chunks=(6,))

with h5py.File(path("big_endian"), "w") as f:
    f["be_f8"] = np.arange(6, dtype=">f8")
    f["be_i4"] = np.arange(6, dtype=">i4").reshape(2, 3)

with h5py.File(path("sparse_fill"), "w") as f:
    d = f.create_dataset("sparse", shape=(100000, 30), dtype="f8", chunks=(10, 10), fillvalue=-1)
    d[0:2, 0:3] = 1.5
    d[99990:, 20:] = 2

with h5py.File(path("compact"), "w") as f:
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_layout(h5py.h5d.COMPACT)
    space = h5py.h5s.create_simple((5,))
    ds = h5py.h5d.create(f.id, b"compact", h5py.h5t.NATIVE_INT32, space, dcpl=dcpl)
    ds.write(h5py.h5s.ALL, h5py.h5s.ALL, np.arange(5, dtype="i4"))

with h5py.File(path("unsupported_types"), "w") as f:
    f["str"] = np.array([b"ab", b"cd"])
    f["cmp"] = np.array([(1, 2.0)], dtype=[("a", "i4"), ("b", "f8")])
    f["f2"] = np.arange(4, dtype="f2")
    f["ok"] = np.arange(3, dtype="f8")

with h5py.File(path("fletcher_scaleoffset"), "w") as f:
    f.create_dataset("fl", data=np.arange(8, dtype="i4"), chunks=(4,), fletcher32=True)
    f.create_dataset("so", data=np.arange(8, dtype="i4"), chunks=(4,), scaleoffset=0)

with h5py.File(path("ragged_chunks_3d"), "w") as f:
    f.create_dataset("r", data=np.arange(60, dtype="f8").reshape(3, 4, 5), chunks=(2, 3, 2),
                     compression="gzip", compression_opts=1)

# Huge shapes whose chunks were never written (nothing is stored): a small
# slice must be quick, sizes must not wrap (M2-1 items 1 and 3).
for name, shape, dtype, chunks in [("sparse_1e14x30", (10**14, 30), "f8", (10, 10)),
                                   ("bytes_overflow_2p61", (2**61 + 1,), "f8", (1024,)),
                                   ("elements_overflow_3d", (2**40, 2**40, 2**40), "u1", (1, 1, 64)),
                                   ("many_chunks_1d", (10**12,), "i1", (1,))]:
    with h5py.File(path(name), "w") as f:
        f.create_dataset("d", shape=shape, dtype=dtype, chunks=chunks)
