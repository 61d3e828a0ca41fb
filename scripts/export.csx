// Export a model as a Hugging Face checkpoint (model.safetensors + config.json + tokenizer identity + scaleout/).
// Models HF cannot express (differential attention, NoPE, mixed layers, YaRN) are refused with the reason and
// saved in the harness's own safetensors format instead.
// The scale-out files in scaleout/ train on the run's token file (from its config.json) or on --tokens FILE.
//   dotnet script scripts/export.csx -- runs/shakespeare/base/seed0 --out exports/shakespeare [--dtype bf16] [--native] [--tokens FILE]
#load "../lmharness.csx"
using LMHarness.Experiments;
using LMHarness.Interop;
using LMHarness.Runs;
using TorchSharp;

var a = new ScriptArgs(Args);
string source = a.Argument("model", "a run folder, a step_*.ckpt, an HF checkpoint folder or a harness export");
string outDir = a.Get("out", "export", "output folder");
string dtypeName = a.Get("dtype", "f32", "weights' dtype: f32, bf16 or f16");
bool native   = a.Get("native", false, "the harness's own format even when HF can express the model");
string tokens = a.Get("tokens", "", "token file for scaleout/ (default: the one the run trained on)");
a.EnsureAllUsed("scripts/export.csx");

var dtype = dtypeName switch
{
    "f32" or "float32" => torch.ScalarType.Float32,
    "bf16" or "bfloat16" => torch.ScalarType.BFloat16,
    "f16" or "float16" => torch.ScalarType.Float16,
    var d => throw new ArgumentException($"--dtype {d}: use f32, bf16 or f16"),
};
var loaded = ModelSource.Load(source);
if (!native && HfArchitectures.CanExport(loaded.Model.Config))
{
    // The token file the run trained on, as its config.json records it (a run folder), unless --tokens names one.
    var run = new RunFolder(source);
    if (tokens == "" && run.HasConfig) tokens = run.ReadConfig().TokenFile ?? "";
    var arch = HfModel.Export(loaded.Model, outDir, loaded.Tokenizer, dtype, tokens == "" ? null : tokens);
    Console.WriteLine($"exported {loaded.Description} as HF {arch} to {outDir}:");
}
else
{
    if (!native)
        try { HfArchitectures.Choose(loaded.Model.Config); } catch (NotSupportedException e) { Console.Error.WriteLine(e.Message); }
    HarnessExport.Save(loaded.Model, outDir, loaded.Tokenizer);
    Console.WriteLine($"saved {loaded.Description} in the harness format to {outDir}:");
}
foreach (var f in Directory.EnumerateFiles(outDir, "*", SearchOption.AllDirectories).OrderBy(f => f))
    Console.WriteLine($"  {Path.GetRelativePath(outDir, f),-40} {new FileInfo(f).Length,12:N0} bytes");
