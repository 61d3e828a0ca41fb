using OxyPlot;
using SkiaSharp;
using LMHarness.IO;

namespace LMHarness.Plots;

/// <summary>One PNG made of several charts, each drawn at its own place and size (side-by-side panels, grids).</summary>
public static class PanelImage
{
    /// <summary>A chart and the rectangle it fills, in pixels from the image's top-left corner.</summary>
    public readonly record struct Panel(PlotModel Model, int Left, int Top, int Width, int Height);

    /// <summary>Draws the panels on a white <paramref name="width"/> x <paramref name="height"/> image and writes it as a PNG (<see cref="AtomicFile"/>); returns the path.</summary>
    public static string Save(IEnumerable<Panel> panels, int width, int height, string path)
    {
        using var surface = SKSurface.Create(new SKImageInfo(width, height));
        surface.Canvas.Clear(SKColors.White);
        foreach (var p in panels)
        {
            using var ms = new MemoryStream();
            new OxyPlot.SkiaSharp.PngExporter { Width = p.Width, Height = p.Height, UseTextShaping = false }.Export(p.Model, ms);
            ms.Position = 0;
            using var bmp = SKBitmap.Decode(ms);
            surface.Canvas.DrawBitmap(bmp, p.Left, p.Top);
        }
        using var image = surface.Snapshot();
        using var data = image.Encode(SKEncodedImageFormat.Png, 90);
        return AtomicFile.Write(path, data.SaveTo);
    }
}
