__global__ void k(float *y) {
  __shared__ float tile
      [64];
}
