# tesseraInstall.cmake — what `cmake --install` puts under the prefix
# (GNUInstallDirs):
#   include/tessera/*.h
#   lib/libtessera.so.X.Y.Z, .so.X (SONAME), .so    lib/libtessera.a
#   lib/cmake/tessera/  tesseraConfig.cmake, tesseraConfigVersion.cmake
#                       (SameMajorVersion), tesseraTargets*.cmake,
#                       tesseraDependencies.cmake
#   lib/pkgconfig/tessera.pc
#   bin/tessera and share/man/man1/tessera.1, once they exist.
# Included at the end of the top CMakeLists.txt, after every target.
include(CMakePackageConfigHelpers)

set(TESSERA_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/tessera)

# Exported as tessera::tessera (shared) and tessera::tessera_static, the
# names of the aliases in the build tree.
set_target_properties(tessera_shared PROPERTIES EXPORT_NAME tessera)
set_target_properties(tessera_static PROPERTIES EXPORT_NAME tessera_static)

# The installed shared library keeps, as RUNPATH, the directories of the
# libraries it was linked with that are outside the system's default ones
# (Debian's openblas-pthread/, an OpenBLAS built in /opt, ...), so it loads
# what it was built against without LD_LIBRARY_PATH.  Turn off with
# -DCMAKE_INSTALL_RPATH_USE_LINK_PATH=OFF (distribution packages).
if(NOT DEFINED CMAKE_INSTALL_RPATH_USE_LINK_PATH)
  set_target_properties(tessera_shared PROPERTIES INSTALL_RPATH_USE_LINK_PATH ON)
endif()

install(TARGETS tessera_shared tessera_static EXPORT tesseraTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/tessera
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h")

# The tessera command and its man page.  The command's target is tessera_cli
# (OUTPUT_NAME tessera); it finds libtessera.so next to bin/ if it links it.
if(TARGET tessera_cli)
  set_target_properties(tessera_cli PROPERTIES
    INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR}" INSTALL_RPATH_USE_LINK_PATH ON)
  install(TARGETS tessera_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
set(TESSERA_MAN1_PAGES "" CACHE STRING "Section-1 man pages to install (tessera.1)")
mark_as_advanced(TESSERA_MAN1_PAGES)
foreach(page IN LISTS TESSERA_MAN1_PAGES)
  install(FILES ${page} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
endforeach()

# The CMake package.
install(EXPORT tesseraTargets NAMESPACE tessera::
  DESTINATION ${TESSERA_INSTALL_CMAKEDIR} FILE tesseraTargets.cmake)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/tesseraConfig.cmake.in
  ${PROJECT_BINARY_DIR}/tesseraConfig.cmake
  INSTALL_DESTINATION ${TESSERA_INSTALL_CMAKEDIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/tesseraConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/tesseraConfig.cmake
  ${PROJECT_BINARY_DIR}/tesseraConfigVersion.cmake
  ${PROJECT_SOURCE_DIR}/cmake/tesseraDependencies.cmake
  DESTINATION ${TESSERA_INSTALL_CMAKEDIR})

# tessera.pc, relocatable: prefix is found from the .pc's own directory, so
# `cmake --install --prefix ANYWHERE` works.  The dependencies come from
# tesseraDependencies.cmake (TESSERA_PKG_REQUIRES_PRIVATE / _LIBS_PRIVATE).
set(pc_dir ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  message(FATAL_ERROR "tessera.pc: CMAKE_INSTALL_LIBDIR and CMAKE_INSTALL_INCLUDEDIR must be relative")
endif()
file(RELATIVE_PATH TESSERA_PC_RELATIVE_PREFIX /root/${pc_dir} /root)
string(REGEX REPLACE "/$" "" TESSERA_PC_RELATIVE_PREFIX "${TESSERA_PC_RELATIVE_PREFIX}")
list(JOIN TESSERA_PKG_REQUIRES_PRIVATE ", " TESSERA_PC_REQUIRES_PRIVATE)
list(REMOVE_DUPLICATES TESSERA_PKG_LIBS_PRIVATE)
list(JOIN TESSERA_PKG_LIBS_PRIVATE " " TESSERA_PC_LIBS_PRIVATE)
set(TESSERA_PC_LIBS_EXTRA "")
if(TESSERA_SANITIZE)
  # A sanitized library needs the sanitizer runtime in whatever links it.
  set(TESSERA_PC_LIBS_EXTRA " -fsanitize=${TESSERA_SANITIZE}")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/tessera.pc.in ${PROJECT_BINARY_DIR}/tessera.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/tessera.pc DESTINATION ${pc_dir})
