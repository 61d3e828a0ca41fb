using LMHarness.Runs;
using static TorchSharp.torch;

namespace LMHarness.Training;

/// <summary>
/// Turns a run's state and clocks into metrics rows and its result: tokens per second of training time since the
/// previous row, MFU against the peak for the run's device and dtype, resident memory. The run's peak resident memory is
/// the kernel's high-water mark (<see cref="ResidentMemory.PeakMegabytes"/>, which no sampling misses), the largest
/// over its processes when resumed: one figure everywhere (the console, result.json, the reports).
/// A peak handed in by the config stays fixed; one from <see cref="PeakFlops"/> is raised when a measured figure is
/// below what the run achieves (<see cref="PeakFlops.Achieved"/>), so MFU never reads above 100 %.
/// On a GPU, gpu_mb is this process's memory on the device as the driver reports it (NVML), empty elsewhere; its largest
/// value is the run's device peak (what the caching allocator reserved; TorchSharp 0.107 exposes no allocator statistics).
/// </summary>
sealed class RunMeter
{
    readonly double _flopsPerToken;
    readonly ScalarType? _measuredDtype;
    double _peakFlops;
    readonly long _startStep, _startTokens;
    readonly double _startTrain;
    readonly Device _device;
    long _lastTokens;
    double _lastTrain, _knownPeakRss;
    double? _peakGpu;

    /// <summary>A meter from the run's start; <paramref name="peakFlops"/> is the configured peak (fixed), or null to use
    /// <see cref="PeakFlops"/> for <paramref name="device"/> and <paramref name="dtype"/>.
    /// <paramref name="priorPeakRss"/> is what the run's peak is known to be at least: the peak of its earlier processes,
    /// or the resident memory at its start; <paramref name="priorPeakGpu"/> the earlier processes' device peak (null for a new run).</summary>
    public RunMeter(double flopsPerToken, double? peakFlops, ScalarType dtype, double priorPeakRss, double? priorPeakGpu, RunState start, RunClock clock, Device device)
    {
        _device = device;
        _measuredDtype = peakFlops is null ? dtype : null;
        peakFlops ??= PeakFlops.For(device, dtype);
        (_flopsPerToken, _peakFlops, _knownPeakRss, _peakGpu) = (flopsPerToken, peakFlops.Value, priorPeakRss, priorPeakGpu);
        (_startStep, _startTokens, _startTrain) = (start.Step, start.Tokens, clock.TrainSeconds);
        (_lastTokens, _lastTrain) = (_startTokens, _startTrain);
    }

    /// <summary>
    /// The run's resident-memory peak so far: this process's high-water mark, or what the run is known to have reached (an
    /// earlier process's peak, the start, a sample), whichever is larger. The mark is per process: another run in the same
    /// process (a parallel test, a notebook) may reset it to a lower resident size than this run has seen.
    /// </summary>
    public double PeakRssMb => Math.Max(_knownPeakRss, ResidentMemory.PeakMegabytes());

    /// <summary>The largest device memory sampled so far (null without a GPU).</summary>
    public double? PeakGpuMb => _peakGpu;

    public MetricsRow Row(RunState state, RunClock clock, Evaluation? evaluation, double trainLoss, double gradNorm, double lr)
    {
        clock.Mark();
        var seconds = clock.TrainSeconds - _lastTrain;
        var tokensPerS = state.Tokens > _lastTokens && seconds > 0 ? (state.Tokens - _lastTokens) / seconds : 0;
        (_lastTokens, _lastTrain) = (state.Tokens, clock.TrainSeconds);
        if (_measuredDtype is { } dtype && tokensPerS * _flopsPerToken > _peakFlops)
            _peakFlops = PeakFlops.Achieved(_device, dtype, tokensPerS * _flopsPerToken);
        var gpuMb = GpuInfo.Default.Memory(_device) is { } gpu ? gpu.ProcessMb ?? gpu.UsedMb : (double?)null;
        if (gpuMb is { } g) _peakGpu = Math.Max(_peakGpu ?? 0, g);
        return new MetricsRow(state.Step, state.Tokens, trainLoss, evaluation?.ValLoss, evaluation?.TrainLoss, evaluation?.ValBpb, lr, gradNorm,
            tokensPerS, tokensPerS * _flopsPerToken / _peakFlops, clock.ElapsedSeconds, clock.TrainSeconds, clock.EvalSeconds,
            Sampled(ResidentMemory.Megabytes()), gpuMb);
    }

    double Sampled(double rssMb)
    {
        _knownPeakRss = Math.Max(_knownPeakRss, rssMb);
        return rssMb;
    }

    public RunResult Result(RunFolder folder, RunState state, RunClock clock, long totalSteps, long parameters)
    {
        clock.Mark();
        var steps = state.Step - _startStep;
        var train = clock.TrainSeconds - _startTrain;
        var last = state.LastEvaluation;
        return new RunResult(folder.Path, state.Step, totalSteps, state.Tokens, state.TrainLoss, last?.ValLoss, last?.TrainLoss, state.BestValLoss,
            last?.ValBpb, clock.ElapsedSeconds, clock.TrainSeconds, clock.EvalSeconds, train > 0 ? (state.Tokens - _startTokens) / train : 0,
            steps > 0 ? train * 1000 / steps : 0, parameters, PeakRssMb, Interrupted: state.Step < totalSteps, PeakGpuMb);
    }
}
