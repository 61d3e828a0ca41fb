// Import a Llama- or GPT-2-family HF checkpoint folder (config.json + model.safetensors), e.g. a downloaded SmolLM
// or GPT-2, and sample from it / score a text. To continue training, build the Trainer with
// `_ => HfModel.Import(dir)` as its model factory (see docs/generation.md).
// The folder's tokenizer.json (or vocab.json + merges.txt) is used when present; --tokenizer NAME otherwise.
//   dotnet script scripts/import.csx -- path/to/hf-folder --prompt "Hello" [--text file.txt] [--save DIR] [sample.csx's knobs]
#load "../lmharness.csx"
using LMHarness.Analysis;
using LMHarness.Experiments;
using LMHarness.Generation;
using LMHarness.Interop;
using TorchSharp;

var a = new ScriptArgs(Args);
string folder = a.Argument("hf_folder", "an HF checkpoint folder (config.json + model.safetensors)");
var prompts   = a.All("prompt", ["Hello"], "prompt text; several decode as one batch");
var options   = Sampling.Read(a, maxNewTokens: 60);
string tokens = a.Get("tokenizer", "", "tokenizer when the folder has no tokenizer files (gpt2, ...)");
string text   = a.Get("text", "", "a text file to score: perplexity and mean NLL");
string save   = a.Get("save", "", "also save the model as a harness export in this folder");
a.EnsureAllUsed("scripts/import.csx");

var (model, notes) = HfModel.ImportWithNotes(folder);
foreach (var n in notes) Console.Error.WriteLine("note: " + n);
var loaded = new LoadedModel(model, HfModel.ReadTokenizer(folder), folder);
var tokenizer = ModelSource.TokenizerFor(loaded, tokens);
Console.Error.WriteLine($"tokenizer {tokenizer.Identity}");
Console.WriteLine(model.Config.ToJson());
if (text != "")
{
    var ppl = Perplexity.OfFile(model, tokenizer, text);
    Console.WriteLine($"perplexity on {text}: {ppl.Perplexity:F2} (mean NLL {ppl.MeanNll:F4} nats over {ppl.Tokens:N0} tokens)");
}
Sampling.Print(new Generator(model.to(LMHarness.Devices.Default()), tokenizer), prompts, options, kvCache: true);
if (save != "")
{
    HarnessExport.Save(model.cpu(), save, loaded.Tokenizer ?? tokenizer.Identity);
    Console.WriteLine($"saved as a harness export in {save}");
}
