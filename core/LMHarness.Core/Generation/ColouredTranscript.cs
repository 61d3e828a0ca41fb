namespace LMHarness.Generation;

/// <summary>
/// Writes a prompt and its streamed continuation in two colours (ANSI SGR: bold blue prompt, green continuation)
/// so a reader sees where the model took over. Plain text when colour is off: <see cref="ForConsole"/> turns it off
/// when output is redirected or NO_COLOR is set (https://no-color.org), so logs and pipes get clean text.
/// </summary>
public sealed class ColouredTranscript
{
    const string PromptStyle = "\u001b[1;34m", ContinuationStyle = "\u001b[32m", Reset = "\u001b[0m";
    readonly TextWriter writer;
    readonly bool colour;

    public ColouredTranscript(TextWriter writer, bool colour)
    {
        this.writer = writer;
        this.colour = colour;
    }

    /// <summary>Standard output, coloured only when it is a terminal and NO_COLOR is unset.</summary>
    public static ColouredTranscript ForConsole() =>
        new(Console.Out, !Console.IsOutputRedirected && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR")));

    public void Prompt(string text) => Write(PromptStyle, text);

    /// <summary>One streamed piece of the continuation; pass this method as the generator's text callback.</summary>
    public void Continuation(string text) => Write(ContinuationStyle, text);

    /// <summary>Ends the transcript with a newline.</summary>
    public void End()
    {
        writer.WriteLine();
        writer.Flush();
    }

    void Write(string style, string text)
    {
        if (text.Length == 0) return;
        writer.Write(colour ? style + text + Reset : text);
        writer.Flush();
    }
}
