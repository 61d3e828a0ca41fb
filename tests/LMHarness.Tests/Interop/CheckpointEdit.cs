using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace LMHarness.Tests.Interop;

/// <summary>
/// Rewrites a format-2 checkpoint's state section (the JSON holding the model config) and frames it again with a fresh
/// SHA-256, as a tool or another program could: the edit passes every integrity check, so only the loader's comparison
/// of config and tensors stands between it and a model of the edited size. The framing is parsed here independently
/// of the reader: [magic][name][int64 length][body][SHA-256 of body] per section, then END.
/// </summary>
static class CheckpointEdit
{
    public static void EditState(string path, Action<JsonObject> edit)
    {
        var bytes = File.ReadAllBytes(path);
        using var input = new BinaryReader(new MemoryStream(bytes), Encoding.UTF8);
        using var output = new MemoryStream();
        using var w = new BinaryWriter(output, Encoding.UTF8);
        w.Write(input.ReadString());   // magic
        for (int i = 0; i < 4; i++)
        {
            var name = input.ReadString();
            var body = input.ReadBytes((int)input.ReadInt64());
            input.ReadBytes(32);
            if (name == "state")
            {
                using var r = new BinaryReader(new MemoryStream(body), Encoding.UTF8);
                var state = JsonNode.Parse(r.ReadString())!.AsObject();
                edit(state);
                using var ms = new MemoryStream();
                using (var bw = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true)) bw.Write(state.ToJsonString());
                body = ms.ToArray();
            }
            w.Write(name);
            w.Write((long)body.Length);
            w.Write(body);
            w.Write(SHA256.HashData(body));
        }
        w.Write(input.ReadString());   // END
        w.Flush();
        File.WriteAllBytes(path, output.ToArray());
    }
}
