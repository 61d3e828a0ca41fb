using System.Runtime.InteropServices;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness;

/// <summary>Memory of one GPU as the driver reports it, in bytes; <see cref="ProcessBytes"/> is this process's share (null when the driver does not say).</summary>
public sealed record GpuMemory(long TotalBytes, long UsedBytes, long? ProcessBytes)
{
    public double UsedMb => UsedBytes / (1024.0 * 1024.0);
    public double? ProcessMb => ProcessBytes / (1024.0 * 1024.0);
}

/// <summary>
/// A GPU's name and memory from the NVIDIA driver, since TorchSharp 0.107 exposes neither (no get_device_name, no
/// CUDA memory statistics). The CUDA driver API (libcuda.so.1) maps torch's device index to a PCI bus id (it applies
/// CUDA_VISIBLE_DEVICES and CUDA_DEVICE_ORDER exactly as libtorch does); NVML (libnvidia-ml.so.1) reads that device's
/// name, its memory, and this process's share of it (the CUDA context plus everything libtorch's caching allocator
/// has reserved: what decides an out-of-memory error). Both libraries come with the driver; where either is missing
/// (a CPU machine, a container without the driver) every query returns null.
/// </summary>
public sealed unsafe class GpuInfo
{
    const int Success = 0, InsufficientSize = 7;

    readonly delegate* unmanaged<uint, int> cuInit;
    readonly delegate* unmanaged<int*, int, int> cuDeviceGet;
    readonly delegate* unmanaged<byte*, int, int, int> cuDeviceGetPCIBusId;
    readonly delegate* unmanaged<int> nvmlInit;
    readonly delegate* unmanaged<byte*, IntPtr*, int> nvmlDeviceGetHandleByPciBusId;
    readonly delegate* unmanaged<IntPtr, byte*, uint, int> nvmlDeviceGetName;
    readonly delegate* unmanaged<IntPtr, NvmlMemory*, int> nvmlDeviceGetMemoryInfo;
    readonly delegate* unmanaged<IntPtr, uint*, NvmlProcessInfo*, int> nvmlDeviceGetComputeRunningProcesses;
    readonly bool available;

    [StructLayout(LayoutKind.Sequential)]
    struct NvmlMemory { public ulong Total, Free, Used; }

    /// <summary>nvmlProcessInfo_t as the _v3 (and _v2) entry points fill it: pid, usedGpuMemory, gpuInstanceId, computeInstanceId.</summary>
    [StructLayout(LayoutKind.Sequential)]
    struct NvmlProcessInfo { public uint Pid; public ulong UsedGpuMemory; public uint GpuInstanceId, ComputeInstanceId; }

    static readonly Lazy<GpuInfo> Driver = new(() => new GpuInfo("libcuda.so.1", "libnvidia-ml.so.1"));

    /// <summary>The machine's NVIDIA driver (loaded on first use).</summary>
    public static GpuInfo Default => Driver.Value;

    /// <summary>Binds the driver API and NVML from the given library files (names or paths); absent ones make every query return null.</summary>
    internal GpuInfo(string cudaLibrary, string nvmlLibrary)
    {
        if (!NativeLibrary.TryLoad(cudaLibrary, out var cudaLib) || !NativeLibrary.TryLoad(nvmlLibrary, out var nvml)) return;
        IntPtr F(IntPtr lib, string name) => NativeLibrary.TryGetExport(lib, name, out var p) ? p : IntPtr.Zero;
        var exports = new[]
        {
            F(cudaLib, "cuInit"), F(cudaLib, "cuDeviceGet"), F(cudaLib, "cuDeviceGetPCIBusId"),
            F(nvml, "nvmlInit_v2"), F(nvml, "nvmlDeviceGetHandleByPciBusId_v2"), F(nvml, "nvmlDeviceGetName"),
            F(nvml, "nvmlDeviceGetMemoryInfo"),
        };
        if (exports.Any(p => p == IntPtr.Zero)) return;
        cuInit = (delegate* unmanaged<uint, int>)exports[0];
        cuDeviceGet = (delegate* unmanaged<int*, int, int>)exports[1];
        cuDeviceGetPCIBusId = (delegate* unmanaged<byte*, int, int, int>)exports[2];
        nvmlInit = (delegate* unmanaged<int>)exports[3];
        nvmlDeviceGetHandleByPciBusId = (delegate* unmanaged<byte*, IntPtr*, int>)exports[4];
        nvmlDeviceGetName = (delegate* unmanaged<IntPtr, byte*, uint, int>)exports[5];
        nvmlDeviceGetMemoryInfo = (delegate* unmanaged<IntPtr, NvmlMemory*, int>)exports[6];
        // Per-process usage is optional: _v3 (driver >= 510), else _v2; both fill the same 24-byte record.
        var processes = F(nvml, "nvmlDeviceGetComputeRunningProcesses_v3");
        if (processes == IntPtr.Zero) processes = F(nvml, "nvmlDeviceGetComputeRunningProcesses_v2");
        nvmlDeviceGetComputeRunningProcesses = (delegate* unmanaged<IntPtr, uint*, NvmlProcessInfo*, int>)processes;
        available = cuInit(0) == Success && nvmlInit() == Success;
    }

    /// <summary>Whether the driver libraries loaded and initialised.</summary>
    public bool Available => available;

    /// <summary>The marketing name (e.g. "NVIDIA H100 80GB HBM3") of <paramref name="device"/>; null for a non-CUDA device or without the driver.</summary>
    public string? Name(Device device)
    {
        var handle = Handle(device);
        if (handle == IntPtr.Zero) return null;
        var buffer = stackalloc byte[256];
        return nvmlDeviceGetName(handle, buffer, 256) == Success ? Utf8(buffer, 256) : null;
    }

    /// <summary>Total, used (all processes) and this process's memory of <paramref name="device"/>; null for a non-CUDA device or without the driver.</summary>
    public GpuMemory? Memory(Device device)
    {
        var handle = Handle(device);
        if (handle == IntPtr.Zero) return null;
        NvmlMemory m;
        if (nvmlDeviceGetMemoryInfo(handle, &m) != Success) return null;
        return new GpuMemory((long)m.Total, (long)m.Used, ProcessBytes(handle));
    }

    long? ProcessBytes(IntPtr handle)
    {
        if (nvmlDeviceGetComputeRunningProcesses == null) return null;
        var pid = (uint)Environment.ProcessId;
        for (uint capacity = 16; capacity <= 4096; capacity *= 4)
        {
            var infos = new NvmlProcessInfo[capacity];
            var count = capacity;
            int rc;
            fixed (NvmlProcessInfo* p = infos) rc = nvmlDeviceGetComputeRunningProcesses(handle, &count, p);
            if (rc == InsufficientSize) continue;
            if (rc != Success) return null;
            for (var i = 0; i < count; i++)
                if (infos[i].Pid == pid) return (long)infos[i].UsedGpuMemory;
            return 0; // this process holds no CUDA context on that device
        }
        return null;
    }

    IntPtr Handle(Device device)
    {
        if (!available || device.type != DeviceType.CUDA) return IntPtr.Zero;
        int dev;
        if (cuDeviceGet(&dev, Math.Max(device.index, 0)) != Success) return IntPtr.Zero;
        var bus = stackalloc byte[32];
        if (cuDeviceGetPCIBusId(bus, 32, dev) != Success) return IntPtr.Zero;
        IntPtr handle;
        return nvmlDeviceGetHandleByPciBusId(bus, &handle) == Success ? handle : IntPtr.Zero;
    }

    static string Utf8(byte* s, int max)
    {
        var n = 0;
        while (n < max && s[n] != 0) n++;
        return Encoding.UTF8.GetString(s, n);
    }
}
