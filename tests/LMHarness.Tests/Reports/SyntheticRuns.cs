using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using LMHarness.Config;
using LMHarness.Runs;
using LMHarness.Tokenizers;

namespace LMHarness.Tests.Reports;

/// <summary>Writes run folders with made-up but plausible metrics.csv / gradflow.csv, so report code is tested without training.</summary>
static class SyntheticRuns
{
    public const string MetricsHeader = "step,tokens,train_loss,val_loss,lr,grad_norm,tokens_per_s,mfu,elapsed_s,rss_mb";

    /// <summary>The columns the refactored trainer writes (val_bpb, train_s, eval_s among them).</summary>
    public const string NewMetricsHeader = "step,tokens,train_loss,val_loss,train_eval_loss,val_bpb,lr,grad_norm,tokens_per_s,mfu,elapsed_s,train_s,eval_s,rss_mb";

    /// <summary>Seconds each evaluation takes in runs written with <c>newColumns</c>.</summary>
    public const double EvalSeconds = 0.5;

    /// <summary>
    /// Loss = floor + 3 exp(-step/decay) + seed offset; validation every <paramref name="evalEvery"/> steps.
    /// With <paramref name="newColumns"/> the file has <see cref="NewMetricsHeader"/>: val_bpb = val loss / (ln 2 ·
    /// <paramref name="bytesPerToken"/>), train_s = step · secondsPerStep, eval_s = evaluations so far · <see cref="EvalSeconds"/>.
    /// A <paramref name="tokenizer"/> is recorded in config.json as the trainer does (data.tokenizer).
    /// </summary>
    public static string Write(string root, string variant, int seed, int steps = 40, double floor = 1.5, double decay = 15,
        int evalEvery = 5, int tokensPerStep = 1024, double secondsPerStep = 0.05, bool gradFlow = true,
        bool newColumns = false, double bytesPerToken = 1, TokenizerIdentity? tokenizer = null)
    {
        var dir = Path.Combine(root, variant, $"seed{seed}");
        Directory.CreateDirectory(dir);
        var sb = new StringBuilder(newColumns ? NewMetricsHeader : MetricsHeader).Append('\n');
        for (int s = 1; s <= steps; s++)
        {
            double loss = Loss(s, seed, floor, decay);
            bool eval = s % evalEvery == 0;
            string val = eval ? Inv(loss + 0.05) : "";
            double lr = s <= 5 ? 1e-3 * s / 5 : 1e-4 + 0.5 * (9e-4) * (1 + Math.Cos(Math.PI * (s - 5) / (steps - 5)));
            string train = Inv(loss + 0.02 * Math.Sin(s)), rate = Inv(tokensPerStep / secondsPerStep), rss = Inv(400 + s + seed);
            if (newColumns)
            {
                double trainS = s * secondsPerStep, evalS = s / evalEvery * EvalSeconds;
                string bpb = eval ? Inv((loss + 0.05) / (Math.Log(2) * bytesPerToken)) : "";
                sb.Append(CultureInfo.InvariantCulture, $"{s},{s * tokensPerStep},{train},{val},{val},{bpb},{Inv(lr)},{Inv(1.0 / s)},{rate},0.01,{Inv(trainS + evalS)},{Inv(trainS)},{Inv(evalS)},{rss}\n");
            }
            else
                sb.Append(CultureInfo.InvariantCulture, $"{s},{s * tokensPerStep},{train},{val},{Inv(lr)},{Inv(1.0 / s)},{rate},0.01,{Inv(s * secondsPerStep * (1 + 0.1 * seed))},{rss}\n");
        }
        File.WriteAllText(Path.Combine(dir, "metrics.csv"), sb.ToString());
        if (tokenizer is not null)
            new RunFolder(dir).WriteConfig(new RunConfig(new ModelConfig(), new TrainingConfig(),
                new JsonObject { ["tokenizer"] = JsonNode.Parse(tokenizer.ToJson()) }, new JsonObject()));
        if (gradFlow)
        {
            var g = new StringBuilder("step,param,mean_abs_grad,max_abs_grad\n");
            foreach (var step in new[] { 10, 20 })
                for (int layer = 0; layer < 2; layer++)
                    foreach (var name in new[] { "self_attn.q_proj.weight", "mlp.up_proj.weight" })
                        g.Append(CultureInfo.InvariantCulture, $"{step},model.layers.{layer}.{name},{Inv(1e-3 / (layer + 1))},{Inv(1e-2 / (layer + 1))}\n");
            File.WriteAllText(Path.Combine(dir, "gradflow.csv"), g.ToString());
        }
        File.WriteAllText(Path.Combine(dir, "summary.json"), $"{{\"parameters\": {100_000 + variant.Length}, \"peak_rss_mb\": 1}}");
        return dir;
    }

    public static double Loss(int step, int seed, double floor = 1.5, double decay = 15) => floor + 3 * Math.Exp(-step / decay) + 0.01 * seed;

    static string Inv(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>(width, height) from a PNG's IHDR chunk, after checking the signature.</summary>
    public static (int Width, int Height) PngSize(string path)
    {
        var b = File.ReadAllBytes(path);
        b.Take(8).Should().Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }, "{0} must be a PNG", path);
        Encoding.ASCII.GetString(b, 12, 4).Should().Be("IHDR");
        return ((b[16] << 24) | (b[17] << 16) | (b[18] << 8) | b[19], (b[20] << 24) | (b[21] << 16) | (b[22] << 8) | b[23]);
    }
}
