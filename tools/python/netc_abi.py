"""ctypes binding of a netc model library's C ABI (runtime/include/net/Runtime/
ModelABI.h): netc_model_info (its leading fields, and the whole of it up to
`graph`) and the calls that create an instance, fill its parameters and run
the forward. Used by the by-hand ONNX checks (test/onnx), the ResNet50
benchmark (bench) and the PyTorch oracle (test/generated/torch_oracle.py)."""
import ctypes

import numpy as np


class TensorInfo(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("rank", ctypes.c_int32),
                ("shape", ctypes.c_int64 * 4), ("size", ctypes.c_int64),
                ("init", ctypes.c_char_p), ("fan_in", ctypes.c_int64),
                ("fan_out", ctypes.c_int64), ("trainable", ctypes.c_int32)]


class ModelInfo(ctypes.Structure):  # the leading fields of netc_model_info
    _fields_ = [("magic", ctypes.c_uint32), ("abi_version", ctypes.c_uint32),
                ("network", ctypes.c_char_p), ("compiler", ctypes.c_char_p),
                ("input_rank", ctypes.c_int32), ("input_shape", ctypes.c_int64 * 3),
                ("input_mean", ctypes.POINTER(ctypes.c_float)),
                ("input_std", ctypes.POINTER(ctypes.c_float)), ("classes", ctypes.c_int32),
                ("num_params", ctypes.c_int32), ("params", ctypes.POINTER(TensorInfo))]


class TrainSetup(ctypes.Structure):
    _fields_ = [("optimizer", ctypes.c_int32), ("learning_rate", ctypes.c_double),
                ("momentum", ctypes.c_double), ("nesterov", ctypes.c_int32),
                ("beta1", ctypes.c_double), ("beta2", ctypes.c_double),
                ("epsilon", ctypes.c_double), ("batch", ctypes.c_int32),
                ("epochs", ctypes.c_int32), ("lr_schedule", ctypes.c_char_p),
                ("lr_step_size", ctypes.c_int32), ("lr_gamma", ctypes.c_double),
                ("lr_decay", ctypes.c_double), ("lr_min", ctypes.c_double),
                ("lr_patience", ctypes.c_int32), ("lr_factor", ctypes.c_double),
                ("early_stopping", ctypes.c_int32), ("monitor", ctypes.c_char_p),
                ("patience", ctypes.c_int32), ("min_delta", ctypes.c_double),
                ("restore_best_weights", ctypes.c_int32)]


class FullModelInfo(ctypes.Structure):  # netc_model_info up to `graph`
    _fields_ = ModelInfo._fields_ + [
        ("num_state", ctypes.c_int32), ("state", ctypes.c_void_p),
        ("num_layers", ctypes.c_int32), ("layers", ctypes.c_void_p),
        ("flops_per_image", ctypes.c_int64), ("train", TrainSetup),
        ("devices", ctypes.c_uint32), ("feature_layer", ctypes.c_char_p),
        ("feature_rank", ctypes.c_int32), ("feature_shape", ctypes.c_int64 * 3),
        ("feature_size", ctypes.c_int64), ("graph", ctypes.c_char_p)]


_FLOATS = ctypes.POINTER(ctypes.c_float)


class Model:
    """One model library, and instances of it on the CPU."""

    def __init__(self, path):
        self.lib = lib = ctypes.CDLL(path)
        lib.netc_model.restype = ctypes.POINTER(ModelInfo)
        lib.netc_create.restype = ctypes.c_void_p
        lib.netc_create.argtypes = [ctypes.c_int32, ctypes.c_int32, ctypes.c_int32,
                                    ctypes.c_char_p, ctypes.c_size_t]
        lib.netc_destroy.argtypes = [ctypes.c_void_p]
        lib.netc_param_data.restype = _FLOATS
        lib.netc_param_data.argtypes = [ctypes.c_void_p, ctypes.c_int32]
        lib.netc_forward.argtypes = [ctypes.c_void_p, _FLOATS, ctypes.c_int32, _FLOATS]
        self.info = lib.netc_model().contents

    def create(self, batch, threads):
        """An instance for batches up to `batch` on `threads` CPU threads."""
        error = ctypes.create_string_buffer(512)
        instance = self.lib.netc_create(0, batch, threads, error, len(error))
        if not instance:
            raise RuntimeError(error.value.decode())
        return instance

    def destroy(self, instance):
        self.lib.netc_destroy(instance)

    def set_params(self, instance, by_name):
        """Copies every parameter from the name -> array dict `by_name`."""
        for i in range(self.info.num_params):
            p = self.info.params[i]
            name = p.name.decode()
            if name not in by_name:
                raise ValueError(f"no values given for the model's parameter {name}")
            values = np.ascontiguousarray(by_name[name], dtype=np.float32).ravel()
            if values.size != p.size:
                raise ValueError(f"{name}: {values.size} values, expected {p.size}")
            ctypes.memmove(self.lib.netc_param_data(instance, i), values.ctypes.data,
                           values.nbytes)

    def forward(self, instance, images, out=None):
        """Probabilities (n, classes) of the float32 C-contiguous `images`."""
        n = images.shape[0]
        if out is None:
            out = np.zeros((n, self.info.classes), dtype=np.float32)
        rc = self.lib.netc_forward(instance, images.ctypes.data_as(_FLOATS), n,
                                   out.ctypes.data_as(_FLOATS))
        if rc != 0:
            raise RuntimeError(f"netc_forward returned {rc}")
        return out
