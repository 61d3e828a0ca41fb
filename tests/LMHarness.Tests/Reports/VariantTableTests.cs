using LMHarness.Reports;

namespace LMHarness.Tests.Reports;

public class VariantTableTests
{
    [Fact]
    public void Rows_become_csv_per_run_and_markdown_means_per_variant_with_derived_columns()
    {
        var t = new VariantTable("val_loss_1x", "val_loss_2x")
            .Add("rope", 0, 2.0, 2.5).Add("rope", 1, 2.2, 2.9).Add("nope", 0, 2.4, 2.45);

        t.Csv().Should().Be("variant,seed,val_loss_1x,val_loss_2x\nrope,0,2,2.5\nrope,1,2.2,2.9\nnope,0,2.4,2.45\n");
        t.Markdown(("change", m => m[1] - m[0])).Should().Be(
            "| variant | seeds | val_loss_1x | val_loss_2x | change |\n" +
            "|---|---:|---:|---:|---:|\n" +
            "| rope | 2 | 2.1000 | 2.7000 | +0.6000 |\n" +
            "| nope | 1 | 2.4000 | 2.4500 | +0.0500 |\n");
        FluentActions.Invoking(() => t.Add("x", 0, 1.0)).Should().Throw<ArgumentException>().WithMessage("x seed0: 1 values for the 2 columns val_loss_1x, val_loss_2x.");
    }
}
