using LMHarness.Experiments;
using LMHarness.Tests.Training;

namespace LMHarness.Tests.Gpu;

/// <summary>The GPU smoke check's CPU path (scripts/gpu_smoke.sh --device cpu runs the same code through the bench).</summary>
[Collection(nameof(GlobalTorchState))]
public class GpuSmokeTests
{
    [Fact]
    public void On_the_cpu_both_runs_agree_exactly_and_the_report_has_every_figure()
    {
        using var dir = new TempDir();
        var report = GpuSmoke.Run(new GpuSmokeOptions
        {
            Device = "cpu", Steps = 4, WorkDir = dir.Path, TokenFile = TrainingFixtures.TokenFile(dir.Path),
            Model = TrainingFixtures.TinyModel with { RecomputeActivations = true }, MicroBatch = 4, ContextLength = 8,
        });
        report.Passed.Should().BeTrue(report.ToString());
        report.FirstLossDifference.Should().Be(0, "the same device, seed and batches give the same losses");
        report.TailLossDifference.Should().Be(0);
        report.FirstLossDevice.Should().BeInRange(2.5, 4.5, "an untrained model over 32 ids: about ln 32 = 3.47");
        report.TokensPerSecond.Should().BeGreaterThan(0);
        report.Mfu.Should().BeGreaterThan(0);
        report.Memory.Should().BeNull("a CPU has no driver-reported GPU memory");
        report.ToString().Should().Contain("GPU memory      n/a").And.EndWith("GPU SMOKE OK");
    }

    [Fact]
    public void Losses_outside_the_tolerance_fail_the_check()
    {
        var report = new GpuSmokeReport("cuda:0", "NVIDIA H100 80GB HBM3", 4.17, 4.17, 2.30, 2.50, 1e6, 0.3, "datasheet", null, 0.03);
        report.Passed.Should().BeFalse();
        report.ToString().Should().Contain("difference 8.00 %").And.Contain("GPU SMOKE FAILED");
        (report with { TailLossDevice = double.NaN, TailLossCpu = 2.5 }).Passed.Should().BeFalse();
        (report with { TailLossDevice = 2.46 }).Passed.Should().BeTrue();
    }
}
