// Import a Llama- or GPT-2-family HF checkpoint folder (config.json + model.safetensors), e.g. a downloaded SmolLM
// or GPT-2, and sample from it / score a text. To continue training, build the Trainer with
// `_ => HfModel.Import(dir)` as its model factory (see docs/generation.md).
// The folder's tokenizer.json (or vocab.json + merges.txt) is used when present; --tokenizer NAME otherwise.
// ./lmh scripts/import.csx path/to/hf-folder --prompt "Hello" [--tokenizer gpt2] [--text file.txt] [--save DIR]
#load "../lmharness.csx"
using LMHarness.Analysis;
using LMHarness.Generation;
using LMHarness.Interop;
using TorchSharp;

if (Args.Count == 0 || Args[0].StartsWith("--")) { Console.Error.WriteLine("usage: import.csx <hf folder> [--tokenizer NAME] [--prompt TEXT] [--max N] [--text FILE] [--save DIR]"); return; }
string Opt(string name, string fallback) { int i = Args.ToList().LastIndexOf("--" + name); return i >= 0 && i + 1 < Args.Count ? Args[i + 1] : fallback; }

var (model, notes) = HfModel.ImportWithNotes(Args[0]);
foreach (var n in notes) Console.Error.WriteLine("note: " + n);
var loaded = new LoadedModel(model, HfModel.ReadTokenizer(Args[0]), Args[0]);
var tokenizer = ModelSource.TokenizerFor(loaded, Opt("tokenizer", ""));
Console.Error.WriteLine($"tokenizer {tokenizer.Identity}");
Console.WriteLine(model.Config.ToJson());
if (Opt("text", "") is { Length: > 0 } text)
{
    var ppl = Perplexity.OfFile(model, tokenizer, text);
    Console.WriteLine($"perplexity on {text}: {ppl.Perplexity:F2} (mean NLL {ppl.MeanNll:F4} nats over {ppl.Tokens:N0} tokens)");
}
var transcript = ColouredTranscript.ForConsole();
var prompt = Opt("prompt", "Hello");
transcript.Prompt(prompt);
new Generator(model.to(LMHarness.Devices.Default()), tokenizer)
    .Generate(prompt, new SamplingOptions { MaxNewTokens = int.Parse(Opt("max", "60")), Temperature = 0.8, TopK = 50, Seed = 0 }, transcript.Continuation);
transcript.End();
if (Opt("save", "") is { Length: > 0 } save)
{
    HarnessExport.Save(model.cpu(), save, loaded.Tokenizer ?? tokenizer.Identity);
    Console.WriteLine($"saved as a harness export in {save}");
}
