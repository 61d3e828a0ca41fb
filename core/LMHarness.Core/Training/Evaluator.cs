using LMHarness.Config;
using LMHarness.Model;
using LMHarness.Tokenizers;
using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Training;

/// <summary>The losses of one evaluation: validation, the train-split estimate, and validation in bits per byte when
/// the data knows its tokens' byte lengths.</summary>
public sealed record Evaluation(double TrainLoss, double ValLoss, double? ValBpb);

/// <summary>
/// Evaluation as nanoGPT's estimate_loss does it: the mean next-token loss over eval_batches batches of the train split
/// (the train_eval_loss column), then over eval_batches batches of the validation split (this order: a replayed random
/// stream depends on it), in eval mode (no dropout) and without autograd. On the validation batches it also scores bits
/// per byte (<see cref="TokenBytes"/>: Σ nats / (ln 2 · Σ UTF-8 bytes) over the targets that stand for text, the
/// val_bpb column), when the data's tokenizer is known and can be rebuilt. The loss takes the training's path
/// (<see cref="NextTokenLoss"/>: fused with the head, or through the full logits).
/// </summary>
public sealed class Evaluator(IBatchSource data, TrainingConfig training, Device device)
{
    readonly TokenBytes? _bytes = TokenBytes.For(data.Tokenizer);

    public Evaluation Run(nn.Module<Tensor, Tensor> model)
    {
        model.eval();
        try
        {
            using var _ = torch.no_grad();
            var (train, _) = MeanLoss(model, data.TrainSample(training.EvalBatches), "train", bytes: false);
            var (val, bpb) = MeanLoss(model, data.Validation(training.EvalBatches), "validation", bytes: _bytes is not null);
            return new Evaluation(train, val, bpb);
        }
        finally { model.train(); }
    }

    (double Loss, double? Bpb) MeanLoss(nn.Module<Tensor, Tensor> model, IEnumerable<(Tensor X, Tensor Y)> batches, string split, bool bytes)
    {
        using var scope = torch.NewDisposeScope();
        var sum = torch.zeros([], ScalarType.Float64, device: device);
        var table = bytes ? _bytes!.Table(device) : null;
        var textNats = torch.zeros([], ScalarType.Float64, device: device);
        var textBytes = torch.zeros([], ScalarType.Int64, device: device);
        var n = 0;
        foreach (var (x, y) in batches)
        {
            using var batch = torch.NewDisposeScope(); // logits of a batch can be large: free them before the next
            var targets = Devices.ToDevice(y, device);
            var (mean, perPosition) = NextTokenLoss.Evaluate(model, Devices.ToDevice(x, device), targets, training.FusedLoss, perPosition: table is not null);
            sum.add_(mean.to(ScalarType.Float64));
            if (table is not null)
            {
                var (nats, count) = TokenBytes.Sums(perPosition!, targets, table);
                textNats.add_(nats);
                textBytes.add_(count);
            }
            n++;
        }
        if (n == 0) throw new InvalidOperationException($"The {split} split yields no batches: give the token file a {split} split at least context_length + 1 tokens long.");
        // One read per split, not one per batch; no bpb when no target stood for text (nothing to divide by).
        var loss = sum.item<double>() / n;
        var scored = table is null ? 0 : textBytes.item<long>();
        return (loss, scored > 0 ? TokenBytes.BitsPerByte(textNats.item<double>(), scored) : null);
    }
}
