# tesseraDependencies.cmake — every third-party dependency of libtessera, found in
# one place.  Included twice:
#   - by the top CMakeLists.txt (TESSERA_DEPS_CONTEXT = build): a missing
#     dependency is a configure error;
#   - installed beside tesseraConfig.cmake, by find_package(tessera) in a
#     consumer (TESSERA_DEPS_CONTEXT = package): a missing dependency makes
#     find_package(tessera) fail with a message (find_dependency).
# The exported targets name only the targets made here (OpenMP::OpenMP_C, m,
# tessera::openblas), so the package finds again exactly what the library
# was linked with.
#
# Each dependency also says what it adds to tessera.pc:
#   TESSERA_PKG_REQUIRES_PRIVATE  pkg-config modules (Requires.private)
#   TESSERA_PKG_LIBS_PRIVATE      link flags of the rest (Libs.private)
# To add a dependency (HDF5, libdeflate, ...): find it below with
# tessera_find_dependency() or pkg_check_modules(), make one imported target
# named tessera::<dep> (or use the package's own), append it to what the
# layer links in CMakeLists.txt, and append its module or flags to the two
# lists.  Example for a pkg-config module:
#   tessera_pkg_module(DEFLATE libdeflate tessera::deflate)
#   if(NOT TARGET tessera::deflate)
#     tessera_dependency_missing("libdeflate not found: install libdeflate-dev")
#   endif()
# which finds `libdeflate`, makes tessera::deflate and records Requires.private;
# a CMake package is tessera_find_dependency(HDF5 COMPONENTS C) and its flags
# appended to TESSERA_PKG_LIBS_PRIVATE.

if(NOT DEFINED TESSERA_DEPS_CONTEXT)
  set(TESSERA_DEPS_CONTEXT package)
endif()
set(TESSERA_PKG_REQUIRES_PRIVATE "")
set(TESSERA_PKG_LIBS_PRIVATE "")

if(TESSERA_DEPS_CONTEXT STREQUAL "package")
  include(CMakeFindDependencyMacro)
  # find_dependency() returns from this file on failure, having set
  # tessera_FOUND to FALSE; tesseraConfig.cmake checks it.
  macro(tessera_find_dependency)
    find_dependency(${ARGV})
  endmacro()
  macro(tessera_dependency_missing message)
    set(tessera_NOT_FOUND_MESSAGE "${message}")
    set(tessera_FOUND FALSE)
    return()
  endmacro()
else()
  macro(tessera_find_dependency)
    find_package(${ARGV} REQUIRED)
  endmacro()
  macro(tessera_dependency_missing message)
    message(FATAL_ERROR "${message}")
  endmacro()
endif()

find_package(PkgConfig QUIET)

# tessera_pkg_module(NAME MODULE TARGET): the pkg-config module MODULE as the
# INTERFACE imported target TARGET (through PkgConfig::tessera_NAME, so that
# a consumer's own pkg_check_modules prefixes never clash), recorded in
# Requires.private.  The caller decides what a missing module means
# (if(NOT TARGET TARGET)).
macro(tessera_pkg_module name module target)
  if(PkgConfig_FOUND)
    pkg_check_modules(tessera_${name} QUIET IMPORTED_TARGET ${module})
  endif()
  if(TARGET PkgConfig::tessera_${name})
    if(NOT TARGET ${target})
      add_library(${target} INTERFACE IMPORTED)
      target_link_libraries(${target} INTERFACE PkgConfig::tessera_${name})
    endif()
    list(APPEND TESSERA_PKG_REQUIRES_PRIVATE ${module})
  endif()
endmacro()

# OpenMP (every layer): the runtime is linked with the compiler's flag.
tessera_find_dependency(OpenMP COMPONENTS C)
list(APPEND TESSERA_PKG_LIBS_PRIVATE ${OpenMP_C_FLAGS})

# libm, linked by name.
if(TESSERA_DEPS_CONTEXT STREQUAL "build")
  find_library(MATH_LIBRARY m REQUIRED)
endif()
list(APPEND TESSERA_PKG_LIBS_PRIVATE -lm)

# CBLAS from OpenBLAS (array/linalg.c) as tessera::openblas: pkg-config
# first (Debian's libopenblas-dev ships openblas.pc pointing at the active
# flavour, e.g. openblas-pthread/), else the library and cblas.h wherever
# Debian or a source build put them.
tessera_pkg_module(OPENBLAS openblas tessera::openblas)
if(NOT TARGET tessera::openblas)
  set(openblas_suffixes openblas-pthread openblas-openmp openblas-serial openblas)
  find_library(OPENBLAS_LIBRARY openblas PATH_SUFFIXES ${openblas_suffixes})
  find_path(OPENBLAS_INCLUDE_DIR cblas.h
    PATHS /usr/include/${CMAKE_LIBRARY_ARCHITECTURE} /usr/include /usr/local/include
    PATH_SUFFIXES ${openblas_suffixes} "")
  if(NOT OPENBLAS_LIBRARY OR NOT OPENBLAS_INCLUDE_DIR)
    tessera_dependency_missing("OpenBLAS (CBLAS) not found: install libopenblas-dev")
  endif()
  add_library(tessera::openblas INTERFACE IMPORTED)
  target_include_directories(tessera::openblas INTERFACE ${OPENBLAS_INCLUDE_DIR})
  target_link_libraries(tessera::openblas INTERFACE ${OPENBLAS_LIBRARY})
  get_filename_component(openblas_dir ${OPENBLAS_LIBRARY} DIRECTORY)
  list(APPEND TESSERA_PKG_LIBS_PRIVATE -L${openblas_dir} -lopenblas)
endif()

# LAPACKE (array/qr.c, array/linalg_small.c: QR, SVD, LU, Cholesky) as
# tessera::lapacke: pkg-config first (Debian's liblapacke-dev ships
# lapacke.pc; its LAPACK is OpenBLAS's through Debian's alternatives), else
# the library and lapacke.h where Debian or a source build put them.
tessera_pkg_module(LAPACKE lapacke tessera::lapacke)
if(NOT TARGET tessera::lapacke)
  find_library(LAPACKE_LIBRARY lapacke)
  find_path(LAPACKE_INCLUDE_DIR lapacke.h
    PATHS /usr/include/${CMAKE_LIBRARY_ARCHITECTURE} /usr/include /usr/local/include
    PATH_SUFFIXES openblas-pthread openblas "")
  if(NOT LAPACKE_LIBRARY OR NOT LAPACKE_INCLUDE_DIR)
    tessera_dependency_missing("LAPACKE not found: install liblapacke-dev")
  endif()
  add_library(tessera::lapacke INTERFACE IMPORTED)
  target_include_directories(tessera::lapacke INTERFACE ${LAPACKE_INCLUDE_DIR})
  target_link_libraries(tessera::lapacke INTERFACE ${LAPACKE_LIBRARY})
  get_filename_component(lapacke_dir ${LAPACKE_LIBRARY} DIRECTORY)
  list(APPEND TESSERA_PKG_LIBS_PRIVATE -L${lapacke_dir} -llapacke)
endif()

# MPI (dist/, the only layer that includes mpi.h itself) as tessera::mpi:
# Open MPI's pkg-config module first, else CMake's FindMPI.
tessera_pkg_module(MPI ompi-c tessera::mpi)
if(NOT TARGET tessera::mpi)
  tessera_find_dependency(MPI COMPONENTS C)
  add_library(tessera::mpi INTERFACE IMPORTED)
  target_link_libraries(tessera::mpi INTERFACE MPI::MPI_C)
  list(APPEND TESSERA_PKG_LIBS_PRIVATE ${MPI_C_LINK_FLAGS} ${MPI_C_LIBRARIES})
endif()

# HDF5, the Open MPI flavour (docs/architecture.md), as tessera::hdf5 for io/, the only
# layer that includes its headers: pkg-config first (Debian's
# libhdf5-openmpi-dev ships hdf5-openmpi.pc), else the library and headers
# where Debian puts them; HDF5's headers include mpi.h, so MPI comes along.
tessera_pkg_module(HDF5 hdf5-openmpi tessera::hdf5)
if(NOT TARGET tessera::hdf5)
  tessera_find_dependency(MPI COMPONENTS C)
  set(hdf5_hints /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/hdf5/openmpi
                 /usr/lib/x86_64-linux-gnu/hdf5/openmpi)
  find_library(HDF5_LIBRARY hdf5 HINTS ${hdf5_hints} NO_DEFAULT_PATH)
  if(NOT HDF5_LIBRARY)
    find_library(HDF5_LIBRARY hdf5_openmpi)
  endif()
  find_path(HDF5_INCLUDE_DIR hdf5.h PATHS /usr/include PATH_SUFFIXES hdf5/openmpi NO_DEFAULT_PATH)
  if(NOT HDF5_LIBRARY OR NOT HDF5_INCLUDE_DIR)
    tessera_dependency_missing("HDF5 (Open MPI flavour) not found: install libhdf5-openmpi-dev")
  endif()
  add_library(tessera::hdf5 INTERFACE IMPORTED)
  target_include_directories(tessera::hdf5 INTERFACE ${HDF5_INCLUDE_DIR})
  target_link_libraries(tessera::hdf5 INTERFACE ${HDF5_LIBRARY} MPI::MPI_C)
  get_filename_component(hdf5_dir ${HDF5_LIBRARY} DIRECTORY)
  list(APPEND TESSERA_PKG_LIBS_PRIVATE -L${hdf5_dir} -lhdf5)
endif()

# libdeflate (parallel (de)compression of HDF5 chunks) as tessera::deflate.
tessera_pkg_module(DEFLATE libdeflate tessera::deflate)
if(NOT TARGET tessera::deflate)
  find_library(LIBDEFLATE_LIBRARY deflate)
  find_path(LIBDEFLATE_INCLUDE_DIR libdeflate.h)
  if(NOT LIBDEFLATE_LIBRARY OR NOT LIBDEFLATE_INCLUDE_DIR)
    tessera_dependency_missing("libdeflate not found: install libdeflate-dev")
  endif()
  add_library(tessera::deflate INTERFACE IMPORTED)
  target_include_directories(tessera::deflate INTERFACE ${LIBDEFLATE_INCLUDE_DIR})
  target_link_libraries(tessera::deflate INTERFACE ${LIBDEFLATE_LIBRARY})
  list(APPEND TESSERA_PKG_LIBS_PRIVATE -ldeflate)
endif()

# zlib (reading .csv.gz: streamed gzip members) as tessera::zlib.
tessera_pkg_module(ZLIB zlib tessera::zlib)
if(NOT TARGET tessera::zlib)
  find_library(TESSERA_ZLIB_LIBRARY z)
  find_path(TESSERA_ZLIB_INCLUDE_DIR zlib.h)
  if(NOT TESSERA_ZLIB_LIBRARY OR NOT TESSERA_ZLIB_INCLUDE_DIR)
    tessera_dependency_missing("zlib not found: install zlib1g-dev")
  endif()
  add_library(tessera::zlib INTERFACE IMPORTED)
  target_include_directories(tessera::zlib INTERFACE ${TESSERA_ZLIB_INCLUDE_DIR})
  target_link_libraries(tessera::zlib INTERFACE ${TESSERA_ZLIB_LIBRARY})
  list(APPEND TESSERA_PKG_LIBS_PRIVATE -lz)
endif()

# Threads (the HDF5 lock).
tessera_find_dependency(Threads)
list(APPEND TESSERA_PKG_LIBS_PRIVATE -pthread)
