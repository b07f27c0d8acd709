# run_consumer.cmake — the install.consumer test (cmake -P; the variables come
# from tests/install/CMakeLists.txt).  Fails with a message naming the step.
cmake_minimum_required(VERSION 3.25)

set(expected "tessera ${VERSION}: sum of squares 332833500, sum of product 48")
set(prefix ${WORK_DIR}/prefix)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

# run(STEP command...): runs it in WORK_DIR, fails the test if it fails.
function(run step)
  execute_process(COMMAND ${ARGN} WORKING_DIRECTORY ${WORK_DIR}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "install.consumer: ${step} failed (${rc}):\n${ARGN}\n${out}\n${err}")
  endif()
  set(output "${out}" PARENT_SCOPE)
endfunction()

# check_program(STEP exe): runs it and compares its output with `expected`.
function(check_program step exe)
  run("${step}: run" ${exe})
  if(NOT output STREQUAL "${expected}\n")
    message(FATAL_ERROR "install.consumer: ${step} printed\n${output}\nexpected\n${expected}")
  endif()
  string(STRIP "${output}" output)
  message(STATUS "${step}: ${output}")
endfunction()

# 1. Install, and check the tree.
set(config_args "")
if(CONFIG)
  set(config_args --config ${CONFIG})
endif()
run("cmake --install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix} ${config_args})
foreach(file
    ${INCLUDEDIR}/tessera/tessera.h ${INCLUDEDIR}/tessera/core.h
    ${LIBDIR}/libtessera.so ${LIBDIR}/libtessera.so.${SOVERSION} ${LIBDIR}/libtessera.so.${VERSION}
    ${LIBDIR}/libtessera.a
    ${LIBDIR}/cmake/tessera/tesseraConfig.cmake ${LIBDIR}/cmake/tessera/tesseraConfigVersion.cmake
    ${LIBDIR}/cmake/tessera/tesseraTargets.cmake ${LIBDIR}/pkgconfig/tessera.pc)
  if(NOT EXISTS ${prefix}/${file})
    message(FATAL_ERROR "install.consumer: ${file} was not installed under ${prefix}")
  endif()
endforeach()

# 2. find_package(tessera): the shared and the static target.
run("consumer: configure" ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/cmake-build
  -G ${GENERATOR} -DCMAKE_C_COMPILER=${C_COMPILER} -DCMAKE_BUILD_TYPE=Release
  -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
  -DEXPECTED_TESSERA_DIR=${prefix}/${LIBDIR}/cmake/tessera)
run("consumer: build" ${CMAKE_COMMAND} --build ${WORK_DIR}/cmake-build)
check_program("find_package, tessera::tessera" ${WORK_DIR}/cmake-build/app)
check_program("find_package, tessera::tessera_static" ${WORK_DIR}/cmake-build/app_static)

# 3. pkg-config, as the README shows it: shared (with an rpath to libdir) and
# static (libtessera.a in place of -ltessera, with Libs.private and the
# Requires.private modules).
set(ENV{PKG_CONFIG_PATH} ${prefix}/${LIBDIR}/pkgconfig)
run("pkg-config --modversion" ${PKG_CONFIG} --modversion tessera)
if(NOT output STREQUAL "${VERSION}\n")
  message(FATAL_ERROR "install.consumer: pkg-config found tessera ${output}, expected ${VERSION}")
endif()
run("pkg-config --cflags --libs" ${PKG_CONFIG} --cflags --libs tessera)
separate_arguments(flags UNIX_COMMAND "${output}")
run("pkg-config --variable=libdir" ${PKG_CONFIG} --variable=libdir tessera)
string(STRIP "${output}" libdir)
run("pkg-config: compile and link" ${C_COMPILER} -std=c11 -Wall -Wextra -Werror
  ${SOURCE_DIR}/main.c ${flags} -Wl,-rpath,${libdir} -o ${WORK_DIR}/app_pc)
check_program("pkg-config, shared" ${WORK_DIR}/app_pc)

run("pkg-config --static" ${PKG_CONFIG} --cflags --libs --static tessera)
string(REPLACE "-ltessera" "-l:libtessera.a" output "${output}")
separate_arguments(flags UNIX_COMMAND "${output}")
run("pkg-config --static: compile and link" ${C_COMPILER} -std=c11 -Wall -Wextra -Werror
  ${SOURCE_DIR}/main.c ${flags} -o ${WORK_DIR}/app_pc_static)
check_program("pkg-config, static" ${WORK_DIR}/app_pc_static)
