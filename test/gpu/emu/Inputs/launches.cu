// Launch forms and __shared__ declarations as the kernel headers write them.
template <int C, int H> __global__ void conv(const float *x, float *y) {
  __shared__ double shared[256];
  __shared__ float as[16][16 + 1], bs[16][16 + 1];
  __shared__ float filter[C > H ? C : 1], total;
  // __shared__ in a comment is left alone
  y[0] = x[0];
}

void launchAll(const float *x, float *y, cudaStream_t stream) {
  conv<1, 28><<<4, 256>>>(x, y);
  netc::cuda::detail::conv<6, 14>
      <<<dim3(2, 3), dim3(32, 8), 0, stream>>>(x, y);
  int after = __LINE__;
}
