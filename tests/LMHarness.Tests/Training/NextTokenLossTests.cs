using LMHarness.Config;
using LMHarness.Model;
using LMHarness.Training;
using LMHarness.Training.Optimizers;
using static TorchSharp.torch;

namespace LMHarness.Tests.Training;

/// <summary>
/// The trainer's step and the evaluator take the fused loss where fused_loss says (<see cref="NextTokenLoss"/>), and get
/// what the logits path gets.
/// </summary>
[Collection(nameof(GlobalTorchState))]
public class NextTokenLossTests
{
    [Fact]
    public void Auto_fuses_a_causal_lm_whose_batch_logits_exceed_one_tile()
    {
        var gpt2Vocab = TrainingFixtures.TinyModel with { VocabSize = 50257 };
        using var small = new CausalLM(TrainingFixtures.TinyModel);
        using var large = new CausalLM(gpt2Vocab);
        using var batch = zeros([12, 64], ScalarType.Int64);   // nanogpt-cpu's micro-batch
        using var single = zeros([1, 64], ScalarType.Int64);

        NextTokenLoss.Fused(FusedLossMode.Auto, small, batch).Should().BeFalse("12 x 64 x 32 fp32 logits are 0.1 MB");
        NextTokenLoss.Fused(FusedLossMode.Auto, large, batch).Should().BeTrue("12 x 64 x 50257 fp32 logits are 147 MB");
        NextTokenLoss.Fused(FusedLossMode.Auto, large, single).Should().BeFalse("1 x 64 x 50257 fp32 logits are 12 MB: one tile");
        NextTokenLoss.Fused(FusedLossMode.On, small, single).Should().BeTrue();
        NextTokenLoss.Fused(FusedLossMode.Off, large, batch).Should().BeFalse();
        using var notCausal = nn.Linear(4, 4);
        NextTokenLoss.Fused(FusedLossMode.On, notCausal, batch).Should().BeFalse("only a CausalLM exposes its hidden states and head");
    }

    /// <summary>
    /// Two training steps (with gradient accumulation and clipping) and an evaluation with bits per byte, fused and not,
    /// from the same weights and batches: the same losses, gradient norms and evaluation, fp32 to 1e-5. bf16: the
    /// first step (same weights) to 1e-3 (measured 1.4e-4 in the norm), the second step and the evaluation to 2e-2:
    /// after a step the weights differ by bf16's rounding of the gradients (the second norm by 1.1e-2 here, where
    /// bf16 itself is 10 % from fp32's).
    /// </summary>
    [Theory]
    [InlineData(TrainingDtype.Fp32, 1e-5, 1e-5)]
    [InlineData(TrainingDtype.Bf16, 1e-3, 2e-2)]
    public void The_step_and_the_evaluator_get_on_the_fused_path_what_they_get_on_the_logits_path(TrainingDtype dtype, double first, double later)
    {
        using var dir = new TempDir();
        var tokens = TrainingFixtures.TokenFile(dir.Path);
        var model = TrainingFixtures.TinyModel with { Dropout = 0, LogitSoftcap = 3.0 };
        var results = new[] { FusedLossMode.Off, FusedLossMode.On }.Select(mode =>
        {
            var training = TrainingFixtures.TinyTraining with { Dtype = dtype, FusedLoss = mode };
            using var data = TokenFileBatches.Open(tokens, training);
            manual_seed(4);
            using var precision = PrecisionPolicy.Create(dtype, () => new CausalLM(model), CPU);
            using var optimizer = OptimizerFactory.Create(precision.Master, training);
            var step = new TrainStep(precision, optimizer, data, training, CPU);
            var steps = Enumerable.Range(1, 2).Select(i =>
            {
                var (loss, norm) = step.Run(1.0, i, null);
                using (loss) using (norm) return (Loss: loss.item<double>(), Norm: (double)norm.item<float>());
            }).ToList();
            return (steps, Eval: new Evaluator(data, training, CPU).Run(precision.Compute));
        }).ToList();
        var (plain, fused) = (results[0], results[1]);

        for (var i = 0; i < 2; i++)
        {
            var tolerance = i == 0 ? first : later;
            fused.steps[i].Loss.Should().BeApproximately(plain.steps[i].Loss, tolerance * plain.steps[i].Loss, $"step {i + 1}'s loss");
            fused.steps[i].Norm.Should().BeApproximately(plain.steps[i].Norm, tolerance * plain.steps[i].Norm, $"step {i + 1}'s gradient norm");
        }
        fused.Eval.ValLoss.Should().BeApproximately(plain.Eval.ValLoss, later * plain.Eval.ValLoss);
        fused.Eval.TrainLoss.Should().BeApproximately(plain.Eval.TrainLoss, later * plain.Eval.TrainLoss);
        plain.Eval.ValBpb.Should().NotBeNull("the char table gives every token's byte length");
        fused.Eval.ValBpb!.Value.Should().BeApproximately(plain.Eval.ValBpb!.Value, later * plain.Eval.ValBpb.Value);
    }
}
