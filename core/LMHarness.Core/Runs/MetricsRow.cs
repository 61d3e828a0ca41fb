using LMHarness.IO;

namespace LMHarness.Runs;

/// <summary>
/// One row of metrics.csv, written at every log, evaluation and final step. train_loss is that step's batch (at
/// step 0, before any update, the train-split estimate); val_loss and train_eval_loss are the validation loss and
/// the train-split estimate over eval_batches batches (nanoGPT's "train loss, val loss"), and val_bpb the
/// validation loss in bits per UTF-8 byte, all empty on rows without an evaluation; grad_norm is the global L2 norm
/// before clipping; tokens_per_s counts training tokens per second of training time since the previous row;
/// mfu = tokens_per_s x FLOPs per token / peak FLOP/s (PaLM, Chowdhery et al. 2022, appendix B); elapsed_s is wall
/// time since the run started (summed over resumes), train_s and eval_s the parts of it spent in training steps and
/// in evaluation; rss_mb the process's resident memory; gpu_mb its memory on the GPU (empty without one).
/// </summary>
public sealed record MetricsRow(
    long Step, long Tokens, double TrainLoss, double? ValLoss, double? TrainEvalLoss, double? ValBpb, double Lr, double GradNorm,
    double TokensPerS, double Mfu, double ElapsedS, double TrainS, double EvalS, double RssMb, double? GpuMb = null)
{
    /// <summary>metrics.csv's columns, in order.</summary>
    public static readonly IReadOnlyList<string> Columns =
        ["step", "tokens", "train_loss", "val_loss", "train_eval_loss", "val_bpb", "lr", "grad_norm", "tokens_per_s", "mfu", "elapsed_s", "train_s", "eval_s", "rss_mb", "gpu_mb"];

    /// <summary>Columns every metrics.csv LMHarness ever wrote has; the others read as empty (or, for train_s and
    /// eval_s, as elapsed_s and 0: older files did not separate evaluation time from training time).</summary>
    public static readonly IReadOnlyList<string> RequiredColumns =
        ["step", "tokens", "train_loss", "val_loss", "lr", "grad_norm", "tokens_per_s", "mfu", "elapsed_s", "rss_mb"];

    /// <summary>The row as one CSV record.</summary>
    public string ToCsv() => Csv.Line([Csv.Number(Step), Csv.Number(Tokens), Csv.Number(TrainLoss), Csv.Number(ValLoss),
        Csv.Number(TrainEvalLoss), Csv.Number(ValBpb), Csv.Number(Lr), Csv.Number(GradNorm), Csv.Number(TokensPerS), Csv.Number(Mfu),
        Csv.Number(ElapsedS), Csv.Number(TrainS), Csv.Number(EvalS), Csv.Number(RssMb), Csv.Number(GpuMb)]);

    /// <summary>Reads metrics.csv, tolerating files written before train_eval_loss, val_bpb, train_s and eval_s existed; a
    /// last row cut short is left out with a warning to <paramref name="log"/> (standard error when null).</summary>
    public static IReadOnlyList<MetricsRow> Read(string path, TextWriter? log = null)
    {
        var table = Csv.Read(path, log);
        table.Require(RequiredColumns);
        var rows = new List<MetricsRow>(table.Rows.Count);
        for (int i = 0; i < table.Rows.Count; i++)
        {
            double D(string c) => table.Double(i, c) ?? double.NaN;
            var elapsed = D("elapsed_s");
            rows.Add(new MetricsRow(table.Long(i, "step"), table.Long(i, "tokens"), D("train_loss"), table.Double(i, "val_loss"),
                table.Double(i, "train_eval_loss"), table.Double(i, "val_bpb"), D("lr"), D("grad_norm"), D("tokens_per_s"), D("mfu"),
                elapsed, table.Double(i, "train_s") ?? elapsed, table.Double(i, "eval_s") ?? 0, D("rss_mb"), table.Double(i, "gpu_mb")));
        }
        return rows;
    }
}

/// <summary>One row of gradflow.csv: mean and max |gradient| of one parameter tensor at one step (the numbers behind a
/// vanishing/exploding-gradient plot across depth).</summary>
public sealed record GradFlowRow(long Step, string Param, double MeanAbsGrad, double MaxAbsGrad)
{
    /// <summary>gradflow.csv's columns, in order.</summary>
    public static readonly IReadOnlyList<string> Columns = ["step", "param", "mean_abs_grad", "max_abs_grad"];

    public string ToCsv() => Csv.Line([Csv.Number(Step), Param, Csv.Number(MeanAbsGrad), Csv.Number(MaxAbsGrad)]);

    public static IReadOnlyList<GradFlowRow> Read(string path)
    {
        var table = Csv.Read(path);
        table.Require(Columns);
        return Enumerable.Range(0, table.Rows.Count)
            .Select(i => new GradFlowRow(table.Long(i, "step"), table.Get(i, "param"), table.Double(i, "mean_abs_grad") ?? double.NaN, table.Double(i, "max_abs_grad") ?? double.NaN))
            .ToList();
    }
}
