using LMHarness.Tests.Memory;
using LMHarness.Training;

namespace LMHarness.Tests.Training;

/// <summary>
/// Issue 27, item 3: the batch and context knobs and the model's size against the memory plan. A CPU run whose plan (or
/// whose weights alone) exceed what the process may still take is refused with the figure before the model is built and
/// before the run folder's config.json is written.
/// </summary>
[Collection(nameof(GlobalTorchState))]
public class RunMemoryTests
{
    [Fact]
    public void A_cpu_run_whose_memory_plan_exceeds_the_stated_limit_is_refused_with_the_figure_before_the_model_is_built()
    {
        using var dir = new TempDir();
        var tokens = TrainingFixtures.TokenFile(dir.Path);
        var run = dir.File("run");
        long live = LiveTensors.Count;
        using (new StatedMemoryLimit(16))   // the plan's CPU warm-up alone is 80 MB
        {
            var act = () => Trainer.Run(TrainingFixtures.TinyModel, TrainingFixtures.TinyTraining, tokens, run);
            act.Should().Throw<InsufficientMemoryException>().WithMessage(
                $"Training {run} needs * MB (the memory plan's peak less the * MB already resident; planned * MB = *) but this process may use only 16 MB more ({MachineMemory.LimitVariable}=16): lower micro_batch or context_length*");
        }
        LiveTensors.Count.Should().Be(live, "nothing was built");
        File.Exists(Path.Combine(run, "config.json")).Should().BeFalse();
        Trainer.Run(TrainingFixtures.TinyModel, TrainingFixtures.TinyTraining with { MaxSteps = 1, WarmupSteps = 0, EvalBatches = 1 }, tokens, run).Steps.Should().Be(1, "without the limit it trains");
    }

    [Fact]
    public void A_config_whose_weights_overflow_the_plans_arithmetic_is_refused_by_its_weights_alone()
    {
        // d_model 2^30: one d x d matrix is 2^60 parameters, so the plan's long counts wrap; the weights alone, counted
        // in doubles, are 4 x ~1e20 bytes.
        using var dir = new TempDir();
        var huge = TrainingFixtures.TinyModel with { DModel = 1 << 30, NHead = 1 << 10, NKvHead = 1 << 10, FfnHidden = 1 << 30, NLayer = 8 };
        var act = () => Trainer.Run(huge, TrainingFixtures.TinyTraining, TrainingFixtures.TokenFile(dir.Path), dir.File("run"));
        act.Should().Throw<InsufficientMemoryException>().WithMessage("Training * needs *e+* bytes (the float32 weights alone of * parameters) but this process may use only *");
    }
}
