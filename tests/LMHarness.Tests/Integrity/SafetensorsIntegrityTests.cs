using LMHarness.Interop;
using LMHarness.Tests.Interop;
using LMHarness.Tests.Training;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LMHarness.Tests.Integrity;

public class SafetensorsIntegrityTests(ITestOutputHelper output)
{
    static Dictionary<string, Tensor> SomeTensors()
    {
        torch.manual_seed(7);
        return new()
        {
            ["a.weight"] = torch.randn(8, 6),
            ["b.bf16"] = torch.randn(10).to(ScalarType.BFloat16),
            ["c.ids"] = torch.arange(5, dtype: ScalarType.Int64),
            ["d.empty"] = torch.zeros(0, 4),
        };
    }

    static void ShouldEqual(Dictionary<string, Tensor> a, Dictionary<string, Tensor> b)
    {
        a.Keys.Should().BeEquivalentTo(b.Keys);
        foreach (var (k, t) in a)
        {
            b[k].dtype.Should().Be(t.dtype);
            b[k].shape.Should().Equal(t.shape);
            b[k].bytes.ToArray().Should().Equal(t.bytes.ToArray(), $"{k} bit for bit");
        }
    }

    [Fact]
    public void Written_files_carry_a_checksum_of_header_and_data_that_load_verifies()
    {
        using var dir = new TempDir();
        var path = dir.File("m.safetensors");
        var tensors = SomeTensors();
        Safetensors.Save(path, tensors, new Dictionary<string, string> { ["format"] = "pt" });
        var header = Safetensors.ReadHeader(path);
        header.Checksum.Should().MatchRegex("^[0-9a-f]{64}$");
        header.Metadata["format"].Should().Be("pt");
        ShouldEqual(tensors, Safetensors.Load(path));

        // One bit in a weight: still a valid-looking float, so only the checksum can tell.
        var bytes = File.ReadAllBytes(path);
        var data = header.DataStart + header["a.weight"].Begin;
        bytes[data + 5] ^= 0x01;
        File.WriteAllBytes(path, bytes);
        FluentActions.Invoking(() => Safetensors.Load(path)).Should().Throw<InvalidDataException>()
            .WithMessage($"{path} is not a valid safetensors file: its content does not match its lmharness_sha256 checksum*");

        // A tensor renamed in the header (same length, so the JSON stays valid): the checksum covers names too.
        bytes[data + 5] ^= 0x01;
        var at = bytes.AsSpan().IndexOf("\"a.weight\""u8);
        bytes[at + 8] = (byte)'s';
        File.WriteAllBytes(path, bytes);
        FluentActions.Invoking(() => Safetensors.Load(path)).Should().Throw<InvalidDataException>().WithMessage("*does not match its lmharness_sha256*");
    }

    [Fact]
    public void Files_without_a_checksum_such_as_the_hubs_load_with_the_structural_checks()
    {
        using var dir = new TempDir();
        var path = dir.File("hub.safetensors");
        var floats = new byte[8];
        BitConverter.TryWriteBytes(floats.AsSpan(0), 1.5f);
        BitConverter.TryWriteBytes(floats.AsSpan(4), -2f);
        File.WriteAllBytes(path, SafetensorsTests.FileWithHeader("{\"__metadata__\": {\"format\": \"pt\"}, \"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}", floats));
        Safetensors.ReadHeader(path).Checksum.Should().BeNull();
        Safetensors.Load(path)["w"].data<float>().ToArray().Should().Equal(1.5f, -2f);
    }

    [Theory]
    [InlineData("{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}, \"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}", "*not valid JSON*")]
    [InlineData("{\"w\": {\"dtype\": \"F32\", \"shape\": [2.5], \"data_offsets\": [0, 8]}}", "*shape is not a list of integers*")]
    [InlineData("{\"w\": {\"dtype\": \"F32\", \"shape\": [1e30], \"data_offsets\": [0, 8]}}", "*shape is not a list of integers*")]
    [InlineData("{\"w\": {\"dtype\": \"F32\", \"shape\": [\"2\"], \"data_offsets\": [0, 8]}}", "*shape is not a list of integers*")]
    [InlineData("{\"w\": {\"dtype\": 3, \"shape\": [2], \"data_offsets\": [0, 8]}}", "*dtype is not a string*")]
    [InlineData("{\"w\": {\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296], \"data_offsets\": [0, 8]}}", "*more than 2^63 bytes*")]
    [InlineData("{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [8, 0]}}", "*not an ascending range*")]
    [InlineData("{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 9223372036854775807]}}", "*outside the data section*")]
    [InlineData("{\"w\": [1, 2]}", "*'w' needs*")]
    [InlineData("[1, 2]", "*not a JSON object*")]
    [InlineData("{\"__metadata__\": {\"lmharness_sha256\": \"ABC\"}, \"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}", "*not 64 lowercase hex digits*")]
    public void Damaged_headers_are_refused_naming_the_file_and_the_problem(string header, string message)
    {
        using var dir = new TempDir();
        var path = dir.File("bad.safetensors");
        File.WriteAllBytes(path, SafetensorsTests.FileWithHeader(header, new byte[8]));
        FluentActions.Invoking(() => Safetensors.Load(path)).Should().Throw<InvalidDataException>()
            .WithMessage($"{path} is not a valid safetensors file: *").WithMessage(message);
    }

    [Fact]
    public void Fuzz_1000_truncations_and_byte_flips_are_all_refused_naming_the_file_and_the_intact_file_loads()
    {
        using var dir = TempDir.InMemory();
        var path = dir.File("orig.safetensors");
        var tensors = SomeTensors();
        Safetensors.Save(path, tensors, new Dictionary<string, string> { ["format"] = "lmharness" });
        var original = File.ReadAllBytes(path);
        var file = dir.File("fuzz.safetensors");
        var refused = 0;
        foreach (var c in Damage.Cases(original, 1000, seed: 12))
        {
            File.WriteAllBytes(file, c.Bytes);
            FluentActions.Invoking(() => Safetensors.Load(file)).Should().Throw<InvalidDataException>($"{c.What} must be refused")
                .WithMessage($"{file} is not a valid safetensors file: *");
            refused++;
        }
        output.WriteLine($"safetensors fuzz ({original.Length:N0}-byte file): {refused} of 1000 damaged copies refused");
        refused.Should().Be(1000);
        ShouldEqual(tensors, Safetensors.Load(path));
    }

    [Fact]
    public void A_damaged_checksum_key_name_is_refused_rather_than_read_as_a_file_without_checksum()
    {
        using var dir = new TempDir();
        var path = dir.File("m.safetensors");
        Safetensors.Save(path, SomeTensors(), new Dictionary<string, string>());
        var bytes = File.ReadAllBytes(path);
        var key = bytes.AsSpan().IndexOf("lmharness_sha256"u8);
        bytes[key + 3] ^= 0x02;                      // "lmharness" -> "lmhcrness": the checksum would be lost
        var data = (int)Safetensors.ReadHeader(path).DataStart;
        bytes[data + 1] ^= 0x80;                     // ... and with it the only witness of this flip in a weight
        File.WriteAllBytes(path, bytes);
        FluentActions.Invoking(() => Safetensors.Load(path)).Should().Throw<InvalidDataException>()
            .WithMessage("*metadata key 'lmhcrness_sha256' is a damaged 'lmharness_sha256'*");
    }

    [Fact]
    public void Harness_exports_round_trip_verified_and_a_damaged_export_is_refused_by_import_and_sample()
    {
        using var dir = new TempDir();
        torch.manual_seed(1);
        using var model = new LMHarness.Model.CausalLM(TrainingFixtures.TinyModel with { Dropout = 0 });
        var native = dir.File("native");
        HarnessExport.Save(model, native, null);
        Safetensors.ReadHeader(Path.Combine(native, HfModel.WeightsFile)).Checksum.Should().NotBeNull();
        ModelSource.Load(native).Model.Config.Should().Be(model.Config);

        var weights = Path.Combine(native, HfModel.WeightsFile);
        var bytes = File.ReadAllBytes(weights);
        bytes[^3] ^= 0x40;
        File.WriteAllBytes(weights, bytes);
        FluentActions.Invoking(() => ModelSource.Load(native)).Should().Throw<InvalidDataException>().WithMessage($"{weights}*checksum*");
    }
}
