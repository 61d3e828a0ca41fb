using System.Runtime.InteropServices;
using LMHarness.Data;
using LMHarness.Model;
using LMHarness.Training;
using LMHarness.Runs;

namespace LMHarness.Tests.Training;

/// <summary>
/// Signal handlers are process-wide: a SIGINT reaches every trainer running at the time, so this test runs alone (a
/// trainer in a parallel test took the stop request, and that test's run, with it).
/// </summary>
[Collection(nameof(GlobalTorchState))]
public class SignalTests
{
    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    static extern int Kill(int pid, int signal);

    [Fact]
    public void Sigint_finishes_the_step_writes_a_checkpoint_and_returns_instead_of_killing_the_process()
    {
        using var dir = new TempDir();
        var t = TrainingFixtures.TinyTraining with { MaxSteps = 2_000, EvalInterval = 100_000, LogInterval = 100_000, GradFlowInterval = 0 };
        var sent = false;
        using var data = TokenFileBatches.Open(TrainingFixtures.TokenFile(dir.Path), t);
        var trainer = new Trainer(TrainingFixtures.TinyModel, t, data, dir.File("run"), c => new CausalLM(c));
        trainer.StepCompleted += r =>
        {
            if (r.Step == 3 && !sent) { sent = true; Kill(Environment.ProcessId, 2).Should().Be(0); } // SIGINT = 2: what Ctrl-C sends
        };
        var s = trainer.Train();
        sent.Should().BeTrue();
        s.Interrupted.Should().BeTrue("the handler turned Ctrl-C into a stop request; this test process is still alive");
        s.Steps.Should().BeInRange(3, 1_999);
        new RunFolder(dir.File("run")).LatestCheckpoint.Should().EndWith(RunFolder.CheckpointFileName(s.Steps));
        new RunFolder(dir.File("run")).ReadResult()!.Interrupted.Should().BeTrue();
    }
}
