using LMHarness.Runs;
using static TorchSharp.torch;

namespace LMHarness.Training;

/// <summary>
/// Turns a run's state and clocks into metrics rows and its result: tokens per second of training time since the
/// previous row, MFU against the peak for the run's device and dtype, resident memory. The peak resident memory of a
/// run is the largest rss_mb in its metrics.csv: one figure everywhere (the console, result.json, the reports).
/// On a GPU, gpu_mb is this process's memory on the device as the driver reports it (NVML), empty elsewhere.
/// </summary>
sealed class RunMeter
{
    readonly double _flopsPerToken, _peakFlops;
    readonly long _startStep, _startTokens;
    readonly double _startTrain;
    readonly Device _device;
    long _lastTokens;
    double _lastTrain, _peakRss;

    public RunMeter(double flopsPerToken, double peakFlops, double priorPeakRss, RunState start, RunClock clock, Device device)
    {
        _device = device;
        (_flopsPerToken, _peakFlops, _peakRss) = (flopsPerToken, peakFlops, priorPeakRss);
        (_startStep, _startTokens, _startTrain) = (start.Step, start.Tokens, clock.TrainSeconds);
        (_lastTokens, _lastTrain) = (_startTokens, _startTrain);
    }

    public MetricsRow Row(RunState state, RunClock clock, Evaluation? evaluation, double trainLoss, double gradNorm, double lr)
    {
        clock.Mark();
        var seconds = clock.TrainSeconds - _lastTrain;
        var tokensPerS = state.Tokens > _lastTokens && seconds > 0 ? (state.Tokens - _lastTokens) / seconds : 0;
        (_lastTokens, _lastTrain) = (state.Tokens, clock.TrainSeconds);
        var rss = ResidentMemory.Megabytes();
        _peakRss = Math.Max(_peakRss, rss);
        return new MetricsRow(state.Step, state.Tokens, trainLoss, evaluation?.ValLoss, evaluation?.TrainLoss, evaluation?.ValBpb, lr, gradNorm,
            tokensPerS, tokensPerS * _flopsPerToken / _peakFlops, clock.ElapsedSeconds, clock.TrainSeconds, clock.EvalSeconds, rss,
            GpuInfo.Default.Memory(_device) is { } gpu ? gpu.ProcessMb ?? gpu.UsedMb : null);
    }

    public RunResult Result(RunFolder folder, RunState state, RunClock clock, long totalSteps, long parameters)
    {
        clock.Mark();
        var steps = state.Step - _startStep;
        var train = clock.TrainSeconds - _startTrain;
        var last = state.LastEvaluation;
        return new RunResult(folder.Path, state.Step, totalSteps, state.Tokens, state.TrainLoss, last?.ValLoss, last?.TrainLoss, state.BestValLoss,
            last?.ValBpb, clock.ElapsedSeconds, clock.TrainSeconds, clock.EvalSeconds, train > 0 ? (state.Tokens - _startTokens) / train : 0,
            steps > 0 ? train * 1000 / steps : 0, parameters, _peakRss, Interrupted: state.Step < totalSteps);
    }
}
