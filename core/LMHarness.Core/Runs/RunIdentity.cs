using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using LMHarness.Config;

namespace LMHarness.Runs;

/// <summary>
/// What determines a run's results, as a short hash: the model config, the substance of the training config (its
/// seed and length included; not threads, device, logging or checkpoint cadence, see
/// <see cref="TrainingConfig.Substance"/>), and the data: the token file's identity, its tokenizer and the random
/// stream the batches follow. Two runs with the same identity compute the same thing, so a finished one can be reused
/// instead of retrained; anything else gets a new identity.
/// </summary>
public static class RunIdentity
{
    /// <summary>16 hex digits of SHA-256 over the canonical JSON of what determines the run.</summary>
    public static string Of(ModelConfig model, TrainingConfig training, JsonObject data)
    {
        var what = new JsonObject
        {
            ["model"] = JsonNode.Parse(model.ToJson()),
            ["training"] = JsonNode.Parse(training.Substance.ToJson()),
            // The file's identity, not its path: a moved file is the same data, a re-prepared one is not.
            ["data"] = new JsonObject
            {
                ["identity"] = data["identity"]?.DeepClone() ?? data.DeepClone(),
                ["tokenizer"] = data["tokenizer"]?.DeepClone(),
                ["stream"] = data["stream"]?.DeepClone() ?? "harness",
            },
        };
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(what.ToJsonString())))[..16].ToLowerInvariant();
    }

    /// <summary>The identity of the run a config.json describes.</summary>
    public static string Of(RunConfig config) => Of(config.Model, config.Training, config.Data);
}
