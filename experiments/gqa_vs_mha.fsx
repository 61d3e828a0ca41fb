// The GQA-vs-MHA experiment from F#: the same core, through `dotnet fsi` (no extra install).
// Build the core once (./lmh builds it, or: dotnet build core/LMHarness.Core -c Release), then:
//   dotnet fsi experiments/gqa_vs_mha.fsx              Smoke: dotnet fsi experiments/gqa_vs_mha.fsx --smoke
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

let training = Recipes.ShortRun(steps, lr, batch, context)

exp.Variant("mha", model AttentionKind.Mha nHead, training)
   .Variant(sprintf "gqa%d" gqaKv, model AttentionKind.Gqa gqaKv, training)
   .Variant("mqa", model AttentionKind.Gqa 1, training)
|> ignore

let report = exp.Run()
if report.Best.HasValue then
    let struct (variant, valLoss) = report.Best.Value
    printfn "headline (F#): %s has the lowest final val loss (%.4f)" variant valLoss
