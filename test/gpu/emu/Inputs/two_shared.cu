__global__ void k(float *y) {
  __shared__ float a[4]; __shared__ float b[4];
}
