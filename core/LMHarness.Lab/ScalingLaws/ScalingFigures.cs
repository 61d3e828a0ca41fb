using System.Globalization;
using OxyPlot;
using OxyPlot.Axes;
using OxyPlot.Annotations;
using OxyPlot.Series;
using LMHarness.Plots;

namespace LMHarness.ScalingLaws;

/// <summary>
/// The three figures of a scaling-law fit, in the harness's chart style (<see cref="Charts"/>; save with
/// <see cref="Charts.Save"/>): loss against compute with the compute-optimal frontier, the IsoFLOP profiles with their
/// parabolas, and the fit's residuals. Colour is model size, the same in every figure; the held-out run is a star.
/// </summary>
public static class ScalingFigures
{
    /// <summary>
    /// Final loss against compute (log x) for every run, the fitted frontier L(N*(C), D*(C)) (the lowest loss the law
    /// allows at C, N* searched under the family's FLOPs per token <paramref name="flopsPerToken"/>) and, where given,
    /// approach 2's parabola minima; each held-out run measured (star) and predicted (cross, its interval as a bar).
    /// </summary>
    public static PlotModel LossVsCompute(ChinchillaFit fit, Func<double, double> flopsPerToken, IReadOnlyList<(ScalingRun Run, Interval Predicted)> heldOut, IsoFlopFit? iso = null)
    {
        var model = Charts.NewModel("Final loss vs training compute", ComputeAxis(),
            Charts.YAxis("final validation loss (nats/token)", false),
            $"dots: fitted runs, coloured by size; line: the fitted compute-optimal frontier L(N*(C), D*(C)); stars: held-out runs, crosses and bars: their predictions before training (95 %)");
        AddBySize(model, fit.Runs, heldOut.Select(h => h.Run), r => r.Compute, r => r.Loss);
        double lo = fit.Runs.Min(r => r.Compute) / 1.5, hi = heldOut.Max(h => h.Run.Compute) * 2;
        var frontier = new LineSeries { Title = "frontier (approach 3)", Color = OxyColors.Black, StrokeThickness = 2.5 };
        for (int i = 0; i <= 60; i++)
        {
            double c = lo * Math.Pow(hi / lo, i / 60.0);
            var (n, d) = fit.Law.ComputeOptimal(c, flopsPerToken);
            frontier.Points.Add(new DataPoint(c, fit.Law.Loss(n, d)));
        }
        model.Series.Add(frontier);
        if (iso is not null)
        {
            var minima = new ScatterSeries { Title = "IsoFLOP minima (approach 2)", MarkerType = MarkerType.Diamond, MarkerSize = 7, MarkerFill = OxyColors.White, MarkerStroke = OxyColors.Black, MarkerStrokeThickness = 1.5 };
            minima.Points.AddRange(iso.Profiles.Select(p => new ScatterPoint(p.Compute, p.MinimumLoss)));
            model.Series.Add(minima);
        }
        foreach (var (run, predicted) in heldOut)
        {
            AddHeldOut(model, run, run.Loss, $"held out N = {run.Parameters:N0}: measured {run.Loss:F3}, predicted {predicted.Estimate:F3} [{predicted.Low:F3}, {predicted.High:F3}]");
            model.Series.Add(new LineSeries { Color = OxyColors.Black, StrokeThickness = 1.5, Points = { new(run.Compute, predicted.Low), new(run.Compute, predicted.High) } });
            model.Series.Add(new ScatterSeries { MarkerType = MarkerType.Cross, MarkerSize = 8, MarkerStroke = OxyColors.Black, MarkerStrokeThickness = 2, Points = { new(run.Compute, predicted.Estimate) } });
        }
        return model;
    }

    /// <summary>
    /// Final loss against N (log x), one colour per IsoFLOP profile: its runs (dots), its fitted parabola in log N
    /// (line, over its sizes) and the parabola's minimum (diamond); the minima move right as compute grows (N* ∝ C^a).
    /// </summary>
    public static PlotModel IsoFlopCurves(IsoFlopFit iso)
    {
        var model = Charts.NewModel("IsoFLOP profiles", Charts.XAxis("parameters N (non-embedding lookups excluded, log scale)", true),
            Charts.YAxis("final validation loss (nats/token)", false),
            $"each colour: runs of equal compute; lines: least-squares parabolas in log N; diamonds: their minima; a = {iso.ParameterExponent}, b = {iso.TokenExponent}");
        int k = 0;
        foreach (var p in iso.Profiles)
        {
            var colour = Charts.Palette[k++ % Charts.Palette.Count];
            var dots = new ScatterSeries { Title = $"C = {p.Compute:0.0e+0}", MarkerType = MarkerType.Circle, MarkerSize = 5, MarkerFill = colour };
            dots.Points.AddRange(p.Runs.Select(r => new ScatterPoint(r.Parameters, r.Loss)));
            model.Series.Add(dots);
            double n0 = p.Runs.Min(r => r.Parameters), n1 = p.Runs.Max(r => r.Parameters);
            var curve = new LineSeries { Color = colour, StrokeThickness = 2 };
            for (int i = 0; i <= 40; i++) { double n = n0 * Math.Pow(n1 / n0, i / 40.0); curve.Points.Add(new DataPoint(n, p.LossAt(n))); }
            model.Series.Add(curve);
            model.Series.Add(new ScatterSeries { MarkerType = MarkerType.Diamond, MarkerSize = 8, MarkerFill = colour, MarkerStroke = OxyColors.Black, Points = { new(p.OptimalParameters, p.MinimumLoss) } });
        }
        return model;
    }

    /// <summary>
    /// Log-loss residuals of the fit, log L_measured − log L_fit, against compute (log x): a law that holds leaves them
    /// scattered around 0 at the Huber δ's scale; a trend with size or compute is what the law misses. A held-out
    /// run's residual is its prediction error.
    /// </summary>
    public static PlotModel Residuals(ChinchillaFit fit, IReadOnlyList<ScalingRun> heldOut)
    {
        var y = Charts.YAxis("log L_measured − log L_fit", false);
        (y.MinimumPadding, y.MaximumPadding) = (0.05, 0.05); // the largest residual is often a held-out star
        var model = Charts.NewModel("Residuals of the approach-3 fit", ComputeAxis(), y,
            "dots: fitted runs, coloured by size; stars: the held-out runs (a residual is the prediction error)");
        // Beside the plot: residuals of either sign fill every corner of it.
        (model.Legends[0].LegendPlacement, model.Legends[0].LegendPosition) = (OxyPlot.Legends.LegendPlacement.Outside, OxyPlot.Legends.LegendPosition.RightTop);
        double Residual(ScalingRun r) => Math.Log(r.Loss) - Math.Log(fit.Law.Loss(r.Parameters, r.Tokens));
        AddBySize(model, fit.Runs, heldOut, r => r.Compute, Residual);
        foreach (var run in heldOut) AddHeldOut(model, run, Residual(run), $"held out N = {run.Parameters:N0}: {Residual(run):+0.000;-0.000}");
        model.Annotations.Add(new LineAnnotation { Type = LineAnnotationType.Horizontal, Y = 0, Color = OxyColors.Black, StrokeThickness = 1 });
        return model;
    }

    /// <summary>Compute on a log axis, ticks as 1e+11: SI prefixes would read as bytes or parameters.</summary>
    static Axis ComputeAxis()
    {
        var axis = Charts.XAxis("training compute C (FLOPs, log scale)", true, plain: true);
        axis.LabelFormatter = v => v.ToString("0.#e+0", CultureInfo.InvariantCulture);
        axis.IntervalLength = 110; // fewer, unclipped labels within a decade
        axis.MaximumPadding = 0.04; // room for the held-out star at the right edge
        return axis;
    }

    /// <summary>One scatter series per model size (the held-out runs' sizes included, so colours match across figures).</summary>
    static void AddBySize(PlotModel model, IReadOnlyList<ScalingRun> runs, IEnumerable<ScalingRun> heldOut, Func<ScalingRun, double> x, Func<ScalingRun, double> y)
    {
        var sizes = runs.Select(r => r.Parameters).Concat(heldOut.Select(r => r.Parameters)).Distinct().Order().ToList();
        foreach (var n in sizes)
        {
            var colour = Charts.Palette[sizes.IndexOf(n) % Charts.Palette.Count];
            var dots = new ScatterSeries { Title = $"N = {n:N0}", MarkerType = MarkerType.Circle, MarkerSize = 5, MarkerFill = colour };
            dots.Points.AddRange(runs.Where(r => r.Parameters == n).Select(r => new ScatterPoint(x(r), y(r))));
            model.Series.Add(dots);
        }
    }

    static void AddHeldOut(PlotModel model, ScalingRun run, double y, string title) =>
        model.Series.Add(new ScatterSeries { Title = title, MarkerType = MarkerType.Star, MarkerSize = 12, MarkerStroke = OxyColors.Black, MarkerStrokeThickness = 2.5, Points = { new(run.Compute, y) } });
}
