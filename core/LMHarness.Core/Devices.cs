using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness;

/// <summary>Where tensors live by default: CUDA when libtorch sees a GPU, else the CPU; <c>LMHARNESS_DEVICE</c> overrides.</summary>
public static class Devices
{
    /// <summary>Environment variable naming the device (<c>cpu</c>, <c>cuda</c>, <c>cuda:1</c>, ...).</summary>
    public const string EnvironmentVariable = "LMHARNESS_DEVICE";

    /// <summary>The device named by <c>LMHARNESS_DEVICE</c> when set, else cuda when available, else cpu.</summary>
    public static Device Default() => Resolve(null);

    /// <summary>
    /// The device called <paramref name="name"/> (<c>cpu</c>, <c>cuda</c>, <c>cuda:1</c>); null or empty means
    /// <c>LMHARNESS_DEVICE</c> when set, else the best available. Asking for CUDA without a GPU is an error.
    /// </summary>
    public static Device Resolve(string? name)
    {
        var source = "device";
        if (string.IsNullOrWhiteSpace(name))
        {
            name = Environment.GetEnvironmentVariable(EnvironmentVariable);
            source = EnvironmentVariable;
        }
        if (string.IsNullOrWhiteSpace(name))
            return cuda.is_available() ? CUDA : CPU;
        Device device;
        try { device = new Device(name.Trim()); }
        catch (Exception e)
        {
            throw new ArgumentException($"{source}='{name}' is not a device: use cpu, cuda or cuda:N", e);
        }
        if (device.type == DeviceType.CUDA && !cuda.is_available())
            throw new ArgumentException($"{source}='{name}' asks for CUDA but no GPU is visible to libtorch (this build uses the " +
                                        $"CPU backend unless built with -p:TorchBackend=cuda): set it to cpu{(source == EnvironmentVariable ? " or unset it" : "")}");
        return device;
    }

    /// <summary>
    /// On a CUDA device, lets fp32 matmuls and convolutions use TF32 tensor cores (10-bit mantissa inputs, fp32
    /// accumulation; what PyTorch's <c>set_float32_matmul_precision("high")</c> does): several times the fp32 rate
    /// on Ampere and later, at a precision training does not notice. bf16 matmuls are unaffected. Does nothing on other
    /// devices; returns whether TF32 is now on for <paramref name="device"/>.
    /// </summary>
    public static bool EnableTf32(Device device)
    {
        if (device.type != DeviceType.CUDA) return false;
        backends.cuda.matmul.allow_tf32 = true;
        backends.cudnn.allow_tf32 = true;
        return true;
    }

    /// <summary>Waits for the device's queued work (CUDA kernels run asynchronously); a no-op on the CPU. Call it before
    /// reading a clock that should include that work.</summary>
    public static void Synchronize(Device device)
    {
        if (device.type == DeviceType.CUDA) cuda.synchronize(device);
    }

    /// <summary>Moves a CPU batch tensor to <paramref name="device"/>: on CUDA from pinned memory without blocking the host
    /// (the copy overlaps the work already queued); on the CPU it is the tensor itself.</summary>
    public static Tensor ToDevice(Tensor tensor, Device device) =>
        device.type == DeviceType.CPU ? tensor : tensor.pin_memory().to(device, non_blocking: true);
}
