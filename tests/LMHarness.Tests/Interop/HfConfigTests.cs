using LMHarness.Config;
using LMHarness.Interop;

namespace LMHarness.Tests.Interop;

public class HfConfigTests
{
    // HuggingFaceTB/SmolLM-135M config.json as published (weights not needed to test the mapping).
    const string SmolLm = """
        {"architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0, "bos_token_id": 0,
         "eos_token_id": 0, "hidden_act": "silu", "hidden_size": 576, "initializer_range": 0.02, "intermediate_size": 1536,
         "max_position_embeddings": 2048, "model_type": "llama", "num_attention_heads": 9, "num_hidden_layers": 30,
         "num_key_value_heads": 3, "pretraining_tp": 1, "rms_norm_eps": 1e-05, "rope_scaling": null, "rope_theta": 10000.0,
         "tie_word_embeddings": true, "torch_dtype": "float32", "transformers_version": "4.40.1", "use_cache": true, "vocab_size": 49152}
        """;

    // openai-community/gpt2 config.json (abridged to the fields that matter).
    const string Gpt2 = """
        {"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1, "bos_token_id": 50256,
         "embd_pdrop": 0.1, "eos_token_id": 50256, "initializer_range": 0.02, "layer_norm_epsilon": 1e-05, "model_type": "gpt2",
         "n_ctx": 1024, "n_embd": 768, "n_head": 12, "n_layer": 12, "n_positions": 1024, "resid_pdrop": 0.1, "vocab_size": 50257}
        """;

    [Fact]
    public void SmolLM_config_maps_to_a_gqa_llama()
    {
        var (c, arch, notes) = HfConfig.FromJson(SmolLm, "config.json");
        arch.Should().Be(HfArchitecture.Llama);
        notes.Should().BeEmpty();
        c.Should().BeEquivalentTo(new ModelConfig
        {
            VocabSize = 49152, ContextLength = 2048, NLayer = 30, DModel = 576, NHead = 9, NKvHead = 3, FfnHidden = 1536,
            AttentionKinds = [AttentionKind.Gqa], FeedForwardKinds = [FeedForwardKind.SwiGlu], Position = PositionKind.Rope,
            RopeTheta = 10000, Norm = NormKind.RmsNorm, NormEps = 1e-5, Bias = false, TieEmbeddings = true, InitStd = 0.02,
        });
        // And back: the exported config carries the same fields.
        var back = HfConfig.ToJson(c, arch, TorchSharp.torch.ScalarType.Float32, 0);
        HfConfig.FromJson(back.ToJsonString(), "roundtrip").Config.Should().BeEquivalentTo(c);
    }

    [Fact]
    public void Gpt2_config_maps_with_a_note_on_tanh_gelu()
    {
        var (c, arch, notes) = HfConfig.FromJson(Gpt2, "config.json");
        arch.Should().Be(HfArchitecture.Gpt2);
        c.FfnHidden.Should().Be(3072, "n_inner absent means 4 x n_embd");
        c.ContextLength.Should().Be(1024);
        c.Position.Should().Be(PositionKind.Learned);
        c.Norm.Should().Be(NormKind.LayerNorm);
        c.Bias.Should().BeTrue();
        c.TieEmbeddings.Should().BeTrue();
        notes.Should().ContainSingle().Which.Should().Contain("gelu_new");
    }

    [Fact]
    public void Bad_config_json_is_rejected_naming_the_field()
    {
        var act = () => HfConfig.FromJson("{ not json", "x/config.json");
        act.Should().Throw<InvalidDataException>().WithMessage("*x/config.json is not valid JSON*");
        var noHidden = () => HfConfig.FromJson("""{"model_type": "llama", "num_attention_heads": 4}""", "c.json");
        noHidden.Should().Throw<InvalidDataException>().WithMessage("*lacks \"hidden_size\"*");
        var headDim = () => HfConfig.FromJson(SmolLm.Replace("\"pretraining_tp\": 1", "\"head_dim\": 128"), "c.json");
        headDim.Should().Throw<NotSupportedException>().WithMessage("*head_dim 128*");
    }
}
