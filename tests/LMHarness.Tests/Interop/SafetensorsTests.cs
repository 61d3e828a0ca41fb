using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using LMHarness.Interop;
using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Tests.Interop;

public class SafetensorsTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("lmh-st-").FullName;
    public void Dispose() => Directory.Delete(dir, recursive: true);

    string PathOf(string name) => System.IO.Path.Combine(dir, name);

    /// <summary>A safetensors file by hand: 8-byte length, the given header text, the given data bytes.</summary>
    internal static byte[] FileWithHeader(string json, byte[] data)
    {
        var h = Encoding.UTF8.GetBytes(json);
        var all = new byte[8 + h.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(all, (ulong)h.Length);
        h.CopyTo(all, 8);
        data.CopyTo(all, 8 + h.Length);
        return all;
    }

    [Fact]
    public void Round_trip_keeps_values_dtypes_shapes_and_metadata()
    {
        var tensors = new Dictionary<string, Tensor>
        {
            ["a.f32"] = torch.randn(3, 5),
            ["b.f16"] = torch.randn(4, 2).to(ScalarType.Float16),
            ["c.bf16"] = torch.randn(7).to(ScalarType.BFloat16),
            ["d.i64"] = torch.arange(12, dtype: ScalarType.Int64).reshape(3, 4),
            ["e.empty"] = torch.zeros(0, 3),
        };
        var path = PathOf("m.safetensors");
        Safetensors.Save(path, tensors, new Dictionary<string, string> { ["format"] = "pt" });

        var back = Safetensors.Load(path);
        back.Keys.Should().BeEquivalentTo(tensors.Keys);
        foreach (var (k, t) in tensors)
        {
            back[k].dtype.Should().Be(t.dtype, k);
            back[k].shape.Should().Equal(t.shape);
            back[k].eq(t).all().item<bool>().Should().BeTrue(k);
        }
        Safetensors.ReadHeader(path).Metadata.Should().Contain("format", "pt");
        File.Exists(path + ".tmp").Should().BeFalse("the temp file is renamed into place");
    }

    [Fact]
    public void Byte_layout_is_length_prefixed_padded_json_then_raw_little_endian_data()
    {
        var path = PathOf("layout.safetensors");
        var w = torch.tensor(new float[] { 1.5f, -2f, 3.25f, 0f, 7f, 8f }).reshape(2, 3);
        var ids = torch.tensor(new long[] { 5, -1 });
        Safetensors.Save(path, [new("w", w), new("ids", ids)]);

        var bytes = File.ReadAllBytes(path);
        long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        (n % 8).Should().Be(0, "the header is space-padded to an 8-byte boundary");
        var json = JsonDocument.Parse(Encoding.UTF8.GetString(bytes, 8, (int)n).TrimEnd(' ')).RootElement;
        json.GetProperty("w").GetProperty("dtype").GetString().Should().Be("F32");
        json.GetProperty("w").GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()).Should().Equal(2, 3);
        json.GetProperty("w").GetProperty("data_offsets").EnumerateArray().Select(x => x.GetInt64()).Should().Equal(0, 24);
        json.GetProperty("ids").GetProperty("dtype").GetString().Should().Be("I64");
        json.GetProperty("ids").GetProperty("data_offsets").EnumerateArray().Select(x => x.GetInt64()).Should().Equal(24, 40);
        bytes.Length.Should().Be((int)(8 + n + 40));

        long data = 8 + n;
        BitConverter.ToSingle(bytes, (int)data + 0).Should().Be(1.5f);
        BitConverter.ToSingle(bytes, (int)data + 8).Should().Be(3.25f);
        BitConverter.ToInt64(bytes, (int)data + 32).Should().Be(-1);
    }

    [Fact]
    public void Truncated_file_is_rejected_naming_truncation()
    {
        var path = PathOf("t.safetensors");
        Safetensors.Save(path, new Dictionary<string, Tensor> { ["w"] = torch.ones(64) });
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^10]);
        var act = () => Safetensors.Load(path);
        act.Should().Throw<InvalidDataException>().WithMessage("*'w'*outside the data section*truncated*");

        File.WriteAllBytes(path, bytes[..5]);
        act.Should().Throw<InvalidDataException>().WithMessage("*shorter than the 8-byte header length*");
    }

    [Fact]
    public void Header_length_past_end_of_file_is_rejected()
    {
        var path = PathOf("h.safetensors");
        var bytes = new byte[64];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 1000);
        File.WriteAllBytes(path, bytes);
        var act = () => Safetensors.ReadHeader(path);
        act.Should().Throw<InvalidDataException>().WithMessage("*header length 1000 runs past the end of the file*");
    }

    [Fact]
    public void Wrong_header_is_rejected()
    {
        var path = PathOf("j.safetensors");
        File.WriteAllBytes(path, FileWithHeader("{\"w\": {\"dtype\": \"F32\", ", new byte[8]));
        var act = () => Safetensors.ReadHeader(path);
        act.Should().Throw<InvalidDataException>().WithMessage("*not valid JSON*");

        File.WriteAllBytes(path, FileWithHeader("{\"w\": {\"dtype\": \"Q4\", \"shape\": [2], \"data_offsets\": [0, 8]}}", new byte[8]));
        act.Should().Throw<InvalidDataException>().WithMessage("*unknown dtype 'Q4'*");

        File.WriteAllBytes(path, FileWithHeader("{\"w\": {\"dtype\": \"F32\", \"shape\": [2]}}", new byte[8]));
        act.Should().Throw<InvalidDataException>().WithMessage("*'w' needs*data_offsets*");
    }

    [Fact]
    public void Shape_that_does_not_match_the_byte_range_is_rejected()
    {
        var path = PathOf("s.safetensors");
        File.WriteAllBytes(path, FileWithHeader("{\"w\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 8]}}", new byte[8]));
        var act = () => Safetensors.Load(path);
        act.Should().Throw<InvalidDataException>().WithMessage("*'w' is F32 of shape [3] = 12 bytes, but its offsets span 8 bytes*");
    }

    [Fact]
    public void Overlapping_offsets_and_unclaimed_bytes_are_rejected()
    {
        var path = PathOf("o.safetensors");
        File.WriteAllBytes(path, FileWithHeader(
            "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}, \"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}", new byte[12]));
        var act = () => Safetensors.Load(path);
        act.Should().Throw<InvalidDataException>().WithMessage("*'b'*overlap*");

        File.WriteAllBytes(path, FileWithHeader("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}", new byte[16]));
        act.Should().Throw<InvalidDataException>().WithMessage("*holds 16 bytes but the tensors claim 8*");
    }

    [Fact]
    public void Missing_file_names_the_path()
    {
        var act = () => Safetensors.Load(PathOf("nope.safetensors"));
        act.Should().Throw<FileNotFoundException>().WithMessage("*nope.safetensors*");
    }
}
