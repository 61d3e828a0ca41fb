using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness;

/// <summary>Where tensors live by default: CUDA when libtorch sees a GPU, else the CPU; <c>LMHARNESS_DEVICE</c> overrides.</summary>
public static class Devices
{
    /// <summary>Environment variable naming the device (<c>cpu</c>, <c>cuda</c>, <c>cuda:1</c>, ...).</summary>
    public const string EnvironmentVariable = "LMHARNESS_DEVICE";

    /// <summary>The device named by <c>LMHARNESS_DEVICE</c> when set, else cuda when available, else cpu.</summary>
    public static Device Default() => Resolve(Environment.GetEnvironmentVariable(EnvironmentVariable));

    /// <summary>Parses a device name; null or empty means "best available". Asking for CUDA without a GPU is an error.</summary>
    public static Device Resolve(string? name)
    {
        if (string.IsNullOrWhiteSpace(name))
            return cuda.is_available() ? CUDA : CPU;
        Device device;
        try { device = new Device(name.Trim()); }
        catch (Exception e)
        {
            throw new ArgumentException($"{EnvironmentVariable}='{name}' is not a device: use cpu, cuda or cuda:N", e);
        }
        if (device.type == DeviceType.CUDA && !cuda.is_available())
            throw new ArgumentException($"{EnvironmentVariable}='{name}' asks for CUDA but no GPU is visible to libtorch (this build uses the " +
                                        "CPU backend unless built with -p:TorchBackend=cuda): unset it or set it to cpu");
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
}
