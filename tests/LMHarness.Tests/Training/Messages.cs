using LMHarness.Training.Logging;

namespace LMHarness.Tests.Training;

/// <summary>Collects what the trainer tells the console.</summary>
sealed class Messages : IRunLogger
{
    public List<string> Lines { get; } = [];
    public void OnMessage(string message) => Lines.Add(message);
}
