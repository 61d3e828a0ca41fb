// scripts/sample.csx in F#: the same knobs, the same continuation for the same seed (a greedy one here).
//   dotnet fsi scripts/sample.fsx runs/train/nanogpt-cpu/seed1337 --prompt "ROMEO:" --max 200 --temperature 0
// --help lists every knob with its default.
#load "../lmharness.fsx"

open LMHarness.Experiments
open LMHarness.Generation
open LMHarness.Interop
open TorchSharp

let args = ScriptArgs(fsi.CommandLineArgs |> Array.skip 1)
let source = args.Argument("model", "a run folder, a step_*.ckpt, an HF checkpoint folder or a harness export")
let prompts = args.All("prompt", [| "\n" |], "prompt text; several decode as one batch")
let options = Sampling.Read(args, maxNewTokens = 200)
let tokens = args.Get("tokenizer", "", "tokenizer when the source names none (char, gpt2, ...)")
let kvCache = args.Get("kv_cache", true, "reuse keys and values between steps (false recomputes them)")
args.EnsureAllUsed "scripts/sample.fsx"

let loaded = ModelSource.Load source
let tokenizer = ModelSource.TokenizerFor(loaded, tokens)
for prompt in prompts do tokenizer.Encode prompt |> ignore   // a character the tokenizer lacks fails here, before any echo
eprintfn "model: %s; tokenizer %O" loaded.Description tokenizer.Identity
let generator = Generator(loaded.Model.``to``(LMHarness.Devices.Default()), tokenizer)
Sampling.Print(generator, prompts, options, kvCache) |> ignore
