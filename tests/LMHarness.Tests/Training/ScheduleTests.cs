using LMHarness.Training;
using LMHarness.Training.Schedules;
using LMHarness.Config;

namespace LMHarness.Tests.Training;

public class ScheduleTests
{
    static LearningRateSchedule S(ScheduleKind k, int total = 2000, int warmup = 100, double frac = 0.2) =>
        new(k, 1e-3, 1e-4, warmup, total, frac);

    [Theory]
    [InlineData(0, 1e-3 * 1 / 101)]
    [InlineData(99, 1e-3 * 100 / 101)]
    [InlineData(100, 1e-3)]
    [InlineData(1050, 5.5e-4)]          // half-way through the decay: (1 + cos(pi/2)) / 2 = 1/2
    [InlineData(575, 1e-4 + 9e-4 * 0.8535533905932737)] // quarter-way: (1 + cos(pi/4)) / 2
    [InlineData(2000, 1e-4)]
    [InlineData(5000, 1e-4)]            // past the end stays at min_lr
    public void Cosine_values_at_chosen_steps(long step, double expected) =>
        S(ScheduleKind.Cosine).At(step).Should().BeApproximately(expected, 1e-15);

    [Theory]
    [InlineData(50, 1e-3 * 51 / 101)]
    [InlineData(100, 1e-3)]
    [InlineData(1050, 5.5e-4)]
    [InlineData(1525, 1e-3 - 9e-4 * 0.75)]
    [InlineData(2000, 1e-4)]
    public void Linear_values_at_chosen_steps(long step, double expected) =>
        S(ScheduleKind.Linear).At(step).Should().BeApproximately(expected, 1e-15);

    [Theory]
    [InlineData(9, 1e-3 * 10 / 11)]
    [InlineData(10, 1e-3)]
    [InlineData(799, 1e-3)]
    [InlineData(800, 1e-3)]
    [InlineData(900, 5.5e-4)]
    [InlineData(1000, 1e-4)]
    public void Warmup_stable_decay_values_at_chosen_steps(long step, double expected) =>
        S(ScheduleKind.WarmupStableDecay, total: 1000, warmup: 10).At(step).Should().BeApproximately(expected, 1e-15);

    [Fact]
    public void Constant_is_peak_after_warmup()
    {
        var s = S(ScheduleKind.Constant);
        s.At(0).Should().BeApproximately(1e-3 / 101, 1e-15);
        s.At(100).Should().Be(1e-3);
        s.At(1_000_000).Should().Be(1e-3);
        s.Factor(1_000_000).Should().Be(1.0);
    }

    [Fact]
    public void Schedule_from_config_uses_token_budget_for_length()
    {
        var c = new TrainingConfig { MicroBatch = 2, ContextLength = 8, GradAccumulation = 2, MaxTokens = 3200, WarmupSteps = 10 }.Validated();
        c.TotalSteps.Should().Be(100);
        LearningRateSchedule.For(c).At(100).Should().BeApproximately(c.MinLearningRate, 1e-15);
        LearningRateSchedule.For(c).At(55).Should().BeApproximately((c.LearningRate + c.MinLearningRate) / 2, 1e-15);
    }
}
