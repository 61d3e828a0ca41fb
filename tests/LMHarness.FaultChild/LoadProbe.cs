using System.Text.Json;
using LMHarness.Generation;
using LMHarness.Interop;
using LMHarness.Tokenizers;
using LMHarness.Training;

/// <summary>
/// The loaders' memory probe: for each line "PATH TAB TOKENS" of a cases file, loads PATH with
/// <see cref="ModelSource.Load"/> (sampling TOKENS bytes from it when it loads) and prints one JSON line: the path,
/// whether it loaded (and its parameter count), the error's type and message when it did not, and how far the process's resident high-water
/// mark rose above its resident size before the load (VmHWM, reset per case), in MB. Run in its own process so the
/// tests can watch its memory from outside and kill it before a load that is not bounded takes the machine.
/// </summary>
static class LoadProbe
{
    public static int Run(string casesFile)
    {
        foreach (var line in File.ReadLines(casesFile))
        {
            var parts = line.Split('\t');
            var (path, tokens) = (parts[0], int.Parse(parts[1]));
            GC.Collect();
            GC.WaitForPendingFinalizers();
            var reset = ResidentMemory.ResetPeak();
            var before = ResidentMemory.Megabytes();
            string? type = null, error = null;
            long parameters = 0;
            try
            {
                var loaded = ModelSource.Load(path);
                using var model = loaded.Model;
                parameters = model.parameters().Sum(p => p.numel());
                if (tokens > 0)
                    new Generator(model, TokenizerFactory.ByName("bytes")).Generate("ab", new SamplingOptions { MaxNewTokens = tokens, Seed = 1 });
            }
            catch (Exception e)
            {
                (type, error) = (e.GetType().Name, e.Message);
            }
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                path, loaded = error is null, type, error, reset, parameters,
                growth_mb = ResidentMemory.PeakMegabytes() - before,
            }));
        }
        return 0;
    }
}
