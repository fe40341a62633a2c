# What `cmake --install build --prefix P` puts under P, and the Debian
# package of the same files (`cpack --config build/CPackConfig.cmake`):
#
#   bin/                  netc, netrun, net-opt, netbench
#   include/netc/net/     the runtime and kernel headers generated code
#                         includes; the installed netc finds them as
#                         ../include/netc beside itself
#   share/netc/models/    the .net models
#   share/doc/netc/       README.md and docs/
#   share/bash-completion/completions/
#                         netrun's and netc's completion
#
#   share/netc/data/mnist the MNIST files setup.sh put in data/mnist, when
#                         there (component `datasets`: not in the package)
#
# netrun looks for a dataset by name in $NETC_DATA, ./data, P/share/netc/data,
# the user's cache and /usr/share/datasets (docs/netrun.md, "Datasets"), so
# the installed netrun finds MNIST and Debian's Fashion-MNIST from anywhere.
include(GNUInstallDirs)

# The tools link Debian's libMLIR and libLLVM, which live outside the linker's
# default path (/usr/lib/llvm-19/lib): the installed tools keep that folder
# in their RUNPATH, as Debian's own llvm-19 tools do.
set_target_properties(netc net-opt PROPERTIES INSTALL_RPATH_USE_LINK_PATH ON)

install(TARGETS netc netrun net-opt netbench RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# netrun's Open MPI collectives, opened only under mpirun from the folder
# lib/netc beside netrun's bin/ (docs/distributed.md).
if(TARGET netrun-mpi)
  install(TARGETS netrun-mpi LIBRARY DESTINATION lib/netc)
endif()
install(DIRECTORY ${PROJECT_SOURCE_DIR}/runtime/include/net
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/netc)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/models/ DESTINATION ${CMAKE_INSTALL_DATADIR}/netc/models
        FILES_MATCHING PATTERN "*.net")
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${PROJECT_SOURCE_DIR}/tools/completion/netrun.bash
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME netrun)
install(FILES ${PROJECT_SOURCE_DIR}/tools/completion/netc.bash
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME netc)
option(NETC_INSTALL_MNIST "install data/mnist (55 MB) with the tools, when setup.sh fetched it" ON)
if(NETC_INSTALL_MNIST)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/data/mnist DESTINATION ${CMAKE_INSTALL_DATADIR}/netc/data
          COMPONENT datasets OPTIONAL)
endif()

# The Debian package. Its library dependencies are read from the binaries by
# dpkg-shlibdeps (libmlir-19, libprotobuf32, libplplot17, libdnnl3, ...);
# netc also runs a C++ compiler on every model it builds, whose OpenMP
# headers (omp.h) come with g++. nvcc is optional: without it netc builds
# the CPU path only.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME netc)
set(CPACK_PACKAGE_VENDOR "netc")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "compiler of convolutional networks to shape-specialised C++ and CUDA, and their trainer")
set(CPACK_PACKAGE_DESCRIPTION
    "netc compiles a small language describing convolutional networks (or an ONNX model) into one shared library; netrun trains, evaluates and runs it.")
set(CPACK_PACKAGE_INSTALL_DIRECTORY netc)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "The netc developers")
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "g++ (>= 4:12)")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "nvidia-cuda-toolkit, dataset-fashion-mnist, bash-completion")
# Everything but the datasets component (Unspecified is install()'s default).
set(CPACK_INSTALL_CMAKE_PROJECTS "${PROJECT_BINARY_DIR};netc;Unspecified;/")
include(CPack)
