using System.Diagnostics;
using System.Globalization;
using LMHarness.Config;
using LMHarness.Model;
using LMHarness.Summary;
using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Bench;

/// <summary>
/// Forward+backward training throughput of the CPU presets, measured side by side in one run: rounds alternate
/// between the models so machine load hits all of them alike, and the median round is reported with the ratio to
/// nanogpt-cpu. Usage: <c>model [--batch 12] [--context 64] [--steps 3] [--rounds 5] [--threads N]</c>.
/// </summary>
public sealed class ModelBench : IBench
{
    public string Name => "model";
    public string Description => "forward+backward tokens/s of nanogpt-cpu vs llama-cpu (and diff-cpu, checkpointing) side by side";

    public void Run(string[] args)
    {
        int batch = Arg(args, "--batch", 12), context = Arg(args, "--context", 64);
        int steps = Arg(args, "--steps", 3), rounds = Arg(args, "--rounds", 5);
        if (args.Contains("--threads")) set_num_threads(Arg(args, "--threads", 1));
        var device = Devices.Default();
        var variants = new (string Label, ModelConfig Config)[]
        {
            ("nanogpt-cpu", Presets.Get("nanogpt-cpu")),
            ("llama-cpu", Presets.Get("llama-cpu")),
            ("diff-cpu", Presets.Get("diff-cpu")),
            ("nanogpt-cpu +ckpt", Presets.Get("nanogpt-cpu") with { RecomputeActivations = true }),
        };
        Console.WriteLine($"device {device}, torch threads {get_num_threads()}, batch {batch} x context {context}, " +
                          $"{rounds} rounds x {steps} steps of forward+backward (median round)");

        var models = variants.Select(v =>
        {
            manual_seed(1337);
            var m = new CausalLM(v.Config with { ContextLength = Math.Max(v.Config.ContextLength, context) });
            m.to(device);
            m.train();
            return m;
        }).ToArray();
        var gen = new Generator(1);
        var x = randint(variants[0].Config.VocabSize, [batch, context], dtype: ScalarType.Int64, generator: gen).to(device);
        var y = randint(variants[0].Config.VocabSize, [batch, context], dtype: ScalarType.Int64, generator: gen).to(device);

        void Step(CausalLM m)
        {
            using var scope = NewDisposeScope();
            m.zero_grad();
            m.Loss(x, y).backward();
        }

        foreach (var m in models) for (int i = 0; i < 2; i++) Step(m); // warm-up: allocator and kernels
        var seconds = models.Select(_ => new List<double>()).ToArray();
        var cpuSeconds = models.Select(_ => new List<double>()).ToArray();
        var process = Process.GetCurrentProcess();
        for (int r = 0; r < rounds; r++)
            for (int k = 0; k < models.Length; k++)
            {
                process.Refresh();
                var cpu0 = process.TotalProcessorTime;
                var sw = Stopwatch.StartNew();
                for (int s = 0; s < steps; s++) Step(models[k]);
                if (device.type == TorchSharp.DeviceType.CUDA) cuda.synchronize();
                seconds[k].Add(sw.Elapsed.TotalSeconds);
                process.Refresh();
                cpuSeconds[k].Add((process.TotalProcessorTime - cpu0).TotalSeconds);
            }

        double tokens = (double)batch * context * steps;
        double baseline = tokens / Median(seconds[0]);
        // Wall-clock throughput is what a run sees; tokens per CPU-second is steadier on a shared machine.
        double cpuBaseline = tokens / Median(cpuSeconds[0]);
        Console.WriteLine($"{"model",-20}{"params",12}{"tokens/s",12}{"vs nanogpt",12}{"GFLOP/s",10}{"tok/cpu-s",12}{"vs nanogpt",12}");
        for (int k = 0; k < models.Length; k++)
        {
            double tps = tokens / Median(seconds[k]);
            var summary = ModelSummary.Of(variants[k].Config);
            double gflops = tps * summary.FlopsPerToken(context) / 1e9;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{variants[k].Label,-20}{summary.TotalParameters,12:N0}{tps,12:F0}{tps / baseline,12:F2}{gflops,10:F2}" +
                $"{tokens / Median(cpuSeconds[k]),12:F0}{tokens / Median(cpuSeconds[k]) / cpuBaseline,12:F2}"));
        }
        foreach (var m in models) m.Dispose();
    }

    private static double Median(List<double> xs)
    {
        var s = xs.Order().ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
    }

    private static int Arg(string[] args, string name, int fallback)
    {
        int i = Array.IndexOf(args, name);
        if (i < 0) return fallback;
        if (i + 1 >= args.Length || !int.TryParse(args[i + 1], out int v) || v <= 0)
            throw new ArgumentException($"{name} needs a positive integer");
        return v;
    }
}
