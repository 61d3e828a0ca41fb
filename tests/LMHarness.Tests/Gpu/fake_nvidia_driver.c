/* A stand-in for libcuda.so.1 + libnvidia-ml.so.1 with two GPUs, so GpuInfo's bindings (entry points, argument
   order, struct layouts, the retry on NVML_ERROR_INSUFFICIENT_SIZE) are exercised on a machine without a GPU.
   Built by GpuInfoTests with gcc. CUDA ordinal 0 is the GPU on bus 0000:41:00.0 and ordinal 1 the one on
   0000:01:00.0, so a binding that used the ordinal as the NVML index would read the wrong GPU. */
#include <string.h>
#include <unistd.h>

typedef struct { unsigned long long total, free, used; } nvmlMemory_t;
typedef struct { unsigned int pid; unsigned long long usedGpuMemory; unsigned int gpuInstanceId, computeInstanceId; } nvmlProcessInfo_t;
typedef struct { const char *bus, *name; unsigned long long total, used, mine; } gpu_t;

static gpu_t gpus[2] = {
    { "0000:41:00.0", "NVIDIA H100 80GB HBM3", 85520809984ULL, 3221225472ULL, 2147483648ULL },
    { "0000:01:00.0", "NVIDIA L4", 24152899584ULL, 536870912ULL, 0ULL },
};
static int inited = 0;

int cuInit(unsigned int flags) { inited = flags == 0; return flags == 0 ? 0 : 1; }
int cuDeviceGet(int *dev, int ordinal) { if (!inited || ordinal < 0 || ordinal > 1) return 101; *dev = 100 + ordinal; return 0; }
int cuDeviceGetPCIBusId(char *bus, int len, int dev) {
    if (dev < 100 || dev > 101 || len < 13) return 1;
    strncpy(bus, gpus[dev - 100].bus, len); return 0;
}
int nvmlInit_v2(void) { return 0; }
int nvmlDeviceGetHandleByPciBusId_v2(const char *bus, gpu_t **h) {
    for (int i = 0; i < 2; i++) if (strcmp(bus, gpus[i].bus) == 0) { *h = &gpus[i]; return 0; }
    return 6; /* NVML_ERROR_NOT_FOUND */
}
int nvmlDeviceGetName(gpu_t *h, char *name, unsigned int len) { strncpy(name, h->name, len); return 0; }
int nvmlDeviceGetMemoryInfo(gpu_t *h, nvmlMemory_t *m) { m->total = h->total; m->used = h->used; m->free = h->total - h->used; return 0; }
int nvmlDeviceGetComputeRunningProcesses_v3(gpu_t *h, unsigned int *count, nvmlProcessInfo_t *infos) {
    /* 20 processes on the first GPU (more than a first buffer of 16 holds), none on the second. */
    unsigned int n = h == &gpus[0] ? 20 : 0;
    if (*count < n) { *count = n; return 7; /* NVML_ERROR_INSUFFICIENT_SIZE */ }
    for (unsigned int i = 0; i < n; i++) {
        infos[i].pid = i == 13 ? (unsigned int)getpid() : 90000 + i;
        infos[i].usedGpuMemory = i == 13 ? h->mine : 1048576ULL * (i + 1);
        infos[i].gpuInstanceId = 0xFFFFFFFF; infos[i].computeInstanceId = 0xFFFFFFFF;
    }
    *count = n; return 0;
}
