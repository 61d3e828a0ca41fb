// Tokenize a corpus once into a token file (ids + JSON sidecar) that training memory-maps.
//   dotnet script scripts/prepare.csx -- --source tinyshakespeare --tokenizer char
//   dotnet script scripts/prepare.csx -- --source my_notes/ --tokenizer gpt2 --out runs/data/notes-gpt2.bin --val 0.05
//   dotnet script scripts/prepare.csx -- --source tinyshakespeare --tokenizer_from runs/hf/gpt2   (the tokenizer of a model to --init_from)
//   dotnet script scripts/prepare.csx -- --verify runs/data/notes-gpt2.bin   (check every byte against the sidecar's SHA-256;
//                                                                            an older sidecar also gets its block checksums)
// Sources: default (.NET SDK docs), tinyshakespeare, a text file, a directory, file.jsonl[:field], file.parquet[:column].
// Tokenizers: char, bytes, gpt2, cl100k_base, o200k_base.
#load "../lmharness.csx"
using LMHarness.Corpora;
using LMHarness.Data;
using LMHarness.Experiments;
using LMHarness.Interop;

var a = new ScriptArgs(Args);
string source    = a.Get("source", "tinyshakespeare", "corpus: default, tinyshakespeare, a file, a folder, x.jsonl[:field], x.parquet[:column]");
string tokenizer = a.Get("tokenizer", "char", "char, bytes, gpt2, cl100k_base or o200k_base");
string from      = a.Get("tokenizer_from", "", "a model to fine-tune (HF folder, harness export, run folder, step_*.ckpt): use its tokenizer, as --init_from requires");
double val       = a.Get("val", 0.1, "fraction of tokens held out for validation (the end of the corpus)");
string name      = Path.GetFileNameWithoutExtension(source.TrimEnd('/').Split(':')[0]);
string tokName   = from != "" ? "from-" + new DirectoryInfo(from.TrimEnd('/')).Name : tokenizer;
string output    = a.Get("out", Path.Combine(Experiment.RepoRoot(), "runs", "data", $"{name}-{tokName}.bin"), "the token file to write");
string verify    = a.Get("verify", "", "a prepared .bin: check every byte against its sidecar's SHA-256 (and add block checksums to an older sidecar) instead of preparing");
a.EnsureAllUsed("scripts/prepare.csx");
if (verify != "")
{
    Console.WriteLine(TokenFile.Verify(verify));
    // Training checks each block the first time it reads from it, which needs the sums in the sidecar.
    if (TokenFile.AddBlockSums(verify)) Console.WriteLine($"added block checksums to {TokenFileInfo.SidecarPath(Path.GetFullPath(verify))}: training now checks each block before it uses it");
    return;
}

var info = from == "" ? Preparer.Prepare(Corpus.Source(source), tokenizer, output, new PrepareOptions { ValFraction = val })
    : Preparer.Prepare(Corpus.Source(source), InitSource.TokenizerOf(from), output, new PrepareOptions { ValFraction = val });
Console.WriteLine($"{output}: {info.TokenCount:N0} tokens ({info.TrainTokens:N0} train, {info.ValTokens:N0} val), " +
                  $"{info.Tokenizer.Describe()} with {info.Tokenizer.VocabSize:N0} ids; sidecar {TokenFileInfo.SidecarPath(output)}; " +
                  $"read back and verified, SHA-256 {info.Sha256}");
