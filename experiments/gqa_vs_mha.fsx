// The GQA-vs-MHA experiment from F#: the same core, through `dotnet fsi` (no extra install).
// Build the assemblies once (any ./lmh run builds them, or: dotnet build core/LMHarness.Lab -c Release), then:
//   dotnet fsi experiments/gqa_vs_mha.fsx              Smoke: dotnet fsi experiments/gqa_vs_mha.fsx --smoke
// Seeds: 3 per variant by default (~65 s on an idle 2-core box, 1.5x the old 2-seed default): the fewest that give a
// usable 95% interval (with 2, t(0.975, 1) = 12.7); --seeds 6 narrows it to 0.42x (t/√n: 2.57/√6 vs 4.30/√3) for 2x the time.
#load "../lmharness.fsx"


open LMHarness.Config
open LMHarness.Experiments
open LMHarness.Training

let exp = Experiment("gqa_vs_mha_fsharp", ResizeArray(fsi.CommandLineArgs |> Array.skip 1))

// ---- knobs ----
let steps = exp.Knob("steps", 250)
let dModel = exp.Knob("d_model", 96)
let nHead = exp.Knob("n_head", 6)
let gqaKv = exp.Knob("gqa_kv_heads", 2)
let context = exp.Knob("context", 64)
let batch = exp.Knob("batch", 16)
let lr = exp.Knob("lr", 3e-3)

// ---- one model family; only the attention kind and the number of K/V heads vary ----
let model (kind: AttentionKind) (kvHeads: int) =
    ModelConfig(
        ContextLength = context, NLayer = 2, DModel = dModel, NHead = nHead, NKvHead = kvHeads,
        FfnHidden = 8 * dModel / 3 / 8 * 8, AttentionKinds = ResizeArray [ kind ], FeedForwardKinds = ResizeArray [ FeedForwardKind.SwiGlu ],
        Position = PositionKind.Rope, Norm = NormKind.RmsNorm, Bias = false)

let training = RunRecipes.ShortRun(steps, lr, batch, context)

exp.Variant("mha", model AttentionKind.Mha nHead, training)
   .Variant(sprintf "gqa%d" gqaKv, model AttentionKind.Gqa gqaKv, training)
   .Variant("mqa", model AttentionKind.Gqa 1, training)
|> ignore

let report = exp.Run()
printfn "winner (F#): %s" (if isNull report.Winner then "none resolved" else report.Winner)
