using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using LMHarness.Config;
using LMHarness.Interop;
using LMHarness.Model;
using LMHarness.Tests.Generation;
using LMHarness.Tokenizers;
using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Tests.Interop;

public class HfModelTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("lmh-hf-").FullName;
    public void Dispose() => Directory.Delete(dir, recursive: true);

    static Tensor Idx => torch.tensor(new long[] { 3, 200, 17, 42, 99, 5, 0, 255, 128, 64 }).reshape(2, 5);

    static void SameLogits(CausalLM a, CausalLM b)
    {
        using var _ = torch.no_grad();
        a.eval(); b.eval();
        var diff = (a.forward(Idx) - b.forward(Idx)).abs().max().item<float>();
        diff.Should().Be(0f, "export -> import keeps every weight bit for bit in float32");
    }

    static JsonElement Config(string folder) => JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "config.json"))).RootElement;

    [Fact]
    public void Llama_round_trip_gives_identical_logits_and_hf_names()
    {
        var cfg = TinyModels.Llama with { TieEmbeddings = false, RopeTheta = 500000 };
        var model = TinyModels.Build(cfg, 10);
        HfModel.Export(model, dir, TokenizerIdentity.Bytes).Should().Be(HfArchitecture.Llama);

        var header = Safetensors.ReadHeader(Path.Combine(dir, "model.safetensors"));
        var names = header.Entries.Select(e => e.Name).ToHashSet();
        names.Should().Contain(["model.embed_tokens.weight", "model.norm.weight", "lm_head.weight",
            "model.layers.1.self_attn.q_proj.weight", "model.layers.1.self_attn.k_proj.weight", "model.layers.1.self_attn.v_proj.weight",
            "model.layers.1.self_attn.o_proj.weight", "model.layers.0.mlp.gate_proj.weight", "model.layers.0.mlp.up_proj.weight",
            "model.layers.0.mlp.down_proj.weight", "model.layers.0.input_layernorm.weight", "model.layers.0.post_attention_layernorm.weight"]);
        header.Entries.Should().OnlyContain(e => e.DType == "F32");
        header["model.layers.0.self_attn.k_proj.weight"].Shape.Should().Equal(16, 32);   // 2 kv heads x head_dim 8, d_model 32
        header["model.layers.0.mlp.gate_proj.weight"].Shape.Should().Equal(48, 32);
        header.Metadata.Should().Contain("format", "pt");

        var c = Config(dir);
        c.GetProperty("architectures")[0].GetString().Should().Be("LlamaForCausalLM");
        c.GetProperty("model_type").GetString().Should().Be("llama");
        c.GetProperty("num_key_value_heads").GetInt32().Should().Be(2);
        c.GetProperty("num_attention_heads").GetInt32().Should().Be(4);
        c.GetProperty("head_dim").GetInt32().Should().Be(8);
        c.GetProperty("intermediate_size").GetInt32().Should().Be(48);
        c.GetProperty("rope_theta").GetDouble().Should().Be(500000);
        c.GetProperty("rms_norm_eps").GetDouble().Should().Be(1e-5);
        c.GetProperty("tie_word_embeddings").GetBoolean().Should().BeFalse();
        c.GetProperty("max_position_embeddings").GetInt32().Should().Be(64);
        c.GetProperty("hidden_act").GetString().Should().Be("silu");
        c.GetProperty("torch_dtype").GetString().Should().Be("float32");
        c.GetProperty("eos_token_id").GetInt32().Should().Be(0, "the byte tokenizer's end of text is NUL");
        HfModel.ReadTokenizer(dir).Should().Be(TokenizerIdentity.Bytes);

        var back = HfModel.Import(dir);
        back.Config.Should().BeEquivalentTo(cfg with { InitStd = cfg.InitStd }, o => o.Excluding(x => x.Dropout));
        SameLogits(model, back);
    }

    [Fact]
    public void Tied_llama_carries_lm_head_as_a_copy_for_torchtitan_and_bf16_export_is_bf16()
    {
        var model = TinyModels.Build(TinyModels.Llama, 11);
        HfModel.Export(model, dir, null, ScalarType.BFloat16);
        var header = Safetensors.ReadHeader(Path.Combine(dir, "model.safetensors"));
        header.Entries.Select(e => e.Name).Should().Contain("lm_head.weight"); // torchtitan's HF loader reads the key
        header.Entries.Should().OnlyContain(e => e.DType == "BF16");
        Config(dir).GetProperty("torch_dtype").GetString().Should().Be("bfloat16");
        Config(dir).GetProperty("tie_word_embeddings").GetBoolean().Should().BeTrue();
        var back = HfModel.Import(dir);
        using var _ = torch.no_grad();
        var err = (model.forward(Idx) - back.forward(Idx)).abs().max().item<float>();
        err.Should().BeGreaterThan(0).And.BeLessThan(0.5f, "bf16 rounds the weights (8 bits of mantissa) but keeps the model");
        (back.TokenEmbedding - model.TokenEmbedding.to(ScalarType.BFloat16).to(ScalarType.Float32)).abs().max().item<float>().Should().Be(0);
    }

    [Fact]
    public void Gpt2_round_trip_uses_transposed_conv1d_and_concatenated_qkv()
    {
        var cfg = TinyModels.Gpt2;
        var model = TinyModels.Build(cfg, 12);
        HfModel.Export(model, dir, TokenizerIdentity.Bytes).Should().Be(HfArchitecture.Gpt2);
        var st = Safetensors.Load(Path.Combine(dir, "model.safetensors"));
        st.Keys.Should().Contain(["transformer.wte.weight", "transformer.wpe.weight", "transformer.h.0.ln_1.weight", "transformer.h.0.ln_1.bias",
            "transformer.h.1.attn.c_attn.weight", "transformer.h.1.attn.c_attn.bias", "transformer.h.1.attn.c_proj.weight",
            "transformer.h.1.ln_2.weight", "transformer.h.1.mlp.c_fc.weight", "transformer.h.1.mlp.c_proj.weight",
            "transformer.ln_f.weight", "transformer.ln_f.bias"]);
        st.Keys.Should().NotContain("lm_head.weight");
        st["transformer.h.0.attn.c_attn.weight"].shape.Should().Equal(32, 96);   // Conv1D (in, out) with q|k|v
        st["transformer.h.0.mlp.c_fc.weight"].shape.Should().Equal(32, 64);
        st["transformer.h.0.mlp.c_proj.weight"].shape.Should().Equal(64, 32);
        st["transformer.wpe.weight"].shape.Should().Equal(64, 32);

        var state = model.state_dict();
        var k = state["model.layers.0.self_attn.k_proj.weight"];
        (st["transformer.h.0.attn.c_attn.weight"][.., 32..64] - k.t()).abs().max().item<float>().Should().Be(0, "the k block of c_attn is k_proj transposed");
        (st["transformer.h.0.attn.c_attn.bias"][64..96] - state["model.layers.0.self_attn.v_proj.bias"]).abs().max().item<float>().Should().Be(0);

        var c = Config(dir);
        c.GetProperty("architectures")[0].GetString().Should().Be("GPT2LMHeadModel");
        c.GetProperty("n_embd").GetInt32().Should().Be(32);
        c.GetProperty("n_inner").GetInt32().Should().Be(64);
        c.GetProperty("n_positions").GetInt32().Should().Be(64);
        c.GetProperty("activation_function").GetString().Should().Be("gelu");

        SameLogits(model, HfModel.Import(dir));
    }

    [Fact]
    public void Relu2_gpt2_exports_as_activation_relu2_and_zero_init_exports_as_usual()
    {
        var cfg = TinyModels.Gpt2 with { FeedForwardKinds = [FeedForwardKind.Relu2] };
        var model = TinyModels.Build(cfg, 17);
        HfModel.Export(model, dir, null).Should().Be(HfArchitecture.Gpt2);
        Config(dir).GetProperty("activation_function").GetString().Should().Be("relu2", "transformers' ReLUSquaredActivation");
        var back = HfModel.Import(dir);
        back.Config.FeedForwardKinds.Should().Equal(FeedForwardKind.Relu2);
        SameLogits(model, back);

        // Zero-initialised outputs change where training starts, not what the model computes.
        var zero = TinyModels.Build(TinyModels.Llama with { ZeroInitOutputs = true, TieEmbeddings = false }, 18);
        HfModel.Export(zero, dir, null).Should().Be(HfArchitecture.Llama);
        SameLogits(zero, HfModel.Import(dir));
    }

    [Fact]
    public void Gpt2_import_accepts_openai_names_without_prefix_and_mask_buffers()
    {
        var model = TinyModels.Build(TinyModels.Gpt2, 13);
        HfModel.Export(model, dir, null);
        var path = Path.Combine(dir, "model.safetensors");
        var st = Safetensors.Load(path);
        var renamed = st.ToDictionary(kv => kv.Key.Replace("transformer.", ""), kv => kv.Value);
        renamed["h.0.attn.bias"] = torch.ones(1, 1, 64, 64);   // the causal-mask buffer old GPT-2 files carry
        Safetensors.Save(path, renamed);
        var cfg = File.ReadAllText(Path.Combine(dir, "config.json")).Replace("\"gelu\"", "\"gelu_new\"");
        File.WriteAllText(Path.Combine(dir, "config.json"), cfg);
        var (back, notes) = HfModel.ImportWithNotes(dir);
        notes.Should().ContainSingle().Which.Should().Contain("tanh approximation");
        SameLogits(model, back);
    }

    [Fact]
    public void Bias_free_gpt2_shape_exports_zero_biases_exactly()
    {
        var model = TinyModels.Build(TinyModels.Gpt2 with { Bias = false, TieEmbeddings = false }, 14);
        HfModel.Export(model, dir, null);
        var st = Safetensors.Load(Path.Combine(dir, "model.safetensors"));
        st["transformer.h.0.attn.c_attn.bias"].abs().max().item<float>().Should().Be(0);
        st.Keys.Should().Contain("lm_head.weight");
        // HF GPT-2 always has biases, so the import is a biased model whose biases are zero: same function.
        var back = HfModel.Import(dir);
        back.Config.Bias.Should().BeTrue();
        using var _ = torch.no_grad();
        (model.forward(Idx) - back.forward(Idx)).abs().max().item<float>().Should().BeLessThan(1e-5f);
    }

    public static TheoryData<string, string> Unexportable => new()
    {
        { "differential", "differential attention" },
        { "nope", "NoPE" },
        { "mixed", "differential attention" },
        { "mixed-kv", "mix attention kinds with different K/V head counts" },
        { "yarn", "YaRN" },
        { "rope-layernorm", "matches neither Llama" },
        { "qk_norm", "qk_norm: HF Llama and GPT-2 do not normalise q and k" },
        { "logit_softcap", "logit_softcap 30: HF Llama and GPT-2 have no logit soft-capping" },
        { "value_embeddings", "value_embeddings: HF Llama and GPT-2 have no per-layer embedding added to V" },
        { "skip_connections", "skip_connections: HF Llama and GPT-2 run the layers in a plain chain" },
        { "relu2-llama", "relu2 feed-forward in the Llama layout: HF Llama's MLP is gated" },
        { "gpt2-qk_norm", "qk_norm" },
    };

    [Theory]
    [MemberData(nameof(Unexportable))]
    public void Models_no_hf_architecture_expresses_are_refused_and_saved_natively(string kind, string reason)
    {
        var cfg = kind switch
        {
            "differential" => TinyModels.Llama with { AttentionKinds = [AttentionKind.Differential] },
            "nope" => TinyModels.Llama with { Position = PositionKind.None },
            "mixed" => TinyModels.Llama with { AttentionKinds = [AttentionKind.Gqa, AttentionKind.Differential] },
            "yarn" => TinyModels.Llama with { Yarn = new YarnScaling(4, 16) },
            "mixed-kv" => TinyModels.Llama with { AttentionKinds = [AttentionKind.Mha, AttentionKind.Gqa] },
            "qk_norm" => TinyModels.Llama with { QkNorm = true },
            "logit_softcap" => TinyModels.Llama with { LogitSoftcap = 30 },
            "value_embeddings" => TinyModels.Llama with { ValueEmbeddings = true },
            "skip_connections" => TinyModels.Llama with { SkipConnections = true },
            "relu2-llama" => TinyModels.Llama with { FeedForwardKinds = [FeedForwardKind.Relu2] },
            "gpt2-qk_norm" => TinyModels.Gpt2 with { QkNorm = true },
            _ => TinyModels.Llama with { Norm = NormKind.LayerNorm },
        };
        var model = TinyModels.Build(cfg, 15);
        var act = () => HfModel.Export(model, dir, null);
        act.Should().Throw<NotSupportedException>().WithMessage($"*cannot be exported as a Hugging Face checkpoint*{reason}*harness's own safetensors format*");
        File.Exists(Path.Combine(dir, "model.safetensors")).Should().BeFalse("nothing is written for a refused export");

        HarnessExport.Save(model, dir, TokenizerIdentity.Bytes);
        Safetensors.ReadHeader(Path.Combine(dir, "model.safetensors")).Metadata.Should().Contain("format", "lmharness");
        var back = HarnessExport.LoadAny(dir);
        back.Config.Should().BeEquivalentTo(cfg);
        SameLogits(model, back);
    }

    [Fact]
    public void Mismatched_weights_and_config_are_rejected_naming_the_tensor()
    {
        var model = TinyModels.Build(TinyModels.Llama, 16);
        HfModel.Export(model, dir, null);
        var path = Path.Combine(dir, "config.json");
        File.WriteAllText(path, File.ReadAllText(path).Replace("\"intermediate_size\": 48", "\"intermediate_size\": 40"));
        var act = () => HfModel.Import(dir);
        act.Should().Throw<InvalidDataException>().WithMessage("*model.safetensors does not hold the model*config.json describes: tensor 'model.layers.0.mlp.gate_proj.weight' is [48, 32] in the file but [40, 32] in the config*fix config.json*");

        File.WriteAllText(path, File.ReadAllText(path).Replace("\"intermediate_size\": 40", "\"intermediate_size\": 48").Replace("\"num_hidden_layers\": 2", "\"num_hidden_layers\": 3"));
        act.Should().Throw<InvalidDataException>().WithMessage("*it has no tensor 'model.layers.2.input_layernorm.weight'*");
    }

    [Fact]
    public void Truncated_weights_and_unsupported_configs_are_rejected_clearly()
    {
        var model = TinyModels.Build(TinyModels.Llama, 17);
        HfModel.Export(model, dir, null);
        var weights = Path.Combine(dir, "model.safetensors");
        var bytes = File.ReadAllBytes(weights);
        File.WriteAllBytes(weights, bytes[..(bytes.Length / 2)]);
        var act = () => HfModel.Import(dir);
        act.Should().Throw<InvalidDataException>().WithMessage("*model.safetensors is not a valid safetensors file*truncated*");

        File.WriteAllBytes(weights, bytes);
        var path = Path.Combine(dir, "config.json");
        var json = File.ReadAllText(path);
        File.WriteAllText(path, json.Replace("\"rope_scaling\": null", "\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0}"));
        act.Should().Throw<NotSupportedException>().WithMessage("*rope_scaling*");
        File.WriteAllText(path, json.Replace("\"model_type\": \"llama\"", "\"model_type\": \"mamba\""));
        act.Should().Throw<NotSupportedException>().WithMessage("*model_type \"mamba\" is not supported*");
        File.Delete(path);
        act.Should().Throw<FileNotFoundException>().WithMessage("*has no config.json*");
    }

    [Fact]
    public void Scale_out_configs_reproduce_the_model_shape()
    {
        var model = TinyModels.Build(TinyModels.Llama, 18);
        HfModel.Export(model, dir, TokenizerIdentity.Bytes);
        var so = Path.Combine(dir, "scaleout");
        File.ReadAllText(Path.Combine(so, "torchtitan.toml")).Should().Contain("seq_len = 64").And.Contain("initial_load_in_hf = true");
        var flavor = File.ReadAllText(Path.Combine(so, "lmharness_torchtitan.py"));
        flavor.Should().Contain("dim=32").And.Contain("n_layers=2").And.Contain("n_kv_heads=2").And.Contain("vocab_size=256");
        File.ReadAllText(Path.Combine(so, "accelerate_fsdp.yaml")).Should().Contain("fsdp_transformer_layer_cls_to_wrap: LlamaDecoderLayer");
        File.Exists(Path.Combine(so, "train_fsdp.py")).Should().BeTrue();

        // torchtitan's FFN width: multiple_of * ceil(int(mult * int(8 d / 3)) / multiple_of) must give ffn_hidden.
        foreach (var (d, f) in new[] { (32, 48), (128, 389), (1024, 3584), (2048, 8192), (576, 1536), (64, 1000) })
        {
            var (m, mult) = ScaleOutHandoff.TorchtitanFfn(d, f);
            int h = (int)(2.0 * 4 * d / 3);
            h = (int)(mult * h);
            (m * ((h + m - 1) / m)).Should().Be(f, $"d={d}");
        }
    }
}
