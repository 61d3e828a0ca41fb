// Export a model as a Hugging Face checkpoint (model.safetensors + config.json + tokenizer identity + scaleout/).
// Models HF cannot express (differential attention, NoPE, mixed layers, YaRN) are refused with the reason and
// saved in the harness's own safetensors format instead.
// The scale-out files in scaleout/ train on the run's token file (from its config.json) or on --tokens FILE.
// ./lmh scripts/export.csx runs/shakespeare/base/seed0 --out exports/shakespeare [--dtype bf16] [--native] [--tokens FILE]
#load "../lmharness.csx"
using LMHarness.Interop;
using TorchSharp;

if (Args.Count == 0 || Args[0].StartsWith("--")) { Console.Error.WriteLine("usage: export.csx <model> --out DIR [--dtype f32|bf16|f16] [--native] [--tokens FILE]"); return; }
string Opt(string name, string fallback) { int i = Args.ToList().LastIndexOf("--" + name); return i >= 0 && i + 1 < Args.Count ? Args[i + 1] : fallback; }

var loaded = ModelSource.Load(Args[0]);
var outDir = Opt("out", "export");
var dtype = Opt("dtype", "f32") switch
{
    "f32" or "float32" => torch.ScalarType.Float32,
    "bf16" or "bfloat16" => torch.ScalarType.BFloat16,
    "f16" or "float16" => torch.ScalarType.Float16,
    var d => throw new ArgumentException($"--dtype {d}: use f32, bf16 or f16"),
};
if (!Args.Contains("--native") && HfArchitectures.CanExport(loaded.Model.Config))
{
    // The token file the run trained on, as its config.json records it (a run folder), unless --tokens names one.
    var run = new LMHarness.Runs.RunFolder(Args[0]);
    var tokens = Opt("tokens", run.HasConfig ? run.ReadConfig().TokenFile ?? "" : "");
    var arch = HfModel.Export(loaded.Model, outDir, loaded.Tokenizer, dtype, tokens == "" ? null : tokens);
    Console.WriteLine($"exported {loaded.Description} as HF {arch} to {outDir}:");
}
else
{
    if (!Args.Contains("--native"))
        try { HfArchitectures.Choose(loaded.Model.Config); } catch (NotSupportedException e) { Console.Error.WriteLine(e.Message); }
    HarnessExport.Save(loaded.Model, outDir, loaded.Tokenizer);
    Console.WriteLine($"saved {loaded.Description} in the harness format to {outDir}:");
}
foreach (var f in Directory.EnumerateFiles(outDir, "*", SearchOption.AllDirectories).OrderBy(f => f))
    Console.WriteLine($"  {Path.GetRelativePath(outDir, f),-40} {new FileInfo(f).Length,12:N0} bytes");
