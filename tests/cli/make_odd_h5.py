# make_odd_h5.py FILE.h5 — an HDF5 file of what `tessera info` must describe:
# every kind of filter (fletcher32, scaleoffset, lzf, shuffle + deflate), a
# compact and a virtual dataset, enums (int16, h5py bool, a 2-member uint8
# enum that is not bool), soft and external links, live and dangling.  Also
# writes ext.h5 beside it (the external link target).  Needs h5py.
import sys, h5py, numpy as np
path = sys.argv[1]
with h5py.File("ext.h5", "w") as f:
    f["target"] = np.arange(3)
with h5py.File(path, "w") as f:
    f.create_dataset("fl", data=np.arange(100.0), chunks=(10,), fletcher32=True)
    f.create_dataset("so", data=np.arange(100), chunks=(10,), scaleoffset=0)
    f.create_dataset("lzf", data=np.arange(100), chunks=(10,), compression="lzf")
    f.create_dataset("nb", data=np.arange(100, dtype="i4"), chunks=(10,), shuffle=True, compression="gzip", compression_opts=6)
    sp = h5py.h5s.create_simple((4,)); pl = h5py.h5p.create(h5py.h5p.DATASET_CREATE); pl.set_layout(h5py.h5d.COMPACT)
    h5py.h5d.create(f.id, b"compact", h5py.h5t.NATIVE_INT32, sp, pl)
    e16 = h5py.enum_dtype({"RED": 0, "GREEN": 1, "BLUE": 300}, basetype="i2")
    f.create_dataset("color", data=np.array([0, 1, 300], dtype="i2"), dtype=e16)
    f["flag"] = np.array([True, False])
    e8 = h5py.enum_dtype({"OFF": 0, "ON": 1}, basetype="u1")
    f.create_dataset("onoff", data=np.array([1, 0, 1], dtype="u1"), dtype=e8)
    f["a"] = np.arange(4.0)
    f["b"] = np.arange(4.0) + 10
    layout = h5py.VirtualLayout(shape=(2, 4), dtype="f8")
    layout[0] = h5py.VirtualSource(f["a"])
    layout[1] = h5py.VirtualSource(f["b"])
    f.create_virtual_dataset("v", layout)
    f["soft"] = h5py.SoftLink("/a")
    f["dangling"] = h5py.SoftLink("/nowhere")
    f["ext"] = h5py.ExternalLink("ext.h5", "/target")
    f["extmissing"] = h5py.ExternalLink("missing.h5", "/t")
