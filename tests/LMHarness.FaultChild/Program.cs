using LMHarness.Config;
using LMHarness.Data;
using LMHarness.Native;
using LMHarness.Training;

// dotnet LMHarness.FaultChild.dll prepare TEXT TOKENS   -- char token file of TEXT (one thread: the ids are written
//                                                          in several waves, so a kill can land between them)
// dotnet LMHarness.FaultChild.dll train TOKENS RUNDIR   -- trains (or resumes) the fixed run below; prints one line per
//                                                          step, and "done" when the run is complete
// dotnet LMHarness.FaultChild.dll load CASES             -- loads each model CASES lists and reports what it cost
//                                                          (LoadProbe), for the loaders' memory tests
NativeLoader.EnsureLoaded();
switch (args)
{
    case ["prepare", var text, var tokens]:
        var info = Preparer.Prepare(new TextFileSource(text), "char", tokens, new PrepareOptions { ValFraction = 0.1, Threads = 1, Progress = null });
        Console.WriteLine($"prepared {info.TokenCount} tokens");
        return 0;
    case ["train", var tokens, var runDir]:
        var result = Trainer.Run(FaultRun.Model, FaultRun.Training, tokens, runDir);
        Console.WriteLine($"done {result.Steps}");
        return 0;
    case ["load", var cases]:
        return LoadProbe.Run(cases);
    default:
        Console.Error.WriteLine("usage: LMHarness.FaultChild prepare TEXT TOKENS | train TOKENS RUNDIR | load CASES");
        return 2;
}

/// <summary>
/// The run the suite kills: ~0.4 M parameters, so a checkpoint (weights and both AdamW moments, ~5 MB) takes long
/// enough to write that a kill can be aimed into it; one thread and a fixed peak FLOP/s, so every resumed step computes
/// exactly what the uninterrupted run does and no start-up measurement runs; 24 steps, a checkpoint every 3, the 2
/// newest kept.
/// </summary>
static class FaultRun
{
    public static ModelConfig Model => new()
    {
        VocabSize = 65, ContextLength = 32, NLayer = 2, DModel = 128, NHead = 4, NKvHead = 4, FfnHidden = 512,
        Dropout = 0.1, // dropout draws from torch's generator: a resume must restore it
    };

    public static TrainingConfig Training => new()
    {
        LearningRate = 3e-3, MinLearningRate = 3e-4, WarmupSteps = 4, MaxSteps = 24, MicroBatch = 2, GradAccumulation = 2,
        ContextLength = 16, EvalInterval = 8, EvalBatches = 2, LogInterval = 1, GradFlowInterval = 6, CheckpointInterval = 3,
        KeepCheckpoints = 2, Seed = 7, Threads = 1, Device = "cpu", PeakFlops = 1e11,
    };
}
