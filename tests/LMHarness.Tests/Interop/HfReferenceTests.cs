using LMHarness.Interop;
using LMHarness.Tests.Generation;
using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Tests.Interop;

/// <summary>
/// The exported files, run through independent re-implementations of HF's modeling_llama.py and modeling_gpt2.py
/// forward passes (written from those files' formulas, reading only HF tensor names and config.json), must give
/// the harness model's logits. This pins the export's meaning, not just its bytes.
/// </summary>
public class HfReferenceTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("lmh-ref-").FullName;
    public void Dispose() => Directory.Delete(dir, recursive: true);

    static readonly long[] Ids = [3, 200, 17, 42, 99, 5, 0, 255, 128, 64, 7, 7];

    static Tensor Causal(long t) => torch.ones(t, t, ScalarType.Bool).tril().logical_not();

    static Tensor Attention(Tensor q, Tensor k, Tensor v)   // (B, H, T, hd) each
    {
        var scores = q.matmul(k.transpose(-2, -1)) / Math.Sqrt(q.shape[^1]);
        scores = scores.masked_fill(Causal(q.shape[2]), float.NegativeInfinity);
        return scores.softmax(-1).matmul(v);
    }

    [Fact]
    public void Llama_export_matches_a_reference_of_hf_modeling_llama()
    {
        var cfg = TinyModels.Llama with { TieEmbeddings = false, RopeTheta = 1000 };
        var model = TinyModels.Build(cfg, 40);
        HfModel.Export(model, dir, null);
        var w = Safetensors.Load(Path.Combine(dir, "model.safetensors"));
        var c = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "config.json"))).RootElement;
        int heads = c.GetProperty("num_attention_heads").GetInt32();
        int kvHeads = c.GetProperty("num_key_value_heads").GetInt32(), hd = c.GetProperty("head_dim").GetInt32();
        double eps = c.GetProperty("rms_norm_eps").GetDouble(), theta = c.GetProperty("rope_theta").GetDouble();
        int layers = c.GetProperty("num_hidden_layers").GetInt32();

        using var _ = torch.no_grad();
        long t = Ids.Length;
        Tensor Rms(Tensor x, string name) => x * torch.rsqrt(x.pow(2).mean([-1], keepdim: true) + eps) * w[name];
        Tensor Lin(Tensor x, string name) => x.matmul(w[name].t());
        // LlamaRotaryEmbedding: inv_freq = 1 / theta^(arange(0, hd, 2) / hd); emb = cat(freqs, freqs); rotate_half.
        var invFreq = 1.0 / torch.pow(theta, torch.arange(0, hd, 2, ScalarType.Float64) / hd);
        var freqs = torch.arange(t, dtype: ScalarType.Float64).unsqueeze(1) * invFreq.unsqueeze(0);
        var emb = torch.cat([freqs, freqs], -1);
        var cos = emb.cos().to(ScalarType.Float32); var sin = emb.sin().to(ScalarType.Float32);
        Tensor RotateHalf(Tensor x) => torch.cat([-x[.., .., .., (hd / 2)..], x[.., .., .., ..(hd / 2)]], -1);

        var h = w["model.embed_tokens.weight"].index_select(0, torch.tensor(Ids)).unsqueeze(0);
        for (int i = 0; i < layers; i++)
        {
            var p = $"model.layers.{i}.";
            var x = Rms(h, p + "input_layernorm.weight");
            var q = Lin(x, p + "self_attn.q_proj.weight").view(1, t, heads, hd).transpose(1, 2);
            var k = Lin(x, p + "self_attn.k_proj.weight").view(1, t, kvHeads, hd).transpose(1, 2);
            var v = Lin(x, p + "self_attn.v_proj.weight").view(1, t, kvHeads, hd).transpose(1, 2);
            q = q * cos + RotateHalf(q) * sin;
            k = k * cos + RotateHalf(k) * sin;
            // repeat_kv: each K/V head serves n_rep consecutive query heads.
            k = k.repeat_interleave(heads / kvHeads, 1); v = v.repeat_interleave(heads / kvHeads, 1);
            var y = Attention(q, k, v).transpose(1, 2).reshape(1, t, heads * hd);
            h = h + Lin(y, p + "self_attn.o_proj.weight");
            x = Rms(h, p + "post_attention_layernorm.weight");
            h = h + Lin(nn.functional.silu(Lin(x, p + "mlp.gate_proj.weight")) * Lin(x, p + "mlp.up_proj.weight"), p + "mlp.down_proj.weight");
        }
        var reference = Lin(Rms(h, "model.norm.weight"), "lm_head.weight");

        var ours = model.forward(torch.tensor(Ids).unsqueeze(0));
        (ours - reference).abs().max().item<float>().Should().BeLessThan(2e-4f);
    }

    [Fact]
    public void Gpt2_export_matches_a_reference_of_hf_modeling_gpt2()
    {
        var model = TinyModels.Build(TinyModels.Gpt2, 41);
        HfModel.Export(model, dir, null);
        var w = Safetensors.Load(Path.Combine(dir, "model.safetensors"));
        var c = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "config.json"))).RootElement;
        int d = c.GetProperty("n_embd").GetInt32(), heads = c.GetProperty("n_head").GetInt32(), layers = c.GetProperty("n_layer").GetInt32();
        double eps = c.GetProperty("layer_norm_epsilon").GetDouble();
        c.GetProperty("activation_function").GetString().Should().Be("gelu");

        using var _ = torch.no_grad();
        long t = Ids.Length; int hd = d / heads;
        Tensor Ln(Tensor x, string name) => nn.functional.layer_norm(x, [d], w[name + ".weight"], w[name + ".bias"], eps);
        Tensor Conv1D(Tensor x, string name) => x.matmul(w[name + ".weight"]) + w[name + ".bias"];   // weight is (in, out)

        var h = w["transformer.wte.weight"].index_select(0, torch.tensor(Ids)) + w["transformer.wpe.weight"][..(int)t];
        h = h.unsqueeze(0);
        for (int i = 0; i < layers; i++)
        {
            var p = $"transformer.h.{i}.";
            var qkv = Conv1D(Ln(h, p + "ln_1"), p + "attn.c_attn").split(d, 2);
            Tensor Heads(Tensor x) => x.view(1, t, heads, hd).transpose(1, 2);
            var y = Attention(Heads(qkv[0]), Heads(qkv[1]), Heads(qkv[2])).transpose(1, 2).reshape(1, t, d);
            h = h + Conv1D(y, p + "attn.c_proj");
            h = h + Conv1D(nn.functional.gelu(Conv1D(Ln(h, p + "ln_2"), p + "mlp.c_fc")), p + "mlp.c_proj");
        }
        var reference = Ln(h, "transformer.ln_f").matmul(w["transformer.wte.weight"].t());

        var ours = model.forward(torch.tensor(Ids).unsqueeze(0));
        (ours - reference).abs().max().item<float>().Should().BeLessThan(2e-4f);
    }
}
