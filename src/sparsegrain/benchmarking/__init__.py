"""The kernel benchmarks behind ``sparsegrain bench``: the sparse kernels against dense torch and
torch's CSR, and against every peer engine installed (MKL's sparse BLAS, onnxruntime, scipy)."""
