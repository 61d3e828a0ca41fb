using LMHarness.Config;
using LMHarness.Corpora;
using LMHarness.Data;
using LMHarness.Replay;
using LMHarness.Runs;
using LMHarness.Training;

namespace LMHarness.Experiments;

/// <summary>A named model + training config (and the random stream it follows) that reproduces a published run.</summary>
public sealed record Recipe(string Name, ModelConfig Model, TrainingConfig Training, IRunStream Stream)
{
    public Recipe(string name, ModelConfig model, TrainingConfig training) : this(name, model, training, HarnessStream.Instance) { }
}

/// <summary>
/// Published small-scale runs. nanoGPT's CPU recipe (Karpathy, nanoGPT README, "I only have a macbook"):
/// character-level TinyShakespeare (65 chars, 90/10 split), 4 layers, 4 heads, d 128, context 64, batch 12,
/// AdamW lr 1e-3 with 100 warm-up steps and cosine decay to 1e-4 over 2000 steps, beta2 0.99, weight decay 0.1,
/// grad clip 1, dropout 0; nanoGPT reports validation loss 1.88 after 2000 iterations (its own run of that command
/// logs "step 2000: train loss 1.7648, val loss 1.8857": a 20-batch estimate at seed 1337).
/// <para><see cref="NanoGptCpuReplay"/> replays that run draw for draw (same initial weights, batches and evaluation
/// batches from torch's generator); <see cref="NanoGptCpu"/> trains the same recipe on the harness's own random
/// stream with the loss over the whole validation split, for comparing seeds and block choices.</para>
/// </summary>
public static class RunRecipes
{
    public static TrainingConfig NanoGptCpuTraining => new()
    {
        Optimizer = OptimizerKind.AdamW,
        LearningRate = 1e-3, MinLearningRate = 1e-4, WarmupSteps = 100, Schedule = ScheduleKind.Cosine,
        WeightDecay = 0.1, Beta1 = 0.9, Beta2 = 0.99, GradClip = 1.0,
        MicroBatch = 12, GradAccumulation = 1, ContextLength = 64, MaxSteps = 2000,
        // nanoGPT estimates val loss from 20 random batches; 200 fixed batches cover the whole val split (145 batches).
        EvalInterval = 250, EvalBatches = 200, LogInterval = 10, GradFlowInterval = 100, CheckpointInterval = 500,
        KeepCheckpoints = 2, Seed = 1337,
    };

    /// <summary>
    /// The training of a short comparison run (the recipes in experiments/): <paramref name="steps"/> AdamW steps of
    /// <paramref name="batch"/> x <paramref name="context"/> tokens, the learning rate warmed up linearly over the first
    /// 10 % and decayed by a cosine to a tenth of <paramref name="learningRate"/>; ten evaluations of 10 validation
    /// batches, a metrics row every 5 steps, gradient flow at the middle and the end, and a checkpoint only at the end
    /// (or on Ctrl-C). Variants change it with <c>with { ... }</c>.
    /// </summary>
    public static TrainingConfig ShortRun(int steps, double learningRate, int batch, int context) => new()
    {
        MaxSteps = steps, LearningRate = learningRate, MinLearningRate = learningRate / 10, WarmupSteps = steps / 10,
        MicroBatch = batch, ContextLength = context, EvalInterval = Math.Max(1, steps / 10), EvalBatches = 10,
        LogInterval = 5, GradFlowInterval = Math.Max(1, steps / 2), CheckpointInterval = 0,
    };

    /// <summary>GPT-2 blocks (GELU MLP, learned positions, LayerNorm): preset nanogpt-cpu with nanoGPT's training recipe.</summary>
    public static Recipe NanoGptCpu() => new("nanogpt-cpu", Presets.Get("nanogpt-cpu"), NanoGptCpuTraining);

    /// <summary>Llama blocks (RoPE, SwiGLU, RMSNorm, GQA) at nanogpt-cpu's parameter count, same training recipe.</summary>
    public static Recipe LlamaCpu() => new("llama-cpu", Presets.Get("llama-cpu"), NanoGptCpuTraining);

    /// <summary>
    /// nanoGPT's CPU run itself: preset nanogpt-cpu with replay nanogpt, so initial weights, every training batch and
    /// nanoGPT's 20-batch train/val estimates come from torch's generator in nanoGPT's order (seed 1337 gives nanoGPT's log).
    /// </summary>
    public static Recipe NanoGptCpuReplay() => new("nanogpt-cpu-replay", Presets.Get("nanogpt-cpu"),
        NanoGptCpuTraining with { EvalBatches = 20 }, NanoGptStream.Instance);

    public static Recipe Get(string name) => name switch
    {
        "nanogpt-cpu" => NanoGptCpu(),
        "nanogpt-cpu-replay" => NanoGptCpuReplay(),
        "llama-cpu" => LlamaCpu(),
        _ => throw new ArgumentException($"Unknown recipe '{name}': use one of {string.Join(", ", Names)}."),
    };

    public static IReadOnlyList<string> Names { get; } = ["nanogpt-cpu", "nanogpt-cpu-replay", "llama-cpu"];

    /// <summary>
    /// nanoGPT's shakespeare_char token file of <paramref name="textPath"/>: the sorted distinct characters as the
    /// vocabulary (65 for TinyShakespeare), the last 10 % of ids as the validation split (the data area's
    /// <see cref="Preparer"/>). Reuses an existing file made with the same tokenizer.
    /// </summary>
    public static string PrepareCharTokenFile(string textPath, string tokenFile)
    {
        if (!File.Exists(textPath)) throw new FileNotFoundException($"Text {textPath} not found: pass the path of tinyshakespeare.txt (env LMHARNESS_TINYSHAKESPEARE).", textPath);
        var source = TinyShakespeare.Source(textPath);
        if (File.Exists(tokenFile) && File.Exists(TokenFileInfo.SidecarPath(tokenFile)))
        {
            using var existing = TokenFile.Open(tokenFile, false);
            if (existing.Tokenizer.Matches(Preparer.CharTokenizerFor([new MixPart(source)]).Identity)) return tokenFile;
        }
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(tokenFile))!);
        Preparer.Prepare(source, "char", tokenFile, new PrepareOptions { ValFraction = 0.1, Progress = null });
        return tokenFile;
    }

    /// <summary>Runs <paramref name="recipe"/> on TinyShakespeare found by <see cref="TinyShakespeare.Locate"/>.</summary>
    public static RunResult Run(Recipe recipe, string runDir) => Run(recipe, TinyShakespeare.Locate(), runDir);

    /// <summary>Runs <paramref name="recipe"/> on the char-level tokenisation of <paramref name="textPath"/> into <paramref name="runDir"/>.</summary>
    public static RunResult Run(Recipe recipe, string textPath, string runDir)
    {
        var tokens = PrepareCharTokenFile(textPath, Path.Combine(runDir, "..", "shakespeare_char.bin"));
        return Trainer.Run(recipe.Model, recipe.Training, tokens, runDir, recipe.Stream);
    }
}
