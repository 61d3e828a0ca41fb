using LMHarness.Config;
using LMHarness.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Training;

/// <summary>The losses of one evaluation: validation, the train-split estimate, and validation in bits per byte when
/// the data knows its tokens' byte lengths.</summary>
public sealed record Evaluation(double TrainLoss, double ValLoss, double? ValBpb);

/// <summary>
/// Evaluation as nanoGPT's estimate_loss does it: the mean next-token loss over eval_batches batches of the train split
/// (the train_eval_loss column), then over eval_batches batches of the validation split (this order: a replayed random
/// stream depends on it), in eval mode (no dropout) and without autograd.
/// </summary>
public sealed class Evaluator(IBatchSource data, TrainingConfig training, Device device)
{
    public Evaluation Run(nn.Module<Tensor, Tensor> model)
    {
        model.eval();
        try
        {
            using var _ = torch.no_grad();
            var train = MeanLoss(model, data.TrainSample(training.EvalBatches), "train");
            var val = MeanLoss(model, data.Validation(training.EvalBatches), "validation");
            return new Evaluation(train, val, null);
        }
        finally { model.train(); }
    }

    double MeanLoss(nn.Module<Tensor, Tensor> model, IEnumerable<(Tensor X, Tensor Y)> batches, string split)
    {
        using var scope = torch.NewDisposeScope();
        var sum = torch.zeros([], ScalarType.Float64, device: device);
        var n = 0;
        foreach (var (x, y) in batches)
        {
            using var batch = torch.NewDisposeScope(); // logits of a batch can be large: free them before the next
            sum.add_(LanguageModelLoss.Mean(model.forward(Devices.ToDevice(x, device)), Devices.ToDevice(y, device)).to(ScalarType.Float64));
            n++;
        }
        if (n == 0) throw new InvalidOperationException($"The {split} split yields no batches: give the token file a {split} split at least context_length + 1 tokens long.");
        return sum.item<double>() / n; // one read per split, not one per batch
    }
}
