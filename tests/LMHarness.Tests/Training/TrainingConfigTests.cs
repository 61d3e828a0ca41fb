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
    public void Per_group_learning_rates_round_trip_default_to_learning_rate_and_are_validated()
    {
        var c = new TrainingConfig { LearningRate = 1e-3, EmbeddingLearningRate = 0.05, HeadLearningRate = 2e-3, ScalarLearningRate = 0.01 };
        var json = c.ToJson();
        json.Should().Contain("\"embedding_learning_rate\": 0.05").And.Contain("\"head_learning_rate\"").And.Contain("\"matrix_learning_rate\": 0")
            .And.Contain("\"scalar_learning_rate\"");
        TrainingConfig.FromJson(json).Should().Be(c);
        LMHarness.Training.Optimizers.GroupLearningRates.Of(c).Should().Be(new LMHarness.Training.Optimizers.GroupLearningRates(0.05, 2e-3, 1e-3, 0.01));
        LMHarness.Training.Optimizers.GroupLearningRates.Of(new TrainingConfig { LearningRate = 3e-3 }).Should().Be(LMHarness.Training.Optimizers.GroupLearningRates.Uniform(3e-3));

        var negative = () => new TrainingConfig { ScalarLearningRate = -0.1 }.Validated();
        negative.Should().Throw<ArgumentException>().WithMessage("*scalar_learning_rate must be >= 0 (0 = learning_rate; got -0.1)*");
        var muonMatrix = () => new TrainingConfig { Optimizer = OptimizerKind.Muon, MatrixLearningRate = 0.01 }.Validated();
        muonMatrix.Should().Throw<ArgumentException>().WithMessage("*matrix_learning_rate (0.01) does not apply with optimizer muon*muon_learning_rate*");
        new TrainingConfig { Optimizer = OptimizerKind.AdamW, MatrixLearningRate = 0.01 }.Validated().MatrixLearningRate.Should().Be(0.01);
    }

    [Fact]
    public void Warmup_longer_than_run_is_refused()
    {
        var act = () => new TrainingConfig { MaxSteps = 50, WarmupSteps = 100 }.Validated();
        act.Should().Throw<ArgumentException>().WithMessage("*warmup_steps (100) must be shorter than the run (50 steps)*");
    }

    [Fact]
    public void Fused_loss_is_a_snake_case_knob_that_configs_predating_it_read_as_auto_and_that_is_part_of_the_substance()
    {
        var c = new TrainingConfig { FusedLoss = FusedLossMode.Off };
        c.ToJson().Should().Contain("\"fused_loss\": \"off\"");
        TrainingConfig.FromJson(c.ToJson()).Should().Be(c);
        new TrainingConfig().ToJson().Should().Contain("\"fused_loss\": \"auto\"");
        TrainingConfig.FromJson("{\"fused_loss\": \"on\"}").FusedLoss.Should().Be(FusedLossMode.On);
        TrainingConfig.FromJson("{\"micro_batch\": 4}").FusedLoss.Should().Be(FusedLossMode.Auto, "a config.json written before the knob");
        c.Substance.Should().NotBe(new TrainingConfig().Substance, "the fused loss rounds differently, so it is part of what a run computes");
    }
}
