using LMHarness.Training;
using LMHarness.Config;

namespace LMHarness.Tests.Training;

public class TrainingConfigTests
{
    [Fact]
    public void Json_round_trip_is_snake_case_and_equal()
    {
        var c = new TrainingConfig { Optimizer = OptimizerKind.Muon, Schedule = ScheduleKind.WarmupStableDecay, Dtype = TrainingDtype.Bf16, MaxTokens = 1_234_567, Seed = 7 };
        var json = c.ToJson();
        json.Should().Contain("\"min_learning_rate\"").And.Contain("\"warmup_stable_decay\"").And.Contain("\"bf16\"").And.Contain("\"muon\"");
        TrainingConfig.FromJson(json).Should().Be(c);
        new TrainingConfig { Optimizer = OptimizerKind.AdEMAMix }.ToJson().Should().Contain("\"optimizer\": \"ademamix\"");
        TrainingConfig.FromJson("{\"optimizer\": \"adamw\"}").Optimizer.Should().Be(OptimizerKind.AdamW);
    }

    [Fact]
    public void Validation_lists_every_problem_with_its_field()
    {
        var act = () => new TrainingConfig { LearningRate = -1, MicroBatch = 0, Beta2 = 1.0 }.Validated();
        act.Should().Throw<ArgumentException>()
            .WithMessage("*learning_rate must be > 0*")
            .WithMessage("*micro_batch must be > 0*")
            .WithMessage("*beta2 must be in [0, 1)*");
    }

    [Fact]
    public void Warmup_longer_than_run_is_refused()
    {
        var act = () => new TrainingConfig { MaxSteps = 50, WarmupSteps = 100 }.Validated();
        act.Should().Throw<ArgumentException>().WithMessage("*warmup_steps (100) must be shorter than the run (50 steps)*");
    }
}
