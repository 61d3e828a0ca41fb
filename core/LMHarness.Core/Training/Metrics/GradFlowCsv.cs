using System.Globalization;
using CsvHelper;
using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Training.Metrics;

/// <summary>
/// Gradient-flow statistics (gradflow.csv: step,param,mean_abs_grad,max_abs_grad): mean and max |grad| of every
/// parameter tensor, the numbers behind a vanishing/exploding-gradient plot across depth.
/// </summary>
public sealed class GradFlowCsv : IDisposable
{
    public static readonly string[] Columns = ["step", "param", "mean_abs_grad", "max_abs_grad"];

    public sealed record Row(long Step, string Param, double MeanAbsGrad, double MaxAbsGrad);

    readonly CsvWriter _csv;

    public GradFlowCsv(string path, long keepUpToStep)
    {
        _csv = CsvFiles.OpenAppend(path, keepUpToStep, Columns);
    }

    /// <summary>Writes one row per parameter that has a gradient.</summary>
    public void Write(long step, IEnumerable<(string Name, Tensor Param)> parameters)
    {
        foreach (var (name, p) in parameters)
        {
            if (p.grad is null) continue;
            using var scope = torch.NewDisposeScope();
            var a = p.grad.abs().to(ScalarType.Float32);
            _csv.WriteRecord([step.ToString(CultureInfo.InvariantCulture), name,
                a.mean().item<float>().ToString("R", CultureInfo.InvariantCulture),
                a.max().item<float>().ToString("R", CultureInfo.InvariantCulture)]);
        }
        _csv.Flush();
    }

    public static List<Row> Read(string path)
    {
        using var r = CsvReader.FromFile(path, new CsvReaderOptions(), FileOptions.None);
        var rows = new List<Row>();
        while (r.Read())
            rows.Add(new Row(long.Parse(r.GetString("step"), CultureInfo.InvariantCulture), r.GetString("param"),
                double.Parse(r.GetString("mean_abs_grad"), CultureInfo.InvariantCulture), double.Parse(r.GetString("max_abs_grad"), CultureInfo.InvariantCulture)));
        return rows;
    }

    public void Dispose() => _csv.Dispose();
}
