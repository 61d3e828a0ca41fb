// Inspect a model before training it: layer table with parameters, FLOPs per token, the memory plan of a run, and the
// micro-batch, accumulation and recomputation that reach a global batch within a memory budget, with the arithmetic.
// Every field of ModelConfig and TrainingConfig is a knob, as in train.csx (--dtype bf16, --optimizer muon, ...).
//   dotnet script scripts/inspect.csx -- --preset llama3-220M --dtype bf16 --memory 24GB --global_batch_tokens 524288
//   dotnet script scripts/inspect.csx -- --run runs/train/nanogpt-cpu/seed1337
//   dotnet script scripts/inspect.csx -- --d_model 512 --parametrization mup --mup_base_width 128 --scales true
#load "../lmharness.csx"
using LMHarness.Config;
using LMHarness.Experiments;
using LMHarness.Runs;
using LMHarness.Summary;

var a = new ScriptArgs(Args);
string preset = a.Get("preset", "nanogpt-cpu", "a preset (Presets.Names)");
string run = a.Get("run", "", "a run folder: inspect its model and training instead");
var saved = run != "" ? new RunFolder(run).ReadConfig() : null;
var model = saved?.Model ?? Presets.Get(preset);
(model, _) = ConfigOverrides.Apply(model, a, ModelConfig.Json);                 // e.g. --n_layer 24
var training = saved?.Training ?? new TrainingConfig { MicroBatch = 8, ContextLength = model.ContextLength };
(training, _) = ConfigOverrides.Apply(training, a, TrainingConfig.Json);        // e.g. --dtype bf16 --micro_batch 4
string memory = a.Get("memory", "24GB", "the memory to fit: a GPU's, or RAM on the CPU (GB = GiB = 2^30 bytes)");
long globalBatch = a.Get("global_batch_tokens", 524288L, "tokens per optimizer step to reach (micro_batch x grad_accumulation x context_length)");
double headroom = a.Get("headroom", BatchPlan.DefaultHeadroom, "share of --memory kept free for the allocator's slack");
bool scales = a.Get("scales", false, "build the model and list each parameter's initial std and learning-rate multiplier (μP)");
a.EnsureAllUsed("scripts/inspect.csx");

bool cuda = LMHarness.Devices.Resolve(training.Device).type == TorchSharp.DeviceType.CUDA;
Console.WriteLine(ModelSummary.Of(model, training.MicroBatch, training.ContextLength).ToTable());
if (scales)
{
    using var built = new LMHarness.Model.CausalLM(model);
    Console.WriteLine(new ParameterScales(built).ToTable());
}
Console.WriteLine($"The run as configured ({(cuda ? "GPU" : "CPU")}, runtime assumed):");
Console.WriteLine(MemoryPlan.For(model, training, cuda).ToTable());
Console.WriteLine($"What fits in {memory} for a global batch of {globalBatch:N0} tokens:");
try { Console.WriteLine(BatchPlan.Propose(model, training, MemorySize.Parse(memory), globalBatch, headroom, cuda).ToText()); }
catch (ArgumentException e) { Console.WriteLine(e.Message); } // nothing fits: the message says what one sequence needs
