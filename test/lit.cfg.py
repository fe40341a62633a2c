# lit configuration for the netc test suites (test/dsl, test/compiler, ...).
import os

import lit.formats
from lit.llvm import llvm_config

config.name = "netc"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".net", ".test"]
# fuzz/ holds corpora (copies of models and malformed files), not tests.
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py", "Inputs", "fuzz"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.netc_obj_root, "test")

config.substitutions.append(("%models", os.path.join(config.netc_src_root, "models")))

llvm_config.with_system_environment(["HOME", "TMPDIR"])
llvm_config.use_default_substitutions()
llvm_config.add_tool_substitutions(["netc", "net-opt"], [config.netc_tools_dir])
# FileCheck, not and count come from LLVM's tool directory.
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
