using System.Diagnostics;
using LMHarness.Tests.Scripting;
using LMHarness.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Tests.Gpu;

/// <summary>GPU name, memory, peak FLOP/s and TF32: what runs without a GPU, plus the driver bindings against a fake driver.</summary>
[Collection(nameof(GlobalTorchState))]
public class GpuTests
{
    static readonly Device Cuda0 = new(DeviceType.CUDA, 0), Cuda1 = new(DeviceType.CUDA, 1);

    [Fact]
    public void Without_the_nvidia_driver_name_and_memory_are_null_not_errors()
    {
        var missing = new GpuInfo("libcuda-not-here.so.1", "libnvidia-ml-not-here.so.1");
        missing.Available.Should().BeFalse();
        missing.Name(Cuda0).Should().BeNull();
        missing.Memory(Cuda0).Should().BeNull();
        if (!File.Exists("/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1"))
            GpuInfo.Default.Memory(Cuda0).Should().BeNull("this machine has no NVIDIA driver");
        GpuInfo.Default.Memory(CPU).Should().BeNull("a CPU has no driver-reported memory");
    }

    /// <summary>
    /// The bindings against a C stand-in for libcuda + NVML (Gpu/fake_nvidia_driver.c): torch's ordinal goes through
    /// the PCI bus id to the right NVML device (ordinal 0 is not NVML's first device there), names and memory
    /// come back, and this process's share is found in a process list longer than the first buffer.
    /// </summary>
    [Fact]
    public void Driver_bindings_map_torch_ordinals_through_the_pci_bus_id_and_read_name_memory_and_this_process()
    {
        using var dir = new TempDir();
        var so = dir.File("libfakenvidia.so");
        var source = Path.Combine(RepoPaths.Root, "tests/LMHarness.Tests/Gpu/fake_nvidia_driver.c");
        var gcc = Process.Start(new ProcessStartInfo("gcc", ["-shared", "-fPIC", "-O1", "-o", so, source]) { RedirectStandardError = true })!;
        var err = gcc.StandardError.ReadToEnd();
        gcc.WaitForExit();
        gcc.ExitCode.Should().Be(0, $"gcc builds the fake driver (apt-get install gcc): {err}");

        var info = new GpuInfo(so, so);
        info.Available.Should().BeTrue();
        info.Name(Cuda0).Should().Be("NVIDIA H100 80GB HBM3");
        info.Name(Cuda1).Should().Be("NVIDIA L4");
        info.Name(new Device(DeviceType.CUDA, 2)).Should().BeNull("no such ordinal");
        info.Memory(Cuda0).Should().Be(new GpuMemory(85520809984, 3221225472, 2147483648));
        info.Memory(Cuda0)!.ProcessMb.Should().Be(2048);
        info.Memory(Cuda1).Should().Be(new GpuMemory(24152899584, 536870912, 0));
        info.Name(CPU).Should().BeNull();
    }

    [Theory]
    [InlineData("NVIDIA H100 80GB HBM3", ScalarType.BFloat16, false, 989e12, "H100/H200 SXM")]
    [InlineData("NVIDIA H100 80GB HBM3", ScalarType.Float32, true, 495e12, "TF32")]
    [InlineData("NVIDIA H100 80GB HBM3", ScalarType.Float32, false, 67e12, "fp32")]
    [InlineData("NVIDIA H200", ScalarType.BFloat16, false, 989e12, "H100/H200 SXM")]
    [InlineData("NVIDIA GH200 480GB", ScalarType.BFloat16, false, 989e12, "H100/H200 SXM")]
    [InlineData("NVIDIA H100 PCIe", ScalarType.BFloat16, false, 756e12, "H100 PCIe")]
    [InlineData("NVIDIA H100 NVL", ScalarType.BFloat16, false, 835e12, "NVL")]
    [InlineData("NVIDIA H200 NVL", ScalarType.Float32, true, 418e12, "NVL")]
    [InlineData("NVIDIA A100-SXM4-80GB", ScalarType.BFloat16, false, 312e12, "A100")]
    [InlineData("NVIDIA A100 80GB PCIe", ScalarType.Float32, true, 156e12, "A100")]
    [InlineData("NVIDIA A10", ScalarType.BFloat16, false, 125e12, "A10")]
    [InlineData("NVIDIA L4", ScalarType.BFloat16, false, 121e12, "L4")]
    [InlineData("NVIDIA L40S", ScalarType.BFloat16, false, 362e12, "L40S")]
    [InlineData("NVIDIA GeForce RTX 4090", ScalarType.Float16, false, 165e12, "4090")]
    [InlineData("NVIDIA GeForce RTX 3090", ScalarType.BFloat16, false, 71e12, "3090")]
    public void Datasheet_peaks_by_driver_name(string name, ScalarType dtype, bool tf32, double flops, string source)
    {
        var peak = PeakFlops.FromDatasheet(name, dtype, tf32)!;
        peak.FlopsPerSecond.Should().Be(flops);
        peak.Source.Should().Contain(source).And.StartWith("datasheet");
    }

    [Theory]
    [InlineData("NVIDIA A10G")]        // AWS part with its own clocks: measured, not guessed from the A10
    [InlineData("NVIDIA L40")]         // not the L40S
    [InlineData("Tesla V100-SXM2-16GB")]
    [InlineData("NVIDIA B200")]
    public void Gpus_not_in_the_table_fall_back_to_measuring(string name) =>
        PeakFlops.FromDatasheet(name, ScalarType.BFloat16, tf32: false).Should().BeNull();

    /// <summary>
    /// bf16 runs divide by a bf16 peak. The probe used to call item&lt;float&gt;() on a bf16 sum and throw, so a bf16 run
    /// without peak_flops failed before its first step (issue 11 item 5).
    /// </summary>
    /// <summary>
    /// A probe taken while other processes held the cores reads low, and a run then reported MFU above 100 % (118 % seen
    /// on this box under load): a measured peak below what a run achieved is raised to it, for the rest of the process.
    /// fp64 keeps the other tests' fp32/bf16 figures untouched.
    /// </summary>
    [Fact]
    public void A_measured_peak_below_an_achieved_rate_is_raised_to_it()
    {
        var probe = PeakFlops.Estimate(CPU, ScalarType.Float64).FlopsPerSecond;
        PeakFlops.Achieved(CPU, ScalarType.Float64, probe / 2).Should().Be(probe, "a rate under the peak changes nothing");
        PeakFlops.Achieved(CPU, ScalarType.Float64, probe * 3).Should().Be(probe * 3);
        PeakFlops.For(CPU, ScalarType.Float64).Should().Be(probe * 3, "later runs in the process divide by the raised figure");
        PeakFlops.Estimate(CPU, ScalarType.Float64).Source.Should().EndWith(", raised to a run's achieved rate");
    }

    [Fact]
    public void The_cpu_probe_measures_fp32_and_bf16_in_their_own_dtype()
    {
        var fp32 = PeakFlops.Estimate(CPU, ScalarType.Float32);
        var bf16 = PeakFlops.Estimate(CPU, ScalarType.BFloat16);
        // A run earlier in this process may have raised the figure (see the next test): the source then says so after this.
        fp32.Source.Should().StartWith("measured: 2048^3 fp32 matmul on the CPU");
        bf16.Source.Should().StartWith("measured: 2048^3 bf16 matmul on the CPU");
        fp32.FlopsPerSecond.Should().BeInRange(1e9, 1e14);
        bf16.FlopsPerSecond.Should().BeInRange(1e9, 1e14);
        PeakFlops.For(CPU, ScalarType.BFloat16).Should().Be(bf16.FlopsPerSecond, "measured once per process");
        Console.WriteLine($"CPU peak: fp32 {fp32.FlopsPerSecond / 1e9:F0} GFLOP/s, bf16 {bf16.FlopsPerSecond / 1e9:F0} GFLOP/s");
    }

    [Fact]
    public void The_probe_draws_nothing_from_the_random_stream()
    {
        manual_seed(8);
        using var expected = rand(4, device: CPU);
        manual_seed(8);
        PeakFlops.Measure(CPU, ScalarType.Float32, n: 256, repeats: 1, minSeconds: 0);
        using var actual = rand(4, device: CPU);
        actual.allclose(expected, rtol: 0, atol: 0).Should().BeTrue();
    }

    [Fact]
    public void Tf32_is_switched_on_for_cuda_devices_only()
    {
        var (matmul, cudnn) = (backends.cuda.matmul.allow_tf32, backends.cudnn.allow_tf32);
        try
        {
            backends.cuda.matmul.allow_tf32 = false;
            backends.cudnn.allow_tf32 = false;
            Devices.EnableTf32(CPU).Should().BeFalse();
            backends.cuda.matmul.allow_tf32.Should().BeFalse();
            Devices.EnableTf32(Cuda0).Should().BeTrue();
            backends.cuda.matmul.allow_tf32.Should().BeTrue();
            backends.cudnn.allow_tf32.Should().BeTrue();
        }
        finally
        {
            backends.cuda.matmul.allow_tf32 = matmul;
            backends.cudnn.allow_tf32 = cudnn;
        }
    }
}
