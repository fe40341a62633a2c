# What the project's targets share, declared once.
#
# NetMLIR: MLIR and LLVM for what is built on them (the compiler, its front
# ends, net-opt, the front-end fuzzers): their headers as system headers,
# their definitions, -fno-rtti where LLVM has no RTTI (classes here derive
# from its classes) and the two shared libraries (one copy of each, quick
# links). The runtime and everything that runs models link neither and
# cannot include them.
add_library(NetMLIR INTERFACE)
target_include_directories(NetMLIR SYSTEM INTERFACE ${LLVM_INCLUDE_DIRS} ${MLIR_INCLUDE_DIRS})
separate_arguments(NETC_LLVM_DEFINITIONS NATIVE_COMMAND "${LLVM_DEFINITIONS}")
target_compile_options(NetMLIR INTERFACE ${NETC_LLVM_DEFINITIONS})
if(NOT LLVM_ENABLE_RTTI)
  target_compile_options(NetMLIR INTERFACE -fno-rtti)
endif()
target_link_libraries(NetMLIR INTERFACE MLIR LLVM)

# NetRuntimeHeaders: runtime/include, what the compiler and the runtime
# share without linking each other: the model ABI, the header-only kernel
# libraries (CPU and CUDA) and their codes, the train settings' schema; and
# net/Version.h, the one version every tool reports.
configure_file(${PROJECT_SOURCE_DIR}/cmake/Version.h.in
               ${PROJECT_BINARY_DIR}/include/net/Version.h @ONLY)
add_library(NetRuntimeHeaders INTERFACE)
target_include_directories(NetRuntimeHeaders INTERFACE ${PROJECT_SOURCE_DIR}/runtime/include
                                                       ${PROJECT_BINARY_DIR}/include)

# netc_compiler_library(<name> <source>... [LINK <library>...]): a library of
# the compiler, built on MLIR after the dialect's generated headers, with the
# compiler's headers (compiler/include, and the generated ones in the build
# tree) for itself and its users. LINK: what it and its users link besides.
function(netc_compiler_library name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "LINK")
  add_library(${name} ${arg_UNPARSED_ARGUMENTS})
  add_dependencies(${name} MLIRNetOpsIncGen)
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/compiler/include
                                            ${PROJECT_BINARY_DIR}/compiler/include)
  target_link_libraries(${name} PUBLIC ${arg_LINK} NetMLIR)
endfunction()
