using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using LMHarness.Runs;
using LMHarness.Scripting;
using LMHarness.Tests.Data;

namespace LMHarness.Tests.Scripting;

/// <summary>
/// The repository's `dotnet script` launcher (tools/LMHarness.Script.Launcher) as a terminal drives it: started in a
/// process group of its own, with Ctrl-C sent to the whole group as a terminal sends it. The launcher runs the script
/// host as a child; before the launcher waited for it, the first Ctrl-C returned the prompt at once (exit 130) while the
/// host went on writing its checkpoint and plots.
/// </summary>
[Collection(UpstreamCollection.Name)]
public sealed class LauncherTests : IDisposable
{
    const int SIGINT = 2;
    readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>The launcher in a new session (its pid is the process group id), stdout and stderr collected.</summary>
    sealed class Group : IDisposable
    {
        readonly Process _p;
        readonly StringBuilder _log = new();
        public int Pgid => _p.Id;

        public Group(params string[] launcherArgs)
        {
            AllowSigint();
            File.Exists(RepoPaths.LauncherDll).Should().BeTrue($"the launcher is built with the tests ({RepoPaths.LauncherDll})");
            var psi = ChildProcess.Start("setsid", ["dotnet", RepoPaths.LauncherDll, .. launcherArgs], RepoPaths.Root, new Dictionary<string, string?>
            {
                ["LMHARNESS_SCRIPT_NO_BUILD"] = "1", // the test build already built the host
                ["LMHARNESS_TINYSHAKESPEARE"] = DataFixtures.TinyShakespearePath(),
            });
            _p = Process.Start(psi)!;
            _p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.AppendLine(e.Data); };
            _p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.AppendLine(e.Data); };
            _p.BeginOutputReadLine();
            _p.BeginErrorReadLine();
        }

        public string Log { get { lock (_log) return _log.ToString(); } }

        public void Until(Func<bool> condition, int seconds, string what)
        {
            var clock = Stopwatch.StartNew();
            while (!condition())
            {
                if (_p.HasExited) throw new InvalidOperationException($"the launcher exited ({_p.ExitCode}) before {what}:\n{Log}");
                if (clock.Elapsed.TotalSeconds > seconds) throw new TimeoutException($"no {what} after {seconds} s:\n{Log}");
                Thread.Sleep(100);
            }
        }

        /// <summary>Ctrl-C as a terminal sends it: SIGINT to every process of the group.</summary>
        public void CtrlC() => Kill(-Pgid, SIGINT).Should().Be(0);

        public bool Exited(int seconds) => _p.WaitForExit(seconds * 1000);

        public int ExitCode { get { _p.WaitForExit(); return _p.ExitCode; } }

        /// <summary>Whether any process of the group is still alive (kill with signal 0 only checks).</summary>
        public bool AnyAlive => Kill(-Pgid, 0) == 0;

        public void Dispose()
        {
            if (AnyAlive) Kill(-Pgid, 9);
            _p.Dispose();
        }
    }

    [Fact]
    public void Ctrl_C_during_train_returns_only_after_the_checkpoint_and_result_are_saved_with_exit_code_75()
    {
        var run = _dir.File("run");
        using var g = new Group("scripts/train.csx", "--", "--preset", "nanogpt-cpu", "--n_layer", "1", "--d_model", "32", "--n_head", "2", "--n_kv_head", "2",
            "--context_length", "16", "--micro_batch", "2", "--max_steps", "1000000", "--eval_interval", "1000000", "--log_interval", "1",
            "--out", run);
        var metrics = Path.Combine(run, "metrics.csv");
        g.Until(() => File.Exists(metrics) && File.ReadLines(metrics).Count() >= 4, 300, "training steps in metrics.csv");

        g.CtrlC();

        g.Exited(120).Should().BeTrue("the script saves and ends after one Ctrl-C");
        // Checked the moment the launcher is gone: the host ran in the same group, so nothing may be left writing.
        g.AnyAlive.Should().BeFalse("the launcher returns only after the script host has finished");
        var folder = new RunFolder(run);
        folder.ReadResult()!.Interrupted.Should().BeTrue();
        folder.LatestCheckpoint.Should().NotBeNull();
        File.Exists(Path.Combine(run, "loss_vs_tokens.png")).Should().BeTrue("train.csx writes its plots after the trainer stopped");
        g.ExitCode.Should().Be(ScriptRunner.InterruptedSaved, g.Log);
        g.Log.Should().Contain("Interrupted: finishing the current step");
    }

    [Fact]
    public void A_second_Ctrl_C_stops_a_script_that_is_still_saving_at_once_with_exit_code_130()
    {
        // A script whose "save" never ends: it cancels every SIGINT it gets, as a long checkpoint write would hold on.
        var script = _dir.File("hang.csx");
        File.WriteAllText(script, """
            using System.Runtime.InteropServices;
            var reg = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx => { ctx.Cancel = true; Console.Error.WriteLine("saving..."); });
            Console.Error.WriteLine("ready");
            System.Threading.Thread.Sleep(System.Threading.Timeout.Infinite);
            GC.KeepAlive(reg);
            """);
        using var g = new Group(script);
        g.Until(() => g.Log.Contains("ready"), 300, "the script's ready line");

        g.CtrlC();
        g.Until(() => g.Log.Contains("saving..."), 30, "the script's SIGINT handler");
        g.Exited(3).Should().BeFalse("after one Ctrl-C the launcher waits for the script");

        g.CtrlC();
        g.Exited(15).Should().BeTrue("a second Ctrl-C aborts at once");
        g.ExitCode.Should().Be(130);
        Thread.Sleep(200);
        g.AnyAlive.Should().BeFalse("the host is killed with the launcher");
    }

    [Theory]
    [InlineData(new[] { "-p:TorchBackend=cuda", "--info" }, null, "TorchBackend=cuda (from -p:TorchBackend)")]
    [InlineData(new[] { "--info" }, "cuda", "TorchBackend=cuda (from LMHARNESS_TORCH_BACKEND)")]
    [InlineData(new[] { "-p:TorchBackend=cpu", "--info" }, "cuda", "TorchBackend=cpu (from -p:TorchBackend)")]
    public void The_launcher_builds_the_host_for_the_backend_the_user_chose(string[] args, string? env, string expected)
    {
        var r = ChildProcess.Run("dotnet", [RepoPaths.LauncherDll, .. args], RepoPaths.Root, new Dictionary<string, string?> { ["LMHARNESS_TORCH_BACKEND"] = env });
        r.Code.Should().Be(0, r.All);
        r.Out.Should().Contain(expected);
        var backend = expected.Split(' ')[0];
        r.Out.Should().Contain($"-c Release -p:{backend}", "the property reaches the build of the script host");
    }

    [Fact]
    public void An_unknown_backend_is_refused_naming_the_choices()
    {
        var r = ChildProcess.Run("dotnet", [RepoPaths.LauncherDll, "-p:TorchBackend=rocm", "--info"], RepoPaths.Root);
        r.Code.Should().Be(2);
        r.Err.Should().Contain("TorchBackend 'rocm' (from -p:TorchBackend) is not a backend: use cpu or cuda.");
    }

    /// <summary>
    /// A shell that starts a background job without job control hands it SIGINT ignored, and children inherit that; a
    /// .NET process started so never sees Ctrl-C. Make sure this test process passes SIGINT on to its children as a
    /// terminal's shell does (default action; the test process itself gets none: the children run in their own group).
    /// </summary>
    static void AllowSigint()
    {
        var ignored = File.ReadLines("/proc/self/status").First(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
        if ((Convert.ToUInt64(ignored[7..].Trim(), 16) & (1UL << (SIGINT - 1))) != 0) Signal(SIGINT, IntPtr.Zero); // SIG_DFL
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    static extern int Kill(int pid, int signal);

    [DllImport("libc", EntryPoint = "signal")]
    static extern IntPtr Signal(int signum, IntPtr handler);
}
