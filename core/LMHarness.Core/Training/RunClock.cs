using System.Diagnostics;
using static TorchSharp.torch;

namespace LMHarness.Training;

/// <summary>
/// A run's clocks, summed over resumes: wall time since the run started (elapsed_s), and the parts of it spent in
/// training steps (train_s) and in evaluation (eval_s); checkpoint writes count in neither. Time is attributed at
/// boundaries only (an evaluation, a checkpoint, a logged row), each preceded by a device synchronisation, so on a
/// GPU the queued kernels are counted where they ran and no step waits for the host.
/// </summary>
public sealed class RunClock
{
    readonly Stopwatch _wall = Stopwatch.StartNew();
    readonly Device _device;
    readonly double _priorElapsed;
    double _train, _eval, _mark;

    public RunClock(double priorElapsed, double priorTrain, double priorEval, Device device)
    {
        (_priorElapsed, _train, _eval, _device) = (priorElapsed, priorTrain, priorEval, device);
    }

    public double ElapsedSeconds => _priorElapsed + _wall.Elapsed.TotalSeconds;
    public double TrainSeconds => _train;
    public double EvalSeconds => _eval;

    /// <summary>
    /// Starts attributing from now: the time since the clock was made (setting up the meter, whose MFU peak may be
    /// measured by a matmul benchmark on the CPU, opening the loggers) is setup, in elapsed_s only, so train_s counts
    /// training steps and not the seconds before the first one.
    /// </summary>
    public void Start() => _mark = _wall.Elapsed.TotalSeconds;

    /// <summary>Counts the time since the last boundary as training time.</summary>
    public void Mark()
    {
        Devices.Synchronize(_device);
        var now = _wall.Elapsed.TotalSeconds;
        _train += now - _mark;
        _mark = now;
    }

    /// <summary>Runs an evaluation, counting its time as evaluation time.</summary>
    public T Evaluate<T>(Func<T> evaluate)
    {
        Mark();
        var result = evaluate();
        Devices.Synchronize(_device);
        var now = _wall.Elapsed.TotalSeconds;
        _eval += now - _mark;
        _mark = now;
        return result;
    }

    /// <summary>Runs work that is neither training nor evaluation (a checkpoint write).</summary>
    public void Exclude(Action work)
    {
        Mark();
        work();
        _mark = _wall.Elapsed.TotalSeconds;
    }
}
