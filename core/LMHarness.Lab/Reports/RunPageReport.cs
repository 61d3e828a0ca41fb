namespace LMHarness.Reports;

/// <summary>What <see cref="RunPage.Write"/> produced in a run folder: its plots and its page.</summary>
public sealed record RunPageReport(string Folder, IReadOnlyList<string> Pngs, string HtmlPath, RunRow Row)
{
    public override string ToString() =>
        $"run page in {Folder}:\n" + string.Concat(Pngs.Append(HtmlPath).Select(f => $"  {f}\n")) +
        $"final val loss {HtmlReport.Num(Row.FinalValLoss, "F4")} (best {HtmlReport.Num(Row.BestValLoss, "F4")}), {Row.Tokens:N0} tokens, {HtmlReport.Num(Row.TrainSeconds, "F1")} s of training";
}
