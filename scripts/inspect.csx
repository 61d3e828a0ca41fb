// Inspect a model before training it: layer table with parameters, FLOPs per token, memory, a batch-size suggestion.
//   dotnet script scripts/inspect.csx -- --preset llama3-220M --batch 8 --context 1024 --memory_gb 16
//   dotnet script scripts/inspect.csx -- --run runs/train/nanogpt-cpu/seed1337
#load "../lmharness.csx"
using LMHarness.Config;
using LMHarness.Experiments;
using LMHarness.Runs;
using LMHarness.Summary;

var a = new ScriptArgs(Args);
string preset = a.Get("preset", "nanogpt-cpu", "a preset (Presets.Names)");
string run = a.Get("run", "", "a run folder: inspect its model instead");
var config = run != ""
    ? new RunFolder(run).ReadConfig().Model
    : Presets.Get(preset);
(config, _) = ConfigOverrides.Apply(config, a, ModelConfig.Json);  // e.g. --n_layer 24
int batch = a.Get("batch", 8, "micro-batch of the table's shapes");
int context = a.Get("context", config.ContextLength, "context of the table's shapes");
double memoryGb = a.Get("memory_gb", 8.0, "budget for weights + grads + AdamW state + activations");
long tokensPerStep = a.Get("tokens_per_step", 65536L, "wanted tokens per optimizer step");
a.EnsureAllUsed("scripts/inspect.csx");

var summary = ModelSummary.Of(config, batch, context);
Console.WriteLine(summary.ToTable());
var s = summary.SuggestBatch((long)(memoryGb * 1e9), tokensPerStep, context);
Console.WriteLine($"suggestion for {memoryGb} GB and ~{tokensPerStep:N0} tokens/step: micro_batch {s.MicroBatch} x grad_accumulation {s.GradAccumulation} " +
                  $"x context {s.ContextLength} = {s.TokensPerStep:N0} tokens/step, {s.Memory.TotalBytes / 1e9:F2} GB");
