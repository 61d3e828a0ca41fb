// Generate text from a run's newest checkpoint.
//   dotnet script scripts/sample.csx -- --run runs/train/nanogpt-cpu/seed1337 --prompt "ROMEO:" --max_new_tokens 300
#r "../core/LMHarness.Core/bin/Release/net10.0/linux-x64/LMHarness.Core.dll"
using System.Text.Json.Nodes;
using LMHarness.Config;
using LMHarness.Data;
using LMHarness.Generation;
using LMHarness.Experiments;
using LMHarness.Model;
using LMHarness.Training.Checkpoints;

var a = new ScriptArgs(Args);
string run = a.Get("run", "");
string prompt = a.Get("prompt", "\n");
var options = new SamplingOptions
{
    MaxNewTokens = a.Get("max_new_tokens", 300), Temperature = a.Get("temperature", 0.8), TopK = a.Get("top_k", 0),
    TopP = a.Get("top_p", 1.0), MinP = a.Get("min_p", 0.0), RepetitionPenalty = a.Get("repetition_penalty", 1.0),
    Seed = a.Get("seed", 1337L),
};
int samples = a.Get("samples", 1);
a.EnsureAllUsed("sample.csx");
if (run == "") throw new ArgumentException("pass --run <run folder> (a folder with config.json and checkpoints/, e.g. runs/train/nanogpt-cpu/seed1337)");

var config = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "config.json")))!;
var model = new CausalLM(ModelConfig.FromJson(config["model"]!.ToJsonString()));
var checkpoint = Checkpoint.Latest(Path.Combine(run, "checkpoints")) ?? throw new FileNotFoundException($"{run}/checkpoints holds no checkpoint yet.");
Checkpoint.LoadModel(checkpoint, model);
model.eval();
var tokens = TokenFile.Open(config["data"]!["token_file"]!.GetValue<string>(), checkIds: false);
var generator = new Generator(model, LMHarness.Tokenizers.Tokenizers.Create(tokens.Tokenizer));
Console.Error.WriteLine($"sampling from {checkpoint}");
for (int i = 0; i < samples; i++)
{
    Console.Write(prompt);
    var result = generator.Generate(prompt, options with { Seed = options.Seed + i }, text => Console.Write(text));
    Console.WriteLine($"\n---- {result.Reason}");
}
