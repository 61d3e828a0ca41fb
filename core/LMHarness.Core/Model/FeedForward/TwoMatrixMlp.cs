using LMHarness.Config;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LMHarness.Model.FeedForward;

/// <summary>
/// The ungated feed-forward shape: down_proj(act(up_proj x)), d_model -> ffn_hidden -> d_model, with the Llama names
/// <c>up_proj</c>/<c>down_proj</c> (HF GPT-2's <c>c_fc</c>/<c>c_proj</c>). Subclasses choose the activation
/// (<see cref="Mlp"/>: GELU; <see cref="Relu2Mlp"/>: ReLU²).
/// </summary>
public abstract class TwoMatrixMlp : nn.Module<Tensor, Tensor>
{
    private readonly Linear up_proj;
    private readonly Linear down_proj;

    protected TwoMatrixMlp(string name, ModelConfig config) : base(name)
    {
        up_proj = nn.Linear(config.DModel, config.FfnHidden, hasBias: config.Bias);
        down_proj = nn.Linear(config.FfnHidden, config.DModel, hasBias: config.Bias);
        // Registered here, by name, because RegisterComponents in a subclass does not see a base class's private fields.
        register_module(nameof(up_proj), up_proj);
        register_module(nameof(down_proj), down_proj);
    }

    /// <summary>The element-wise activation between the two matrices.</summary>
    protected abstract Tensor Activate(Tensor hidden);

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return down_proj.forward(Activate(up_proj.forward(x))).MoveToOuterDisposeScope();
    }
}
